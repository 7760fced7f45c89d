"""The repository's own settings file, ``.pipeline-guard.yml`` at the repository root.

Only what exists is accepted, and an unknown key is an error (exit 2) rather than silently
ignored, so a typo cannot quietly turn a setting off. Keys are kebab-case, like action inputs.
``schema/pipeline-guard.schema.json`` is generated from :class:`RepoConfig` (a test keeps it in
step) for editor completion::

    model: ci/pipeline-guard-model.npz   # a model pack instead of the bundled one; none: rules only
    comment: true                        # one comment per PR/MR, edited in place
    dry-run: false                       # print the plan, change nothing
    actions:                             # what to do per category: retry | comment | fix-pr | none
      test-failure: comment
      network: retry
    retry:
      max-attempts: 2                    # attempts of a run, the first included
      max-failed-jobs: 5                 # more failed at once: an outage or a real break, no retry
    fix:
      enabled: true
      categories: [format, lockfile, config]
      paths: ["**"]                      # globs a fix may touch (and the fixer's own files)
      max-files: 50
      max-diff-bytes: 500000
      draft: false
      labels: [pipeline-guard]
      reviewers: []
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pipeline_guard.categories import Category
from pipeline_guard.errors import ConfigError

CONFIG_FILE = ".pipeline-guard.yml"
ActionName = Literal["retry", "comment", "fix-pr", "none"]


def _kebab(name: str) -> str:
    return name.replace("_", "-")


class _Section(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, alias_generator=_kebab, populate_by_name=True
    )


class RetryConfig(_Section):
    """The retry budget (by default at most 2 attempts, never when more than 5 jobs failed)."""

    max_attempts: int = Field(2, ge=1, le=10, description="attempts of a run, the first included")
    max_failed_jobs: int = Field(
        5, ge=1, description="more jobs failed at once is an outage or a real break: no retry"
    )


class FixConfig(_Section):
    """Fix PRs/MRs: which categories, which paths, how the PR looks."""

    enabled: bool = True
    categories: tuple[Category, ...] = (Category.FORMAT, Category.LOCKFILE, Category.CONFIG)
    paths: tuple[str, ...] = Field(("**",), description="globs a fix may change")
    max_files: int = Field(50, ge=1)
    max_diff_bytes: int = Field(500_000, ge=1)
    draft: bool = False
    labels: tuple[str, ...] = ()
    reviewers: tuple[str, ...] = ()


class RepoConfig(_Section):
    """Everything ``.pipeline-guard.yml`` may say."""

    model_config = ConfigDict(title="pipeline-guard configuration (.pipeline-guard.yml)")

    model: str | None = Field(None, description="model pack path, or `none` for rules only")
    comment: bool = Field(True, description="post one PR/MR comment, edited in place")
    dry_run: bool = Field(False, description="print the plan and change nothing")
    actions: dict[Category, ActionName] = Field(
        default_factory=dict, description="action per failure category"
    )
    retry: RetryConfig = RetryConfig()
    fix: FixConfig = FixConfig()


def load_config(repo_root: Path | None = None, path: Path | None = None) -> RepoConfig:
    """The settings of the repository at ``repo_root`` (default: the current directory), or of
    the file at ``path``, which must then exist."""
    if path is None:
        path = (repo_root or Path.cwd()) / CONFIG_FILE
        if not path.is_file():
            return RepoConfig()
    elif not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    import yaml  # noqa: PLC0415 - most repositories have no config file (start-up time)

    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}:" if mark is not None else ""
        raise ConfigError(f"{path}:{where} invalid YAML") from None
    if document is not None and not isinstance(document, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level")
    try:
        return RepoConfig.model_validate(document or {})
    except ValidationError as exc:
        error = exc.errors()[0]
        key = ".".join(str(part) for part in error["loc"]) or "(top level)"
        problem = "unknown key" if error["type"] == "extra_forbidden" else error["msg"]
        raise ConfigError(f"{path}: {key}: {problem}") from None


def json_schema() -> dict[str, object]:
    """The JSON Schema of the file, as published in ``schema/pipeline-guard.schema.json``."""
    schema = RepoConfig.model_json_schema(by_alias=True)
    schema["$schema"] = "http://json-schema.org/draft-07/schema#"
    return schema

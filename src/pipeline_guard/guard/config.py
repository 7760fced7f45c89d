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
      flaky: false                       # re-run a failure history shows to be flaky
    fix:
      enabled: true
      categories: [format, lockfile, config]
      paths: ["**"]                      # globs a fix may touch (and the fixer's own files)
      max-files: 50
      max-diff-bytes: 500000
      draft: false
      labels: [pipeline-guard]
      reviewers: []
      trust-repo-tools: false            # run the repository's own tools (see below)
    history:
      lookups: true                      # broken trunk and flaky, from the forge's own runs
      url: null                          # a store: SQLAlchemy URL, or a path for a SQLite file
      window-days: 14
      flaky-after: 2

``fix.trust-repo-tools`` lets fixers run executables the repository itself provides: a
committed ``node_modules/.bin/prettier``, yarn's ``yarnPath`` release and plugins. Off by
default, since anyone who can push a branch writes them; even when on they run in the fixer
jail (``docs/fixers.md``), and ``.npmrc``'s ``git=`` / ``script-shell`` are never honoured.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pipeline_guard.categories import Action, Category
from pipeline_guard.errors import ConfigError
from pipeline_guard.guard import CONFIG_FILE
from pipeline_guard.limits import MAX_CONFIG_BYTES, InputRefused, check_depth, read_bounded


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
    flaky: bool = Field(
        False, description="re-run a failure history shows to be flaky, within the same budget"
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
    trust_repo_tools: bool = Field(
        False,
        description="run executables the repository provides (committed node_modules/.bin, "
        "yarnPath, yarn plugins); they still run jailed",
    )


# -- history (issue 14) ----------------------------------------------------------------------


class HistoryConfig(_Section):
    """Broken-trunk and flaky lookups on the forge, and the optional store (README, History)."""

    lookups: bool = Field(True, description="read the pipeline's history on the forge")
    url: str | None = Field(
        None, description="history store: a SQLAlchemy URL, or a file path for SQLite"
    )
    window_days: int = Field(14, ge=1, le=400, description="how far back flaky evidence counts")
    flaky_after: int = Field(
        2, ge=1, description="failed-then-passed tries (same signature) that make a job flaky"
    )


class RepoConfig(_Section):
    """Everything ``.pipeline-guard.yml`` may say."""

    model_config = ConfigDict(title="pipeline-guard configuration (.pipeline-guard.yml)")

    model: str | None = Field(None, description="model pack path, or `none` for rules only")
    comment: bool = Field(True, description="post one PR/MR comment, edited in place")
    dry_run: bool = Field(False, description="print the plan and change nothing")
    actions: dict[Category, Action] = Field(
        default_factory=dict, description="action per failure category"
    )
    retry: RetryConfig = RetryConfig()
    fix: FixConfig = FixConfig()
    history: HistoryConfig = HistoryConfig()


def load_config(repo_root: Path | None = None, path: Path | None = None) -> RepoConfig:
    """The settings of the repository at ``repo_root`` (default: the current directory), or of
    the file at ``path``, which must then exist."""
    if path is None:
        path = (repo_root or Path.cwd()) / CONFIG_FILE
        if not path.exists() and not path.is_symlink():
            return RepoConfig()
    elif not path.exists():
        raise ConfigError(f"{path}: config file not found")
    import yaml  # noqa: PLC0415 - most repositories have no config file (start-up time)

    try:
        document = yaml.safe_load(read_bounded(path, MAX_CONFIG_BYTES).decode("utf-8"))
        check_depth(document)
    except InputRefused as exc:
        raise ConfigError(f"{path}: {exc}") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}:" if mark is not None else ""
        raise ConfigError(f"{path}:{where} invalid YAML") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply") from None
    except ValueError as exc:  # a number with more digits than Python converts
        raise ConfigError(f"{path}: invalid value ({str(exc).split(';')[0][:80]})") from None
    if document is not None and not isinstance(document, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level")
    try:
        return RepoConfig.model_validate(document or {})
    except ValidationError as exc:
        raise ConfigError(f"{path}: {_problems(exc)}") from None


def _problems(exc: ValidationError) -> str:
    """Every problem pydantic found, on one line: a user fixes them all in one go."""
    problems = []
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"]) or "(top level)"
        problem = "unknown key" if error["type"] == "extra_forbidden" else error["msg"]
        problems.append(f"{key}: {problem}")
    if len(problems) == 1:
        return problems[0]
    return f"{len(problems)} problems: " + "; ".join(problems)


def json_schema() -> dict[str, object]:
    """The JSON Schema of the file, as published in ``schema/pipeline-guard.schema.json``."""
    schema = RepoConfig.model_json_schema(by_alias=True)
    schema["$schema"] = "http://json-schema.org/draft-07/schema#"
    return schema

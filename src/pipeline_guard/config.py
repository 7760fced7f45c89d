"""The repository's own settings file, ``.pipeline-guard.yml`` at the repository root.

Only what exists is accepted, and an unknown key is an error (exit 2) rather than silently
ignored, so a typo cannot quietly turn a setting off::

    model: ci/pipeline-guard-model.npz   # a model pack to use instead of the bundled one
    # model: none                        # rules only
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from pipeline_guard.errors import ConfigError

CONFIG_FILE = ".pipeline-guard.yml"


class RepoConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str | None = None


def load_config(repo_root: Path | None = None) -> RepoConfig:
    """The settings of the repository at ``repo_root`` (default: the current directory)."""
    path = (repo_root or Path.cwd()) / CONFIG_FILE
    if not path.is_file():
        return RepoConfig()
    import yaml  # noqa: PLC0415 - most repositories have no config file (start-up time)

    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}:" if mark is not None else ""
        raise ConfigError(f"{path}:{where} invalid YAML") from None
    try:
        return RepoConfig.model_validate(document or {})
    except ValidationError as exc:
        error = exc.errors()[0]
        key = ".".join(str(part) for part in error["loc"]) or "(top level)"
        problem = "unknown key" if error["type"] == "extra_forbidden" else error["msg"]
        raise ConfigError(f"{path}: {key}: {problem}") from None

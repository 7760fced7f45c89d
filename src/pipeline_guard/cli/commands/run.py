"""``pipeline-guard run``: the CI entry point (the container's entrypoint).

Options come from the command line, else from GitHub action inputs (``INPUT_<NAME>``, dashes
kept, as GitHub sets them), else from ``PIPELINE_GUARD_<NAME>`` variables (how the GitLab
component and other CIs pass them). Inputs given here override ``.pipeline-guard.yml``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from pipeline_guard.cli.model_choice import choose_model
from pipeline_guard.engine.matcher import Matcher
from pipeline_guard.engine.rule import load_rules
from pipeline_guard.errors import UsageError
from pipeline_guard.forges.base import RunOptions
from pipeline_guard.guard.config import RepoConfig, load_config
from pipeline_guard.guard.run import run as run_guard

DEFAULT_REPORT = "pipeline-guard-report.json"
_TRUE = {"true", "yes", "1", "on"}
_FALSE = {"false", "no", "0", "off", ""}


def setting(env: Mapping[str, str], name: str, given: str | None = None) -> str | None:
    """A setting from the command line, the action input or the PIPELINE_GUARD_ variable."""
    if given is not None:
        return given
    for key in (f"INPUT_{name.upper()}", f"PIPELINE_GUARD_{name.upper().replace('-', '_')}"):
        value = env.get(key)
        if value is not None and value.strip():
            return value.strip()
    return None


def flag(env: Mapping[str, str], name: str, given: bool | None = None) -> bool | None:
    """A boolean setting; anything but true/false is a usage error naming the input."""
    if given is not None:
        return given
    value = setting(env, name)
    if value is None:
        return None
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise UsageError(f"{name}: expected true or false, got {value!r}")


def run(
    *,
    platform: str | None,
    mode: str | None,
    log_files: Sequence[str],
    config_path: Path | None,
    dry_run: bool | None,
    comment: bool | None,
    report: Path | None,
    workspace: Path | None,
    rule_dirs: Sequence[Path],
    bundled: bool = True,
    model_path: Path | None = None,
    use_model: bool = True,
    env: Mapping[str, str] | None = None,
) -> int:
    env = os.environ if env is None else env
    root = workspace or Path(env.get("GITHUB_WORKSPACE") or env.get("CI_PROJECT_DIR") or ".")
    config = _config(env, root, config_path, dry_run, comment)
    files = tuple(log_files) or _split(setting(env, "log-file"))
    options = RunOptions(mode=setting(env, "mode", mode), log_files=files, workspace=root)
    matcher = Matcher(load_rules(rule_dirs, bundled=bundled, repo_root=root))
    model = choose_model(model_path, use_model, config)
    report_path = report or Path(setting(env, "report") or DEFAULT_REPORT)
    result = run_guard(
        env,
        options,
        config,
        matcher,
        model,
        platform=setting(env, "platform", platform),
        report_path=report_path,
    )
    return result.exit_code


def _config(
    env: Mapping[str, str],
    root: Path,
    config_path: Path | None,
    dry_run: bool | None,
    comment: bool | None,
) -> RepoConfig:
    path = config_path or (Path(value) if (value := setting(env, "config")) else None)
    if path is not None and not path.is_absolute():
        path = root / path
    config = load_config(root, path)
    overrides: dict[str, bool] = {}
    if (dry := flag(env, "dry-run", dry_run)) is not None:
        overrides["dry_run"] = dry
    if (post := flag(env, "comment", comment)) is not None:
        overrides["comment"] = post
    return config.model_copy(update=overrides)


def _split(value: str | None) -> tuple[str, ...]:
    """Log-file patterns from an input: one per line, or comma-separated."""
    if not value:
        return ()
    return tuple(part.strip() for part in re.split(r"[\n,]", value) if part.strip())

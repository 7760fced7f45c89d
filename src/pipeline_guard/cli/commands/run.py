"""``pipeline-guard run``: the CI entry point (the container's entrypoint).

Options come from the command line, else from GitHub action inputs (``INPUT_<NAME>``, dashes
kept, as GitHub sets them), else from ``PIPELINE_GUARD_<NAME>`` variables (how the GitLab
component and other CIs pass them). Inputs given here override ``.pipeline-guard.yml``.

An invalid ``.pipeline-guard.yml`` does not hide the failure: the diagnosis is made with the
default settings, with every action off (nothing is retried, fixed or commented on a guess of
what the file meant), printed and written out, and the run then exits 2 naming every problem.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from pipeline_guard.cache_dir import cache_dir
from pipeline_guard.cli.error_handler import report_error
from pipeline_guard.cli.job_log import job_log
from pipeline_guard.cli.model_choice import choose_model, choose_ranker
from pipeline_guard.cli.render import use_colour
from pipeline_guard.context import Platform
from pipeline_guard.engine.matcher import Matcher
from pipeline_guard.engine.rule import load_rules
from pipeline_guard.errors import ConfigError, UsageError
from pipeline_guard.forges.base import RunOptions
from pipeline_guard.guard.act import Problem
from pipeline_guard.guard.config import FixConfig, RepoConfig, load_config
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
    env: Mapping[str, str],
) -> int:
    """The guard for the run the environment describes; prints the job log, then one line
    per error of pipeline-guard's own on stderr. The exit code is the highest of those."""
    root = workspace or Path(env.get("GITHUB_WORKSPACE") or env.get("CI_PROJECT_DIR") or ".")
    config, config_problem = _config(env, root, config_path, dry_run, comment)
    files = tuple(log_files) or _split(setting(env, "log-file"))
    options = RunOptions(mode=setting(env, "mode", mode), log_files=files, workspace=root)
    rules = load_rules(rule_dirs, bundled=bundled, repo_root=root, cache=cache_dir(env))
    model = choose_model(model_path, use_model, config)
    report_path = report or Path(setting(env, "report") or DEFAULT_REPORT)
    result = run_guard(
        env,
        options,
        config,
        Matcher(rules),
        model,
        platform=setting(env, "platform", platform),
        report_path=report_path,
        earlier=config_problem,
        ranker=choose_ranker(model),
    )
    ci_log = result.context.platform in (Platform.GITHUB, Platform.GITLAB)
    sys.stdout.write(job_log(result, use_colour(sys.stdout, env, ci_log=ci_log)))
    sys.stdout.flush()
    for error in result.outcome.errors:
        report_error(result.redactor.redact(error))
    return result.exit_code


def _config(
    env: Mapping[str, str],
    root: Path,
    config_path: Path | None,
    dry_run: bool | None,
    comment: bool | None,
) -> tuple[RepoConfig, tuple[Problem, ...]]:
    """The settings, and the config file's problem when it is invalid (then: the defaults,
    acting on nothing)."""
    path = config_path or (Path(value) if (value := setting(env, "config")) else None)
    if path is not None and not path.is_absolute():
        path = root / path
    overrides: dict[str, bool] = {}
    if (dry := flag(env, "dry-run", dry_run)) is not None:
        overrides["dry_run"] = dry
    if (post := flag(env, "comment", comment)) is not None:
        overrides["comment"] = post
    try:
        config = load_config(root, path)
    except ConfigError as exc:
        inert = RepoConfig(dry_run=True, comment=False, fix=FixConfig(enabled=False))
        problem = Problem.of(exc, "the configuration is invalid, so nothing was done: ")
        return inert, (problem,)
    return config.model_copy(update=overrides), ()


def _split(value: str | None) -> tuple[str, ...]:
    """Log-file patterns from an input: one per line, or comma-separated."""
    if not value:
        return ()
    return tuple(part.strip() for part in re.split(r"[\n,]", value) if part.strip())

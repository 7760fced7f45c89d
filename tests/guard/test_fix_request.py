"""prepare_fix(): the limits every fix obeys whatever the fixer did, on a real git checkout
with the real black (pinned by the repository)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from fixer_sites import cache_dir, reachable
from pipeline_guard.categories import Action, Category
from pipeline_guard.context import Mode, Platform, RunContext
from pipeline_guard.engine.diagnosis import Diagnosis
from pipeline_guard.errors import FixError
from pipeline_guard.guard.config import RepoConfig
from pipeline_guard.guard.fix_request import FixAttempt, branch_name, prepare_fix

UGLY = "def f(a,b):\n    return a+b\n"


def _checkout(tmp_path: Path, names: list[str]) -> tuple[Path, str, Path]:
    workspace = reachable(tmp_path) / "repo"
    (workspace / "src").mkdir(parents=True)
    (workspace / "requirements-dev.txt").write_text("black==24.4.2\n")
    for name in names:
        (workspace / "src" / name).write_text(UGLY)
    git = ["git", "-C", str(workspace), "-c", "user.name=t", "-c", "user.email=t@e"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "init"], check=True)
    sha = subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True)
    log = tmp_path / "job.log"
    log.write_text(
        "".join(f"would reformat src/{name}\n" for name in names)
        + f"Oh no! 💥 💔 💥\n{len(names)} files would be reformatted.\n"
    )
    return workspace, sha.stdout.strip(), log


def _diagnosis(log: Path) -> Diagnosis:
    return Diagnosis(
        source=str(log),
        category=Category.FORMAT,
        confidence=0.9,
        action=Action.FIX_PR,
        rule="black-would-reformat",
        title="black would reformat files",
        explain="e",
        advice="a",
        evidence=[],
        step=None,
        tests=[],
        fix="black",
    )


def fix(
    log: Path,
    context: RunContext,
    config: RepoConfig,
    *,
    redact: Callable[[str], str] = str,
) -> FixAttempt:
    """The guard's fix for the black failure the log shows, as ``act`` asks for it."""
    return prepare_fix(
        _diagnosis(log),
        context,
        config,
        log=log,
        env=dict(os.environ),
        cache_dir=cache_dir(),
        redact=redact,
    )


def _context(workspace: Path, sha: str) -> RunContext:
    return RunContext(
        platform=Platform.GITHUB,
        mode=Mode.WORKFLOW_RUN,
        workspace=workspace,
        head_sha=sha,
        head_branch="feature/x",
    )


def test_a_fix_is_packaged_and_the_workspace_restored(tmp_path: Path) -> None:
    workspace, sha, log = _checkout(tmp_path, ["a.py", "b.py"])

    attempt = fix(log, _context(workspace, sha), RepoConfig())

    request = attempt.request
    assert request.branch == "pipeline-guard/fix/black/feature-x"
    assert (request.base_branch, request.base_sha) == ("feature/x", sha)
    assert {change.path for change in request.changes} == {"src/a.py", "src/b.py"}
    assert all(change.content == b"def f(a, b):\n    return a + b\n" for change in request.changes)
    assert "black" in attempt.verification
    assert (workspace / "src/a.py").read_text() == UGLY
    status = subprocess.run(
        ["git", "-C", str(workspace), "status", "--porcelain"],
        check=True,
        capture_output=True,
        text=True,
    )
    assert status.stdout == ""


def test_more_files_than_the_limit_is_refused(tmp_path: Path) -> None:
    workspace, sha, log = _checkout(tmp_path, ["a.py", "b.py", "c.py"])
    config = RepoConfig.model_validate({"fix": {"max-files": 2}})

    with pytest.raises(FixError, match=r"changes 3 files, more than `fix.max-files` \(2\)"):
        fix(log, _context(workspace, sha), config)
    assert (workspace / "src/c.py").read_text() == UGLY


def test_a_path_outside_the_allowed_set_is_refused(tmp_path: Path) -> None:
    workspace, sha, log = _checkout(tmp_path, ["a.py"])
    config = RepoConfig.model_validate({"fix": {"paths": ["docs/**"]}})

    with pytest.raises(FixError, match=r"src/a\.py"):
        fix(log, _context(workspace, sha), config)
    assert (workspace / "src/a.py").read_text() == UGLY


def test_a_fork_is_refused_before_anything_runs(tmp_path: Path) -> None:
    workspace, sha, log = _checkout(tmp_path, ["a.py"])
    context = _context(workspace, sha).model_copy(update={"from_fork": True})

    with pytest.raises(FixError, match="forks"):
        fix(log, context, RepoConfig())


def test_branch_names_are_stable_and_safe() -> None:
    assert branch_name("npm-lockfile", "main") == "pipeline-guard/fix/npm-lockfile/main"
    assert branch_name("black", "release/1.x") == "pipeline-guard/fix/black/release-1.x"
    assert branch_name("black", "weird branch~^:") == "pipeline-guard/fix/black/weird-branch"


def test_the_pr_texts_are_redacted(tmp_path: Path) -> None:
    workspace, sha, log = _checkout(tmp_path, ["a.py"])
    context = _context(workspace, sha).model_copy(update={"run_url": "https://x/?token=s3cr3t"})

    attempt = fix(log, context, RepoConfig(), redact=lambda text: text.replace("s3cr3t", "***"))

    assert "s3cr3t" not in attempt.request.body
    assert "?token=***" in attempt.request.body
    assert "- `src/a.py` (+2 -2)" in attempt.request.body

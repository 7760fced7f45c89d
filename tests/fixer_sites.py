"""What the fixer tests share: the site a fixer runs in, and the guard's own fix flow.

The fixer modules are tested in the namespace jail (``unshare``: the tools keep this user,
so the toolchains installed under root's home here stay runnable); the ``nobody`` jail and the
attacks on both are in ``tests/security/test_fixer_jail.py``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from pipeline_guard.context import Mode, Platform, RunContext
from pipeline_guard.engine.diagnosis import Diagnosis
from pipeline_guard.fixers.base import Fixer, FixResult, FixSite
from pipeline_guard.fixers.jail import Jail
from pipeline_guard.guard.config import RepoConfig
from pipeline_guard.guard.fix_request import FixAttempt, prepare_fix


def cache_dir() -> Path:
    return Path(os.environ["PIPELINE_GUARD_CACHE_DIR"])


def namespace_jail(env: Mapping[str, str] | None = None, *, trust: bool = False) -> Jail:
    """A namespace jail over ``env`` (default: this process's environment)."""
    env = dict(os.environ if env is None else env)
    unshare = shutil.which("unshare", path="/usr/bin:/bin")
    assert unshare is not None, "the fixer tests need util-linux's unshare"
    jail = Jail.from_env(env, cache_dir(), trust_repo_tools=trust)
    return Jail(jail.env, cache_dir(), None, unshare, trust)


def fix_site(
    workspace: Path,
    diagnosis: Diagnosis | None = None,
    *,
    env: Mapping[str, str] | None = None,
    trust: bool = False,
) -> FixSite:
    """Where a fixer test runs: the checkout and the log the diagnosis was read from."""
    log = Path(diagnosis.source) if diagnosis is not None else None
    return FixSite(workspace, log, namespace_jail(env, trust=trust))


def reachable(tmp_path: Path) -> Path:
    """A fresh folder others can reach, for a checkout the guard fixes: as root it runs the
    tools as ``nobody``, which must reach the checkout, as it can on a CI runner. pytest's
    own temporary folders are closed to others (and every pytest session of the user closes
    them again), so the folder lives under one shared, open parent in the temp dir."""
    base = Path(tempfile.gettempdir()) / "pipeline-guard-jail-tests"
    base.mkdir(exist_ok=True)
    base.chmod(0o711)
    for old in base.iterdir():  # what earlier sessions left, as pytest keeps only 3 runs
        if time.time() - old.stat().st_mtime > 6 * 3600:
            shutil.rmtree(old, ignore_errors=True)
    folder = Path(tempfile.mkdtemp(prefix=f"{tmp_path.name[:30]}-", dir=base))
    folder.chmod(0o711)
    return folder


def through_guard(
    diagnosis: Diagnosis,
    workspace: Path,
    *,
    env: Mapping[str, str] | None = None,
    config: RepoConfig | None = None,
) -> FixAttempt:
    """The fix as the guard makes it (snapshot, diff, limits, restore) on a committed checkout."""
    head = subprocess.run(
        ["git", "-C", str(workspace), "rev-parse", "HEAD"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    context = RunContext(
        platform=Platform.GITHUB, mode=Mode.WORKFLOW_RUN, workspace=workspace, head_sha=head
    )
    return prepare_fix(
        diagnosis,
        context,
        config or RepoConfig(),
        log=Path(diagnosis.source),
        env=dict(os.environ if env is None else env),
        cache_dir=cache_dir(),
    )


def apply_fix(
    fixer: Fixer,
    fix_id: str,
    diagnosis: Diagnosis,
    workspace: Path,
    *,
    env: Mapping[str, str] | None = None,
    trust: bool = False,
) -> FixResult:
    """``fixer.apply`` in the namespace jail, with the log the diagnosis was read from."""
    return fixer.apply(fix_id, diagnosis, fix_site(workspace, diagnosis, env=env, trust=trust))

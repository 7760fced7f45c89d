"""What every fixer provides, like pre-commit's ``lang_base``: the protocol and its data.

A fixer is a plain module (``formatters.py``, ``lockfiles.py``, ``action_versions.py``) listed
in :data:`pipeline_guard.fixers.all_fixers.fixers`. Given a diagnosis whose rule names a fix id
the fixer handles (the rule's ``fix:`` field, e.g. ``black`` or ``npm-lockfile``), it edits the
checked-out workspace with the same tool the failing check ran, at the version the repository
pins, then runs the check again to prove the fix works. It touches only the files it owns.
It never pushes anything: the guard turns a :class:`FixResult` into a PR/MR through a forge.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from pipeline_guard.engine.diagnosis import Diagnosis
from pipeline_guard.errors import FixError


class FixResult(BaseModel):
    """A fix made in the workspace and verified."""

    model_config = ConfigDict(frozen=True)

    fixer: str  # the fix id, e.g. "black"
    summary: str  # one line for the PR title, e.g. "Format 3 files with black 24.4.2"
    changed: tuple[str, ...]  # repository-relative paths the fix changed
    verification: str  # the command that failed before and passes now, and its output
    command: str  # the command that made the fix, for people who want to run it themselves


class Fixer(Protocol):
    """A fixer module."""

    # The fix ids (rules' `fix:` values) this module handles.
    FIX_IDS: frozenset[str]

    # Glob patterns (repository-relative) of the only files this fixer may change.
    def owned_files(self, fix_id: str) -> tuple[str, ...]: ...

    # Make the fix in `workspace` and verify it; raises FixUnavailable / FixError.
    def apply(self, fix_id: str, diagnosis: Diagnosis, workspace: Path) -> FixResult: ...


# Shared defaults, like pre-commit's `basic_*` helpers: what every fixer (and the guard) needs
# to know what a fix changed and to refuse a change outside the fixer's own files.


def git(workspace: Path, *args: str) -> bytes:
    """Run a git command in the workspace; a workspace that is not a git checkout cannot be
    fixed, because the guard could not say what changed."""
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=workspace,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=60,
            check=False,
        )
    except (FileNotFoundError, subprocess.TimeoutExpired) as exc:
        raise FixError(f"git {args[0]} failed in {workspace}: {exc}") from None
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()[:1] or ["failed"]
        raise FixError(f"git {args[0]} in {workspace}: {message[0]}")
    return done.stdout


def changed_files(workspace: Path) -> list[str]:
    """Repository-relative paths that differ from HEAD (modified, added, deleted, untracked),
    sorted; both sides of a rename are listed, since both are touched."""
    raw = git(workspace, "status", "--porcelain", "-z", "--untracked-files=all")
    entries = raw.decode("utf-8", "surrogateescape").split("\0")
    paths: set[str] = set()
    index = 0
    while index < len(entries):
        entry = entries[index]
        index += 1
        if len(entry) < 4:
            continue
        status, path = entry[:2], entry[3:]
        paths.add(path)
        if "R" in status or "C" in status:  # the next field is the rename's source
            paths.add(entries[index])
            index += 1
    return sorted(paths)


def tracked_files(workspace: Path, paths: Sequence[str] = ()) -> list[str]:
    """Every file git tracks in the workspace (what a fixer may resolve log paths against),
    or those of ``paths`` that git tracks (the others are new files)."""
    raw = git(workspace, "ls-files", "-z", "--", *paths)
    return [path for path in raw.decode("utf-8", "surrogateescape").split("\0") if path]


def workspace_state(workspace: Path) -> dict[str, str]:
    """A fingerprint (content hash, or "-" if gone) of every path that differs from HEAD.

    Taken before and after a fix, two states tell exactly what the fix changed, even when
    the CI job had already left files modified (build outputs, a partial format).
    """
    state: dict[str, str] = {}
    for path in changed_files(workspace):
        file = workspace / path
        state[path] = hashlib.sha256(file.read_bytes()).hexdigest() if file.is_file() else "-"
    return state


def changed_since(workspace: Path, before: dict[str, str]) -> list[str]:
    """The paths whose content changed since ``before`` (a :func:`workspace_state`)."""
    after = workspace_state(workspace)
    changed = {path for path, digest in after.items() if before.get(path) != digest}
    changed |= {path for path in before if path not in after}  # restored to HEAD's content
    return sorted(changed)


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A repository-relative glob as a regex: ``**/`` spans folders (or none), ``*`` and
    ``?`` stay inside one path segment, as in ``.gitignore`` and GitHub's path filters."""
    out: list[str] = []
    index = 0
    while index < len(pattern):
        if pattern.startswith("**/", index):
            out.append("(?:.*/)?")
            index += 3
        elif pattern.startswith("**", index):
            out.append(".*")
            index += 2
        elif pattern[index] == "*":
            out.append("[^/]*")
            index += 1
        elif pattern[index] == "?":
            out.append("[^/]")
            index += 1
        else:
            out.append(re.escape(pattern[index]))
            index += 1
    return re.compile("".join(out) + r"\Z")


def is_owned(path: str, patterns: Sequence[str]) -> bool:
    """Whether a repository-relative path matches one of a fixer's owned globs."""
    return any(glob_regex(pattern).match(path) for pattern in patterns)


def check_owned(paths: Iterable[str], patterns: Sequence[str]) -> None:
    """Refuse a fix that touched a file its fixer does not own: raise :class:`FixError`
    naming the first such path, so a buggy or surprising tool never reaches a PR."""
    for path in paths:
        if not is_owned(path, patterns):
            owned = ", ".join(patterns) or "nothing"
            raise FixError(f"the fix changed {path}, which is outside the files it owns ({owned})")

"""What every fixer provides, like pre-commit's ``lang_base``: the protocol and its data.

A fixer is a plain module or package (``formatters.py``, ``lockfiles/``,
``action_versions.py``) listed in :data:`pipeline_guard.fixers.all_fixers.fixers`. Given a
diagnosis whose rule names a fix id the fixer handles (the rule's ``fix:`` field, e.g.
``black`` or ``npm-lockfile``), it edits the checked-out workspace with the same tool the
failing check ran, at the version the repository pins, then runs the check again to prove the
fix works. It runs its tools in the jail of :mod:`.jail` (:func:`.tools.run_tool`) and reads
repository files through :mod:`.repo_files`. It does not check the workspace afterwards:
:mod:`pipeline_guard.guard.fix_request` snapshots it, diffs it, enforces the owned files, the
limits and path safety, and restores it, once for every fixer. It never pushes anything: the
guard turns a :class:`FixResult` into a PR/MR.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from pipeline_guard.engine.diagnosis import Diagnosis
from pipeline_guard.errors import FixError
from pipeline_guard.fixers.jail import Jail


@dataclass(frozen=True)
class FixSite:
    """Where a fix is made and with what: the checkout, the failed job's log on disk (the
    diagnosis only carries its display name), and the jail its tools run in."""

    workspace: Path
    log: Path | None
    jail: Jail


class FixResult(BaseModel):
    """A fix made in the workspace and verified. What it changed is not the fixer's word:
    :mod:`pipeline_guard.guard.fix_request` diffs the workspace itself."""

    model_config = ConfigDict(frozen=True)

    fixer: str  # the fix id, e.g. "black"
    summary: str  # one line for the PR title, e.g. "Format 3 files with black 24.4.2"
    verification: str  # the command that failed before and passes now, and its output
    command: str  # the command that made the fix, for people who want to run it themselves
    if_unchanged: str = ""  # what it means when the fix changed no file, for the error


class Fixer(Protocol):
    """A fixer module."""

    # The fix ids (rules' `fix:` values) this module handles.
    FIX_IDS: frozenset[str]

    # Glob patterns (repository-relative) of the only files this fixer may change.
    def owned_files(self, fix_id: str) -> tuple[str, ...]: ...

    # Make the fix in `site.workspace` and verify it; raises FixUnavailable / FixError.
    # The workspace is snapshotted, diffed, limited and restored by the caller, not here.
    def apply(self, fix_id: str, diagnosis: Diagnosis, site: FixSite) -> FixResult: ...


# Shared defaults, like pre-commit's `basic_*` helpers: what the guard needs to refuse a change
# outside a fixer's own files.


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

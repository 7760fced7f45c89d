"""From a diagnosis to a verified, bounded fix ready for a PR/MR (the core side of fixes).

The fixer edits the workspace and proves its fix; here, and only here (like pre-commit's
``staged_files_only``), the guarantees every fix keeps are enforced whatever the fixer did:

* the workspace is snapshotted before and diffed after, so what a fix changed is observed,
  never the fixer's word;
* only the fixer's own files and the paths the config allows, at most ``fix.max-files``
  files and ``fix.max-diff-bytes`` of diff, never for a fork, and only on a checkout of the
  very commit that failed;
* every changed path lies inside the workspace, is a regular file (or gone), and was not
  reached through a symlink; a symlink pointing out of the checkout must find its target
  unchanged (or it is put back and the fix refused); a checkout with a symlink to a folder
  outside it gets no fix at all, as no diff could see what was written there;
* the fixer's tools run in the jail of :mod:`pipeline_guard.fixers.jail` (this process is
  made non-dumpable first).

The workspace is put back as it was afterwards, whatever happened, so the next fixer (and
the user's later steps) see the original tree.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel

from pipeline_guard.context import RunContext
from pipeline_guard.engine.diagnosis import Diagnosis
from pipeline_guard.errors import FixError
from pipeline_guard.fixers.all_fixers import fixer_for
from pipeline_guard.fixers.base import FixResult, FixSite, check_owned
from pipeline_guard.fixers.git import changed_files, git, tracked_files
from pipeline_guard.fixers.jail import Jail, seal_process
from pipeline_guard.fixers.repo_files import inside
from pipeline_guard.forges.base import FileChange, FixRequest
from pipeline_guard.guard.config import RepoConfig

MAX_VERIFICATION = 4_000
BRANCH_PREFIX = "pipeline-guard/fix"
MAX_BACKUP = 8 * 1024 * 1024  # bytes of an outside symlink target kept to put it back


class FixAttempt(BaseModel):
    """A fix made, verified and turned into a request; the workspace is already restored."""

    request: FixRequest
    verification: str


def prepare_fix(
    diagnosis: Diagnosis,
    context: RunContext,
    config: RepoConfig,
    *,
    log: Path | None,
    env: Mapping[str, str],
    cache_dir: Path,
    redact: Callable[[str], str] = str,
) -> FixAttempt:
    """Run the fixer for ``diagnosis`` in the workspace and package its changes.

    ``log`` is the failed job's log on disk (the diagnosis names it for display only),
    ``env`` the guard's environment (tools see only its allow-listed part), ``cache_dir`` where
    tool environments live; ``redact`` cleans the PR's title, body and commit message (tool
    output can echo secrets)."""
    fix_id = diagnosis.fix or ""
    fixer = fixer_for(fix_id)
    if fixer is None:
        raise FixError(f"no fixer for `{fix_id}`")
    if context.from_fork:
        raise FixError("no fixes for pull requests from forks")
    workspace = context.workspace.resolve()
    _check_checkout(workspace, context.head_sha)
    seal_process()
    jail = Jail.from_env(env, cache_dir, trust_repo_tools=config.fix.trust_repo_tools)
    links = _Links.of(workspace)
    before = workspace_state(workspace)
    touched: list[str] = []
    try:
        with jail.opened(workspace) as opened:
            result = fixer.apply(fix_id, diagnosis, FixSite(workspace, log, opened))
        links.check_targets()
        touched = changed_since(workspace, before)
        if not touched:
            raise FixError(result.if_unchanged or "the fixer changed no file")
        links.check_paths(workspace, touched)
        _check_limits(touched, fixer.owned_files(fix_id), config, workspace)
        tracked = set(tracked_files(workspace, touched))
        changes = tuple(_file_change(workspace, path, path not in tracked) for path in touched)
        stats = _diff_stats(workspace, changes)
    finally:
        links.put_back()
        _restore(workspace, touched or changed_since(workspace, before))
    return FixAttempt(
        request=_request(result, changes, diagnosis, context, config, redact=redact, stats=stats),
        verification=redact(result.verification),
    )


def workspace_state(workspace: Path) -> dict[str, str]:
    """A fingerprint (content hash, link target, or "-" if gone) of every path that differs
    from HEAD. Taken before and after a fix, two states tell exactly what the fix changed,
    even when the CI job had already left files modified (build outputs, a partial format).
    Symlinks are never followed (a link to ``/dev/zero`` is just its target's name)."""
    return {path: _fingerprint(workspace / path) for path in changed_files(workspace)}


def _fingerprint(path: Path) -> str:
    try:
        info = path.lstat()
    except OSError:
        return "-"
    if stat.S_ISLNK(info.st_mode):
        return "link:" + os.readlink(path)
    if not stat.S_ISREG(info.st_mode):
        return f"special:{stat.S_IFMT(info.st_mode)}"
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def changed_since(workspace: Path, before: dict[str, str]) -> list[str]:
    """The paths whose content changed since ``before`` (a :func:`workspace_state`)."""
    after = workspace_state(workspace)
    changed = {path for path, digest in after.items() if before.get(path) != digest}
    changed |= {path for path in before if path not in after}  # restored to HEAD's content
    return sorted(changed)


@dataclass
class _Links:
    """The workspace's symlinks before the fix: their paths (a changed path must not be one,
    nor lie under one) and, for those pointing out of the checkout at a file, the target's
    fingerprint and bytes, to notice a write through them and put it back."""

    paths: set[str]
    outside: dict[Path, tuple[str, bytes | None]]

    @classmethod
    def of(cls, workspace: Path) -> _Links:
        paths: set[str] = set()
        outside: dict[Path, tuple[str, bytes | None]] = {}
        for root, dirs, files in os.walk(workspace):
            if Path(root) == workspace and ".git" in dirs:
                dirs.remove(".git")
            for name in (*dirs, *files):
                link = Path(root, name)
                if not link.is_symlink():
                    continue
                paths.add(link.relative_to(workspace).as_posix())
                target = link.resolve()
                if target.is_relative_to(workspace):
                    continue
                if target.is_dir():
                    raise FixError(
                        f"{link.relative_to(workspace)} links to a folder outside the checkout; "
                        "no fix is made where a tool could write outside it unseen"
                    )
                if target.is_file():
                    outside[target] = (_fingerprint(target), _backup(target))
        return cls(paths, outside)

    def check_targets(self) -> None:
        """Refuse the fix when a file outside the checkout changed through a symlink."""
        for target, (fingerprint, _) in self.outside.items():
            if _fingerprint(target) != fingerprint:
                raise FixError(
                    f"the fix wrote to {target}, outside the checkout, through a symlink; "
                    "the fix is refused"
                )

    def check_paths(self, workspace: Path, changed: list[str]) -> None:
        """Every changed path inside the checkout, not a symlink now or before, not under
        one, and a regular file (or gone)."""
        for path in changed:
            file = inside(workspace, path)
            if path in self.paths:
                raise FixError(f"{path} was a symlink and the fix changed it; the fix is refused")
            if file.exists() and not file.is_file():
                raise FixError(f"{path} is not a regular file after the fix; the fix is refused")

    def put_back(self) -> None:
        """Restore every outside target that changed (when it was small enough to keep)."""
        for target, (fingerprint, backup) in self.outside.items():
            if backup is not None and _fingerprint(target) != fingerprint:
                target.write_bytes(backup)


def _backup(target: Path) -> bytes | None:
    try:
        return target.read_bytes() if target.stat().st_size <= MAX_BACKUP else None
    except OSError:
        return None


def branch_name(fix_id: str, target: str) -> str:
    """The fix branch: derived from the fix and its target, so a second run finds the first."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", target).strip("-") or "default"
    return f"{BRANCH_PREFIX}/{fix_id}/{slug}"


def _check_checkout(workspace: Path, head_sha: str | None) -> None:
    head = _git_text(workspace, "rev-parse", "HEAD").strip()
    if head_sha and head != head_sha:
        raise FixError(
            f"the workspace is at {head[:12]}, not the failing commit {head_sha[:12]}: check out "
            "the failing commit first (on GitHub: actions/checkout with "
            "`ref: ${{ github.event.workflow_run.head_sha }}`)"
        )


def _check_limits(
    changed: list[str], owned: tuple[str, ...], config: RepoConfig, workspace: Path
) -> None:
    if not changed:
        raise FixError("the fixer changed no file")
    check_owned(changed, owned)
    check_owned(changed, config.fix.paths)
    if len(changed) > config.fix.max_files:
        raise FixError(
            f"the fix changes {len(changed)} files, more than `fix.max-files` "
            f"({config.fix.max_files})"
        )
    size = len(git(workspace, "diff", "--no-color", "--", *changed))
    if size > config.fix.max_diff_bytes:
        raise FixError(
            f"the fix's diff is {size} bytes, more than `fix.max-diff-bytes` "
            f"({config.fix.max_diff_bytes})"
        )


def _file_change(workspace: Path, path: str, created: bool) -> FileChange:
    file = workspace / path
    if not file.exists():
        return FileChange(path=path, content=None)
    return FileChange(
        path=path, content=file.read_bytes(), executable=_is_executable(file), created=created
    )


def _is_executable(file: Path) -> bool:
    return bool(file.stat().st_mode & 0o111)


def _restore(workspace: Path, paths: list[str]) -> None:
    """Put the changed files back as they were in HEAD; remove files the fixer created."""
    if not paths:
        return
    tracked = set(tracked_files(workspace, paths))
    if tracked:
        git(workspace, "checkout", "HEAD", "--", *sorted(tracked))
    for path in set(paths) - tracked:
        try:
            inside(workspace, path).unlink(missing_ok=True)
        except (FixError, IsADirectoryError):
            continue  # never through a symlink: the fix was refused for it already


def _request(
    result: FixResult,
    changes: tuple[FileChange, ...],
    diagnosis: Diagnosis,
    context: RunContext,
    config: RepoConfig,
    *,
    redact: Callable[[str], str],
    stats: dict[str, str],
) -> FixRequest:
    target = context.head_branch or context.default_branch or "main"
    message = f"{result.summary}\n\nMade and verified by pipeline-guard: {result.command}"
    return FixRequest(
        branch=branch_name(result.fixer, target),
        base_branch=target,
        base_sha=context.head_sha,
        title=redact(f"pipeline-guard: {result.summary}"),
        body=redact(_body(result, stats, diagnosis, context)),
        commit_message=redact(message),
        changes=changes,
        draft=config.fix.draft,
        labels=config.fix.labels,
        reviewers=config.fix.reviewers,
    )


def _diff_stats(workspace: Path, changes: tuple[FileChange, ...]) -> dict[str, str]:
    """Per file, what the PR body shows: ``+3 -1``, ``new`` or ``deleted``."""
    stats = {
        change.path: "new" if change.created else "deleted"
        for change in changes
        if change.created or change.content is None
    }
    edited = [change.path for change in changes if change.path not in stats]
    if edited:
        for line in _git_text(workspace, "diff", "--numstat", "--", *edited).splitlines():
            added, removed, path = line.split("\t", 2)
            stats[path] = f"+{added} -{removed}"
    return stats


def _body(
    result: FixResult, stats: dict[str, str], diagnosis: Diagnosis, context: RunContext
) -> str:
    files = "\n".join(f"- `{path}` ({stat})" for path, stat in sorted(stats.items()))
    verification = result.verification[-MAX_VERIFICATION:]
    run = f" in [this run]({context.run_url})" if context.run_url else ""
    return "\n".join(
        [
            f"pipeline-guard diagnosed **{diagnosis.title}** (`{diagnosis.category}`){run} "
            "and made this fix.",
            "",
            f"**Command:** `{result.command}`",
            "",
            f"**Files changed ({len(stats)}):**",
            files,
            "",
            "**Verification** (the check that failed now passes):",
            "```text",
            verification.replace("```", "'''"),
            "```",
            "",
            "Merge it into the failing branch to turn the check green. A later run with the "
            "same failure updates this pull request instead of opening another.",
        ]
    )


def _git_text(workspace: Path, *args: str) -> str:
    return git(workspace, *args).decode("utf-8", "replace")

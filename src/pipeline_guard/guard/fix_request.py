"""From a diagnosis to a verified, bounded fix ready for a PR/MR (the core side of fixes).

The fixer edits the workspace and proves its fix; here the hard limits are enforced whatever
the fixer did: only the fixer's own files and the paths the config allows, at most
``fix.max-files`` files and ``fix.max-diff-bytes`` of diff, never for a fork, and only on a
checkout of the very commit that failed. The workspace is put back as it was afterwards, so
the next fixer (and the user's later steps) see the original tree.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel

from pipeline_guard.context import RunContext
from pipeline_guard.engine.diagnosis import Diagnosis
from pipeline_guard.errors import FixError
from pipeline_guard.fixers.all_fixers import fixer_for
from pipeline_guard.fixers.base import (
    FixResult,
    changed_since,
    check_owned,
    git,
    tracked_files,
    workspace_state,
)
from pipeline_guard.forges.base import FileChange, FixRequest
from pipeline_guard.guard.config import RepoConfig

MAX_VERIFICATION = 4_000
BRANCH_PREFIX = "pipeline-guard/fix"


class FixAttempt(BaseModel):
    """A fix made, verified and turned into a request; the workspace is already restored."""

    request: FixRequest
    verification: str


def prepare_fix(
    diagnosis: Diagnosis,
    context: RunContext,
    config: RepoConfig,
    *,
    redact: Callable[[str], str] = str,
) -> FixAttempt:
    """Run the fixer for ``diagnosis`` in the workspace and package its changes; ``redact``
    cleans the PR's title, body and commit message (tool output can echo secrets)."""
    fix_id = diagnosis.fix or ""
    fixer = fixer_for(fix_id)
    if fixer is None:
        raise FixError(f"no fixer for `{fix_id}`")
    if context.from_fork:
        raise FixError(f"no fixes for {context.request_name}s from forks")
    workspace = context.workspace.resolve()
    _check_checkout(workspace, context.head_sha)
    before = workspace_state(workspace)
    touched: list[str] = []
    try:
        result = fixer.apply(fix_id, diagnosis, workspace)
        touched = sorted(set(result.changed) | set(changed_since(workspace, before)))
        _check_limits(touched, fixer.owned_files(fix_id), config, workspace)
        tracked = set(tracked_files(workspace, touched))
        changes = tuple(_file_change(workspace, path, path not in tracked) for path in touched)
        stats = _diff_stats(workspace, changes)
    finally:
        _restore(workspace, touched or changed_since(workspace, before))
    return FixAttempt(
        request=_request(result, changes, diagnosis, context, config, redact=redact, stats=stats),
        verification=redact(result.verification),
    )


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
        (workspace / path).unlink(missing_ok=True)


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
            f"same failure updates this {context.request_name} instead of opening another.",
        ]
    )


def _git_text(workspace: Path, *args: str) -> str:
    return git(workspace, *args).decode("utf-8", "replace")


def checkout_problem(workspace: Path, head_sha: str | None) -> str | None:
    """Why no fix can be made in ``workspace``, in words that say what would enable it; None
    when it is a checkout of the failing commit. Asked before any fixer is installed or run."""
    try:
        head = _git_text(workspace.resolve(), "rev-parse", "HEAD").strip()
    except FixError:
        return (
            "fixes need the failing commit checked out, and the workspace is not a git "
            "checkout (on GitHub, add `actions/checkout` with "
            "`ref: ${{ github.event.workflow_run.head_sha }}` before pipeline-guard)"
        )
    if head_sha and head != head_sha:
        return (
            f"fixes need the failing commit checked out, and the workspace is at {head[:12]}, "
            f"not the failing commit {head_sha[:12]} (on GitHub: `actions/checkout` with "
            "`ref: ${{ github.event.workflow_run.head_sha }}`)"
        )
    return None

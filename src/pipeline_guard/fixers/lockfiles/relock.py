"""The relock flow every ecosystem shares, like pre-commit's ``lang_base``.

A fix id is a :class:`Spec` (its lockfile names, the files it may touch, the command for a
person, and how to plan the fix); planning one project folder gives a :class:`Relock` (the fix
command and the read-only check that proves it). :func:`relock` finds the projects the log
points at, relocks the stale ones in the jail and runs the check again
(:func:`fix_stale`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from pipeline_guard.engine.diagnosis import Diagnosis
from pipeline_guard.errors import FixError, FixUnavailable
from pipeline_guard.fixers.base import FixResult, FixSite
from pipeline_guard.fixers.jail import Jail
from pipeline_guard.fixers.repo_files import read_bytes
from pipeline_guard.fixers.tools import ToolRun, run_tool

# Folders never searched for lockfiles: dependencies, build output, VCS data.
_SKIP_DIRS = frozenset(
    {".git", "node_modules", "target", "vendor", ".venv", "venv", ".tox", "dist", "build"}
)
_TAIL_LINES = 15
MANIFESTS = ("package.json", "pyproject.toml", "Cargo.toml", "go.mod", "Gemfile", "Pipfile")


@dataclass(frozen=True)
class Step:
    """One command: what runs, what a person would type, and the environment it needs."""

    argv: tuple[str, ...]
    display: str
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Relock:
    """How to relock one project folder and prove it; ``verify=None`` means "re-run the fix
    and the lockfile must not change" (tools without a read-only frozen check)."""

    fix: Step
    verify: Step | None
    tool: str  # e.g. "npm 11.1.0", for the PR title


Planner = Callable[[Path, Diagnosis, Jail], Relock]


@dataclass(frozen=True)
class Spec:
    """A fix id: its lockfile names, what it may touch, and how to plan the fix (``None``:
    comment-only, with ``manual`` as the command and ``reason`` as the why). ``from_scratch``
    names rules whose only repair would relock from nothing (upgrading everything), with the
    reason; ``manual_for`` refines the command from the log."""

    lockfiles: tuple[str, ...]
    owned: tuple[str, ...]
    manual: str
    planner: Planner | None = None
    reason: str = ""
    from_scratch: Mapping[str, str] = field(default_factory=dict)
    manual_for: Callable[[Diagnosis], str | None] | None = None


def owned(*names: str) -> tuple[str, ...]:
    """The globs of lockfile names in any folder."""
    return tuple(pattern for name in names for pattern in (name, f"**/{name}"))


def no_tool(name: str, command: str) -> FixUnavailable:
    return FixUnavailable(
        f"{name} is not on PATH; pipeline-guard installs no toolchain, run `{command}`", command
    )


def fix_stale(fix_id: str, spec: Spec, diagnosis: Diagnosis, site: FixSite) -> FixResult:
    """Relock every stale project the diagnosis points at and prove the frozen check passes
    now. What changed, and that it is only lockfiles, is the guard's check, not ours."""
    workspace = site.workspace.resolve()
    planner = _planner(fix_id, spec, diagnosis)
    projects = _projects(spec, diagnosis, workspace)
    plans = [(project, planner(project, diagnosis, site.jail)) for project in projects]
    stale = [(p, plan) for p, plan in plans if len(plans) == 1 or not _precheck(site.jail, plan, p)]
    if not stale:
        raise FixError(f"{_names(spec)} already in sync here: nothing to fix")
    for project, plan in stale:
        _run_fix(site.jail, plan, project)
    checks = [_verify(site.jail, plan, project, spec, workspace) for project, plan in stale]
    locks = [
        (project / name).relative_to(workspace).as_posix()
        for project, _ in stale
        for name in spec.lockfiles
        if (project / name).is_file()
    ]
    return FixResult(
        fixer=fix_id,
        summary=f"Update {', '.join(locks) or _names(spec)} with {stale[0][1].tool}",
        verification="\n\n".join(checks),
        command=" ; ".join(
            _in_dir(plan.fix.display, project, workspace) for project, plan in stale
        ),
        if_unchanged=f"{fix_id}: {_names(spec)} already in sync here: nothing to fix",
    )


# ---------------------------------------------------------------- refusing and locating


def _names(spec: Spec) -> str:
    return " / ".join(spec.lockfiles)


def _planner(fix_id: str, spec: Spec, diagnosis: Diagnosis) -> Planner:
    """The spec's planner, refusing comment-only fix ids and failures whose only repair
    would relock from scratch."""
    manual = (spec.manual_for(diagnosis) if spec.manual_for else None) or spec.manual
    if spec.planner is None:
        raise FixUnavailable(f"{fix_id}: {spec.reason}", manual)
    why = spec.from_scratch.get(diagnosis.rule or "")
    if why:
        raise FixUnavailable(f"{fix_id}: {why}", manual)
    return spec.planner


def _projects(spec: Spec, diagnosis: Diagnosis, workspace: Path) -> list[Path]:
    """The folders to relock: those owning a lockfile the log names, else every folder that
    has one (the stale ones are picked by the pre-check)."""
    named = named_paths(spec, diagnosis, workspace)
    owners = {owner for path in named if (owner := _owner(path, spec, workspace))}
    if owners:
        return sorted(owners)
    found = sorted(lockfile_dirs(spec, workspace))
    if not found:
        raise FixUnavailable(
            f"no {_names(spec)} in the repository; pipeline-guard refreshes lockfiles but does "
            "not decide to create one",
            spec.manual,
        )
    return found


def named_paths(spec: Spec, diagnosis: Diagnosis, workspace: Path) -> list[Path]:
    """Workspace files that the evidence lines name (manifest or lockfile), matched by the
    longest path suffix that exists, so CI's absolute paths map onto the checkout."""
    names = "|".join(re.escape(name) for name in (*spec.lockfiles, *MANIFESTS))
    pattern = re.compile(rf"[^\s'\"`(),]*(?<![\w.-])(?:{names})\b")
    found: list[Path] = []
    for evidence in diagnosis.evidence:
        for token in pattern.findall(evidence.text):
            path = map_to_workspace(token, workspace)
            if path is not None:
                found.append(path)
    return found


def map_to_workspace(token: str, workspace: Path) -> Path | None:
    """``/home/runner/work/app/app/web/package.json`` → ``<workspace>/web/package.json``;
    never a file reached through a symlink or outside the checkout."""
    parts = [part for part in PurePosixPath(token).parts if part not in ("/", ".")]
    for start in range(len(parts)):
        candidate = workspace.joinpath(*parts[start:])
        if ".." in parts[start:] or not candidate.is_file():
            continue
        if candidate.resolve().is_relative_to(workspace.resolve()):
            return candidate
    return None


def _owner(path: Path, spec: Spec, workspace: Path) -> Path | None:
    """The nearest folder at or above ``path`` (inside the workspace) holding the lockfile."""
    for folder in (path.parent, *path.parent.parents):
        if any((folder / name).is_file() for name in spec.lockfiles):
            return folder
        if folder == workspace:
            return None
    return None


def lockfile_dirs(spec: Spec, workspace: Path) -> Iterator[Path]:
    """Every folder of the checkout with one of the spec's lockfiles (``os.walk`` follows no
    symlinked folder)."""
    for root, dirs, files in os.walk(workspace):
        dirs[:] = [name for name in dirs if name not in _SKIP_DIRS]
        if any(name in files for name in spec.lockfiles):
            yield Path(root)


# ---------------------------------------------------------------- running and checking


def _run(jail: Jail, step: Step, project: Path) -> ToolRun:
    return run_tool(jail, step.argv, project, env=step.env, display=step.display)


def _precheck(jail: Jail, plan: Relock, project: Path) -> bool:
    """Whether one of several projects is already in sync (no read-only check: assume it is
    not). A lone project is not pre-checked: the log says it failed, and a fix that changes
    nothing is reported as such."""
    return plan.verify is not None and _run(jail, plan.verify, project).ok


def _run_fix(jail: Jail, plan: Relock, project: Path) -> None:
    run = _run(jail, plan.fix, project)
    if not run.ok:
        raise FixError(f"`{plan.fix.display}` failed in {project.name or '.'}: {_tail(run)}")


def _verify(jail: Jail, plan: Relock, project: Path, spec: Spec, workspace: Path) -> str:
    """Run the frozen check again (or the fix, expecting no change); raise if it fails."""
    if plan.verify is not None:
        run = _run(jail, plan.verify, project)
        ok, output = run.ok, run.output
        command = run.command
    else:
        before = _lock_bytes(project, spec)
        run = _run(jail, plan.fix, project)
        ok = run.ok and _lock_bytes(project, spec) == before
        output = run.output + ("" if ok else f"\n{_names(spec)} changed again")
        command = f"{plan.fix.display}  # again: {_names(spec)} must not change"
    where = _in_dir(command, project, workspace)
    if not ok:
        raise FixError(f"`{where}` still fails after the fix: {tail_text(output)}")
    return f"$ {where}\n{tail_text(output, keep_lines=True)}".rstrip() + "\n(exit 0)"


def _lock_bytes(project: Path, spec: Spec) -> list[bytes | None]:
    return [read_bytes(project / name) for name in spec.lockfiles]


def _in_dir(command: str, project: Path, workspace: Path) -> str:
    relative = project.relative_to(workspace).as_posix()
    return command if relative == "." else f"cd {relative} && {command}"


def _tail(run: ToolRun) -> str:
    return tail_text(run.output)


def tail_text(output: str, *, keep_lines: bool = False) -> str:
    lines = [line for line in output.strip().splitlines() if line.strip()][-_TAIL_LINES:]
    return "\n".join(lines) if keep_lines else " | ".join(lines[-3:]) or "no output"

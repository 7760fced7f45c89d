"""Lockfile fixers: bring a stale lockfile back in line with its manifest, and nothing more.

A CI job that installs with a frozen lockfile (``npm ci``, ``pnpm install --frozen-lockfile``,
``uv sync --locked``, ``cargo build --locked``, ...) fails when someone edited the manifest and
forgot to commit the regenerated lockfile. The fix is mechanical, but only if it keeps three
promises, which every command below was chosen for:

* **No code runs.** Install scripts are disabled or never reached (lockfile-only modes), so a
  dependency cannot execute anything on the runner.
* **Nothing is upgraded** that the manifest does not ask for: each tool's *minimal* relock is
  used (npm/pnpm keep satisfying locked versions, ``poetry lock`` ≥ 2 / ``--no-update`` < 2,
  ``uv lock`` without ``--upgrade``, ``cargo update --workspace``), never "regenerate from
  scratch". Where a tool cannot promise that (pipenv re-resolves everything) or the repair is
  a judgement call (composer, a conflicted Gemfile.lock, a missing lockfile), the fixer stays a
  comment: :class:`FixUnavailable` carries the exact command for a person.
* **Only lockfiles change**, checked against git after the run, and the frozen check that failed
  in CI is run again and must pass (or, where no read-only check exists, re-running the fix
  must leave the lockfile unchanged).

Where the log names the manifest or lockfile (pnpm, cargo), the tool runs in the folder that
owns that lockfile; otherwise every folder with the lockfile is checked and the stale ones are
fixed, which covers monorepos whose CI ran in a sub-folder.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from pipeline_guard.engine.diagnosis import Diagnosis
from pipeline_guard.errors import FixError, FixUnavailable
from pipeline_guard.fixers.base import (
    FixResult,
    changed_since,
    is_owned,
    workspace_state,
)
from pipeline_guard.fixers.tools import ToolRun, pypi_tool, run_tool, tools_dir, which

# Folders never searched for lockfiles: dependencies, build output, VCS data.
_SKIP_DIRS = frozenset(
    {".git", "node_modules", "target", "vendor", ".venv", "venv", ".tox", "dist", "build"}
)
_TAIL_LINES = 15


@dataclass(frozen=True)
class Step:
    """One command: what runs, what a person would type, and the environment it needs."""

    argv: tuple[str, ...]
    display: str
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Plan:
    """How to fix one project folder and prove it; ``verify=None`` means "re-run the fix and
    the lockfile must not change" (tools without a read-only frozen check)."""

    fix: Step
    verify: Step | None
    tool: str  # e.g. "npm 11.1.0", for the PR title


Planner = Callable[[Path, Diagnosis], Plan]


@dataclass(frozen=True)
class Spec:
    """A fix id: its lockfile names, what it may touch, and how to plan the fix (``None``:
    comment-only, with ``manual`` as the command and ``reason`` as the why)."""

    lockfiles: tuple[str, ...]
    owned: tuple[str, ...]
    manual: str
    planner: Planner | None = None
    reason: str = ""


# ---------------------------------------------------------------- the Fixer protocol


def owned_files(fix_id: str) -> tuple[str, ...]:
    """Glob patterns (``**/`` for any folder) of the only files this fix may change."""
    return _spec(fix_id).owned


def apply(fix_id: str, diagnosis: Diagnosis, workspace: Path) -> FixResult:
    """Relock every stale project the diagnosis points at, check only lockfiles changed, and
    prove the frozen check passes now."""
    spec = _spec(fix_id)
    workspace = workspace.resolve()
    planner = _planner(fix_id, spec, diagnosis)
    projects = _projects(spec, diagnosis, workspace)
    plans = [(project, planner(project, diagnosis)) for project in projects]
    stale = [(p, plan) for p, plan in plans if len(plans) == 1 or not _precheck(plan, p)]
    if not stale:
        raise FixError(f"{_names(spec)} already in sync here: nothing to fix")
    before = workspace_state(workspace)
    for project, plan in stale:
        _run_fix(plan, project)
    changed = tuple(changed_since(workspace, before))
    _check_changes(changed, spec, fix_id)
    checks = [_verify(plan, project, spec, workspace) for project, plan in stale]
    return FixResult(
        fixer=fix_id,
        summary=f"Update {', '.join(changed)} with {stale[0][1].tool}",
        changed=changed,
        verification="\n\n".join(checks),
        command=" ; ".join(
            _in_dir(plan.fix.display, project, workspace) for project, plan in stale
        ),
    )


# ---------------------------------------------------------------- refusing and locating


def _spec(fix_id: str) -> Spec:
    try:
        return SPECS[fix_id]
    except KeyError:
        raise FixError(f"lockfiles: unknown fix id {fix_id!r}") from None


def _names(spec: Spec) -> str:
    return " / ".join(spec.lockfiles)


def _planner(fix_id: str, spec: Spec, diagnosis: Diagnosis) -> Planner:
    """The spec's planner, refusing comment-only fix ids and failures whose only repair
    would relock from scratch."""
    if spec.planner is None:
        raise FixUnavailable(f"{fix_id}: {spec.reason}", _manual(fix_id, spec, diagnosis))
    if diagnosis.rule in _FROM_SCRATCH:
        raise FixUnavailable(
            f"{fix_id}: {_FROM_SCRATCH[diagnosis.rule]}", _manual(fix_id, spec, diagnosis)
        )
    return spec.planner


def _manual(fix_id: str, spec: Spec, diagnosis: Diagnosis) -> str:
    """The command for a person; composer names the packages the log says are missing."""
    if fix_id == "composer-lock":
        packages = sorted({m for e in diagnosis.evidence for m in _COMPOSER_PKG.findall(e.text)})
        if packages:
            return f"composer update {' '.join(packages)} --no-install --no-scripts --no-plugins"
    return spec.manual


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
    names = "|".join(re.escape(name) for name in (*spec.lockfiles, *_MANIFESTS))
    pattern = re.compile(rf"[^\s'\"`(),]*(?<![\w.-])(?:{names})\b")
    found: list[Path] = []
    for evidence in diagnosis.evidence:
        for token in pattern.findall(evidence.text):
            path = map_to_workspace(token, workspace)
            if path is not None:
                found.append(path)
    return found


def map_to_workspace(token: str, workspace: Path) -> Path | None:
    """``/home/runner/work/app/app/web/package.json`` → ``<workspace>/web/package.json``."""
    parts = [part for part in PurePosixPath(token).parts if part not in ("/", ".")]
    for start in range(len(parts)):
        candidate = workspace.joinpath(*parts[start:])
        if ".." not in parts[start:] and candidate.is_file():
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
    """Every folder of the checkout with one of the spec's lockfiles."""
    for root, dirs, files in os.walk(workspace):
        dirs[:] = [name for name in dirs if name not in _SKIP_DIRS]
        if any(name in files for name in spec.lockfiles):
            yield Path(root)


# ---------------------------------------------------------------- running and checking


def _run(step: Step, project: Path) -> ToolRun:
    return run_tool(step.argv, project, env=step.env, display=step.display)


def _precheck(plan: Plan, project: Path) -> bool:
    """Whether one of several projects is already in sync (no read-only check: assume it is
    not). A lone project is not pre-checked: the log says it failed, and a fix that changes
    nothing is reported as such."""
    return plan.verify is not None and _run(plan.verify, project).ok


def _run_fix(plan: Plan, project: Path) -> None:
    run = _run(plan.fix, project)
    if not run.ok:
        raise FixError(f"`{plan.fix.display}` failed in {project.name or '.'}: {_tail(run)}")


def _verify(plan: Plan, project: Path, spec: Spec, workspace: Path) -> str:
    """Run the frozen check again (or the fix, expecting no change); raise if it fails."""
    if plan.verify is not None:
        run = _run(plan.verify, project)
        ok, output = run.ok, run.output
        command = run.command
    else:
        before = _lock_bytes(project, spec)
        run = _run(plan.fix, project)
        ok = run.ok and _lock_bytes(project, spec) == before
        output = run.output + ("" if ok else f"\n{_names(spec)} changed again")
        command = f"{plan.fix.display}  # again: {_names(spec)} must not change"
    where = _in_dir(command, project, workspace)
    if not ok:
        raise FixError(f"`{where}` still fails after the fix: {_tail_text(output)}")
    return f"$ {where}\n{_tail_text(output, keep_lines=True)}".rstrip() + "\n(exit 0)"


def _lock_bytes(project: Path, spec: Spec) -> list[bytes | None]:
    return [
        (project / name).read_bytes() if (project / name).is_file() else None
        for name in spec.lockfiles
    ]


def _in_dir(command: str, project: Path, workspace: Path) -> str:
    relative = project.relative_to(workspace).as_posix()
    return command if relative == "." else f"cd {relative} && {command}"


def _tail(run: ToolRun) -> str:
    return _tail_text(run.output)


def _tail_text(output: str, *, keep_lines: bool = False) -> str:
    lines = [line for line in output.strip().splitlines() if line.strip()][-_TAIL_LINES:]
    return "\n".join(lines) if keep_lines else " | ".join(lines[-3:]) or "no output"


def _check_changes(changed: tuple[str, ...], spec: Spec, fix_id: str) -> None:
    if not changed:
        raise FixError(f"{fix_id}: {_names(spec)} already in sync here: nothing to fix")
    stray = [path for path in changed if not is_owned(path, spec.owned)]
    if stray:
        raise FixError(f"{fix_id}: the tool also changed files it must not: {', '.join(stray)}")


def _owned(*names: str) -> tuple[str, ...]:
    return tuple(pattern for name in names for pattern in (name, f"**/{name}"))


# ---------------------------------------------------------------- node: npm, pnpm, yarn


def _package_json(project: Path) -> dict[str, object]:
    try:
        data = json.loads((project / "package.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def package_manager(project: Path) -> tuple[str, str] | None:
    """``"packageManager": "pnpm@9.1.0+sha512..."`` → ``("pnpm", "9.1.0")``."""
    value = _package_json(project).get("packageManager")
    match = re.fullmatch(r"(@?[\w.-]+)@([\w.-]+)(?:\+.*)?", value if isinstance(value, str) else "")
    return (match[1], match[2]) if match else None


def _node_runner(name: str, wanted: str | None, package: str | None = None) -> tuple[str, ...]:
    """``name`` from PATH when its major version is the wanted one, else through ``npx``
    from the npm registry, pinned; FixUnavailable when node's tools are absent."""
    local = which(name)
    if local is not None and (wanted is None or _major(_version_of(local)) == _major(wanted)):
        return (str(local),)
    npx = which("npx")
    if npx is None:
        raise _no_tool(name)
    pinned = f"--package={package or name}@{wanted or 'latest'}"
    return (str(npx), "--yes", "--prefer-offline", pinned, "--", name)


def _version_of(executable: Path) -> str:
    run = run_tool([executable, "--version"], Path.cwd(), timeout=60)
    return run.output.strip().splitlines()[-1] if run.ok and run.output.strip() else ""


def _major(version: str) -> str:
    return version.lstrip("v").split(".")[0]


def _display(argv: tuple[str, ...], *rest: str) -> str:
    """The command as a person types it: tool name instead of an absolute path."""
    words = [Path(argv[0]).name, *argv[1:], *rest]
    return " ".join(words)


def _step(runner: tuple[str, ...], *args: str, env: Mapping[str, str] | None = None) -> Step:
    return Step((*runner, *args), _display(runner, *args), env or {})


def _label(runner: tuple[str, ...], name: str) -> str:
    pinned = next((part.split("=", 1)[1] for part in runner if part.startswith("--package=")), "")
    return pinned.replace(name + "@", name + " ") if pinned else name


def _npm(project: Path, diagnosis: Diagnosis) -> Plan:
    """npm's lockfile-only install keeps every locked version the manifest still allows.
    A v1 lockfile is kept with npm 6 (newer npm would rewrite it whole to v3)."""
    del diagnosis
    pinned = package_manager(project)
    wanted = pinned[1] if pinned and pinned[0] == "npm" else None
    if wanted is None and _lockfile_version(project / "package-lock.json") == 1:
        wanted = "6"
    runner = _node_runner("npm", wanted)
    quiet = ("--ignore-scripts", "--no-audit", "--no-fund")
    return Plan(
        fix=_step(runner, "install", "--package-lock-only", *quiet),
        verify=_step(runner, "ci", "--dry-run", *quiet),
        tool=_label(runner, "npm"),
    )


def _lockfile_version(path: Path) -> int | None:
    try:
        value = json.loads(path.read_text(encoding="utf-8")).get("lockfileVersion")
    except (OSError, ValueError, AttributeError):
        return None
    return value if isinstance(value, int) else None


# pnpm-lock.yaml `lockfileVersion` → the pnpm major that writes it.
_PNPM_BY_LOCKFILE = {"9": "9", "6": "8", "5.4": "7", "5.3": "6"}


def _pnpm(project: Path, diagnosis: Diagnosis) -> Plan:
    """pnpm's lockfile-only install, at the pnpm major of ``packageManager`` or the lockfile.
    ``--no-frozen-lockfile`` because pnpm freezes by default when ``CI`` is set."""
    del diagnosis
    pinned = package_manager(project)
    wanted = pinned[1] if pinned and pinned[0] == "pnpm" else _pnpm_from_lockfile(project)
    runner = _node_runner("pnpm", wanted)
    return Plan(
        fix=_step(runner, "install", "--lockfile-only", "--ignore-scripts", "--no-frozen-lockfile"),
        verify=_step(runner, "install", "--lockfile-only", "--ignore-scripts", "--frozen-lockfile"),
        tool=_label(runner, "pnpm"),
    )


def _pnpm_from_lockfile(project: Path) -> str | None:
    text = _read(project / "pnpm-lock.yaml")
    match = re.search(r"^lockfileVersion:\s*'?(\d+(?:\.\d+)?)", text, re.MULTILINE)
    if not match:
        return None
    version = match[1]
    return _PNPM_BY_LOCKFILE.get(version) or _PNPM_BY_LOCKFILE.get(version.split(".")[0])


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""


def _yarn(project: Path, diagnosis: Diagnosis) -> Plan:
    """Yarn 2+ ("berry", ``__metadata:`` in yarn.lock) has a lockfile-only mode; classic
    yarn 1 has none, so it installs with scripts off into a scratch ``--modules-folder``
    outside the checkout, which leaves yarn.lock as the only change in the repository."""
    del diagnosis
    if "__metadata:" in _read(project / "yarn.lock"):
        return _yarn_berry(project)
    pinned = package_manager(project)
    wanted = pinned[1] if pinned and pinned[0] == "yarn" else "1"
    runner = _node_runner("yarn", wanted)
    scratch = tools_dir().parent / "yarn-modules"
    scratch.mkdir(parents=True, exist_ok=True)
    common = ("--ignore-scripts", "--non-interactive", "--modules-folder", str(scratch))
    return Plan(
        fix=_step(runner, "install", *common),
        verify=_step(runner, "install", "--frozen-lockfile", *common),
        tool=_label(runner, "yarn"),
    )


def _yarn_berry(project: Path) -> Plan:
    """``--mode=update-lockfile`` skips the link step (so no build scripts run); berry has
    no read-only check besides a full ``--immutable`` install, so the verification re-runs the
    fix and requires yarn.lock unchanged, which is what ``--immutable`` tests."""
    pinned = package_manager(project)
    release = re.search(r"^yarnPath:\s*['\"]?([^'\"\n]+)", _read(project / ".yarnrc.yml"), re.M)
    node = which("node")
    if release and node is not None and (project / release[1].strip()).is_file():
        runner: tuple[str, ...] = (str(node), release[1].strip())  # the repository's own yarn
    else:
        wanted = pinned[1] if pinned and pinned[0] == "yarn" else "4"
        runner = _node_runner("yarn", wanted, package="@yarnpkg/cli-dist")
    fix = _step(
        runner,
        "install",
        "--mode=update-lockfile",
        "--no-immutable",
        env={"YARN_ENABLE_SCRIPTS": "0"},
    )
    return Plan(
        fix=fix,
        verify=None,
        tool=_label(runner, "@yarnpkg/cli-dist").replace("@yarnpkg/cli-dist", "yarn"),
    )


# ---------------------------------------------------------------- python: poetry, uv


def _pypi(package: str, version: str | None, command: str) -> Path:
    try:
        return pypi_tool(package, version)
    except FixError as exc:
        raise FixUnavailable(str(exc), command) from None


def poetry_version(project: Path) -> str | None:
    """The Poetry that wrote the lockfile: ``# ... @generated by Poetry 1.8.3 ...``."""
    match = re.search(r"@generated by Poetry (\d+\.\d+(?:\.\d+)?)", _read(project / "poetry.lock"))
    return match[1] if match else None


def _poetry(project: Path, diagnosis: Diagnosis) -> Plan:
    """Poetry 2 keeps locked versions on ``poetry lock``; Poetry 1 needs ``--no-update``."""
    del diagnosis
    version = poetry_version(project)
    old = version is not None and int(_major(version)) < 2
    lock = ("lock", "--no-update") if old else ("lock",)
    poetry = _pypi("poetry", version, "poetry " + " ".join(lock))
    check = ("lock", "--check") if version and _older(version, (1, 6)) else ("check", "--lock")
    env = {"POETRY_NO_INTERACTION": "1", "POETRY_VIRTUALENVS_CREATE": "false"}
    return Plan(
        fix=Step((str(poetry), *lock), "poetry " + " ".join(lock), env),
        verify=Step((str(poetry), *check), "poetry " + " ".join(check), env),
        tool=f"Poetry {version}" if version else "Poetry",
    )


def _older(version: str, than: tuple[int, int]) -> bool:
    numbers = tuple(int(part) for part in re.findall(r"\d+", version)[:2])
    return numbers < than


def uv_version(project: Path) -> str | None:
    """An exact ``required-version = "==X"`` from ``[tool.uv]`` or uv.toml; else latest uv."""
    for path, keys in ((project / "uv.toml", ()), (project / "pyproject.toml", ("tool", "uv"))):
        try:
            data: object = tomllib.loads(_read(path))
        except tomllib.TOMLDecodeError:
            continue
        for key in keys:
            data = data.get(key, {}) if isinstance(data, dict) else {}
        required = data.get("required-version") if isinstance(data, dict) else None
        match = re.fullmatch(r"\s*==\s*([\w.]+)\s*", required if isinstance(required, str) else "")
        if match:
            return match[1]
    return None


def _uv(project: Path, diagnosis: Diagnosis) -> Plan:
    """``uv lock`` keeps every locked version still allowed; no Python downloads (network
    only to the package index), and the CI's ``UV_LOCKED``/``UV_FROZEN`` are switched off."""
    del diagnosis
    version = uv_version(project)
    uv = _pypi("uv", version, "uv lock")
    env = {"UV_PYTHON_DOWNLOADS": "never", "UV_LOCKED": "0", "UV_FROZEN": "0"}
    return Plan(
        fix=Step((str(uv), "lock"), "uv lock", env),
        verify=Step((str(uv), "lock", "--locked"), "uv lock --locked", env),
        tool=f"uv {version}" if version else "uv",
    )


# ---------------------------------------------------------------- cargo, go, bundler


def _no_tool(name: str) -> FixUnavailable:
    command = _COMMANDS[name]
    return FixUnavailable(
        f"{name} is not on PATH; pipeline-guard installs no toolchain, run `{command}`", command
    )


def _cargo(project: Path, diagnosis: Diagnosis) -> Plan:
    """``cargo update --workspace`` relocks only the workspace's own packages; other crates
    change only if they are new to the lockfile. ``--locked`` on the same command fails
    when the lockfile would still change, without compiling or downloading crates."""
    del project, diagnosis
    cargo = which("cargo")
    if cargo is None:
        raise _no_tool("cargo")
    return Plan(
        fix=Step((str(cargo), "update", "--workspace"), "cargo update --workspace"),
        verify=Step(
            (str(cargo), "update", "--workspace", "--locked"), "cargo update --workspace --locked"
        ),
        tool="cargo",
    )


def _go(project: Path, diagnosis: Diagnosis) -> Plan:
    """``go mod tidy`` adds the missing requirements and sums (minimal version selection never
    raises an existing one); the check is the read-only build list CI failed on."""
    del project, diagnosis
    go = which("go")
    if go is None:
        raise _no_tool("go")
    env = {"GOFLAGS": ""}
    return Plan(
        fix=Step((str(go), "mod", "tidy"), "go mod tidy", env),
        verify=Step(
            (str(go), "list", "-mod=readonly", "-deps", "-test", "./..."),
            "go list -mod=readonly -deps -test ./...",
            env,
        ),
        tool="go mod tidy",
    )


def _bundler(project: Path, diagnosis: Diagnosis) -> Plan:
    """``bundle lock`` resolves only what the Gemfile changed; a missing platform is added
    with ``--add-platform``. Bundler's frozen mode only warns on some lockfile drift, so the
    check re-runs the fix and requires Gemfile.lock unchanged."""
    del project
    bundle = which("bundle")
    if bundle is None:
        raise _no_tool("bundle")
    platform = next(
        (m[1] for e in diagnosis.evidence if (m := _LOCAL_PLATFORM.search(e.text))), None
    )
    args = ("lock", "--add-platform", platform) if platform else ("lock",)
    env = {"BUNDLE_FROZEN": "false", "BUNDLE_DEPLOYMENT": "false"}
    return Plan(
        fix=Step((str(bundle), *args), "bundle " + " ".join(args), env), verify=None, tool="bundler"
    )


_LOCAL_PLATFORM = re.compile(r"your local platform is ([\w.-]+?)\.?(?:\s|$)")
_COMPOSER_PKG = re.compile(r'Required (?:\(in require-dev\) )?package "([^"]+)"')
_MANIFESTS = ("package.json", "pyproject.toml", "Cargo.toml", "go.mod", "Gemfile", "Pipfile")
_COMMANDS = {
    "cargo": "cargo update --workspace",
    "go": "go mod tidy",
    "bundle": "bundle lock",
    "npm": "npm install --package-lock-only --ignore-scripts --no-audit --no-fund",
    "npx": "npm install --package-lock-only --ignore-scripts --no-audit --no-fund",
    "pnpm": "pnpm install --lockfile-only --ignore-scripts",
    "yarn": "yarn install --ignore-scripts (yarn 2+: yarn install --mode=update-lockfile)",
}
# Rules whose only repair regenerates the lockfile from nothing (upgrading everything).
_FROM_SCRATCH = {
    "bundler-lockfile-unreadable": "a conflicted Gemfile.lock can only be regenerated from "
    "scratch, which upgrades every gem; resolve the conflict by hand",
    "npm-ci-missing-lockfile": "there is no package-lock.json to refresh; whether to commit one "
    "(or fix the job's working-directory) is a decision for a person",
}

SPECS: dict[str, Spec] = {
    "npm-lockfile": Spec(
        ("package-lock.json", "npm-shrinkwrap.json"),
        _owned("package-lock.json", "npm-shrinkwrap.json"),
        _COMMANDS["npm"],
        _npm,
    ),
    "pnpm-lockfile": Spec(("pnpm-lock.yaml",), _owned("pnpm-lock.yaml"), _COMMANDS["pnpm"], _pnpm),
    "yarn-lockfile": Spec(("yarn.lock",), _owned("yarn.lock"), _COMMANDS["yarn"], _yarn),
    "poetry-lock": Spec(("poetry.lock",), _owned("poetry.lock"), "poetry lock", _poetry),
    "uv-lock": Spec(("uv.lock",), _owned("uv.lock"), "uv lock", _uv),
    "cargo-lock": Spec(("Cargo.lock",), _owned("Cargo.lock"), _COMMANDS["cargo"], _cargo),
    "go-mod-tidy": Spec(
        ("go.mod",), _owned("go.mod", "go.sum", "go.work.sum"), _COMMANDS["go"], _go
    ),
    "bundler-lock": Spec(
        ("Gemfile.lock", "gems.locked"),
        _owned("Gemfile.lock", "gems.locked"),
        _COMMANDS["bundle"],
        _bundler,
    ),
    "composer-lock": Spec(
        ("composer.lock",),
        _owned("composer.lock"),
        "composer update --lock --no-install --no-scripts --no-plugins",
        reason="which packages to update is a judgement call (the log may name them), composer "
        "plugins are code from the dependencies, and no PHP toolchain is installed here",
    ),
    "pipenv-lock": Spec(
        ("Pipfile.lock",),
        _owned("Pipfile.lock"),
        "pipenv lock",
        reason="`pipenv lock` re-resolves every package (pipenv has no keep-locked mode since "
        "--keep-outdated was removed), so it would upgrade what the Pipfile does not ask for",
    ),
}

FIX_IDS: frozenset[str] = frozenset(SPECS)

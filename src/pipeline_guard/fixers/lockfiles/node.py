"""Node's lockfiles: npm (``package-lock.json``), pnpm (``pnpm-lock.yaml``), yarn (``yarn.lock``).

The package manager runs at the version ``packageManager`` pins (or the lockfile implies),
from ``PATH`` when its major matches, else through ``npx`` from the npm registry. Every call
gets :func:`~pipeline_guard.fixers.tools.node_env`, which pins the programs a project's
``.npmrc`` or ``.yarnrc`` could name; the repository's own yarn release (``yarnPath``) and
yarn plugins run only when ``fix.trust-repo-tools`` is set.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from pipeline_guard.engine.diagnosis import Diagnosis
from pipeline_guard.errors import FixUnavailable
from pipeline_guard.fixers.jail import Jail
from pipeline_guard.fixers.lockfiles.relock import Relock, Spec, Step, no_tool, owned
from pipeline_guard.fixers.repo_files import checked_version, read_json, read_text
from pipeline_guard.fixers.tools import node_env, run_tool

NPM_COMMAND = "npm install --package-lock-only --ignore-scripts --no-audit --no-fund"
_COMMANDS = {
    "npm": NPM_COMMAND,
    "npx": NPM_COMMAND,
    "pnpm": "pnpm install --lockfile-only --ignore-scripts",
    "yarn": "yarn install --ignore-scripts (yarn 2+: yarn install --mode=update-lockfile)",
}
# pnpm-lock.yaml `lockfileVersion` → the pnpm major that writes it.
_PNPM_BY_LOCKFILE = {"9": "9", "6": "8", "5.4": "7", "5.3": "6"}


def package_manager(project: Path) -> tuple[str, str] | None:
    """``"packageManager": "pnpm@9.1.0+sha512..."`` → ``("pnpm", "9.1.0")``."""
    manifest = read_json(project / "package.json")
    value = manifest.get("packageManager") if isinstance(manifest, dict) else None
    match = re.fullmatch(r"(@?[\w.-]+)@([\w.-]+)(?:\+.*)?", value if isinstance(value, str) else "")
    if not match:
        return None
    return match[1], checked_version(match[2], "packageManager in package.json")


def _node_runner(
    jail: Jail, name: str, wanted: str | None, package: str | None = None
) -> tuple[str, ...]:
    """``name`` from PATH when its major version is the wanted one, else through ``npx``
    from the npm registry, pinned; FixUnavailable when node's tools are absent."""
    local = jail.which(name)
    if local is not None and (wanted is None or _major(_version_of(jail, local)) == _major(wanted)):
        return (str(local),)
    npx = jail.which("npx")
    if npx is None:
        raise no_tool(name, _COMMANDS[name])
    pinned = f"--package={package or name}@{wanted or 'latest'}"
    return (str(npx), "--yes", "--prefer-offline", pinned, "--", name)


def _version_of(jail: Jail, executable: Path) -> str:
    run = run_tool(jail, [executable, "--version"], jail.home, env=node_env(jail), timeout=60)
    return run.output.strip().splitlines()[-1] if run.ok and run.output.strip() else ""


def _major(version: str) -> str:
    return version.lstrip("v").split(".")[0]


def _step(
    jail: Jail, runner: tuple[str, ...], *args: str, env: Mapping[str, str] | None = None
) -> Step:
    """A node command as a person types it (tool name, not path), with the safe settings."""
    display = " ".join([Path(runner[0]).name, *runner[1:], *args])
    return Step((*runner, *args), display, {**node_env(jail), **(env or {})})


def _label(runner: tuple[str, ...], name: str) -> str:
    pinned = next((part.split("=", 1)[1] for part in runner if part.startswith("--package=")), "")
    return pinned.replace(name + "@", name + " ") if pinned else name


def _npm(project: Path, diagnosis: Diagnosis, jail: Jail) -> Relock:
    """npm's lockfile-only install keeps every locked version the manifest still allows.
    A v1 lockfile is kept with npm 6 (newer npm would rewrite it whole to v3)."""
    del diagnosis
    pinned = package_manager(project)
    wanted = pinned[1] if pinned and pinned[0] == "npm" else None
    if wanted is None and _lockfile_version(project / "package-lock.json") == 1:
        wanted = "6"
    runner = _node_runner(jail, "npm", wanted)
    quiet = ("--ignore-scripts", "--no-audit", "--no-fund")
    return Relock(
        fix=_step(jail, runner, "install", "--package-lock-only", *quiet),
        verify=_step(jail, runner, "ci", "--dry-run", *quiet),
        tool=_label(runner, "npm"),
    )


def _lockfile_version(path: Path) -> int | None:
    data = read_json(path)
    value = data.get("lockfileVersion") if isinstance(data, dict) else None
    return value if isinstance(value, int) else None


def _pnpm(project: Path, diagnosis: Diagnosis, jail: Jail) -> Relock:
    """pnpm's lockfile-only install, at the pnpm major of ``packageManager`` or the lockfile.
    ``--no-frozen-lockfile`` because pnpm freezes by default when ``CI`` is set."""
    del diagnosis
    pinned = package_manager(project)
    wanted = pinned[1] if pinned and pinned[0] == "pnpm" else _pnpm_from_lockfile(project)
    runner = _node_runner(jail, "pnpm", wanted)
    only = ("install", "--lockfile-only", "--ignore-scripts")
    return Relock(
        fix=_step(jail, runner, *only, "--no-frozen-lockfile"),
        verify=_step(jail, runner, *only, "--frozen-lockfile"),
        tool=_label(runner, "pnpm"),
    )


def _pnpm_from_lockfile(project: Path) -> str | None:
    text = read_text(project / "pnpm-lock.yaml") or ""
    match = re.search(r"^lockfileVersion:\s*'?(\d+(?:\.\d+)?)", text, re.MULTILINE)
    if not match:
        return None
    version = match[1]
    return _PNPM_BY_LOCKFILE.get(version) or _PNPM_BY_LOCKFILE.get(version.split(".")[0])


def _yarn(project: Path, diagnosis: Diagnosis, jail: Jail) -> Relock:
    """Yarn 2+ ("berry", ``__metadata:`` in yarn.lock) has a lockfile-only mode; classic
    yarn 1 has none, so it installs with scripts off into a scratch ``--modules-folder``
    outside the checkout, which leaves yarn.lock as the only change in the repository."""
    del diagnosis
    if "__metadata:" in (read_text(project / "yarn.lock") or ""):
        return _yarn_berry(project, jail)
    pinned = package_manager(project)
    wanted = pinned[1] if pinned and pinned[0] == "yarn" else "1"
    runner = _node_runner(jail, "yarn", wanted)
    scratch = jail.home / "yarn-modules"
    common = ("--ignore-scripts", "--non-interactive", "--modules-folder", str(scratch))
    return Relock(
        fix=_step(jail, runner, "install", *common),
        verify=_step(jail, runner, "install", "--frozen-lockfile", *common),
        tool=_label(runner, "yarn"),
    )


def _yarn_berry(project: Path, jail: Jail) -> Relock:
    """``--mode=update-lockfile`` skips the link step (so no build scripts run); berry has
    no read-only check besides a full ``--immutable`` install, so the verification re-runs the
    fix and requires yarn.lock unchanged, which is what ``--immutable`` tests. The
    repository's own release (``yarnPath``) and its plugins are its code: used only when
    trusted."""
    rc = read_text(project / ".yarnrc.yml") or ""
    release = re.search(r"^yarnPath:\s*['\"]?([^'\"\n]+)", rc, re.MULTILINE)
    if re.search(r"^plugins:", rc, re.MULTILINE) and not jail.trust_repo_tools:
        raise FixUnavailable(
            ".yarnrc.yml loads yarn plugins, which are the repository's code; set "
            "`fix.trust-repo-tools: true` to let pipeline-guard run them",
            "yarn install --mode=update-lockfile",
        )
    node = jail.which("node")
    path = project / release[1].strip() if release else None
    if jail.trust_repo_tools and path is not None and node is not None and path.is_file():
        runner: tuple[str, ...] = (str(node), release[1].strip())  # type: ignore[index]
    else:
        pinned = package_manager(project)
        wanted = pinned[1] if pinned and pinned[0] == "yarn" else "4"
        runner = _node_runner(jail, "yarn", wanted, package="@yarnpkg/cli-dist")
    fix = _step(
        jail,
        runner,
        "install",
        "--mode=update-lockfile",
        "--no-immutable",
        env={"YARN_ENABLE_SCRIPTS": "0"},
    )
    return Relock(
        fix=fix,
        verify=None,
        tool=_label(runner, "@yarnpkg/cli-dist").replace("@yarnpkg/cli-dist", "yarn"),
    )


NPM = Spec(
    ("package-lock.json", "npm-shrinkwrap.json"),
    owned("package-lock.json", "npm-shrinkwrap.json"),
    NPM_COMMAND,
    _npm,
    from_scratch={
        "npm-ci-missing-lockfile": "there is no package-lock.json to refresh; whether to commit "
        "one (or fix the job's working-directory) is a decision for a person",
    },
)
PNPM = Spec(("pnpm-lock.yaml",), owned("pnpm-lock.yaml"), _COMMANDS["pnpm"], _pnpm)
YARN = Spec(("yarn.lock",), owned("yarn.lock"), _COMMANDS["yarn"], _yarn)

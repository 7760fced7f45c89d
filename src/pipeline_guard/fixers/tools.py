"""Finding and installing the tools a fixer runs, and running them safely.

The container has Python only. A PyPI tool (black, ruff, isort, poetry, uv, ...) at the version
the repository pins is installed into its own virtual environment under the cache directory,
never into pipeline-guard's own environment, so a project's pins cannot break the guard and
two pins of the same tool can coexist. Tools from other ecosystems (node, cargo, go, bundle)
are used only when already on ``PATH``: installing a toolchain is neither fast nor pinned, so
the fixer degrades to a comment with the exact command instead.
"""

from __future__ import annotations

import subprocess
import sys
import venv
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pipeline_guard.errors import FixError
from pipeline_guard.fixers.jail import Jail, runnable_by
from pipeline_guard.fixers.repo_files import checked_version

TOOL_TIMEOUT = 300.0


@dataclass(frozen=True)
class ToolRun:
    """A finished tool run: the command as a person would type it, its exit code and output."""

    command: str
    returncode: int
    output: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def run_tool(
    jail: Jail,
    argv: Sequence[str | Path],
    cwd: Path,
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = TOOL_TIMEOUT,
    display: str | None = None,
) -> ToolRun:
    """Run a tool in the jail (:mod:`.jail`): no shell, a timeout, the allow-listed
    environment, another user or a namespace. Never raises for a non-zero exit (the caller
    decides); raises :class:`FixError` when it cannot start, and
    :class:`~pipeline_guard.errors.FixUnavailable` when it could not be isolated."""
    command = display or " ".join(str(part) for part in argv)
    jail.require_confinement(command)
    try:
        completed = subprocess.run(  # type: ignore[call-overload]
            jail.command([str(part) for part in argv]),
            cwd=cwd,
            env=jail.environment(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=timeout,
            check=False,
            **jail.popen_options(),
        )
    except (FileNotFoundError, PermissionError):
        raise FixError(f"{argv[0]}: not found") from None
    except subprocess.TimeoutExpired:
        raise FixError(f"`{command}` did not finish within {timeout:.0f} s") from None
    output = completed.stdout.decode("utf-8", "replace")
    return ToolRun(command, completed.returncode, output)


def pypi_tool(jail: Jail, package: str, version: str | None, executable: str | None = None) -> Path:
    """The executable of ``package==version`` in its own cached virtual environment.

    Installed on first use with pip (``--only-binary :all:`` is not forced: some formatters
    ship pure-Python sdists), reused afterwards. ``version=None`` takes the latest release,
    which is what the project would get too when it pins nothing. The version comes from a
    repository file, so it is checked as a version again here, where it becomes a path.
    """
    name = executable or package
    tools = jail.tools_dir
    home = tools / f"{package}-{checked_version(version, package) if version else 'latest'}"
    if home.resolve().parent != tools.resolve():
        raise FixError(f"refusing a tool environment outside the cache: {home}")
    binary = home / "bin" / name
    if not binary.is_file():
        _install(jail, home, f"{package}=={version}" if version else package)
    if jail.user is not None:
        jail.let_in(jail.cache_dir)
        jail.let_in(tools)
    if not binary.is_file():
        raise FixError(f"could not install {package}: no {name} in its environment")
    if jail.user is not None and not runnable_by(binary, jail.user):
        raise FixError(
            f"{binary} cannot be run by the unprivileged user {jail.user.name}: put the cache "
            "(PIPELINE_GUARD_CACHE_DIR) in a folder others may read"
        )
    return binary


def _install(jail: Jail, home: Path, spec: str) -> None:
    """pip, run by the guard itself (it installs from the package index, never from the
    repository), with the jail's environment: no token reaches it either."""
    home.parent.mkdir(parents=True, exist_ok=True)
    if not (home / "bin" / "python").exists():
        venv.EnvBuilder(with_pip=False, clear=True).create(home)
    argv = [sys.executable, "-m", "pip", "--python", str(home / "bin" / "python"), "install"]
    argv += ["--quiet", "--disable-pip-version-check", spec]
    try:
        done = subprocess.run(
            argv,
            cwd=home.parent,
            env=jail.environment({"PIP_CACHE_DIR": str(jail.cache_dir / "pip")}),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=TOOL_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise FixError(f"`pip install {spec}` did not finish within {TOOL_TIMEOUT:.0f} s") from None
    if done.returncode != 0:
        last = done.stdout.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
        raise FixError(f"could not install {spec}: {last[0]}")


def node_env(jail: Jail) -> dict[str, str]:
    """Settings that keep npm, npx, pnpm and yarn from running the repository's programs.

    A project's ``.npmrc`` may name programs npm runs (``git=./tools/git`` for a ``git+https``
    dependency, ``script-shell``, ``shell``, ``node-options``), and ``.yarnrc`` /
    ``.yarnrc.yml`` a yarn release to run instead of ours (``yarn-path``, ``yarnPath``).
    Variables outrank project config files for both, so these pin each to a harmless value;
    the repository's copy runs only when it is trusted (``fix.trust-repo-tools``).
    """
    git = jail.which("git")
    env = {
        "npm_config_ignore_scripts": "true",
        "npm_config_git": str(git) if git else "false",
        "npm_config_script_shell": "/bin/sh",
        "npm_config_shell": "/bin/sh",
        "npm_config_node_options": "",
        "npm_config_update_notifier": "false",
        "YARN_ENABLE_SCRIPTS": "0",
    }
    if not jail.trust_repo_tools:
        env["YARN_IGNORE_PATH"] = "1"
    return env

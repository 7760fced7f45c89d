"""Finding and installing the tools a fixer runs, and running them safely.

The container has Python only. A PyPI tool (black, ruff, isort, poetry, uv, ...) at the version
the repository pins is installed into its own virtual environment under the cache directory,
never into pipeline-guard's own environment, so a project's pins cannot break the guard and
two pins of the same tool can coexist. Tools from other ecosystems (node, cargo, go, bundle)
are used only when already on ``PATH``: installing a toolchain is neither fast nor pinned, so
the fixer degrades to a comment with the exact command instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pipeline_guard.errors import FixError

TOOL_TIMEOUT = 300.0
# Variables a fixer's subprocess must not see: our tokens and anything that looks secret.
_SECRET_WORDS = ("TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "API_KEY", "PRIVATE")


def tools_dir() -> Path:
    """Where isolated tool environments live (``PIPELINE_GUARD_CACHE_DIR``/tools)."""
    base = os.environ.get("PIPELINE_GUARD_CACHE_DIR") or str(Path.home() / ".cache/pipeline-guard")
    if base == "off":
        base = str(Path.home() / ".cache/pipeline-guard")
    return Path(base) / "tools"


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a tool: ours minus every secret-looking variable."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not any(word in name.upper() for word in _SECRET_WORDS)
    }
    env.update(extra or {})
    return env


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
    argv: Sequence[str | Path],
    cwd: Path,
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = TOOL_TIMEOUT,
    display: str | None = None,
) -> ToolRun:
    """Run a tool without a shell, with a timeout and a clean environment; never raises for a
    non-zero exit (the caller decides), raises :class:`FixError` when it cannot start."""
    command = display or " ".join(str(part) for part in argv)
    try:
        completed = subprocess.run(
            [str(part) for part in argv],
            cwd=cwd,
            env=clean_env(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError:
        raise FixError(f"{argv[0]}: not found") from None
    except subprocess.TimeoutExpired:
        raise FixError(f"`{command}` did not finish within {timeout:.0f} s") from None
    output = completed.stdout.decode("utf-8", "replace")
    return ToolRun(command, completed.returncode, output)


def which(name: str) -> Path | None:
    """A tool already on PATH."""
    found = shutil.which(name)
    return Path(found) if found else None


def pypi_tool(package: str, version: str | None, executable: str | None = None) -> Path:
    """The executable of ``package==version`` in its own cached virtual environment.

    Installed on first use with pip (``--only-binary :all:`` is not forced: some formatters
    ship pure-Python sdists), reused afterwards. ``version=None`` takes the latest release,
    which is what the project would get too when it pins nothing.
    """
    name = executable or package
    home = tools_dir() / f"{package}-{version or 'latest'}"
    binary = home / "bin" / name
    if binary.is_file():
        return binary
    spec = f"{package}=={version}" if version else package
    if not (home / "bin" / "python").exists():
        venv.EnvBuilder(with_pip=False, clear=True).create(home)
    install = run_tool(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            home / "bin" / "python",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            spec,
        ],
        cwd=tools_dir(),
        display=f"pip install {spec}",
    )
    if not install.ok or not binary.is_file():
        last = install.output.strip().splitlines()[-1:] or ["no output"]
        raise FixError(f"could not install {spec}: {last[0]}")
    return binary

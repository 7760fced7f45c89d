"""Every git command pipeline-guard runs, with the checkout's executing settings turned off.

A checkout's ``.git/config`` is written by whoever controls the runner's workspace, and git
runs programs named there: ``core.fsmonitor`` on every ``git status``, clean and smudge filters
(``filter.<driver>.*``, chosen by ``.gitattributes``) on ``status`` and ``checkout``, hooks,
``diff.external``, textconv and external diff drivers, pagers, ``core.sshCommand``,
credential helpers. None of them may run with the guard's tokens around, so every call here:

* starts git with a minimal environment (no token variable, no ``GIT_*`` from outside),
  without the system and global config files (``GIT_CONFIG_NOSYSTEM``, ``GIT_CONFIG_GLOBAL``);
* passes ``-c`` settings that switch the executing ones off (``-c`` is "protected
  configuration": the repository's own config cannot override it), including an empty command
  for every filter and diff driver the repository's config defines;
* runs diffs with ``--no-ext-diff --no-textconv`` and never a pager.

``safe.directory=*`` is passed the same way: the workspace usually belongs to the runner's user
while the container runs as root, and with nothing executable left in the config, reading a
foreign repository is safe.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Sequence
from pathlib import Path

from pipeline_guard.errors import FixError

GIT_TIMEOUT = 60.0
_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "HOME": "/nonexistent",
    "LC_ALL": "C",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_OPTIONAL_LOCKS": "0",
}
HARDENED = (
    "--no-pager",
    *("-c", "core.fsmonitor=false"),
    *("-c", "core.hooksPath=/dev/null"),
    *("-c", "core.sshCommand=false"),
    *("-c", "core.askPass=false"),
    *("-c", "core.gitProxy="),
    *("-c", "core.pager=cat"),
    *("-c", "core.editor=false"),
    *("-c", "credential.helper="),
    *("-c", "gpg.program=false"),
    *("-c", "protocol.allow=never"),
    *("-c", "submodule.recurse=false"),
    *("-c", "diff.ignoreSubmodules=all"),
    *("-c", "safe.directory=*"),
)
# Per-driver settings that name a program: blanked for every driver the config defines.
_DRIVER_COMMAND = re.compile(
    r"^(?P<key>(?:filter\..+\.(?:clean|smudge|process))|(?:diff\..+\.(?:textconv|command))"
    r"|(?:merge\..+\.driver))$"
)
_REQUIRED_FILTER = re.compile(r"^filter\.(?P<driver>.+)\.required$")


def git(workspace: Path, *args: str) -> bytes:
    """Run a hardened git command in the workspace; a workspace that is not a git checkout
    cannot be fixed, because the guard could not say what changed."""
    return _run(workspace, [*HARDENED, *_driver_overrides(workspace), *_safe_args(args)])


def _safe_args(args: Sequence[str]) -> list[str]:
    """Diffs without external drivers or text conversion (both run programs)."""
    if args and args[0] == "diff":
        return [args[0], "--no-ext-diff", "--no-textconv", *args[1:]]
    return list(args)


def _driver_overrides(workspace: Path) -> list[str]:
    """``-c <key>=`` for every driver command the repository's config sets (and
    ``required=false`` for filters, so an emptied required filter is skipped, not fatal)."""
    raw = _run(workspace, [*HARDENED, "config", "--null", "--list"], check=False)
    overrides: list[str] = []
    for entry in raw.decode("utf-8", "surrogateescape").split("\0"):
        key = entry.split("\n", 1)[0]
        if _DRIVER_COMMAND.match(key):
            overrides += ["-c", f"{key}="]
        elif _REQUIRED_FILTER.match(key):
            overrides += ["-c", f"{key}=false"]
    return overrides


def _run(workspace: Path, args: list[str], *, check: bool = True) -> bytes:
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=workspace,
            env=_ENV,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=GIT_TIMEOUT,
            check=False,
        )
    except (FileNotFoundError, NotADirectoryError, subprocess.TimeoutExpired) as exc:
        raise FixError(f"git failed in {workspace}: {exc}") from None
    if check and done.returncode != 0:
        command = next((arg for arg in args if not arg.startswith("-") and "=" not in arg), "")
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()[:1] or ["failed"]
        raise FixError(f"git {command} in {workspace}: {message[0]}")
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

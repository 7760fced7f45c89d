"""Which files a failed format check complained about, read from its log.

Every formatter names the files it would change in its own words (black's ``would reformat
X``, ruff's ``Would reformat: X``, isort's ``ERROR: X Imports are incorrectly sorted``,
prettier's ``[warn] X``, ``gofmt -l`` output, rustfmt's ``Diff in X``). The names are matched
against the files git tracks, so CI's absolute paths (``/home/runner/work/app/app/src/a.py``,
``/builds/group/app/...``, ``D:\\a\\app\\app\\...``) map onto the checkout, and a name that
resolves to nothing never makes a fixer touch a file by guess.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pipeline_guard.engine.log_reader import lines_with
from pipeline_guard.errors import FixError
from pipeline_guard.fixers.git import tracked_files


@dataclass(frozen=True)
class _Names:
    """How a check names the files it complains about in its log."""

    keywords: tuple[bytes, ...]  # cheap test before a line is cleaned and matched
    patterns: tuple[re.Pattern[str], ...]  # with a ``path`` group; every name must resolve
    loose: tuple[re.Pattern[str], ...] = ()  # bare paths: names that do not resolve are noise


LOG_NAMES: dict[str, _Names] = {
    "black": _Names((b"would reformat ",), (re.compile(r"^would reformat (?P<path>.+)$"),)),
    "ruff-format": _Names((b"Would reformat: ",), (re.compile(r"^Would reformat: (?P<path>.+)$"),)),
    "isort": _Names(
        (b"Imports are incorrectly sorted",),
        (re.compile(r"^ERROR: (?P<path>.+?) Imports are incorrectly sorted"),),
    ),
    "prettier": _Names(
        (b"[warn] ", b"prettier/prettier", b"/", b"\\"),
        (
            re.compile(r"^\[warn\] (?P<path>[^\s\[\]]+\.\w+)$"),
            re.compile(r"^(?P<path>[^\s:]+):\d+(?::\d+)?:? .*\(prettier/prettier\)$"),
        ),
        # eslint's stylish format: the file's full path alone on a line, problems below it
        (re.compile(r"^(?P<path>(?:/|[A-Za-z]:\\)\S+\.\w+)$"),),
    ),
    "gofmt": _Names(
        (b".go",),
        (
            re.compile(r"^diff (?:-u )?\S+\.go\.orig (?P<path>\S+\.go)$"),
            re.compile(r"^(?P<path>\S+\.go):\d+(?::\d*)*:?.*(?:is not|not properly).*\(\w+\)$"),
        ),
        (re.compile(r"^(?P<path>\S+\.go)$"),),
    ),
    "rustfmt": _Names(
        (b"Diff in ",), (re.compile(r"^Diff in (?P<path>.+?\.rs)(?: at line \d+|:\d+)?:\s*$"),)
    ),
    "clang-format": _Names(
        (b"clang-format",),
        (
            re.compile(
                r"^(?P<path>\S+?):\d+:\d+: (?:error|warning): code should be clang-formatted"
            ),
        ),
    ),
}
_HOOK_ID = re.compile(r"^- hook id: (?P<hook>\S+)$")
GO_FLAGS = re.compile(r"\bgofmt\b.* -s\b|`gofmt`-ed with `-s`|gofmted with -s")
GO_OTHER = re.compile(r"\((goimports|gofumpt|gci|golines)\)$|^(?:\+ |\$ )?(goimports|gofumpt)\b")


@dataclass
class LogScan:
    """What the failing log says: file names (strict and loose), pre-commit hooks, flags."""

    strict: list[str] = field(default_factory=list)
    loose: list[str] = field(default_factory=list)
    hooks: set[str] = field(default_factory=set)
    lines: list[str] = field(default_factory=list)  # lines that mention the tool, for flags


def scan_log(log: Path | None, names: _Names | None) -> LogScan:
    """Stream the job's log once (it may be a gigabyte) and pick out the lines that name
    files; no log (the forge had none) names nothing."""
    scan = LogScan()
    if log is None:
        return scan
    keywords = (*(names.keywords if names else ()), b"- hook id: ", b"gofmt", b"goimports")
    for line in lines_with(str(log), keywords):
        _scan_line(line, names, scan)
    return scan


def _scan_line(text: str, names: _Names | None, scan: LogScan) -> None:
    hook = _HOOK_ID.match(text)
    if hook:
        scan.hooks.add(hook.group("hook"))
    if "gofmt" in text or "goimports" in text or "gofumpt" in text:
        scan.lines.append(text)
    if names is None:
        return
    for pattern in names.patterns:
        found = pattern.match(text)
        if found:
            scan.strict.append(found.group("path"))
            return
    for pattern in names.loose:
        found = pattern.match(text)
        if found:
            scan.loose.append(found.group("path"))
            if len(scan.lines) < 1000:
                scan.lines.append(text)
            return


def _normalise(name: str) -> tuple[str, bool]:
    """A log path as forward-slash text, and whether it was absolute."""
    name = name.strip().strip("'\"`")
    name = name.removeprefix("\\\\?\\").replace("\\", "/")
    absolute = name.startswith("/") or re.match(r"^[A-Za-z]:/", name) is not None
    name = re.sub(r"^[A-Za-z]:/", "/", name)
    while name.startswith("./"):
        name = name[2:]
    return name, absolute


def resolve_log_path(name: str, workspace: Path, tracked: Sequence[str]) -> str | None:
    """The tracked file a log's path names, or ``None``.

    CI prints paths of its own checkout (``/home/runner/work/app/app/src/a.py``,
    ``/builds/group/app/src/a.py``, ``D:\\a\\app\\app\\src\\a.py``): the longest tail of the
    path that is a tracked file is the one. A relative path is taken from the root, or else
    from the one tracked file it ends (a check run in a sub-folder of a monorepo).
    Untracked and ambiguous names resolve to nothing, so a fix never touches a file by guess.
    """
    text, absolute = _normalise(name)
    known = set(tracked)
    root = workspace.resolve().as_posix().rstrip("/") + "/"
    if absolute and text.startswith(root):
        text = text[len(root) :]
    parts = [part for part in text.split("/") if part not in ("", ".")]
    if ".." in parts or not parts:
        return None
    if not absolute:
        joined = "/".join(parts)
        if joined in known:
            return joined
        ends = [path for path in tracked if path.endswith("/" + joined)]
        return ends[0] if len(ends) == 1 else None
    for start in range(len(parts)):
        tail = "/".join(parts[start:])
        if tail in known:
            return tail
    return None


def files_from_log(scan: LogScan, workspace: Path, *, strict: bool = True) -> list[str]:
    """The tracked files the log complains about; a strict name that names no tracked file
    stops the fix, since fixing the others would leave the check red."""
    if not scan.strict and not scan.loose:
        return []
    tracked = tracked_files(workspace)
    files: dict[str, None] = {}
    for name in scan.strict:
        path = resolve_log_path(name, workspace, tracked)
        if path is None and strict:
            raise FixError(
                f"the log names {name}, which is not a tracked file of this checkout "
                "(the check ran on another commit or in another folder)"
            )
        if path is not None:
            files[path] = None
    for name in scan.loose:
        path = resolve_log_path(name, workspace, tracked)
        if path is not None:
            files[path] = None
    return list(files)

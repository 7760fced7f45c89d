"""Reading the repository's own files (manifests, lockfiles, tool configs) as hostile input.

Whoever can push a branch writes these files, and the fixers read them before running
anything: a pin becomes part of a path (``tools/black-<version>``) and of a command
(``npx prettier@<version>``). So here:

* only regular files inside the checkout are read (no symlink, no ``/dev/zero``, no FIFO),
  and at most :data:`MAX_BYTES`; anything else reads as absent;
* a document nested too deeply for the parser (``RecursionError`` in ``tomllib``, PyYAML or
  ``json``) is a one-line :class:`~pipeline_guard.errors.FixError`, never a traceback;
* a version is checked as a version (:func:`checked_version`, :func:`checked_range`) before it
  is used anywhere: ``rev: x/../../../victim`` or ``'1:2'`` are refused in one line.
"""

from __future__ import annotations

import json
import re
import stat
import tomllib
from pathlib import Path
from typing import Any

import yaml

from pipeline_guard.errors import FixError

MAX_BYTES = 64 * 1024 * 1024
# A release version of PyPI, npm, cargo, go or rubygems: no path separator, no colon, no "..".
_VERSION = re.compile(r"[0-9A-Za-z](?:[0-9A-Za-z+!_-]|\.(?!\.)){0,63}")
# An npm range as package.json writes it: "^3.2.0", ">=2 <4", "1.x || 2.x", "~3.0".
_RANGE = re.compile(r"[0-9A-Za-z^~<>=|*. -]{1,64}")


def read_bytes(path: Path) -> bytes | None:
    """The bytes of a regular, non-symlinked file of at most :data:`MAX_BYTES`, else ``None``."""
    try:
        info = path.lstat()
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_BYTES:
            return None
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError:
        return None
    return data if len(data) <= MAX_BYTES else None


def read_text(path: Path) -> str | None:
    data = read_bytes(path)
    if data is None:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def read_toml(path: Path) -> dict[str, Any]:
    """A TOML file as a table; unreadable or invalid reads as empty (the file is then not
    a source of pins), nested beyond the parser's reach is refused."""
    text = read_text(path)
    if text is None:
        return {}
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return {}
    except RecursionError:
        raise _too_deep(path) from None


def read_json(path: Path) -> object:
    """A JSON file's value, ``None`` when unreadable or invalid."""
    text = read_text(path)
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None
    except RecursionError:
        raise _too_deep(path) from None


def read_yaml(path: Path) -> object:
    """A YAML file's value (safe loader), ``None`` when unreadable or invalid."""
    text = read_text(path)
    if text is None:
        return None
    return parse_yaml(text, path.name)


def parse_yaml(text: str, name: str) -> object:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    except RecursionError:
        raise _too_deep(Path(name)) from None


def _too_deep(path: Path) -> FixError:
    return FixError(f"{path.name}: nested too deeply to read; no fix is made from it")


def checked_version(version: str, what: str) -> str:
    """``version`` if it is a plain release version (``24.4.2``, ``1.0.0-rc.1``, ``2!1.0``),
    else a one-line refusal naming ``what`` it was for."""
    if not _VERSION.fullmatch(version):
        raise FixError(f"{what}: {version[:80]!r} is not a version; no fix is made with it")
    return version


def checked_range(spec: str, what: str) -> str:
    """``spec`` if it is a version or an npm range (``^3.2.0``, ``>=2 <4``), else a refusal."""
    if not _RANGE.fullmatch(spec) or ".." in spec:
        raise FixError(f"{what}: {spec[:80]!r} is not a version range; no fix is made with it")
    return spec


def inside(workspace: Path, relative: str) -> Path:
    """The file ``relative`` names in the workspace, if it lies inside it and no part of the
    way there is a symlink (so neither a write nor a read can land outside the checkout);
    else a one-line :class:`FixError`. The file itself need not exist."""
    root = workspace.resolve()
    path = root
    for part in Path(relative).parts:
        if part in ("", ".", "..") or part.startswith("/"):
            raise FixError(f"{relative}: not a path inside the checkout; the fix is refused")
        path = path / part
        if path.is_symlink():
            raise FixError(f"{relative}: {path.relative_to(root)} is a symlink; the fix is refused")
    if not path.resolve().is_relative_to(root):
        raise FixError(f"{relative}: resolves outside the checkout; the fix is refused")
    return path


def write_text(workspace: Path, relative: str, text: str) -> None:
    """Write a repository file in place (newlines as given), never through a symlink."""
    path = inside(workspace, relative)
    try:
        with path.open("w", encoding="utf-8", newline="") as handle:
            handle.write(text)
    except OSError as exc:
        raise FixError(f"cannot write {relative}: {exc.strerror or exc}") from None

"""Bounds on the files an attacker can hand pipeline-guard, so that each is refused in one line.

A branch controls ``.pipeline-guard.yml``, ``.pipeline-guard/rules/*.yml`` and the model pack
its config names. Each may be a symlink to ``/proc/self/mem`` or ``/dev/zero``, a gigabyte of
YAML, a zip whose member claims 3 GiB, a structure nested a hundred thousand levels deep or a
number with a hundred thousand digits. :func:`read_bounded` reads a regular file of bounded size
(the size is checked while reading, not trusted from ``stat``) outside the kernel's
pseudo-filesystems; :func:`nesting_depth` measures a parsed document without recursion. Both
raise :class:`InputRefused`, which the loaders turn into their own one-line error (a leaf does
not import :mod:`pipeline_guard.errors`).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

MAX_CONFIG_BYTES = 1 << 20
"""``.pipeline-guard.yml``: a real one is a few hundred bytes."""

MAX_RULE_FILE_BYTES = 4 << 20
"""One rule file: the largest bundled one is under 100 KB."""

MAX_MODEL_BYTES = 128 << 20
"""A model pack file (compressed): the bundled one is 2 MB."""

MAX_MODEL_MEMBER_BYTES = 64 << 20
"""One member of a model pack, uncompressed: the bundled weights are under 2 MB."""

MAX_DEPTH = 64
"""Nesting of lists and mappings in a config, rule file or model header: real ones use 4."""

_PSEUDO_FILESYSTEMS = ("/proc", "/sys", "/dev")


class InputRefused(ValueError):
    """A file or document exceeds a bound; the message says which, without the path."""


def read_bounded(path: Path, limit: int) -> bytes:
    """The bytes of the regular file at ``path`` (symlinks followed), at most ``limit`` of them.

    Refused: a device, FIFO or socket (``/dev/zero`` never ends, a FIFO blocks), anything
    under ``/proc``, ``/sys`` or ``/dev`` (``/proc/self/mem`` is a "regular" file; the
    guard's own ``/proc/self/environ`` holds its tokens), a file larger than ``limit``.
    """
    real = os.path.realpath(path)
    if any(real == top or real.startswith(top + "/") for top in _PSEUDO_FILESYSTEMS):
        raise InputRefused(f"is a special file ({real}), not a regular file")
    try:
        with open(real, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise InputRefused("is not a regular file")
            data = handle.read(limit + 1)
    except OSError as exc:
        raise InputRefused(f"cannot read: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise InputRefused(f"is larger than {limit >> 10} KiB")
    return data


def nesting_depth(document: object, limit: int = MAX_DEPTH) -> int:
    """How deeply ``document`` nests lists/tuples/dicts, counted up to ``limit + 1``."""
    deepest = 0
    stack: list[tuple[object, int]] = [(document, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: list[object] = [*item.keys(), *item.values()]
        elif isinstance(item, list | tuple):
            children = list(item)
        else:
            continue
        deepest = max(deepest, depth + 1)
        if deepest > limit:
            return deepest
        stack.extend((child, depth + 1) for child in children)
    return deepest


def check_depth(document: object, limit: int = MAX_DEPTH) -> None:
    """Refuse a document nested deeper than ``limit``."""
    if nesting_depth(document, limit) > limit:
        raise InputRefused(f"is nested more than {limit} levels deep")

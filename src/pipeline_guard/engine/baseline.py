"""Compare a failed log with a green log of the same job: lines found in both are not the cause.

What Datadog's CI failure analysis and the CiDiff research do, offline: a line that the last
successful run also printed (set-up output, a tolerated warning, a retry that recovered) cannot
explain why this run failed. Lines are compared after normalising what differs between any two
runs: timestamp prefixes and markers, numbers (durations, counters, ports, dates: every token of
hex digits holding a non-zero digit, and every decimal, time or version, becomes ``#``, so
``Failures: 0`` and ``Failures: 2`` still differ), hashes and temporary paths.

Only the failed log's candidate lines (its failing step and rule hits, a few thousand at most)
are held as a set. The green log is streamed in blocks and read at most
:data:`MAX_BASELINE_BYTES` (its end, where the same step ran, is kept when it is longer).
Regexes over a 100 MB log would cost seconds, so each block first gets a cheap key per line
from whole-block byte operations (:func:`_rough`: delete what normalising may change); only
the lines whose key is also a candidate's are cleaned and normalised exactly.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Iterator
from typing import BinaryIO

from pipeline_guard.engine.log_reader import (
    BLOCK_SIZE,
    MAX_LINE_BYTES,
    CleanLine,
    clean_block,
    clean_bytes,
    opened_log,
)

MAX_BASELINE_BYTES = 128 * 1024 * 1024
"""The most of a green log read; beyond it the log's start (set-up, seldom the question) is
skipped."""

MAX_TRIES = 50

_PREFIX = re.compile(
    rb"(?m)^(?:[^\t\n]{1,200}\t[^\t\n]{0,200}\t)?"  # gh run view --log columns
    rb"(?:\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)(?: [0-9a-f]{2}[OE]\+?)? ?"
    rb"|\[\d{4}-\d\d-\d\d[T ][\d:.]+Z?\] )?"
    rb"(?:##\[[a-z]+\]|::[a-z]+(?: [^:\n]*)?::)?"
)
_TEMP = re.compile(
    rb"(?:/tmp|/var/folders|/private/var/folders|/home/runner/work/_temp)/[^\s:'\"]*"
)
_DECIMAL = re.compile(rb"\d+(?:[.,:]\d+)+")
_NUMBER = re.compile(rb"[0-9a-fA-F]*[1-9][0-9a-fA-F]*")
_SPACE = re.compile(rb"[ \t\r]+$", re.MULTILINE)


def normalise_block(data: bytes) -> bytes:
    """Lines of a block (``\\n``-separated, ANSI already removed) in comparable form."""
    data = _PREFIX.sub(b"", data)
    data = _TEMP.sub(b"/tmp/_", data)
    data = _DECIMAL.sub(b"#", data)
    data = _NUMBER.sub(b"#", data)
    return _SPACE.sub(b"", data)


def familiar_lines(lines: Iterable[CleanLine], baseline: str) -> frozenset[int]:
    """The numbers of ``lines`` whose normalised text also appears in the ``baseline`` log.

    Raises :class:`~pipeline_guard.errors.InputError` when the baseline cannot be read (the
    caller may go on without).
    """
    exact: dict[bytes, list[int]] = {}
    for line in lines:
        if line.text.strip():
            raw = line.text.encode("utf-8", "replace")
            exact.setdefault(_exact(raw), []).append(line.number)
    pending: dict[bytes, set[bytes]] = {}
    for key in exact:
        pending.setdefault(_rough(key), set()).add(key)
    tries = dict.fromkeys(pending, 0)
    found: set[bytes] = set()
    for block in _blocks(baseline):
        if not pending:
            break
        found.update(_matches(block, pending, tries))
    return frozenset(number for key in found for number in exact[key])


def _exact(cleaned: bytes) -> bytes:
    """The comparable form of one cleaned line."""
    return normalise_block(cleaned).strip()


_ROUGH_DELETE = b"0123456789abcdefABCDEF#.,:;-TZ[]mK\x1b\r "
"""Bytes a cheap key leaves out: what normalising may change (digits, hex letters,
separators), and what timestamp prefixes and terminal colour escapes are made of."""
_ROUGH_MARKERS = (b"##[error]", b"##[warning]", b"##[group]")


def _rough(data: bytes) -> bytes:
    """A cheap key per line of a block (two byte passes, no regex): the bytes normalising,
    cleaning timestamps or removing colours may change are deleted, and GitHub's markers.
    Lines with equal normalised forms have equal keys (a temporary path or a ``\\r``
    overwrite may break this: such a line is then merely not found); lines with equal keys
    are compared exactly."""
    for marker in _ROUGH_MARKERS:
        if marker in data:
            data = data.replace(marker, b"")
    return data.translate(None, _ROUGH_DELETE)


def _matches(block: bytes, pending: dict[bytes, set[bytes]], tries: dict[bytes, int]) -> set[bytes]:
    """The exact keys found in a block, removed from ``pending``.

    Cheap keys filter the lines in C; only the lines whose cheap key is pending are cleaned and
    normalised with regexes, at most :data:`MAX_TRIES` per cheap key over the whole baseline
    (a key shared by many lines that differ after all is then given up: not familiar).
    """
    keys = _rough(block).split(b"\n")
    present = pending.keys() & set(keys)
    if not present:
        return set()
    raws = block.split(b"\n")
    found: set[bytes] = set()
    for rough in present:
        start = 0
        while rough in pending and tries[rough] < MAX_TRIES:
            try:
                index = keys.index(rough, start)
            except ValueError:
                break
            tries[rough] += 1
            start = index + 1
            candidate = _exact(clean_bytes(clean_block(raws[index]))[0])
            if candidate in pending[rough]:
                found.add(candidate)
                pending[rough].discard(candidate)
                if not pending[rough]:
                    del pending[rough]
    return found


def _blocks(source: str) -> Iterator[bytes]:
    """The baseline's raw bytes in blocks of whole lines (ANSI escapes kept: :func:`_rough`
    drops what is left of them, and only the few lines checked exactly are cleaned)."""
    read = 0
    carry = b""
    with opened_log(source) as stream:
        _skip_to_last(stream)
        while read < MAX_BASELINE_BYTES:
            block = stream.read(BLOCK_SIZE)
            if not block:
                break
            read += len(block)
            data = carry + block
            cut = data.rfind(b"\n") + 1
            carry = data[cut:][-MAX_LINE_BYTES:]
            if cut:
                yield data[:cut]
        if carry:
            yield carry + b"\n"


def _skip_to_last(stream: BinaryIO) -> None:
    """Seek to the last MAX_BASELINE_BYTES of a seekable plain file (a stream is read whole,
    up to the cap, by the caller's chunk loop)."""
    plain = isinstance(stream, io.BufferedReader) and isinstance(stream.raw, io.FileIO)
    if not plain or not stream.seekable():
        return
    try:
        size = stream.seek(0, io.SEEK_END)
        stream.seek(max(0, size - MAX_BASELINE_BYTES))
    except OSError:
        stream.seek(0)

"""Compare a failed log with a green log of the same job: lines found in both are not the cause.

What Datadog's CI failure analysis and the CiDiff research do, offline: a line that the last
successful run also printed (set-up output, a tolerated warning, a retry that recovered) cannot
explain why this run failed. Lines are compared after normalising what differs between any two
runs: timestamp prefixes and markers, numbers (durations, counters, ports, dates: every token of
hex digits holding a non-zero digit, and every decimal, time or version, becomes ``#``, so
``Failures: 0`` and ``Failures: 2`` still differ), hashes and temporary paths.

Only the failed log's candidate lines (its failing step and rule hits, a few thousand at most)
are held as a set; the green log is streamed in blocks, normalised with whole-block regex
passes and intersected with that set in C (no Python loop per line), and read at most
:data:`MAX_BASELINE_BYTES` (its end, where the same step ran, is kept when it is longer).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Iterator
from typing import BinaryIO

from pipeline_guard.engine.log_reader import CleanLine, iter_chunks, open_log
from pipeline_guard.errors import InputError

MAX_BASELINE_BYTES = 128 * 1024 * 1024
"""The most of a green log read; beyond it the log's start (set-up, seldom the question) is
skipped."""

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

    Raises :class:`InputError` when the baseline cannot be read (the caller may go on without).
    """
    wanted: dict[bytes, list[int]] = {}
    for line in lines:
        text = line.text.strip()
        if text:
            key = normalise_block(line.text.encode("utf-8", "replace")).strip()
            wanted.setdefault(key, []).append(line.number)
    if not wanted:
        return frozenset()
    found: set[bytes] = set()
    keys = set(wanted)
    for block in _blocks(baseline):
        found.update(keys.intersection(part.strip() for part in block.split(b"\n")))
        if len(found) == len(keys):
            break
    return frozenset(number for key in found for number in wanted[key])


def _blocks(source: str) -> Iterator[bytes]:
    stream = open_log(source)
    read = 0
    try:
        _skip_to_last(stream)
        for chunk in iter_chunks(stream):
            yield normalise_block(chunk.data)
            read += len(chunk.data)
            if read >= MAX_BASELINE_BYTES:
                break
    except OSError as exc:
        raise InputError(f"{source}: read failed: {exc.strerror or exc}") from None
    except EOFError:
        raise InputError(f"{source}: truncated compressed file") from None
    finally:
        if source != "-":
            stream.close()


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

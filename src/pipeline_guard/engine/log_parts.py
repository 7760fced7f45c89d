"""A large log cut in parts that several processes scan at once, with the one-scan result.

Scanning is CPU work (cleaning, the prefilter, the rules: issue 17) and hosted runners have 2-4
cores, so a log of tens of megabytes is cut in parts, one per core. Each later part is scanned
in a forked child while the parent scans the first part; the children are forked once the
parent has scanned the log's first chunk, so none compiles the prefilter again, and a flood of
failures retires its rules once, not once per part. The parent then takes in each child's
:class:`~pipeline_guard.engine.matcher.PartScan` in log order
(:meth:`~pipeline_guard.engine.matcher.LogScan.absorb`). The diagnosis is the same as one scan's,
byte for byte:

- the log is cut where the reader's blocks start (``log_reader.iter_chunks`` cuts chunks at
  the last line end of each block), so every part reads exactly the chunks one reader
  would; a part starts with the reader's state there (the line the cut falls into, its line
  number) and the cleaned bytes before it (failing-step snapshots reach back into them);
- a cut is made only where that state is plain (no line longer than
  :data:`~pipeline_guard.engine.log_reader.MAX_LINE_BYTES` across it, enough text before it);
- a child that fails leaves its part to the parent, which scans it itself.

Standard input and gzip logs are read by one process (they cannot be cut without reading).
"""

from __future__ import annotations

import os
import pickle
import signal
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, cast

from pipeline_guard.engine.log_reader import (
    BLOCK_SIZE,
    MAX_LINE_BYTES,
    Chunk,
    clean_block,
    iter_chunks,
    open_log,
)
from pipeline_guard.engine.matcher import LogScan, Matcher, PartScan, ScanResult
from pipeline_guard.engine.step_tracker import SNAPSHOT_BYTES
from pipeline_guard.errors import InputError

PART_MIN_BYTES = 16 << 20
"""A log is cut only into parts at least this large: below it, forking and merging cost more
than a second core saves."""
MAX_WORKERS = 4
"""Processes at most, whatever the machine (hosted runners have 2-4 cores)."""
MAX_PART_MARKER_BYTES = 16 << 20
"""A child keeps every marker line of its part for the parent to replay; a part with more than
this (a hostile log of section lines) is left to the parent, whose scan keeps none."""
_LOOK_BACK = 2 * SNAPSHOT_BYTES + MAX_LINE_BYTES
"""Raw bytes read before a cut to find the line it falls into and the cleaned bytes before it."""


@dataclass(frozen=True, slots=True)
class LogPart:
    """The raw bytes ``[offset, end)`` of a log file (``end`` None: to the end of the log)."""

    offset: int
    end: int | None
    carry: bytes
    """The start of the line the cut at ``offset`` falls into (raw bytes, no line end)."""
    before: bytes
    """The cleaned log's last :data:`SNAPSHOT_BYTES` before the part, whole lines."""

    def chunks(self, handle: BinaryIO, first_line: int, block_size: int) -> Iterator[Chunk]:
        """The part's chunks, as one reader of the whole log would yield them."""
        handle.seek(self.offset)
        stream = _Bounded(handle, None if self.end is None else self.end - self.offset)
        return iter_chunks(
            cast(BinaryIO, stream),
            block_size,
            first_line=first_line,
            carry=self.carry,
            at_start=self.offset == 0,
            to_end=self.end is None,
        )


class _Bounded:
    """A file read up to a given number of bytes (all of it for None)."""

    def __init__(self, handle: BinaryIO, size: int | None) -> None:
        self.handle = handle
        self.left = size

    def read(self, size: int) -> bytes:
        if self.left is None:
            return self.handle.read(size)
        data = self.handle.read(min(size, self.left))
        self.left -= len(data)
        return data


def workers_available() -> int:
    """The processes worth starting: the cores this process may run on, less those busy by
    the last minute's load average (at most :data:`MAX_WORKERS`).

    On a machine whose cores are all busy, the parts only queue behind each other and each
    pays the start of a scan: measured on a 2-core machine at load 4, two processes took
    1.55 s where one took 1.31 s.
    """
    affinity = getattr(os, "sched_getaffinity", None)
    cores = len(affinity(0)) if affinity is not None else (os.cpu_count() or 1)
    busy = int(os.getloadavg()[0]) if hasattr(os, "getloadavg") else 0
    return max(1, min(cores, cores - busy + 1, MAX_WORKERS))


def scan_in_parts(
    source: str, matcher: Matcher, workers: int | None = None, block_size: int | None = None
) -> ScanResult | None:
    """The scan of a log file by several processes, or None where one process should read it
    (standard input, gzip, a small log, one core, a log that cannot be cut exactly)."""
    if source == "-" or not _may_fork():
        return None
    wanted = workers if workers is not None else workers_available()
    block_size = block_size or BLOCK_SIZE
    open_log(source).close()  # refuses what is not a log, as the one-process reader does
    try:
        with open(source, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            count = min(wanted, size // PART_MIN_BYTES)
            if count < 2 or handle.read(2) == b"\x1f\x8b":
                return None
            parts = plan_parts(handle, size, count, block_size)
            if len(parts) < 2:
                return None
            return _scan_parts(handle, source, matcher, parts, block_size)
    except OSError as exc:
        raise InputError(f"{source}: read failed: {exc.strerror or exc}") from None


def _may_fork() -> bool:
    """Linux, no other thread, and not a worker of a process pool.

    A fork copies only the calling thread, so a lock another thread held (a progress bar, a
    forge call left running past the deadline) would stay locked in the child forever; and a
    pool's worker (the guard's ``guard/analysis_pool.py``, one per core) shares the cores with
    its siblings already.
    """
    pool = sys.modules.get("multiprocessing")  # not imported: certainly not a pool's worker
    return (
        sys.platform.startswith("linux")
        and threading.active_count() == 1
        and (pool is None or pool.parent_process() is None)
    )


def plan_parts(handle: BinaryIO, size: int, count: int, block_size: int) -> list[LogPart]:
    """Up to ``count`` parts of about the same size, cut at block starts where a cut is exact."""
    blocks = -(-size // block_size)
    offsets = sorted({round(index * blocks / count) * block_size for index in range(1, count)})
    starts: list[tuple[int, bytes, bytes]] = [(0, b"", b"")]
    for offset in offsets:
        if offset <= starts[-1][0] or size - offset < PART_MIN_BYTES // 4:
            continue
        cut = _cut_at(handle, offset, block_size)
        if cut is not None:
            starts.append((offset, *cut))
    ends = [start[0] for start in starts[1:]] + [None]
    return [
        LogPart(offset, end, carry, before)
        for (offset, carry, before), end in zip(starts, ends, strict=True)
    ]


def _cut_at(handle: BinaryIO, offset: int, block_size: int) -> tuple[bytes, bytes] | None:
    """The carry and the cleaned bytes before a cut at ``offset``, if the cut is exact.

    Exact: the line the cut falls into is shorter than ``MAX_LINE_BYTES`` (so the reader
    holds it whole, nothing skipped), and the lines read back, all inside the block before
    the cut (``_LOOK_BACK`` < ``block_size``), clean to at least ``SNAPSHOT_BYTES``.
    """
    if block_size <= _LOOK_BACK:
        return None
    handle.seek(offset - _LOOK_BACK)
    raw = handle.read(_LOOK_BACK)
    last = raw.rfind(b"\n")
    if last < 0 or len(raw) - last - 1 >= MAX_LINE_BYTES:
        return None
    first = raw.find(b"\n") + 1
    cleaned = clean_block(raw[first : last + 1])
    if len(cleaned) <= SNAPSHOT_BYTES:
        return None
    before = cleaned[-SNAPSHOT_BYTES:]
    return raw[last + 1 :], before[before.find(b"\n") + 1 :]


def _scan_parts(
    handle: BinaryIO, source: str, matcher: Matcher, parts: list[LogPart], block_size: int
) -> ScanResult:
    """Scan the first chunk here, fork a child per later part (each starts from what that
    chunk retired), scan the rest of the first part, then take in the children's scans."""
    scan = LogScan(matcher)
    chunks = parts[0].chunks(handle, 1, block_size)
    for chunk in chunks:
        scan.feed(chunk)
        break
    children = [
        _Child.start(
            source,
            scan,
            (part, parts[index + 2] if index + 2 < len(parts) else None),
            block_size,
        )
        for index, part in enumerate(parts[1:])
    ]
    try:
        for chunk in chunks:
            scan.feed(chunk)
        _end_part(scan, handle, parts[1], block_size)
        for index, child in enumerate(children, start=1):
            result = child.result() if child is not None else None
            if result is not None:
                scan.absorb(result)
                continue
            following = parts[index + 1] if index + 1 < len(parts) else None
            _scan_here(scan, handle, parts[index], following, block_size)
        return scan.finish()
    finally:
        for child in children:
            if child is not None:
                child.stop()


def _scan_here(
    scan: LogScan, handle: BinaryIO, part: LogPart, following: LogPart | None, block_size: int
) -> None:
    """A part whose child failed, scanned by the parent after the parts before it."""
    scan.resume(part.before)
    for chunk in part.chunks(handle, scan.last_line + 1, block_size):
        scan.feed(chunk)
    _end_part(scan, handle, following, block_size)


def _end_part(scan: LogScan, handle: BinaryIO, following: LogPart | None, block_size: int) -> None:
    """End a part: the windows of multi-line rules read on into the next part's first chunk."""
    chunk = None
    if following is not None and scan.waits_for_lines:
        chunk = next(following.chunks(handle, 0, block_size), None)
    scan.end_part(chunk)


def scan_part(
    source: str, first: LogScan, part: LogPart, following: LogPart | None, block_size: int
) -> PartScan:
    """What a child hands back: the scan of one later part of the log, started from what the
    first part's scan (``first``, as it was at the fork) had retired."""
    with open(source, "rb") as handle:
        first_line = 1 + _newlines_before(handle, part.offset)
        scan = first.later_part(part.before)
        for chunk in part.chunks(handle, first_line, block_size):
            scan.feed(chunk)
            if scan.steps.marker_bytes > MAX_PART_MARKER_BYTES:
                raise _TooManyMarkers
        _end_part(scan, handle, following, block_size)
        return scan.part_result()


class _TooManyMarkers(Exception):
    """A child's part holds too many marker lines to hand back (see MAX_PART_MARKER_BYTES)."""


def _newlines_before(handle: BinaryIO, offset: int) -> int:
    handle.seek(0)
    count = 0
    while offset > 0:
        block = handle.read(min(offset, BLOCK_SIZE))
        if not block:
            break
        count += block.count(b"\n")
        offset -= len(block)
    return count


@dataclass(slots=True)
class _Child:
    """A forked process scanning one part, its result coming through a pipe."""

    pid: int
    pipe: int
    reaped: bool = False

    @classmethod
    def start(
        cls,
        source: str,
        first: LogScan,
        parts: tuple[LogPart, LogPart | None],
        block_size: int,
    ) -> _Child | None:
        """Fork a child scanning ``parts[0]`` (``parts[1]``: the part after it, if any); None
        when the system refuses (no memory, too many processes): the parent scans the part."""
        try:
            read_end, write_end = os.pipe()
        except OSError:
            return None
        try:
            pid = os.fork()
        except OSError:
            os.close(read_end)
            os.close(write_end)
            return None
        if pid == 0:  # the child: never returns into the caller's code
            status = 1
            try:
                os.close(read_end)
                payload = pickle.dumps(
                    scan_part(source, first, *parts, block_size),
                    protocol=pickle.HIGHEST_PROTOCOL,
                )
                with open(write_end, "wb") as out:
                    out.write(payload)
                status = 0
            finally:
                os._exit(status)
        os.close(write_end)
        return cls(pid, read_end)

    def result(self) -> PartScan | None:
        """The child's scan, or None if it failed (the parent then scans the part)."""
        pipe, self.pipe = self.pipe, -1
        with open(pipe, "rb") as stream:
            payload = stream.read()
        _, status = os.waitpid(self.pid, 0)
        self.reaped = True
        if status != 0 or not payload:
            return None
        try:
            result = pickle.loads(payload)  # written by our own child
        except (pickle.UnpicklingError, EOFError, ValueError):
            return None
        return result if isinstance(result, PartScan) else None

    def stop(self) -> None:
        """Kill and reap the child if its result was never read (the parent failed)."""
        if self.reaped:
            return
        try:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        except OSError:
            pass
        if self.pipe >= 0:
            os.close(self.pipe)
            self.pipe = -1
        self.reaped = True

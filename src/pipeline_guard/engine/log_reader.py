"""Read a CI log as a stream of cleaned chunks, and clean single lines for people to read.

A job log can be a gigabyte, so it is never held in memory whole, and it is never cleaned line
by line either: a Python loop over a million lines already costs most of the time budget.
Instead the log is read in blocks of a few megabytes and each block is cleaned with a few
whole-block byte operations (ANSI escapes and NUL bytes removed, lines too long to analyse
cut). The matcher scans those blocks; only the few lines it needs (candidates, evidence, the
failure window) go through :func:`clean_line`, which removes what is per line: timestamp
prefixes of GitHub, GitLab, Jenkins and Taskcluster, ``##[error]``-style markers, ``\\r``
progress-bar overwrites and CRLF endings, and decodes the bytes (invalid UTF-8 replaced).

Line numbers always count ``\\n`` in the original file from 1, so evidence points at the line a
user sees in the raw log.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from pipeline_guard.errors import InputError
from pipeline_guard.redact import mask_shapes

BLOCK_SIZE = 8 * 1024 * 1024
"""Bytes read at a time; a chunk holds whole lines, so it may be a little larger or smaller."""

MAX_LINE_BYTES = 64 * 1024
"""A line longer than this is cut to this length for analysis (minified JS, base64 blobs)."""

MAX_TEXT_CHARS = 1000
"""Cleaned text shown as evidence is cut to this many characters."""

_ANSI = re.compile(
    rb"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor moves, erase line
    rb"|\x1b\][^\x07\x1b\n]*(?:\x07|\x1b\\)?"  # OSC: hyperlinks, window titles
    rb"|\x1b[()][A-Za-z0-9]"  # charset selection
    rb"|\x1b[@-Z\\-_=>]"  # other two-byte escapes (keypad modes, ...)
)

_BINARY_MAGIC = (
    (b"\x7fELF", "an ELF executable"),
    (b"PK\x03\x04", "a zip archive (unzip it and pass the .txt logs inside)"),
    (b"\x89PNG", "a PNG image"),
    (b"%PDF", "a PDF document"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"BZh", "a bzip2 archive"),
    (b"\xfd7zXZ", "an xz archive"),
    (b"\x28\xb5\x2f\xfd", "a zstd archive"),
)

_PREFIX = re.compile(
    rb"^(?:(?P<job>[^\t\n]{1,200})\t(?P<step>[^\t\n]{0,200})\t(?=\S*\d{4}-\d\d-\d\dT))?"
    rb"(?:\xef\xbb\xbf)?"
    rb"(?:"
    # GitHub Actions (7 fractional digits) and GitLab (FF_TIMESTAMPS: stream id, O/E, '+')
    rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)(?: [0-9a-f]{2}[OE]\+?)? ?"
    # Taskcluster / mozharness: "[task 2025-02-13T21:47:57.540Z] 21:47:57     INFO - "
    rb"|\[task [^\]]{1,40}\] (?:\d\d:\d\d:\d\d +[A-Z]{4,8} +- +)?"
    # Jenkins timestamper plugin: "[2024-01-01T00:00:00.000Z] "
    rb"|\[\d{4}-\d\d-\d\d[T ][\d:.]+Z?\] "
    rb")?"
)
_MARKER = re.compile(
    rb"^(?:##\[(?:error|warning|notice|debug|command|section|group|endgroup)\]"
    rb"|::(?:error|warning|notice|debug|group|endgroup)(?: [^:]*)?::)"
)


@dataclass(frozen=True, slots=True)
class Chunk:
    """A block of whole log lines, ANSI escapes and NULs removed, joined by ``\\n``.

    ``first_line`` is the 1-based number of the chunk's first line in the original file.
    ``data`` always ends with ``\\n`` unless it is empty; ``lines`` is how many lines it holds.
    """

    data: bytes
    first_line: int
    lines: int

    @property
    def last_line(self) -> int:
        return self.first_line + self.lines - 1


@dataclass(frozen=True, slots=True)
class CleanLine:
    """One line as a person should read it, with where it came from."""

    number: int
    text: str
    step: str | None = None


def open_log(source: str) -> BinaryIO:
    """Open a log for reading: a path, ``-`` for standard input, gzip-compressed or not.

    Refuses, with a one-line :class:`InputError`, what cannot be a log: a missing file, a
    directory, an empty file, a binary file.
    """
    stream: io.BufferedReader
    if source == "-":
        stream = sys.stdin.buffer  # type: ignore[assignment]
    else:
        path = Path(source)
        if path.is_dir():
            raise InputError(f"{source}: is a directory, not a log file")
        try:
            stream = path.open("rb")
        except FileNotFoundError:
            raise InputError(f"{source}: no such file") from None
        except OSError as exc:
            raise InputError(f"{source}: cannot read: {exc.strerror or exc}") from None
    head = stream.peek(8192)[:8192]
    if head.startswith(b"\x1f\x8b"):
        return _open_gzip(stream, source)
    _refuse_non_log(head, source)
    return stream


@contextlib.contextmanager
def log_chunks(source: str) -> Iterator[Iterator[Chunk]]:
    """The log at ``source`` (a path or ``-``) as cleaned chunks, for a ``with`` block (see
    :func:`opened_log`). Every reader of a log (the matcher, the fixers) goes through here."""
    with opened_log(source) as stream:
        yield iter_chunks(stream)


@contextlib.contextmanager
def opened_log(source: str) -> Iterator[BinaryIO]:
    """The log at ``source`` as a byte stream, for a ``with`` block: opened and refused as
    :func:`open_log` does, read errors inside the block turned into :class:`InputError`, closed
    afterwards (standard input is left open)."""
    stream = open_log(source)
    try:
        yield stream
    except OSError as exc:
        raise InputError(f"{source}: read failed: {exc.strerror or exc}") from None
    except EOFError:
        raise InputError(f"{source}: truncated compressed file") from None
    finally:
        if source != "-":
            stream.close()


def lines_with(source: str, keywords: Sequence[bytes]) -> Iterator[str]:
    """The cleaned, decoded lines of a log that contain one of ``keywords``. A chunk without
    any keyword is skipped whole, so a gigabyte log costs a few substring searches per block."""
    with log_chunks(source) as chunks:
        for chunk in chunks:
            if not any(keyword in chunk.data for keyword in keywords):
                continue
            for raw in chunk.data.split(b"\n"):
                if any(keyword in raw for keyword in keywords):
                    yield clean_bytes(raw)[0].decode("utf-8", "replace")


MAX_GZIP_RATIO = 200
"""A gzip log may decode to at most this many times the compressed bytes read so far (once it
has decoded :data:`GZIP_RATIO_FLOOR`): CI logs compress 5-50 times; a gzip bomb (10 MB that
decode to 10 GB) compresses a thousand times, and is refused after a fraction of a second
instead of being read for minutes."""

GZIP_RATIO_FLOOR = 64 << 20
"""Decoded bytes below which the ratio is not checked (a small, very repetitive log is fine)."""


class _CountingReader(io.RawIOBase):
    """The compressed stream, counting the bytes gzip takes from it."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.stream.read(len(buffer))
        buffer[: len(data)] = data
        self.count += len(data)
        return len(data)


class _BoundedGzip(io.RawIOBase):
    """Decoded gzip bytes, refused (:class:`InputError`) beyond :data:`MAX_GZIP_RATIO`."""

    def __init__(self, compressed: BinaryIO, source: str) -> None:
        self.counter = _CountingReader(compressed)
        self.gzip = gzip.GzipFile(fileobj=self.counter)
        self.decoded = 0
        self.source = source

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        count = self.gzip.readinto(buffer)
        self.decoded += count
        if self.decoded > GZIP_RATIO_FLOOR and self.decoded > MAX_GZIP_RATIO * self.counter.count:
            raise InputError(
                f"{self.source}: refused: the gzip file decodes to more than {MAX_GZIP_RATIO} "
                "times its size (a decompression bomb, not a log)"
            )
        return count


def _open_gzip(compressed: io.BufferedReader, source: str) -> BinaryIO:
    unzipped = io.BufferedReader(_BoundedGzip(compressed, source))
    try:
        head = unzipped.peek(8192)[:8192]
    except (OSError, EOFError) as exc:
        raise InputError(f"{source}: corrupt gzip file: {exc}") from None
    _refuse_non_log(head, source)
    return unzipped


def _refuse_non_log(head: bytes, source: str) -> None:
    if not head:
        raise InputError(f"{source}: empty log, nothing to analyse")
    for magic, what in _BINARY_MAGIC:
        if head.startswith(magic):
            raise InputError(f"{source}: binary file ({what}), not a text log")
    if _looks_binary(head):
        raise InputError(f"{source}: binary file (not text), not a log")


def _looks_binary(head: bytes) -> bool:
    """True when the first bytes are mostly control bytes: a log with a few NULs is still text."""
    control = sum(1 for byte in head if byte < 0x20 and byte not in b"\t\n\r\x0c\x08\x1b")
    return control > len(head) * 0.10


def iter_chunks(
    stream: BinaryIO,
    block_size: int = BLOCK_SIZE,
    *,
    first_line: int = 1,
    carry: bytes = b"",
    at_start: bool = True,
    to_end: bool = True,
) -> Iterator[Chunk]:
    """Yield the log as cleaned chunks of whole lines, never holding more than ~2 blocks.

    A chunk ends at the last line end of a block read, so where chunks end depends only on
    where the blocks start. A part of a log (see :mod:`pipeline_guard.engine.log_parts`) is
    read from a block boundary with the reader's state there: ``first_line`` and ``carry``
    (the bytes of the line the boundary cuts); ``at_start`` is False for every part but the
    first, and ``to_end`` False for every part but the last (the cut line belongs to the next).
    """
    next_line = first_line
    skipping = False  # inside the rest of a line that was already cut
    first = at_start
    read_any = False
    while True:
        block = stream.read(block_size)
        if not block:
            break
        read_any = True
        if first:
            block = block.removeprefix(b"\xef\xbb\xbf")
            first = False
        if skipping:
            newline = block.find(b"\n")
            if newline < 0:
                continue
            block = block[newline + 1 :]
            skipping = False
        buffer = carry + block
        end = buffer.rfind(b"\n")
        if end < 0:
            if len(buffer) < MAX_LINE_BYTES:
                carry = buffer
                continue
            # One line longer than the limit: analyse its start, skip the rest of it.
            yield Chunk(clean_block(buffer[:MAX_LINE_BYTES] + b"\n"), next_line, 1)
            next_line += 1
            carry = b""
            skipping = True
            continue
        body, carry = buffer[: end + 1], buffer[end + 1 :]
        lines = body.count(b"\n")
        yield Chunk(clean_block(body), next_line, lines)
        next_line += lines
        if len(carry) >= MAX_LINE_BYTES:
            yield Chunk(clean_block(carry[:MAX_LINE_BYTES] + b"\n"), next_line, 1)
            next_line += 1
            carry = b""
            skipping = True
    if not to_end:
        return
    if carry or (at_start and read_any and next_line == 1):  # a byte-order mark alone: one line
        yield Chunk(clean_block(carry + b"\n"), next_line, 1)


def clean_block(body: bytes) -> bytes:
    """Bytes without NULs and terminal escape sequences (colours, cursor moves, links)."""
    if b"\x00" in body:
        body = body.replace(b"\x00", b"")
    if b"\x1b" in body:
        body = _ANSI.sub(b"", body)
    return body


def clean_bytes(raw: bytes) -> tuple[bytes, bytes | None]:
    """One raw line (ANSI already removed) cleaned, still as bytes, and the step its prefix
    names (``gh run view --log`` puts it in a column), if any.

    Matching works on these bytes (no decoding for the many lines that turn out not to
    match); :func:`clean_line` decodes them for people.
    """
    text = raw[:MAX_LINE_BYTES].rstrip(b"\r")
    step = None
    prefix = _PREFIX.match(text)
    if prefix and prefix.end():
        step = prefix.group("step")
        text = text[prefix.end() :]
    if b"\r" in text:
        text = _last_overwrite(text)
        prefix = _PREFIX.match(text)
        if prefix and prefix.end():
            text = text[prefix.end() :]
    marker = _MARKER.match(text)
    if marker:
        text = text[marker.end() :]
    return text.rstrip(), step


def clean_line(raw: bytes, number: int, step: str | None = None) -> CleanLine:
    """Turn one raw line (ANSI already removed) into the text a person would read."""
    text, named_step = clean_bytes(raw)
    return decoded_line(text, number, named_step.decode("utf-8", "replace") if named_step else step)


def decoded_line(text: bytes, number: int, step: str | None) -> CleanLine:
    """A cleaned line decoded (invalid UTF-8 replaced) and cut to a readable length.

    A long line is redacted *before* it is cut (:func:`~pipeline_guard.redact.mask_shapes`):
    a token cut in two is no longer recognisable by its shape, and its first half would reach
    the comment. The cut itself drops a word it would split (see :func:`cut_text`), which
    also covers the secrets only the run's redactor knows (values from the environment)."""
    shown = text.decode("utf-8", "replace")
    if len(shown) > MAX_TEXT_CHARS:
        shown = cut_text(mask_shapes(shown), MAX_TEXT_CHARS)
    return CleanLine(number, shown, step)


_PARTIAL_WORD = re.compile(r"[^\s\"'`,;:=&?<>()\[\]{}|]+\Z")


def cut_text(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters (plus ``…``), without keeping the start
    of a word the cut falls into: half a token is still a secret's half."""
    if len(text) <= limit:
        return text
    head = text[:limit]
    if not text[limit].isspace():
        head = _PARTIAL_WORD.sub("", head)
    return head + "…"


def _last_overwrite(text: bytes) -> bytes:
    """What a terminal shows after ``\\r`` overwrites: the last segment that is not blank."""
    for segment in reversed(text.split(b"\r")):
        if segment.strip():
            return segment
    return b""

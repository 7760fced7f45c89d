"""Log cleaning: what a line looks like after cleaning, and that line numbers survive it."""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline_guard.engine.log_reader import (
    MAX_LINE_BYTES,
    MAX_TEXT_CHARS,
    clean_line,
    iter_chunks,
    open_log,
)
from pipeline_guard.errors import InputError


def lines_of(data: bytes, block_size: int = 1 << 20) -> list[tuple[int, str]]:
    """Every line of a log as (number, cleaned text), via the streaming chunks."""
    out = []
    for chunk in iter_chunks(io.BytesIO(data), block_size=block_size):
        for offset, raw in enumerate(chunk.data[:-1].split(b"\n")):
            out.append((chunk.first_line + offset, clean_line(raw, chunk.first_line + offset).text))
    return out


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # GitHub Actions timestamp and annotation marker
        (
            b"2026-07-29T18:08:10.2373950Z ##[error]Process completed with exit code 1.",
            "Process completed with exit code 1.",
        ),
        (b"2026-07-29T18:08:10.2373950Z ##[group]Run npm ci", "Run npm ci"),
        # `gh run view --log`: job, step and timestamp columns
        (
            b"build\tRun tests\t2021-12-01T13:01:04.3807878Z FooTest > bar() FAILED",
            "FooTest > bar() FAILED",
        ),
        # GitLab with FF_TIMESTAMPS: timestamp, stream id, stream and continuation flag
        (b"2024-06-12T09:12:20.123456Z 01O+$ make test", "$ make test"),
        (b"2024-06-12T09:12:20.123456Z 00E error: boom", "error: boom"),
        # Taskcluster / mozharness
        (
            b"[task 2025-02-13T21:47:57.540Z] 21:47:57    ERROR -  error: linking failed",
            "error: linking failed",
        ),
        # Jenkins timestamper
        (b"[2024-03-01T10:00:00.123Z] BUILD FAILURE", "BUILD FAILURE"),
        # progress bars overwritten with \r: the terminal shows the last segment
        (b"Downloading 10%\rDownloading 50%\rDownloading 100%\rDone.", "Done."),
        (b"travis_fold:start:install\r$ npm install", "$ npm install"),
        # CRLF
        (b"npm ERR! code E404\r", "npm ERR! code E404"),
        # invalid UTF-8 is replaced, not fatal
        (b"caf\xe9 \xff error", "caf\ufffd \ufffd error"),
        # workflow command syntax echoed raw
        (b"::error file=app.js,line=1::Missing semicolon", "Missing semicolon"),
    ],
)
def test_clean_line(raw: bytes, expected: str) -> None:
    assert clean_line(raw, 1).text == expected


def test_gh_cli_prefix_gives_the_step() -> None:
    line = clean_line(b"build\tRun npm test\t2021-12-01T13:01:04.3807878Z boom", 7)
    assert (line.number, line.step) == (7, "Run npm test")


def test_ansi_nul_and_bom_are_removed_for_the_whole_log() -> None:
    data = b"\xef\xbb\xbf\x1b[31mnpm\x1b[0m \x1b[1mERR!\x1b[0m code\x00 E404\n\x1b]8;;https://x\x07link\x1b]8;;\x07\n"
    assert lines_of(data) == [(1, "npm ERR! code E404"), (2, "link")]


def test_line_numbers_survive_small_blocks_and_missing_final_newline() -> None:
    data = b"".join(f"line {n}\n".encode() for n in range(1, 1001)) + b"last line without newline"
    expected = [(n, f"line {n}") for n in range(1, 1001)] + [(1001, "last line without newline")]
    assert lines_of(data, block_size=37) == expected


def test_overlong_line_is_cut_and_following_lines_keep_their_numbers() -> None:
    data = b"first\n" + b"x" * (MAX_LINE_BYTES * 3) + b"\nthird\n"
    numbered = lines_of(data, block_size=4096)
    assert [number for number, _ in numbered] == [1, 2, 3]
    assert numbered[2] == (3, "third")
    assert len(numbered[1][1]) <= MAX_TEXT_CHARS + 1


def test_open_log_refuses_what_is_not_a_log(tmp_path: Path) -> None:
    empty = tmp_path / "empty.log"
    empty.write_bytes(b"")
    binary = tmp_path / "tool"
    binary.write_bytes(b"\x7fELF\x02\x01\x01" + bytes(range(256)) * 8)
    noise = tmp_path / "noise.bin"
    noise.write_bytes(bytes(range(32)) * 300)
    cases = {
        str(empty): "empty log",
        str(binary): "binary file (an ELF executable)",
        str(noise): "binary file",
        str(tmp_path): "is a directory",
        str(tmp_path / "missing.log"): "no such file",
    }
    for source, message in cases.items():
        with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
            open_log(source)


def test_a_few_nul_bytes_do_not_make_a_log_binary(tmp_path: Path) -> None:
    log = tmp_path / "job.log"
    log.write_bytes(b"step 1\n\x00\x00\nstep 2 error: boom\n" * 50)
    with open_log(str(log)) as stream:
        chunks = list(iter_chunks(stream))
    assert b"\x00" not in b"".join(chunk.data for chunk in chunks)


def test_gzip_logs_are_read_transparently(tmp_path: Path) -> None:
    log = tmp_path / "job.log.gz"
    log.write_bytes(gzip.compress(b"hello\nnpm ERR! code E404\n"))
    with open_log(str(log)) as stream:
        data = b"".join(chunk.data for chunk in iter_chunks(stream))
    assert data == b"hello\nnpm ERR! code E404\n"


@given(
    st.lists(st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")), min_size=1, max_size=60),
    st.sampled_from([b"\n", b"\r\n"]),
    st.booleans(),
    st.integers(min_value=1, max_value=97),
)
def test_any_log_keeps_its_line_count_and_numbering(
    lines: list[bytes], ending: bytes, final_newline: bool, block_size: int
) -> None:
    data = ending.join(lines) + (ending if final_newline else b"")
    chunks = list(iter_chunks(io.BytesIO(data), block_size=block_size))
    numbers = [chunk.first_line + offset for chunk in chunks for offset in range(chunk.lines)]
    expected = data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)
    assert numbers == list(range(1, expected + 1))
    assert all(chunk.data.endswith(b"\n") for chunk in chunks)

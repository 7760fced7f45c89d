"""A log scanned in parts by several processes gives exactly the one-process scan."""

from __future__ import annotations

import gzip
import os
import random
from pathlib import Path

import pytest

from pipeline_guard.engine import analysis, log_parts
from pipeline_guard.engine.analysis import analyze_source
from pipeline_guard.engine.log_reader import MAX_LINE_BYTES, iter_chunks
from pipeline_guard.engine.matcher import Matcher, ScanResult
from pipeline_guard.engine.rule import Rule, load_rules

BLOCK = 3 << 20
"""Small blocks, so a log of a few MB is cut in several parts (a cut needs ~2 MB before it)."""


@pytest.fixture(scope="module")
def pack() -> list[Rule]:
    return load_rules(repo_root=Path("/nonexistent"))


@pytest.fixture(scope="module")
def matcher(pack: list[Rule]) -> Matcher:
    """One matcher for every scan here: what it compiles lazily never changes a result."""
    return Matcher(pack)


@pytest.fixture(autouse=True)
def small_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(log_parts, "PART_MIN_BYTES", 2 * BLOCK)


def hostile_mix(pack: list[Rule], size: int, seed: int = 7) -> bytes:
    """A log that crosses every part boundary with state: sections opened in one part and
    closed in another, failing exits all along, multi-line rule examples, more than 100
    failing tests (some repeated), named steps, ANSI colours, CRLF, rule examples."""
    rng = random.Random(seed)
    singles = [e for rule in pack for e in rule.examples.match if "\n" not in e]
    windows = [e for rule in pack for e in rule.examples.match if "\n" in e]
    out = [b"section_start:1700000000:build_script\r\x1b[0KRunning build\n"]
    total = 0
    index = 0
    while total < size:
        index += 1
        roll = rng.random()
        if roll < 0.88:
            line = f"\x1b[32mok\x1b[0m compiling module {index} of the build ........ done"
        elif roll < 0.885:
            line = rng.choice(singles)
        elif roll < 0.89:
            line = rng.choice(windows)
        elif roll < 0.92:
            line = f"--- FAIL: Test{rng.randrange(160)} (0.{rng.randrange(10)}s)"
        elif roll < 0.94:
            line = f'The command "make check-{index}" exited with {rng.randrange(3)}.'
        elif roll < 0.96:
            name = f"inner_{rng.randrange(5)}"
            kind = rng.choice(("start", "end"))
            line = f"section_{kind}:1700000000:{name}\r\x1b[0K"
        elif roll < 0.97:
            line = f"build\tRun step {index % 7}\t2024-01-01T00:00:00.0000000Z Error: step {index}"
        else:
            line = f"$ ./run-tests --shard {index}\r"
        data = (line + "\n").encode()
        out.append(data)
        total += len(data)
    out.append(b"section_end:1700000001:build_script\r\x1b[0K\nERROR: Job failed: exit code 1\n")
    return b"".join(out)


def summary(result: ScanResult) -> tuple[object, ...]:
    return (
        [(hit.rule.id, hit.line, hit.test) for hit in result.hits],
        result.counts,
        result.tests,
        result.errorish,
        result.tail,
        result.lines,
        result.steps.changes,
        result.steps.exits,
        result.steps.snapshots,
        result.steps.tail,
        result.steps.tail_first,
    )


def one_process(matcher: Matcher, path: Path) -> ScanResult:
    with path.open("rb") as handle:
        return matcher.scan(iter_chunks(handle, BLOCK))


@pytest.mark.parametrize("workers", [2, 4])
def test_parts_scanned_by_several_processes_give_the_one_process_scan(
    pack: list[Rule], matcher: Matcher, tmp_path: Path, workers: int
) -> None:
    path = tmp_path / "mixed.log"
    path.write_bytes(hostile_mix(pack, 4 * BLOCK + 12345, seed=workers))
    with path.open("rb") as handle:
        parts = log_parts.plan_parts(handle, path.stat().st_size, workers, BLOCK)
    assert len(parts) == min(workers, 3)
    parallel = log_parts.scan_in_parts(str(path), matcher, workers, BLOCK)
    assert parallel is not None
    expected = one_process(matcher, path)
    assert len(expected.tests) == 100
    assert len(expected.steps.snapshots) == 8
    assert summary(parallel) == summary(expected)


def test_a_failed_child_leaves_its_part_to_the_parent(
    pack: list[Rule], matcher: Matcher, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "mixed.log"
    path.write_bytes(hostile_mix(pack, 4 * BLOCK))

    def broken(*_args: object) -> None:
        raise MemoryError

    monkeypatch.setattr(log_parts, "scan_part", broken)
    parallel = log_parts.scan_in_parts(str(path), matcher, 3, BLOCK)
    assert parallel is not None
    assert summary(parallel) == summary(one_process(matcher, path))


def test_no_cut_through_a_line_too_long_to_hold(
    pack: list[Rule], matcher: Matcher, tmp_path: Path
) -> None:
    data = bytearray(hostile_mix(pack, 4 * BLOCK))
    data[BLOCK - 1000 : BLOCK + 1000] = b"x" * 2000
    start = data.rfind(b"\n", 0, BLOCK - 1000) + 1
    data[start : start + MAX_LINE_BYTES + 10] = b"y" * (MAX_LINE_BYTES + 10)
    path = tmp_path / "long.log"
    path.write_bytes(bytes(data))
    with path.open("rb") as handle:
        offsets = [part.offset for part in log_parts.plan_parts(handle, len(data), 3, BLOCK)]
    assert BLOCK not in offsets
    parallel = log_parts.scan_in_parts(str(path), matcher, 3, BLOCK)
    assert parallel is not None
    assert summary(parallel) == summary(one_process(matcher, path))


def test_gzip_and_small_logs_are_read_by_one_process(
    pack: list[Rule], matcher: Matcher, tmp_path: Path
) -> None:
    data = hostile_mix(pack, 3 * BLOCK)
    packed = tmp_path / "log.gz"
    packed.write_bytes(gzip.compress(data, compresslevel=1) + b"\0" * 3 * BLOCK)
    small = tmp_path / "small.log"
    small.write_bytes(data[: BLOCK // 2])
    assert log_parts.scan_in_parts(str(packed), matcher, 2, BLOCK) is None
    assert log_parts.scan_in_parts(str(small), matcher, 2, BLOCK) is None
    assert log_parts.scan_in_parts("-", matcher, 2, BLOCK) is None


def test_analyze_cuts_a_large_log_and_diagnoses_it_the_same(
    pack: list[Rule], matcher: Matcher, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "mixed.log"
    path.write_bytes(hostile_mix(pack, 4 * BLOCK))
    monkeypatch.setattr(analysis, "PARTS_FROM_BYTES", 2 * BLOCK)
    monkeypatch.setattr(log_parts, "workers_available", lambda: 1)
    expected = analyze_source(str(path), matcher)
    monkeypatch.setattr(log_parts, "BLOCK_SIZE", BLOCK)
    monkeypatch.setattr(log_parts, "workers_available", lambda: 3)
    assert analyze_source(str(path), matcher) == expected
    assert expected.step is not None


def test_a_part_with_too_many_markers_is_left_to_the_parent(
    pack: list[Rule], matcher: Matcher, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A child hands back every marker line of its part; a hostile log of section lines would
    # make that list huge, so past a bound the child gives up and the parent scans the part.
    path = tmp_path / "mixed.log"
    path.write_bytes(hostile_mix(pack, 4 * BLOCK))
    monkeypatch.setattr(log_parts, "MAX_PART_MARKER_BYTES", 1000)
    parallel = log_parts.scan_in_parts(str(path), matcher, 3, BLOCK)
    assert parallel is not None
    assert summary(parallel) == summary(one_process(matcher, path))


def test_a_refused_fork_leaves_the_parts_to_the_parent(
    pack: list[Rule], matcher: Matcher, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "mixed.log"
    path.write_bytes(hostile_mix(pack, 4 * BLOCK))

    def refused() -> int:
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", refused)
    parallel = log_parts.scan_in_parts(str(path), matcher, 3, BLOCK)
    assert parallel is not None
    assert summary(parallel) == summary(one_process(matcher, path))

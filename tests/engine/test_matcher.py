"""The matcher: prefilter + RE2 verification over whole logs."""

from __future__ import annotations

import dataclasses
import io
import time

import pytest

from conftest import make_rule, scan
from pipeline_guard.engine import matcher as matcher_module
from pipeline_guard.engine.log_reader import iter_chunks
from pipeline_guard.engine.matcher import MAX_HITS_PER_RULE, MAX_TESTS, Matcher
from pipeline_guard.engine.rule import load_rules
from pipeline_guard.errors import RuleError


def test_rule_matches_through_ansi_timestamps_and_markers() -> None:
    rule = make_rule(patterns=[r"^npm ERR! code E(?:CONNRESET|TIMEDOUT)$"])
    log = "2026-01-01T00:00:00.0000000Z \x1b[31mnpm\x1b[0m \x1b[1mERR!\x1b[0m code ECONNRESET\r\n"
    result = scan([rule], "setup\n" + log)
    assert [(hit.rule.id, hit.line.number, hit.line.text) for hit in result.hits] == [
        ("test-rule", 2, "npm ERR! code ECONNRESET")
    ]


def test_every_matching_rule_on_a_line_is_found_even_when_keywords_overlap() -> None:
    first = make_rule(id="npm-err", patterns=[r"npm ERR! code"])
    second = make_rule(id="err-code", patterns=[r"ERR! code E404"], category="dependency")
    result = scan([first, second], "npm ERR! code E404\n")
    assert sorted(hit.rule.id for hit in result.hits) == ["err-code", "npm-err"]


def test_rule_keyword_after_a_generic_error_word_on_the_same_line_is_not_missed() -> None:
    rule = make_rule(patterns=["Could not resolve host: github.com"])
    result = scan([rule], "fatal: error: Could not resolve host: github.com\n")
    assert len(result.hits) == 1


def test_pattern_without_literal_needs_hand_written_keywords() -> None:
    bare = make_rule(
        patterns=[r"^\d+ \w+ \d+$"], examples={"match": ["12 ab 34"], "no_match": ["x"]}
    )
    with pytest.raises(RuleError, match=r"rule test-rule: patterns: pattern 1 contains no literal"):
        Matcher([bare])
    keyed = dataclasses.replace(bare, keywords=[" ab "])
    result = scan([keyed], "noise\n2026-01-01T00:00:00.0000000Z 12 ab 34\nmore noise\n")
    assert [hit.line.number for hit in result.hits] == [2]


def test_hand_written_keywords_gate_the_rule() -> None:
    rule = make_rule(patterns=["boom"], keywords=["kaboom"])
    assert scan([rule], "boom\n").hits == []
    assert len(scan([rule], "kaboom\n").hits) == 1


def test_multiline_window_spanning_a_chunk_boundary() -> None:
    rule = make_rule(
        patterns=[r"Killed\n.*exit code 137"],
        window=2,
        category="out-of-memory",
        examples={"match": ["Killed\nexit code 137"], "no_match": ["Killed"]},
    )
    filler = "".join(f"filler line {n}\n" for n in range(200))
    log = (filler + "Killed\nProcess exited with exit code 137\n").encode()
    for block_size in (64, 100, 1 << 20):
        chunks = iter_chunks(io.BytesIO(log), block_size=block_size)
        result = Matcher([rule]).scan(chunks)
        assert [hit.line.number for hit in result.hits] == [201], block_size


def test_multiline_window_at_the_very_end_of_the_log_still_tries() -> None:
    rule = make_rule(patterns=[r"Killed(?:\n.*exit code 137)?"], window=3)
    assert [hit.line.number for hit in scan([rule], "a\nKilled\n").hits] == [2]


def test_failing_test_names_are_collected_once_in_order() -> None:
    rule = make_rule(category="test-failure", patterns=[r"^--- FAIL: (?P<test>\S+)"])
    log = "--- FAIL: TestB (0.1s)\nok\n--- FAIL: TestA (0.2s)\n--- FAIL: TestB (0.1s)\n"
    assert scan([rule], log).tests == ["TestB", "TestA"]


def test_hits_are_capped_per_rule_and_a_capped_rule_is_no_longer_verified() -> None:
    # Counting every match of a rule whose hits are already kept would make a log where
    # every line matches cost a verification per line: the count stops at the cap.
    rule = make_rule(patterns=["ECONNRESET"])
    result = scan([rule], "ECONNRESET\n" * (MAX_HITS_PER_RULE + 30))
    assert len(result.hits) == MAX_HITS_PER_RULE
    assert result.counts["test-rule"] == MAX_HITS_PER_RULE
    assert result.lines == MAX_HITS_PER_RULE + 30


def test_a_capped_rule_sharing_a_needle_leaves_the_other_rule_verified() -> None:
    capped = make_rule(id="capped", patterns=["ECONNRESET"])
    later = make_rule(id="later", patterns=["ECONNRESET at the end"], category="dependency")
    log = "ECONNRESET\n" * (MAX_HITS_PER_RULE + 5) + "ECONNRESET at the end\n"
    result = scan([capped, later], log)
    assert [hit.line.number for hit in result.hits if hit.rule.id == "later"] == [
        MAX_HITS_PER_RULE + 6
    ]


def test_test_names_are_still_collected_after_the_hits_are_capped() -> None:
    rule = make_rule(category="test-failure", patterns=[r"^--- FAIL: (?P<test>\S+)"])
    log = "".join(f"--- FAIL: Test{n}\n" for n in range(MAX_TESTS + 10))
    result = scan([rule], log)
    assert len(result.hits) == MAX_HITS_PER_RULE
    assert result.tests == [f"Test{n}" for n in range(MAX_TESTS)]


def test_step_markers_are_followed_after_every_rule_is_capped() -> None:
    rule = make_rule(patterns=["ECONNRESET"])
    log = "ECONNRESET\n" * (MAX_HITS_PER_RULE + 5) + "##[group]Run make test\nfatal: late\n"
    result = scan([rule], log)
    assert result.tail[-1].step == "Run make test"


def test_catastrophic_regex_cannot_hang_the_scan() -> None:
    # With a backtracking engine this pattern takes exponential time on a line of x's.
    rule = make_rule(patterns=[r"(x+x+)+y"], keywords=["xx"])
    started = time.perf_counter()
    result = scan([rule], "x" * 60_000 + "\n")
    assert result.hits == []
    assert time.perf_counter() - started < 5


def test_error_looking_lines_and_the_tail_are_kept_for_context() -> None:
    log = "".join(f"line {n}\n" for n in range(1, 200)) + "fatal: something odd\n" + "bye\n"
    result = scan([make_rule()], log)
    assert [(line.number, line.text) for line in result.errorish] == [(200, "fatal: something odd")]
    assert result.tail[-1].text == "bye"
    assert result.tail[-1].number == 201


def test_remembered_lines_and_windows_change_no_result(monkeypatch: pytest.MonkeyPatch) -> None:
    # A flood repeats its lines; the scan remembers the verification of short lines and the
    # windows that did not match. The same log scanned without remembering: the same result.
    pack = load_rules()
    examples = [e for rule in pack for e in [*rule.examples.match, *rule.examples.no_match]]
    log = (("\n".join(examples) + "\n") * 3).encode()

    def summary() -> tuple[object, ...]:
        result = Matcher(pack).scan(iter_chunks(io.BytesIO(log), block_size=1 << 20))
        hits = [(hit.rule.id, hit.line, hit.test) for hit in result.hits]
        return hits, result.counts, result.tests, result.steps.exits

    remembered = summary()
    monkeypatch.setattr(matcher_module, "MEMO_LINE_BYTES", -1)
    monkeypatch.setattr(matcher_module, "MEMO_WINDOW_BYTES", -1)
    assert summary() == remembered

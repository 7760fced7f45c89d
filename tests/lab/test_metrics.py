"""Whole-log scores: where the evidence points, and the rates that matter to a guard."""

from __future__ import annotations

import pytest

from pipeline_guard.lab.metrics import Located, in_span, locate_score


def test_a_hit_lies_in_the_chunk_with_two_lines_of_slack_or_in_an_also_range() -> None:
    spans = ((10, 12), (40, 41))
    assert [in_span(n, spans) for n in (7, 8, 14, 15, 40, 42)] == [
        False,
        True,
        True,
        False,
        True,
        False,
    ]
    assert not in_span(10, ())


def test_rates_per_gold_category_and_overall() -> None:
    located = [
        Located("test-failure", ((5, 6),), (5, 9), "test-failure", "comment"),
        Located("test-failure", ((5, 6),), (30, 6), "network", "retry"),
        Located("network", ((2, 2),), (), "unknown", "comment"),
        Located(None, ((1, 1),), (1,), "network", "retry"),
    ]
    rows = {row.name: row for row in locate_score(located)}
    overall = rows["overall"]
    assert (overall.total, overall.hit_at_1, overall.hit_at_any) == (4, 0.5, 0.75)
    assert overall.unknown == 0.25
    assert overall.false_retry == pytest.approx(1 / 3)  # decided cases only
    assert rows["test-failure"].false_retry == 0.5
    assert rows["(undecided)"].false_retry == 0.0
    named = rows["(a category)"]  # where unknown is a miss: gold neither null nor unknown
    assert named.total == 3
    assert named.unknown == pytest.approx(1 / 3)
    assert locate_score(located)[-1].name == "overall"

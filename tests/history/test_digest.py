"""The digest's numbers and its markdown, from records (no store, no forge)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from pipeline_guard.history.digest import (
    DIGEST_MARKER,
    build_digest,
    digest_json,
    digest_markdown,
)
from pipeline_guard.history.record import FAILED, PASSED, Record

UNTIL = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
SINCE = datetime(2026, 12, 1, tzinfo=UTC)


def rec(day: int, job: str, category: str, **changes: object) -> Record:
    base = Record(
        recorded_at=SINCE + timedelta(days=day, hours=3),
        platform="github",
        repository="octo/app",
        job=job,
        category=category,
        action="comment",
        duration=120.0,
    )
    return base.model_copy(update=changes)


RECORDS = [
    rec(0, "test", "test-failure", flaky=True, tests=("t::a",)),
    rec(0, "build", "network", action="retry", outcome=PASSED),
    rec(1, "build", "network", action="retry", outcome=FAILED),
    rec(1, "build", "network", action="retry"),
    rec(2, "lint", "lint", broken_trunk=True, signature="s1"),
    rec(3, "lint", "lint", broken_trunk=True, signature="s1"),
]


def test_counts_reruns_flaky_trunk_and_runner_time() -> None:
    digest = build_digest(RECORDS, since=SINCE, until=UNTIL, repositories=["octo/app"])

    assert digest.failures == 6
    assert digest.by_category == {"network": 3, "lint": 2, "test-failure": 1}
    assert digest.by_job == {"build": 3, "lint": 2, "test": 1}
    assert (digest.reruns, digest.reruns_green, digest.reruns_red) == (3, 1, 1)
    assert digest.failed_minutes == 12.0
    assert {(f.job, f.tests, f.times) for f in digest.flaky} == {
        ("test", ("t::a",), 1),
        ("build", (), 1),  # a re-run that turned green
    }
    [period] = digest.broken_trunk
    assert (period.job, period.failures) == ("lint", 2)
    assert period.last - period.first == timedelta(days=1)
    assert len(digest.per_day) == 7
    assert digest.per_day["2026-12-02"] == {"network": 2}


def test_markdown_has_the_marker_charts_and_tables() -> None:
    digest = build_digest(RECORDS, since=SINCE, until=UNTIL, repositories=["octo/app"])

    text = digest_markdown(digest)

    assert text.startswith(DIGEST_MARKER)
    assert text.count("```mermaid") == 2
    assert "line [1, 2, 0, 0, 0, 0, 0]" in text  # network per day
    assert 'x-axis ["build", "lint", "test"]' in text
    assert "| `network` | 3 |" in text
    assert "3** re-runs by pipeline-guard (1 turned green, 1 failed again)" in text
    assert json.loads(digest_json(digest))["reruns_green"] == 1


def test_an_empty_window_says_so() -> None:
    text = digest_markdown(build_digest([], since=SINCE, until=UNTIL, repositories=["o/r"]))

    assert "**0** failed jobs" in text
    assert "```mermaid" not in text
    assert "No flaky jobs" in text

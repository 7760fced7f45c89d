"""Failure signatures: what changes between runs is normalised away, what identifies the
failure is kept, and generic wrappers never make a signature."""

from __future__ import annotations

import pytest

from pipeline_guard.categories import Action, Category
from pipeline_guard.engine.diagnosis import Diagnosis, Evidence
from pipeline_guard.engine.signature import is_generic, normalise, signature_of


def diagnosis(
    line: str, *, rule: str | None = "pytest-failed", tests: tuple[str, ...] = ()
) -> Diagnosis:
    return Diagnosis(
        source="job.log",
        category=Category.TEST_FAILURE if rule else Category.UNKNOWN,
        confidence=0.9 if rule else 0.0,
        action=Action.COMMENT,
        rule=rule,
        title="t",
        explain="e",
        advice="a",
        evidence=[Evidence(line=10, text=line)] if line else [],
        step=None,
        tests=list(tests),
    )


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (
            "2026-11-20T09:14:03.123Z FAILED t.py::test_add - assert 1 == 2 in 0.12s",
            "2026-12-01T22:01:59Z FAILED t.py::test_add - assert 3 == 4 in 17.5s",
        ),
        (
            "FileNotFoundError: /tmp/pytest-of-runner/pytest-3/test_x0/data.json",
            "FileNotFoundError: /tmp/pytest-of-runner/pytest-17/test_x0/data.json",
        ),
        (
            "fatal: reference is not a tree: 3f2a9c1d8e",
            "fatal: reference is not a tree: 9b8e7d6c5a",
        ),
        (
            "request 123e4567-e89b-12d3-a456-426614174000 timed out after 30s",
            "request 00000000-1111-2222-3333-444444444444 timed out after 2 min",
        ),
    ],
)
def test_what_changes_between_runs_is_normalised_away(first: str, second: str) -> None:
    assert normalise(first) == normalise(second)
    a, b = signature_of(diagnosis(first)), signature_of(diagnosis(second))
    assert a is not None
    assert b is not None
    assert a.key == b.key


def test_a_different_failure_has_a_different_signature() -> None:
    add = signature_of(diagnosis("E   AssertionError: expected total of invoice", tests=("t::a",)))
    sub = signature_of(diagnosis("E   AssertionError: expected total of invoice", tests=("t::b",)))
    other_rule = signature_of(
        diagnosis("E   AssertionError: expected total of invoice", rule="jest-failed")
    )
    assert add is not None
    assert sub is not None
    assert other_rule is not None
    assert len({add.key, sub.key, other_rule.key}) == 3


@pytest.mark.parametrize(
    "line",
    [
        "##[error]Process completed with exit code 1.",
        "make: *** [all] Error 2",
        "make[2]: *** [Makefile:12: test] Error 1",
        "npm ERR! Test failed.  See above for more details.",
        "npm error code ELIFECYCLE",
        "ERROR: Job failed: exit code 1",
        'The command "pytest" exited with 1.',
        "Tests failed: 7",
        "*** Failed ***",
        "error",
    ],
)
def test_wrappers_and_short_lines_make_no_signature(line: str) -> None:
    assert is_generic(normalise(line))
    assert signature_of(diagnosis(line)) is None
    assert signature_of(diagnosis(line, rule=None)) is None


def test_unknown_with_a_specific_line_or_failing_tests_has_a_signature() -> None:
    unknown = signature_of(diagnosis("Segmentation fault in libfoo::parse_header", rule=None))
    assert unknown is not None
    assert unknown.rule == "unknown"
    tests_only = signature_of(diagnosis("make: *** [all] Error 2", tests=("t.py::test_b",)))
    assert tests_only is not None
    assert tests_only.line == ""  # the wrapper line is not part of it
    assert signature_of(diagnosis("", rule=None)) is None


def test_a_ci_step_marker_is_never_a_signature() -> None:
    """A step marker chosen as an `unknown`'s evidence says where, not what: no match on it."""
    for marker in ("section_end:1767603604:step_script", "travis_fold:end:install.1"):
        assert signature_of(diagnosis(marker, rule=None)) is None

"""Choosing one diagnosis per log: the earliest root cause, not the last or loudest line."""

from __future__ import annotations

from conftest import make_rule, scan
from pipeline_guard.categories import Action, Category, default_action
from pipeline_guard.engine.diagnosis import diagnose, model_action

NETWORK = make_rule(id="npm-reset", category="network", patterns=[r"npm ERR! code ECONNRESET"])
TESTS = make_rule(
    id="jest-fail",
    category="test-failure",
    patterns=[r"^\s*● (?P<test>.+ › .+)$"],
    examples={"match": ["  ● Cart › adds"], "no_match": ["ok"]},
)
FORMAT = make_rule(
    id="prettier", category="format", patterns=["Code style issues found"], fix="prettier"
)
LINT = make_rule(id="eslint", category="lint", patterns=[r"✖ \d+ problems?"])
RETRY_WARNING = make_rule(id="retrying", category="network", patterns=["Retrying"], priority=40)


def test_root_cause_outranks_the_failures_it_causes_even_when_it_comes_later() -> None:
    log = "  ● Cart › adds item\nsome output\nnpm ERR! code ECONNRESET\n"
    verdict = diagnose(scan([NETWORK, TESTS], log), "job.log")
    assert (verdict.category, verdict.rule, verdict.action) == ("network", "npm-reset", "retry")
    assert verdict.evidence[0].line == 3
    assert verdict.tests == ["Cart › adds item"]


def test_among_equal_ranks_the_first_failure_in_the_log_wins() -> None:
    log = "✖ 3 problems\n" + "Code style issues found in 2 files\n"
    lint_first = make_rule(
        id="eslint2", category="lint", patterns=[r"✖ \d+ problems?"], priority=56
    )
    verdict = diagnose(scan([lint_first, FORMAT], log), "job.log")
    assert verdict.rule == "eslint2"


def test_a_weak_signal_only_decides_when_nothing_else_matched() -> None:
    log = "Retrying request\n  ● Cart › adds item\n"
    assert diagnose(scan([RETRY_WARNING, TESTS], log), "x").category == "test-failure"
    assert diagnose(scan([RETRY_WARNING, TESTS], "Retrying request\n"), "x").category == "network"


def test_fixable_category_with_a_fixer_gets_a_fix_pr_action() -> None:
    verdict = diagnose(scan([FORMAT], "Code style issues found in 2 files\n"), "x")
    assert (verdict.category, verdict.action) == ("format", "fix-pr")
    no_fixer = make_rule(id="fmt", category="format", patterns=["Code style issues found"])
    assert diagnose(scan([no_fixer], "Code style issues found\n"), "x").action == "comment"


def test_evidence_starts_with_the_decisive_line_then_same_category_lines_in_order() -> None:
    log = "a\nnpm ERR! code ECONNRESET\nb\nRetrying request\nnpm ERR! code ECONNRESET\n"
    verdict = diagnose(scan([NETWORK, RETRY_WARNING], log), "x")
    assert [item.line for item in verdict.evidence] == [2, 4, 5]


def test_unknown_carries_the_most_telling_error_lines_not_boilerplate() -> None:
    log = (
        "".join(f"compiling module {n}\n" for n in range(50))
        + "Error: the frobnicator rejected config key 'mode'\n"
        + "##[error]Process completed with exit code 1.\n"
    )
    verdict = diagnose(scan([NETWORK], log), "x")
    assert verdict.category == "unknown"
    assert verdict.rule is None
    assert verdict.confidence == 0.0
    assert [item.text for item in verdict.evidence] == [
        "Error: the frobnicator rejected config key 'mode'"
    ]
    assert verdict.evidence[0].line == 51


def test_unknown_without_error_lines_shows_the_end_of_the_log() -> None:
    verdict = diagnose(scan([NETWORK], "one\ntwo\nthree\n"), "x")
    assert [item.text for item in verdict.evidence] == ["one", "two", "three"]


def test_a_models_transient_category_defaults_to_a_comment() -> None:
    """The engine's own default action for a model judgement never re-runs."""
    assert default_action(Category.NETWORK, None) == Action.RETRY  # what a rule would get
    assert model_action(Category.NETWORK) == Action.COMMENT
    assert model_action(Category.RUNNER) == Action.COMMENT
    assert model_action(Category.FORMAT) == default_action(Category.FORMAT, None)

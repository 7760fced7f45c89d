"""The comment, summary, outputs and JSON report: pure functions, redacted, within limits, and
made from what happened (the outcome), never from what was planned."""

from __future__ import annotations

import json
import re

import pytest

from pipeline_guard.categories import Action, Category
from pipeline_guard.context import Mode, Platform, RunContext
from pipeline_guard.engine.diagnosis import Diagnosis, Evidence
from pipeline_guard.forges.base import COMMENT_MARKER, FailedJob, comment_marker
from pipeline_guard.guard.act import FixOutcome, Outcome, Problem, RetryOutcome
from pipeline_guard.guard.config import RepoConfig
from pipeline_guard.guard.policy import Plan, decide
from pipeline_guard.guard.report import (
    COMMENT_LIMIT,
    PASSED_TAG,
    comment_markdown,
    json_report,
    outputs,
    passed_comment,
    summary_markdown,
)
from pipeline_guard.redact import Redactor

CONTEXT = RunContext(
    platform=Platform.GITHUB,
    mode=Mode.WORKFLOW_RUN,
    run_id=1,
    run_url="https://x/run/1",
    workflow="CI",
    run_number=42,
)


def _diagnosis(
    evidence: list[str],
    category: Category = Category.TEST_FAILURE,
    fix: str | None = None,
    rule: str = "r",
) -> Diagnosis:
    return Diagnosis(
        source="log",
        category=category,
        confidence=0.85,
        action=Action.COMMENT,
        rule=rule,
        title="pytest run finished with failures",
        explain="Tests failed.",
        advice="Run them locally.",
        evidence=[Evidence(line=n + 1, text=t) for n, t in enumerate(evidence)],
        step="Run pytest",
        tests=["tests/test_a.py::test_x"],
        fix=fix,
    )


def _plan(jobs: int, evidence: list[str], context: RunContext = CONTEXT) -> Plan:
    diagnosed = [
        (FailedJob(id=n, name=f"job {n}", url=f"https://x/job/{n}"), _diagnosis(evidence))
        for n in range(jobs)
    ]
    return decide(context, RepoConfig(), diagnosed)


def test_comment_has_marker_table_evidence_link_and_what_was_done() -> None:
    job = FailedJob(id=1, name="test", url="https://x/j")
    plan = decide(CONTEXT, RepoConfig(), [(job, _diagnosis(["FAILED tests/test_a.py::test_x"]))])
    outcome = Outcome(change_request=7, comment_url="https://x/c")
    text = comment_markdown(CONTEXT, plan, outcome, Redactor(), marker=COMMENT_MARKER)
    assert text.startswith(COMMENT_MARKER)
    assert (
        "in [CI \\#42](https://x/run/1)" in text
    )  # names are markdown-escaped (a fork writes them); rendered: "CI #42"
    assert "| test | pytest run finished with failures | `test-failure` 85% | explained |" in (text)
    assert "     1 | FAILED tests/test_a.py::test_x" in text
    assert "([log](https://x/j))" in text
    assert "`tests/test_a.py::test_x`" in text
    assert "Explained the failure; nothing was changed." in text


def test_confidence_is_shown_one_way() -> None:
    text = summary_markdown(CONTEXT, _plan(1, ["FAILED x"]), Outcome(), Redactor())
    assert "85%" in text
    assert "0.85" not in text


def test_comment_stays_under_githubs_limit_with_huge_evidence() -> None:
    diagnosed = [
        (
            FailedJob(id=n, name=f"job {n}"),
            _diagnosis([f"{chr(65 + n % 26) * 300}"] * 6, rule=f"r{n}"),
        )
        for n in range(40)
    ]
    plan = decide(CONTEXT, RepoConfig(), diagnosed)
    text = comment_markdown(CONTEXT, plan, Outcome(), Redactor(), marker=COMMENT_MARKER)
    assert len(text) < COMMENT_LIMIT
    assert text.startswith(COMMENT_MARKER)


def test_comment_with_hundreds_of_causes_says_some_were_left_out() -> None:
    diagnosed = [
        (FailedJob(id=n, name=f"job {n}"), _diagnosis(["y" * 300] * 6, rule=f"rule-{n}"))
        for n in range(600)
    ]
    plan = decide(CONTEXT, RepoConfig(), diagnosed)
    text = comment_markdown(CONTEXT, plan, Outcome(), Redactor())
    assert len(text) < COMMENT_LIMIT
    assert "left out: the comment size limit" in text


def test_ten_identical_matrix_failures_are_one_cause_on_one_screen() -> None:
    diagnosed = [
        (
            FailedJob(id=n, name=f"test (3.{n})", url=f"https://x/job/{n}"),
            _diagnosis([f"FAILED /home/runner/work/app/tests/test_a.py:{n + 10} - took {n}.2s"]),
        )
        for n in range(10)
    ]
    plan = decide(CONTEXT, RepoConfig(), diagnosed)
    text = comment_markdown(CONTEXT, plan, Outcome(), Redactor(), marker=COMMENT_MARKER)
    table_rows = [line for line in text.splitlines() if line.startswith("| test")]
    assert table_rows == [
        "| test \\(3.0\\) and 9 more | pytest run finished with failures | `test-failure` 85% | "
        "explained |"
    ]
    assert text.count("#### ") == 2  # the cause and "What pipeline-guard did"
    assert "#### pytest run finished with failures (10 jobs)" in text
    assert "<details><summary>7 more jobs</summary>" in text
    assert "[`test (3.9)`](https://x/job/9)" in text
    assert len(text.splitlines()) < 40


def test_different_decisive_lines_are_different_causes() -> None:
    diagnosed = [
        (FailedJob(id=1, name="a"), _diagnosis(["FAILED tests/test_a.py::test_add"])),
        (FailedJob(id=2, name="b"), _diagnosis(["FAILED tests/test_a.py::test_sub"])),
    ]
    text = summary_markdown(
        CONTEXT, decide(CONTEXT, RepoConfig(), diagnosed), Outcome(), Redactor()
    )
    assert "#### a: pytest" in text
    assert "#### b: pytest" in text


def test_sixty_failed_jobs_make_a_small_comment() -> None:
    causes = ["FAILED tests/test_a.py::test_add", "npm ERR! code ECONNRESET", "error[E0308]: x"]
    diagnosed = [
        (
            FailedJob(id=n, name=f"build ({n})", url=f"https://github.com/o/r/job/{n}"),
            _diagnosis([causes[n % 3], "context line", "another"], rule=f"rule-{n % 3}"),
        )
        for n in range(60)
    ]
    plan = decide(CONTEXT, RepoConfig(), diagnosed)
    text = comment_markdown(CONTEXT, plan, Outcome(), Redactor(), marker=COMMENT_MARKER)
    assert len(text) < 8_000  # was 47 KB with one section per job
    assert text.count("<details>") == 3


def test_backticks_in_log_lines_cannot_break_the_code_fence() -> None:
    plan = _plan(1, ["```", "echo ````"])
    text = comment_markdown(CONTEXT, plan, Outcome(), Redactor())
    assert "`````text" in text


def test_secrets_never_reach_any_output() -> None:
    token = "ghp_" + "Z" * 36
    plan = _plan(1, [f"curl -H 'Authorization: token {token}'"])
    outcome = Outcome(fixes=(FixOutcome(fix_id="black", error=f"failed with {token}"),))
    redactor = Redactor([token])
    for text in (
        comment_markdown(CONTEXT, plan, outcome, redactor),
        summary_markdown(CONTEXT, plan, outcome, redactor),
        json_report(CONTEXT, plan, outcome, redactor),
    ):
        assert token not in text


def test_outputs_and_json_report_describe_the_primary_job() -> None:
    plan = _plan(2, ["FAILED x"])
    outcome = Outcome(change_request=7, comment_url="https://x/c")
    values = outputs(plan, outcome, CONTEXT, "pipeline-guard-report.json", Redactor())
    assert values == {
        "category": "test-failure",
        "action": "comment",
        "confidence": "0.85",
        "report": "pipeline-guard-report.json",
        "broken-trunk": "false",
        "flaky": "false",
    }
    report = json.loads(json_report(CONTEXT, plan, outcome, Redactor()))
    assert [job["name"] for job in report["jobs"]] == ["job 0", "job 1"]
    assert report["jobs"][0]["diagnosis"]["category"] == "test-failure"
    assert "token" not in json.dumps(report)


def test_without_a_posted_comment_the_action_is_none() -> None:
    values = outputs(_plan(1, ["FAILED x"]), Outcome(), CONTEXT, "r.json", Redactor())
    assert values["action"] == "none"


# -- every refusal path: the table, the bullets, the outputs and the JSON agree ---------------

NETWORK = _diagnosis(["npm ERR! code ECONNRESET"], Category.NETWORK)
FORMAT = _diagnosis(["would reformat src/app.py"], Category.FORMAT, fix="black")
POSTED = "https://x/c"
NO_WRITE = "the token cannot re-run jobs: needs `actions: write` in the workflow's `permissions:`"
NO_PUSH = (
    "the token cannot push the fix branch: needs `contents: write` in the workflow's `permissions:`"
)


def _case(
    diagnosis: Diagnosis,
    *,
    context: RunContext = CONTEXT,
    dry: bool = False,
    checkout: str | None = None,
) -> Plan:
    config = RepoConfig(dry_run=dry)
    job = FailedJob(id=1, name="build", url="https://x/job/1")
    return decide(
        context,
        config,
        [(job, diagnosis)],
        has_fixer=frozenset({"black"}),
        checkout_problem=checkout,
    )


REFUSALS = {
    "re-ran": (
        _case(NETWORK),
        Outcome(retry=RetryOutcome(jobs=("build",), done=True), comment_url=POSTED),
        "retry",
        "re-ran",
        "Re-ran `build`.",
    ),
    "re-run refused": (
        _case(NETWORK),
        Outcome(
            retry=RetryOutcome(jobs=("build",), error=NO_WRITE, permission="actions: write"),
            comment_url=POSTED,
        ),
        "comment",
        "re-run refused: needs `actions: write`",
        f"Tried to re-run `build`, but: {NO_WRITE}",
    ),
    "dry-run retry": (
        _case(NETWORK, dry=True),
        Outcome(retry=RetryOutcome(jobs=("build",), dry_run=True)),
        "none",
        "would re-run (dry run)",
        "Would re-run `build` (dry run).",
    ),
    "fix opened": (
        _case(FORMAT),
        Outcome(
            fixes=(FixOutcome(fix_id="black", url="https://x/pull/12", summary="Format"),),
            comment_url=POSTED,
        ),
        "fix-pr",
        "opened fix [#12](https://x/pull/12)",
        "Opened a fix: https://x/pull/12 (Format).",
    ),
    "fix refused by the forge": (
        _case(FORMAT),
        Outcome(
            fixes=(
                FixOutcome(
                    fix_id="black",
                    error=NO_PUSH,
                    forge_refused=True,
                    permission="contents: write",
                ),
            ),
            comment_url=POSTED,
        ),
        "comment",
        "fix not opened: needs `contents: write`",
        f"No fix PR opened: {NO_PUSH}",
    ),
    "no checkout": (
        _case(FORMAT, checkout="fixes need the failing commit checked out"),
        Outcome(comment_url=POSTED),
        "comment",
        "no fix PR (see below)",
        "No fix PR: fixes need the failing commit checked out.",
    ),
    "local mode": (
        _case(FORMAT, context=RunContext(platform=Platform.LOCAL, mode=Mode.LOCAL)),
        Outcome(),
        "none",
        "no fix PR (see below)",
        "No fix PR: local mode has no forge to open one on",
    ),
    "fixer unavailable": (
        _case(FORMAT),
        Outcome(
            fixes=(FixOutcome(fix_id="black", error="cannot install", command="black ."),),
            comment_url=POSTED,
        ),
        "comment",
        "fix not made (see below)",
        "Could not make the `black` fix here (cannot install); run: `black .`",
    ),
}


@pytest.mark.parametrize("case", REFUSALS, ids=list(REFUSALS))
def test_table_bullets_outputs_and_json_say_what_happened(case: str) -> None:
    plan, outcome, action, words, bullet = REFUSALS[case]
    context = (
        CONTEXT if "local" not in case else RunContext(platform=Platform.LOCAL, mode=Mode.LOCAL)
    )
    text = summary_markdown(context, plan, outcome, Redactor())
    row = next(line for line in text.splitlines() if line.startswith("| build |"))
    assert row.endswith(f"| {words} |")
    bullets = text.split("#### What pipeline-guard did", 1)[1]
    assert f"- {bullet}" in bullets
    assert outputs(plan, outcome, context, "r.json", Redactor())["action"] == action
    job = json.loads(json_report(context, plan, outcome, Redactor()))["jobs"][0]
    assert (job["action"], job["result"]) == (action, words)
    claims = {"re-ran", "opened fix"} - {words.split(" [")[0]}
    assert not any(claim in row for claim in claims)


def test_a_fix_failure_is_listed_once() -> None:
    plan = _case(FORMAT)
    fix = FixOutcome(
        fix_id="black", error=NO_PUSH, forge_refused=True, permission="contents: write"
    )
    outcome = Outcome(fixes=(fix,))
    text = summary_markdown(CONTEXT, plan, outcome, Redactor())
    assert text.count(NO_PUSH) == 1
    assert outcome.errors == [f"Could not open the `black` fix: {NO_PUSH}"]
    assert outcome.exit_code == 1


def test_a_missing_token_keeps_the_diagnosis_and_says_so_once() -> None:
    plan = _plan(1, ["FAILED x"])
    problem = Problem(message="no GitHub token was given", exit_code=2)
    outcome = Outcome(problems=(problem,))
    text = summary_markdown(CONTEXT, plan, outcome, Redactor())
    assert "pytest run finished with failures" in text
    assert text.count("no GitHub token was given") == 1
    assert outcome.exit_code == 2


def test_nothing_to_diagnose_is_said_as_such() -> None:
    plan = decide(CONTEXT, RepoConfig(), [])
    text = summary_markdown(CONTEXT, plan, Outcome(), Redactor())
    assert "no failed jobs to diagnose" in text
    assert "| Job |" not in text
    assert "Explained" not in text
    assert "from the job logs" not in text


def test_gitlab_words() -> None:
    gitlab = RunContext(
        platform=Platform.GITLAB, mode=Mode.PIPELINE, run_id=99, run_url="https://gl/p/99"
    )
    plan = _case(FORMAT, context=gitlab)
    outcome = Outcome(
        fixes=(FixOutcome(fix_id="black", error="x", forge_refused=True, permission="api"),)
    )
    text = summary_markdown(gitlab, plan, outcome, Redactor())
    assert (
        "in [pipeline \\#99](https://gl/p/99)" in text
    )  # names are markdown-escaped (a fork writes them); rendered: "pipeline #99"
    assert "No fix MR opened: x" in text
    assert "pull request" not in text


def test_markers_are_per_workflow_and_cannot_close_the_html_comment() -> None:
    assert comment_marker("CI") != comment_marker("Docs")
    assert comment_marker("CI") not in comment_marker("CI nightly")
    hostile = comment_marker('x --> <img src=x onerror=alert(1)> "')
    assert re.fullmatch(r"<!-- pipeline-guard:comment workflow=\"[^\"<>]*\" -->", hostile)
    assert hostile.count("-->") == 1
    assert comment_marker(None) == COMMENT_MARKER


def test_a_passing_run_folds_the_old_report_and_turns_green() -> None:
    marker = comment_marker("CI")
    old = comment_markdown(CONTEXT, _plan(1, ["FAILED x"]), Outcome(), Redactor(), marker=marker)
    passed = CONTEXT.model_copy(update={"run_number": 43, "conclusion": "success"})
    green = passed_comment(passed, old, marker)
    assert green.startswith(f"{marker}\n{PASSED_TAG}\n> [!TIP]")
    assert (
        "[CI \\#43](https://x/run/1) passed." in green
    )  # names are markdown-escaped (a fork writes them); rendered: "CI #43"
    assert "<details><summary>The earlier report</summary>" in green
    assert "pytest run finished with failures" in green
    again = passed_comment(passed.model_copy(update={"run_number": 44}), green, marker)
    assert again.count("<details><summary>The earlier report</summary>") == 1
    assert "CI \\#44" in again
    assert "CI \\#43" not in again

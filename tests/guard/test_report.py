"""The comment, summary, outputs and JSON report: pure functions, redacted, within limits."""

from __future__ import annotations

import json

from pipeline_guard.categories import Category
from pipeline_guard.context import Mode, Platform, RunContext
from pipeline_guard.engine.diagnosis import Diagnosis, Evidence
from pipeline_guard.forges.base import COMMENT_MARKER, FailedJob
from pipeline_guard.guard.act import FixOutcome, Outcome
from pipeline_guard.guard.config import RepoConfig
from pipeline_guard.guard.policy import Plan, decide
from pipeline_guard.guard.report import (
    COMMENT_LIMIT,
    comment_markdown,
    json_report,
    outputs,
    summary_markdown,
)
from pipeline_guard.redact import Redactor

CONTEXT = RunContext(
    platform=Platform.GITHUB, mode=Mode.WORKFLOW_RUN, run_id=1, run_url="https://x/run/1"
)


def _diagnosis(evidence: list[str], category: Category = Category.TEST_FAILURE) -> Diagnosis:
    return Diagnosis(
        source="log",
        category=category,
        confidence=0.85,
        action="comment",
        rule="r",
        title="pytest run finished with failures",
        explain="Tests failed.",
        advice="Run them locally.",
        evidence=[Evidence(line=n + 1, text=t) for n, t in enumerate(evidence)],
        step="Run pytest",
        tests=["tests/test_a.py::test_x"],
    )


def _plan(jobs: int, evidence: list[str]) -> Plan:
    diagnosed = [
        (FailedJob(id=n, name=f"job {n}", url=f"https://x/job/{n}"), _diagnosis(evidence))
        for n in range(jobs)
    ]
    return decide(CONTEXT, RepoConfig(), diagnosed)


def test_comment_has_marker_table_evidence_link_and_what_was_done() -> None:
    job = FailedJob(id=1, name="test", url="https://x/j")
    plan = decide(CONTEXT, RepoConfig(), [(job, _diagnosis(["FAILED tests/test_a.py::test_x"]))])
    text = comment_markdown(CONTEXT, plan, Outcome(change_request=7), Redactor())
    assert text.startswith(COMMENT_MARKER)
    assert "| test | pytest run finished with failures | `test-failure` (0.85) |" in text
    assert "     1 | FAILED tests/test_a.py::test_x" in text
    assert "([log](https://x/j))" in text
    assert "`tests/test_a.py::test_x`" in text
    assert "Explained the failure; nothing was changed." in text


def test_comment_stays_under_githubs_limit_with_huge_evidence() -> None:
    plan = _plan(40, ["x" * 300] * 6)
    text = comment_markdown(CONTEXT, plan, Outcome(), Redactor())
    assert len(text) < COMMENT_LIMIT
    assert text.startswith(COMMENT_MARKER)


def test_comment_with_hundreds_of_jobs_says_some_were_left_out() -> None:
    plan = _plan(600, ["y" * 300] * 6)
    text = comment_markdown(CONTEXT, plan, Outcome(), Redactor())
    assert len(text) < COMMENT_LIMIT
    assert "left out: the comment size limit" in text


def test_backticks_in_log_lines_cannot_break_the_code_fence() -> None:
    plan = _plan(1, ["```", "echo ````"])
    text = comment_markdown(CONTEXT, plan, Outcome(), Redactor())
    assert "`````text" in text


def test_secrets_never_reach_any_output() -> None:
    token = "ghp_" + "Z" * 36
    plan = _plan(1, [f"curl -H 'Authorization: token {token}'"])
    outcome = Outcome(fixes=[FixOutcome(fix_id="black", error=f"failed with {token}")])
    redactor = Redactor([token])
    for text in (
        comment_markdown(CONTEXT, plan, outcome, redactor),
        summary_markdown(CONTEXT, plan, outcome, redactor),
        json_report(CONTEXT, plan, outcome, redactor),
    ):
        assert token not in text


def test_outputs_and_json_report_describe_the_primary_job() -> None:
    plan = _plan(2, ["FAILED x"])
    values = outputs(plan, "pipeline-guard-report.json", Redactor())
    assert values == {
        "category": "test-failure",
        "action": "comment",
        "confidence": "0.85",
        "report": "pipeline-guard-report.json",
        "broken-trunk": "false",
        "flaky": "false",
    }
    report = json.loads(json_report(CONTEXT, plan, Outcome(), Redactor()))
    assert [job["name"] for job in report["jobs"]] == ["job 0", "job 1"]
    assert report["jobs"][0]["diagnosis"]["category"] == "test-failure"
    assert "token" not in json.dumps(report)

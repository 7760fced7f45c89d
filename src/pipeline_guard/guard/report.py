"""Report: the comment, the job summary, the outputs and the JSON report of one run.

Pure: a :class:`~pipeline_guard.guard.policy.Plan` and an
:class:`~pipeline_guard.guard.act.Outcome` in,
text out, every piece passed through the redactor before it is returned, so no caller can
forget it. The comment stays under GitHub's 65,536-character limit (GitLab's is larger) by
dropping evidence lines first, then whole job sections, and says so.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic import BaseModel

from pipeline_guard import __version__
from pipeline_guard.context import RunContext
from pipeline_guard.forges.base import COMMENT_MARKER
from pipeline_guard.guard.act import Outcome
from pipeline_guard.guard.policy import JobPlan, Plan
from pipeline_guard.markdown import escape_inline, evidence_block
from pipeline_guard.redact import Redactor

COMMENT_LIMIT = 65_536
SAFE_LIMIT = COMMENT_LIMIT - 1_536  # room for the header, footer and multi-byte surprises
MAX_LINE = 300
_Model = TypeVar("_Model", bound=BaseModel)

_DID = {
    "retry": "re-ran the failed jobs",
    "comment": "explained it here",
    "fix-pr": "opened a fix",
    "none": "nothing (configured)",
}


def comment_markdown(
    context: RunContext,
    plan: Plan,
    outcome: Outcome,
    redactor: Redactor,
    *,
    evidence: int = 6,
    marker: bool = True,
) -> str:
    """The PR/MR comment: hidden marker, a table of jobs, a section per job, what was done.
    Without ``marker``, the same report for the job summary and the job log."""
    plan, outcome = redacted(plan, redactor), redacted(outcome, redactor)
    while True:
        sections = [_job_section(job, evidence) for job in plan.jobs]
        text = _assemble(context, plan, outcome, sections, marker)
        if len(text) <= SAFE_LIMIT or evidence == 0:
            break
        evidence = evidence // 2
    kept = len(sections)
    while len(text) > SAFE_LIMIT and kept > 1:
        kept -= 1
        note = f"\n_{len(sections) - kept} more job(s) left out: the comment size limit._\n"
        text = _assemble(context, plan, outcome, [*sections[:kept], note], marker)
    return redactor.redact(text)[:SAFE_LIMIT]  # redact first: a cut could split a secret


def redacted(model: _Model, redactor: Redactor) -> _Model:
    """A copy of ``model`` with every text in it redacted, *before* anything is cut to length
    (a cut can split a secret in two and leave its first half unrecognisable)."""
    return type(model).model_validate(redactor.redact_values(model.model_dump(mode="json")))


def _assemble(
    context: RunContext, plan: Plan, outcome: Outcome, sections: Sequence[str], marker: bool
) -> str:
    count = len(plan.jobs)
    run = f"[run]({context.run_url})" if context.run_url else "this run"
    jobs = "job" if count == 1 else "jobs"
    head = f"### pipeline-guard: {count} failed {jobs} in {run}\n"
    if not count and outcome.problems:
        head = f"### pipeline-guard could not read the failed jobs of {run}\n"
    if marker:
        head = f"{COMMENT_MARKER}\n{head}"
    table = ["| Job | Cause | Category | Action |", "|---|---|---|---|"]
    table += [
        f"| {_name(job.job.name)} | {_name(job.diagnosis.title)} | `{job.diagnosis.category}` "
        f"({job.diagnosis.confidence:.2f}) | {_DID[job.action]} |"
        for job in plan.jobs
    ]
    footer = _footer(plan, marker)
    parts = [head, "\n".join(table), "", *sections, _did_section(plan, outcome), footer]
    return "\n".join(parts)


def _job_section(job: JobPlan, evidence: int) -> str:
    diagnosis = job.diagnosis
    link = f" ([log]({job.job.url}))" if job.job.url else ""
    step_name = diagnosis.step or job.job.step
    step = f", step `{_inline(step_name)}`" if step_name else ""
    lines = [
        f"#### {_name(job.job.name)}: {_name(diagnosis.title)}{link}",
        f"`{diagnosis.category}`{step}. {diagnosis.explain}",
    ]
    shown = diagnosis.evidence[:evidence]
    if shown:
        lines += ["", evidence_block(shown, MAX_LINE)]
    if diagnosis.tests:
        tests = ", ".join(f"`{_inline(t)}`" for t in diagnosis.tests[:10])
        lines.append(f"\nFailing tests: {tests}")
    lines += ["", f"**What to do:** {diagnosis.advice}", ""]
    return "\n".join(lines)


def _did_section(plan: Plan, outcome: Outcome) -> str:
    done = what_was_done(plan, outcome)
    notes = [f"- {note}" for note in plan.notes]
    return "\n".join(["#### What pipeline-guard did", *[f"- {item}" for item in done], *notes, ""])


def what_was_done(plan: Plan, outcome: Outcome) -> list[str]:
    """Plain sentences about the actions, for the comment, the summary and the job log."""
    done: list[str] = []
    if plan.retry:
        names = ", ".join(f"`{_inline(job.name)}`" for job in plan.retry)
        if plan.dry_run:
            done.append(f"Would re-run {names} (dry run).")
        elif outcome.retry_error:
            done.append(f"Tried to re-run {names}, but: {outcome.retry_error}")
        else:
            done.append(f"Re-ran {names}.")
    for fix in outcome.fixes:
        if fix.url:
            done.append(f"Opened a fix: {fix.url} ({fix.summary}).")
        elif plan.dry_run and fix.summary:
            done.append(f"Would open a fix: {fix.summary} (dry run).")
        elif fix.command:
            done.append(
                f"Could not make the `{fix.fix_id}` fix here ({fix.error}); run: `{fix.command}`"
            )
        elif fix.error:
            done.append(f"The `{fix.fix_id}` fix failed: {fix.error}")
    done += outcome.errors
    if not done:
        done.append("Explained the failure; nothing was changed.")
    return done


def _footer(plan: Plan, in_comment: bool) -> str:
    edited = " This comment is edited in place on every run." if in_comment else ""
    dry = " Dry run: nothing was changed." if plan.dry_run else ""
    return (
        f"<sub>pipeline-guard {__version__} diagnosed this from the job logs, inside this CI."
        f"{edited}{dry}</sub>\n"
    )


def summary_markdown(context: RunContext, plan: Plan, outcome: Outcome, redactor: Redactor) -> str:
    """The GitHub job summary / GitLab job log report: the comment without the marker."""
    return comment_markdown(context, plan, outcome, redactor, marker=False)


def outputs(plan: Plan, report_path: str, redactor: Redactor) -> dict[str, str]:
    """The action's outputs: the primary job's category, action, confidence; the report file."""
    primary = plan.primary
    if primary is None:
        return {"category": "", "action": "none", "confidence": "0", "report": report_path}
    return {
        "category": str(primary.diagnosis.category),
        "action": primary.action,
        "confidence": f"{primary.diagnosis.confidence:.2f}",
        "report": redactor.redact(report_path),
    }


def json_report(context: RunContext, plan: Plan, outcome: Outcome, redactor: Redactor) -> str:
    """The machine-readable report: context (no secrets), every job's diagnosis and plan, what
    was done."""
    document: dict[str, Any] = {
        "version": __version__,
        "platform": context.platform,
        "mode": context.mode,
        "repository": context.repository,
        "run_id": context.run_id,
        "run_attempt": context.run_attempt,
        "pull_request": outcome.change_request,
        "dry_run": plan.dry_run,
        "jobs": [
            {
                "id": job.job.id,
                "name": job.job.name,
                "url": job.job.url,
                "action": job.action,
                "reason": job.reason,
                "diagnosis": job.diagnosis.model_dump(mode="json"),
            }
            for job in plan.jobs
        ],
        "notes": list(plan.notes),
        "done": what_was_done(plan, outcome),
        "comment_url": outcome.comment_url,
        "fixes": [fix.model_dump(mode="json") for fix in outcome.fixes],
        "errors": list(outcome.errors),
    }
    return json.dumps(redactor.redact_values(document), indent=2)


def _inline(text: str) -> str:
    return text.replace("`", "'").replace("\n", " ")[:MAX_LINE]


def _name(text: str) -> str:
    """A name in a heading or table cell: a fork controls job and step names."""
    return escape_inline(_inline(text))

"""Report: the comment, the job summary, the outputs and the JSON report of one run.

Pure: a :class:`~pipeline_guard.guard.policy.Plan` (what was attempted) and an
:class:`~pipeline_guard.guard.act.Outcome` (what happened) in, text out. Every claim about an
action comes from the outcome, through one function, :func:`job_result`, so the table, the
bullets, the ``action`` output and the JSON report cannot disagree: a refused re-run is
reported as refused, a fix that was not opened as not opened.

Jobs with the same diagnosis (same rule, same decisive line once numbers and paths are
normalised: ten matrix legs of one failure) form one :class:`JobGroup`: one table row and one
section, whose job list folds into ``<details>`` beyond the first few. Sections are one per
group, so a new kind of group (say, "broken on the target branch too") is one more function
that returns sections.

Every piece is passed through the redactor before it is returned, so no caller can forget it.
The comment stays under GitHub's 65,536-character limit (GitLab's is larger) by dropping
evidence lines first, then whole sections, and says so.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict

from pipeline_guard import __version__
from pipeline_guard.categories import Action
from pipeline_guard.context import RunContext
from pipeline_guard.guard.act import FixOutcome, Outcome, RetryOutcome
from pipeline_guard.guard.policy import JobPlan, Plan
from pipeline_guard.markdown import escape_inline, evidence_block, percent
from pipeline_guard.redact import Redactor

COMMENT_LIMIT = 65_536
SAFE_LIMIT = COMMENT_LIMIT - 1_536  # room for the header, footer and multi-byte surprises
MAX_LINE = 300
SHOWN_JOBS = 3  # jobs listed in a group's section before the rest fold into <details>
PASSED_TAG = "<!-- pipeline-guard:passed -->"
_Model = TypeVar("_Model", bound=BaseModel)

_PATH = re.compile(r"(?:[A-Za-z]:)?[\w.@~+-]*[/\\][\w.@~+/\\-]*")
_NUMBER = re.compile(r"\b0x[0-9a-fA-F]+\b|\d+(?:\.\d+)*")


class JobGroup(BaseModel):
    """Jobs that failed for the same reason: one row, one section."""

    model_config = ConfigDict(frozen=True)

    jobs: tuple[JobPlan, ...]

    @property
    def first(self) -> JobPlan:
        return self.jobs[0]


def group_jobs(jobs: Sequence[JobPlan]) -> list[JobGroup]:
    """Jobs grouped by :func:`cause_key`, groups and jobs in the order the forge listed them."""
    groups: dict[tuple[str, ...], list[JobPlan]] = {}
    for job in jobs:
        groups.setdefault(cause_key(job), []).append(job)
    return [JobGroup(jobs=tuple(members)) for members in groups.values()]


def cause_key(job: JobPlan) -> tuple[str, ...]:
    """Same category, rule and decisive line (numbers and paths normalised): the same cause."""
    diagnosis = job.diagnosis
    decisive = diagnosis.evidence[0].text if diagnosis.evidence else diagnosis.title
    normalised = _NUMBER.sub("#", _PATH.sub("<path>", decisive.strip()))
    return (str(diagnosis.category), diagnosis.rule or "", normalised)


# -- what happened, in one place ------------------------------------------------------------


def job_result(job: JobPlan, outcome: Outcome, context: RunContext) -> tuple[Action, str]:
    """What really happened for one job (the ``action`` output and the JSON report use the
    action) and the words of the table's Action column."""
    explained = Action.COMMENT if outcome.comment_url else Action.NONE
    if job.action == Action.RETRY:
        return _retry_result(outcome.retry, explained)
    if job.action == Action.FIX_PR:
        fix = next((f for f in outcome.fixes if f.fix_id == job.diagnosis.fix), None)
        return _fix_result(fix, explained, context)
    if job.action == Action.NONE:
        return Action.NONE, "nothing (configured)"
    if job.wanted == Action.RETRY:
        return explained, "not re-run (see below)"
    if job.wanted == Action.FIX_PR:
        return explained, f"no fix {context.request_abbr} (see below)"
    return explained, "explained"


def _retry_result(retry: RetryOutcome | None, explained: Action) -> tuple[Action, str]:
    if retry is None:
        return explained, "not re-run"
    if retry.dry_run:
        return Action.NONE, "would re-run (dry run)"
    if retry.done:
        return Action.RETRY, "re-ran"
    if retry.permission:
        return explained, f"re-run refused: needs `{retry.permission}`"
    return explained, "re-run failed (see below)"


def _fix_result(
    fix: FixOutcome | None, explained: Action, context: RunContext
) -> tuple[Action, str]:
    if fix is None:
        return explained, f"no fix {context.request_abbr}"
    if fix.url:
        label = f"#{fix.number}" if fix.number else context.request_abbr
        return Action.FIX_PR, f"opened fix [{label}]({fix.url})"
    if fix.dry_run and fix.summary:
        return Action.NONE, "would open a fix (dry run)"
    if fix.permission:
        return explained, f"fix not opened: needs `{fix.permission}`"
    return explained, "fix not made (see below)"


def what_was_done(
    plan: Plan, outcome: Outcome, context: RunContext, *, errors_elsewhere: bool = False
) -> list[str]:
    """Plain sentences about the actions, for the comment, the summary and the job log; each
    thing said once. ``errors_elsewhere``: the errors follow on stderr (the job log), so they
    are pointed at, not repeated."""
    done = _retry_sentences(outcome.retry, errors_elsewhere)
    for fix in outcome.fixes:
        sentence = _fix_sentence(fix, context, errors_elsewhere)
        if sentence not in done:
            done.append(sentence)
    if not errors_elsewhere:
        done += [problem.message for problem in outcome.problems]
    done += list(plan.notes)
    if not done and plan.jobs:
        done.append("Explained the failure; nothing was changed.")
    return done


def _retry_sentences(retry: RetryOutcome | None, errors_elsewhere: bool) -> list[str]:
    if retry is None:
        return []
    names = ", ".join(f"`{_inline(name)}`" for name in retry.jobs)
    if retry.dry_run:
        return [f"Would re-run {names} (dry run)."]
    if retry.error and errors_elsewhere:
        return [f"Could not re-run {names} (the error follows)."]
    if retry.error:
        return [f"Tried to re-run {names}, but: {retry.error}"]
    return [f"Re-ran {names}."]


def _fix_sentence(fix: FixOutcome, context: RunContext, errors_elsewhere: bool) -> str:
    if fix.url:
        return f"Opened a fix: {fix.url} ({fix.summary})."
    if fix.dry_run and fix.summary:
        return f"Would open a fix: {fix.summary} (dry run)."
    if fix.command:
        return f"Could not make the `{fix.fix_id}` fix here ({fix.error}); run: `{fix.command}`"
    if (fix.permission or fix.forge_refused) and errors_elsewhere:
        return f"No fix {context.request_abbr} opened (the error follows)."
    if fix.permission or fix.forge_refused:
        return f"No fix {context.request_abbr} opened: {fix.error}"
    return f"The `{fix.fix_id}` fix was not made: {fix.error}"


# -- the comment and the summary -------------------------------------------------------------


def comment_markdown(
    context: RunContext,
    plan: Plan,
    outcome: Outcome,
    redactor: Redactor,
    *,
    evidence: int = 6,
    marker: str | None = None,
) -> str:
    """The PR/MR comment: hidden ``marker``, a table of causes, a section per group of jobs,
    what was done. Without ``marker``, the same report for the job summary."""
    plan, outcome = redacted(plan, redactor), redacted(outcome, redactor)
    groups = group_jobs(plan.jobs)
    while True:
        sections = [_group_section(group, outcome, context, evidence) for group in groups]
        text = _assemble(context, plan, outcome, groups, sections, marker)
        if len(text) <= SAFE_LIMIT or evidence == 0:
            break
        evidence = evidence // 2
    kept = len(sections)
    while len(text) > SAFE_LIMIT and kept > 1:
        kept -= 1
        note = f"\n_{len(sections) - kept} more cause(s) left out: the comment size limit._\n"
        text = _assemble(context, plan, outcome, groups, [*sections[:kept], note], marker)
    return redactor.redact(text)[:SAFE_LIMIT]  # redact first: a cut could split a secret


def summary_markdown(context: RunContext, plan: Plan, outcome: Outcome, redactor: Redactor) -> str:
    """The GitHub job summary: the comment without the marker."""
    return comment_markdown(context, plan, outcome, redactor)


def redacted(model: _Model, redactor: Redactor) -> _Model:
    """A copy of ``model`` with every text in it redacted, *before* anything is cut to length
    (a cut can split a secret in two and leave its first half unrecognisable)."""
    return type(model).model_validate(redactor.redact_values(model.model_dump(mode="json")))


def _header(context: RunContext, plan: Plan, outcome: Outcome) -> str:
    run = f"[{_name(context.run_title)}]({context.run_url})" if context.run_url else "this run"
    count = len(plan.jobs)
    if not count and outcome.problems:
        return f"### pipeline-guard could not read the failed jobs of {run}"
    if not count:
        return f"### pipeline-guard: no failed jobs to diagnose in {run}"
    jobs = "job" if count == 1 else "jobs"
    return f"### pipeline-guard: {count} failed {jobs} in {run}"


def _assemble(  # noqa: PLR0917 - the report's pieces, each used once
    context: RunContext,
    plan: Plan,
    outcome: Outcome,
    groups: Sequence[JobGroup],
    sections: Sequence[str],
    marker: str | None,
) -> str:
    head = _header(context, plan, outcome) + "\n"
    if marker:
        head = f"{marker}\n{head}"
    parts = [head, *broken_trunk_group(plan)]
    if groups:
        parts += [_table(groups, outcome, context), "", *sections]
    parts += [_did_section(plan, outcome, context), _footer(plan, bool(marker))]
    return "\n".join(parts)


def _table(groups: Sequence[JobGroup], outcome: Outcome, context: RunContext) -> str:
    rows = ["| Job | Cause | Category | pipeline-guard |", "|---|---|---|---|"]
    for group in groups:
        diagnosis = group.first.diagnosis
        did = _group_words(group, outcome, context).replace("|", "/")
        rows.append(
            f"| {_jobs_cell(group)} | {_name(diagnosis.title)} | `{diagnosis.category}` "
            f"{percent(diagnosis.confidence)} | {did} |"
        )
    return "\n".join(rows)


def _jobs_cell(group: JobGroup) -> str:
    names = [_name(job.job.name) for job in group.jobs]
    if len(names) == 1:
        return names[0]
    return f"{names[0]} and {len(names) - 1} more"


def _group_words(group: JobGroup, outcome: Outcome, context: RunContext) -> str:
    words = dict.fromkeys(job_result(job, outcome, context)[1] for job in group.jobs)
    return "; ".join(words)


def _group_section(group: JobGroup, outcome: Outcome, context: RunContext, evidence: int) -> str:
    first = group.first
    diagnosis = first.diagnosis
    step_name = diagnosis.step or first.job.step
    step = f", step `{_inline(step_name)}`" if step_name else ""
    if len(group.jobs) == 1:
        link = f" ([log]({first.job.url}))" if first.job.url else ""
        head = f"#### {_name(first.job.name)}: {_name(diagnosis.title)}{link}"
    else:
        head = f"#### {_name(diagnosis.title)} ({len(group.jobs)} jobs)"
    lines = [
        head,
        f"`{diagnosis.category}` ({percent(diagnosis.confidence)} sure){step}. {diagnosis.explain}",
    ]
    if len(group.jobs) > 1:
        lines += ["", *_job_list(group)]
    shown = diagnosis.evidence[:evidence]
    if shown:
        lines += ["", evidence_block(shown, MAX_LINE)]
    if diagnosis.tests:
        tests = ", ".join(f"`{_inline(t)}`" for t in diagnosis.tests[:10])
        lines.append(f"\nFailing tests: {tests}")
    lines += history_lines(first)
    lines += ["", f"**What to do:** {diagnosis.advice}"]
    lines += [f"**pipeline-guard:** {_group_words(group, outcome, context)}", ""]
    return "\n".join(lines)


def _job_list(group: JobGroup) -> list[str]:
    """The group's jobs with links to their logs; beyond the first few, folded."""
    links = [_job_link(job) for job in group.jobs]
    shown = "Jobs: " + ", ".join(links[:SHOWN_JOBS])
    rest = links[SHOWN_JOBS:]
    if not rest:
        return [shown]
    return [
        shown,
        "",
        f"<details><summary>{len(rest)} more jobs</summary>",
        "",
        ", ".join(rest),
        "",
        "</details>",
    ]


def _job_link(job: JobPlan) -> str:
    name = f"`{_inline(job.job.name)}`"
    return f"[{name}]({job.job.url})" if job.job.url else name


def _did_section(plan: Plan, outcome: Outcome, context: RunContext) -> str:
    done = what_was_done(plan, outcome, context)
    return "\n".join(["#### What pipeline-guard did", *[f"- {item}" for item in done], ""])


# -- history (issue 14) ----------------------------------------------------------------------


def broken_trunk_group(plan: Plan) -> list[str]:
    """The jobs that fail the same way on the target branch, set apart from the rest."""
    items = []
    for job in plan.jobs:
        trunk = job.history.broken_trunk
        if trunk is None:
            continue
        sha = f"`{trunk.short_sha}`"
        since = f"[{sha}]({trunk.since_url})" if trunk.since_url else sha
        items.append(
            f"> - **{_name(job.job.name)}**: also failing on `{trunk.branch}` since {since}: "
            "probably not caused by this change"
        )
    if not items:
        return []
    head = "> [!NOTE]\n> **Not caused by this change** (the same failure on the target branch; "
    return [head + "not re-run, no fix proposed):", *items, ""]


def history_lines(job: JobPlan) -> list[str]:
    """Flakiness and the baseline, under the job's section."""
    lines = []
    flaky = job.history.flaky
    if flaky is not None:
        again = " Re-run for that reason." if job.action == Action.RETRY else ""
        lines.append(
            f"\n**Known flaky:** failed then passed on retry {flaky.count} times in "
            f"{flaky.days} days.{again}"
        )
    if job.history.baseline:
        lines.append(
            f"\nCompared with the last green run of this job ([log]({job.history.baseline}))."
        )
    return lines


def _footer(plan: Plan, in_comment: bool) -> str:
    source = " diagnosed this from the job logs, inside this CI." if plan.jobs else "."
    edited = " This comment is edited in place on every run." if in_comment else ""
    dry = " Dry run: nothing was changed." if plan.dry_run else ""
    return f"<sub>pipeline-guard {__version__}{source}{edited}{dry}</sub>\n"


def passed_comment(context: RunContext, old: str, marker: str) -> str:
    """Our comment once a later run of its workflow passed: green, the old report folded."""
    body = old.split(marker, 1)[-1].lstrip("\n")
    if body.startswith(PASSED_TAG):  # passed before: keep the folded report, new header
        start = body.find("<details>")
        earlier = body[start:] if start >= 0 else ""
    else:
        earlier = f"<details><summary>The earlier report</summary>\n\n{body}\n</details>\n"
    run = f"[{_name(context.run_title)}]({context.run_url})" if context.run_url else "A later run"
    return "\n".join(
        [
            marker,
            PASSED_TAG,
            "> [!TIP]",
            f"> **{run} passed.** The failure pipeline-guard diagnosed here is gone.",
            "",
            earlier,
        ]
    )


# -- machine-readable ------------------------------------------------------------------------


def outputs(
    plan: Plan, outcome: Outcome, context: RunContext, report_path: str, redactor: Redactor
) -> dict[str, str]:
    """The action's outputs: the primary job's category, confidence and the action that
    really happened for it; the report file."""
    primary = plan.primary
    trunk = "true" if any(job.history.broken_trunk for job in plan.jobs) else "false"
    flaky = "true" if any(job.history.flaky for job in plan.jobs) else "false"
    if primary is None:
        return {
            "category": "",
            "action": "none",
            "confidence": "0",
            "report": report_path,
            "broken-trunk": trunk,
            "flaky": flaky,
        }
    return {
        "category": str(primary.diagnosis.category),
        "action": str(job_result(primary, outcome, context)[0]),
        "confidence": f"{primary.diagnosis.confidence:.2f}",
        "report": redactor.redact(report_path),
        "broken-trunk": trunk,
        "flaky": flaky,
    }


def json_report(context: RunContext, plan: Plan, outcome: Outcome, redactor: Redactor) -> str:
    """The machine-readable report: context (no secrets), every job's diagnosis, what was
    planned and what happened."""
    document: dict[str, Any] = {
        "version": __version__,
        "platform": context.platform,
        "mode": context.mode,
        "repository": context.repository,
        "workflow": context.workflow,
        "run_id": context.run_id,
        "run_attempt": context.run_attempt,
        "pull_request": outcome.change_request,
        "dry_run": plan.dry_run,
        "jobs": [_job_entry(job, outcome, context) for job in plan.jobs],
        "notes": list(plan.notes),
        "done": what_was_done(plan, outcome, context),
        "comment_url": outcome.comment_url,
        "retry": outcome.retry.model_dump(mode="json") if outcome.retry else None,
        "fixes": [fix.model_dump(mode="json") for fix in outcome.fixes],
        "errors": outcome.errors,
        "exit_code": outcome.exit_code,
    }
    return json.dumps(redactor.redact_values(document), indent=2)


def _job_entry(job: JobPlan, outcome: Outcome, context: RunContext) -> dict[str, Any]:
    action, words = job_result(job, outcome, context)
    return {
        "id": job.job.id,
        "name": job.job.name,
        "url": job.job.url,
        "action": action,
        "result": words,
        "planned": job.action,
        "reason": job.reason,
        "diagnosis": job.diagnosis.as_json(),
        "history": job.history.model_dump(mode="json"),
    }


def _inline(text: str) -> str:
    return text.replace("`", "'").replace("\n", " ")[:MAX_LINE]


def _name(text: str) -> str:
    """A name in a heading or table cell: a fork controls job and step names."""
    return escape_inline(_inline(text))

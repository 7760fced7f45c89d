"""The job log of ``pipeline-guard run``: what a maintainer reads in the CI's log viewer.

Not the markdown of the comment (a log viewer shows ``| Job |`` and ``####`` raw), but the
coloured text rendering ``analyze`` prints, one folded section per cause: ``::group::`` on
GitHub, ``section_start``/``section_end`` markers on GitLab (GitLab's job log is its only
report surface on a branch without an MR). On GitHub each cause also becomes one
``::error``/``::warning`` annotation, which shows on the run's summary page and in the PR's
checks tab. One per cause, not per job: GitHub shows at most 10 error annotations per step,
and ten matrix legs with one failure are one thing to fix.

Job names and log lines are the repository's (a fork's, on a pull request): on GitHub every
line we print from them sits between ``::stop-commands::`` and its end token, so a log line
such as ``::add-mask::`` or ``::error::`` is shown, never obeyed.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import replace

from pipeline_guard.categories import Action
from pipeline_guard.cli.render import Style, text_block
from pipeline_guard.context import Platform
from pipeline_guard.guard.report import (
    JobGroup,
    group_jobs,
    job_result,
    redacted,
    what_was_done,
)
from pipeline_guard.guard.run import RunResult
from pipeline_guard.markdown import percent


def job_log(result: RunResult, colour: bool) -> str:
    """The whole job log text, redacted like every other output (piece by piece: the
    ``stop-commands`` token must reach the runner as it was made)."""
    style = Style(colour)
    redact = result.redactor.redact
    # Values first (a line cut or styled before redaction can hide a secret from its pattern),
    # then every piece again.
    result = replace(
        result,
        plan=redacted(result.plan, result.redactor),
        outcome=redacted(result.outcome, result.redactor),
    )
    context, plan = result.context, result.plan
    platform = context.platform
    lines = list(_inert(platform, [redact(style(_headline(result), "1"))]))
    for index, group in enumerate(group_jobs(plan.jobs)):
        body = [redact(line) for line in _body(group, result, style)]
        lines += _folded(platform, f"cause-{index + 1}", redact(_title(group)), body)
    done = what_was_done(plan, result.outcome, context, errors_elsewhere=True)
    if not done and result.outcome.errors:
        done = ["Nothing: the error follows."]
    if done:
        said = [f"  - {redact(item)}" for item in done]
        lines += _inert(platform, [style("What pipeline-guard did:", "1"), *said])
    if platform == Platform.GITHUB:
        lines += [_annotation(group, result, redact) for group in group_jobs(plan.jobs)]
    return "\n".join(lines) + "\n"


def _inert(platform: Platform, lines: list[str]) -> Iterator[str]:
    """On GitHub, lines the runner shows but does not execute as workflow commands."""
    if platform != Platform.GITHUB:
        yield from lines
        return
    token = secrets.token_hex(16)
    yield f"::stop-commands::{token}"
    yield from lines
    yield f"::{token}::"


def _headline(result: RunResult) -> str:
    context = result.context
    count = len(result.plan.jobs)
    where = f"this {context.run_word}"
    if context.run_url:
        where = f"{context.run_title} ({context.run_url})"
    if context.passed and not count:
        return f"pipeline-guard: {where} passed; nothing to diagnose."
    if not count and result.outcome.problems:
        return f"pipeline-guard could not read the failed jobs of {where}."
    if not count:
        return f"pipeline-guard: no failed jobs to diagnose in {where}."
    return f"pipeline-guard: {count} failed job{'s' if count != 1 else ''} in {where}"


def _title(group: JobGroup) -> str:
    diagnosis = group.first.diagnosis
    names = group.first.job.name
    if len(group.jobs) > 1:
        names += f" and {len(group.jobs) - 1} more"
    return f"{names}: {diagnosis.title} [{diagnosis.category}, {percent(diagnosis.confidence)}]"


def _body(group: JobGroup, result: RunResult, style: Style) -> list[str]:
    first = group.first
    lines = text_block(first.diagnosis, style, name=first.job.name).rstrip("\n").splitlines()
    if len(group.jobs) > 1:
        lines.append(f"  {style('jobs:', '1')} " + ", ".join(job.job.name for job in group.jobs))
    words = dict.fromkeys(job_result(job, result.outcome, result.context)[1] for job in group.jobs)
    lines.append(f"  {style('pipeline-guard:', '1')} " + "; ".join(words))
    return lines


def _folded(platform: Platform, name: str, title: str, body: list[str]) -> Iterator[str]:
    """A section the log viewer folds: the title stays visible, the body opens on a click."""
    if platform == Platform.GITHUB:
        yield f"::group::{_one_line(title)}"
        yield from _inert(platform, body)
        yield "::endgroup::"
    elif platform == Platform.GITLAB:
        now = int(time.time())
        yield f"\x1b[0Ksection_start:{now}:{name}[collapsed=true]\r\x1b[0K{_one_line(title)}"
        yield from body
        yield f"\x1b[0Ksection_end:{now}:{name}\r\x1b[0K"
    else:
        yield title
        yield from body
        yield ""


def _annotation(group: JobGroup, result: RunResult, redact: Callable[[str], str]) -> str:
    """``::error title=...::message``: the cause, its decisive line and what to do."""
    first = group.first
    diagnosis = first.diagnosis
    actions = {job_result(job, result.outcome, result.context)[0] for job in group.jobs}
    level = "warning" if actions == {Action.RETRY} else "error"
    names = first.job.name + (f" and {len(group.jobs) - 1} more" if len(group.jobs) > 1 else "")
    title = f"{names}: {diagnosis.title}"
    message = diagnosis.explain
    if diagnosis.evidence:
        decisive = diagnosis.evidence[0]
        message += f"\nline {decisive.line}: {decisive.text[:200]}"
    message += f"\n{diagnosis.advice}"
    return f"::{level} title={_property(redact(title))}::{_data(redact(message))}"


def _one_line(text: str) -> str:
    return re.sub(r"[\r\n]+", " ", text)


def _data(text: str) -> str:
    """Escape a workflow command's message as the runner's toolkit does."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    return re.sub(r"[:,]", lambda m: "%3A" if m.group() == ":" else "%2C", _data(text))

"""Act: carry out a :class:`~pipeline_guard.guard.policy.Plan` through a forge, and record what
happened in an :class:`Outcome`.

Retries and fixes go first, so the comment can say what they did. A failure of one action
(an API error, a missing permission, a fix that does not verify) is recorded and the others
still run: the comment and the summary must go out whatever else broke. Nothing here decides;
a dry run records what would have been done and calls nothing that changes anything.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from pydantic import BaseModel

from pipeline_guard.context import RunContext
from pipeline_guard.errors import FixUnavailable, ForgeError, GuardError
from pipeline_guard.forges.base import Forge
from pipeline_guard.guard.config import RepoConfig
from pipeline_guard.guard.fix_request import prepare_fix
from pipeline_guard.guard.policy import JobPlan, Plan


class FixOutcome(BaseModel):
    """One fix: its PR/MR URL, or why there is none (and the command to run instead)."""

    fix_id: str
    summary: str = ""
    url: str | None = None
    error: str | None = None
    command: str | None = None
    verification: str = ""


class Outcome(BaseModel):
    """What the guard did. ``errors`` are one-line messages, already meant for the user."""

    change_request: int | None = None
    retried: bool = False
    retry_error: str | None = None
    comment_url: str | None = None
    fixes: list[FixOutcome] = []
    errors: list[str] = []
    usage_error: bool = False  # the token is missing or rejected: exit 2, like a config error

    @property
    def problems(self) -> list[str]:
        """Every error of pipeline-guard's own (not the diagnosed failure): exit code 1."""
        retry = (
            [f"Could not re-run the failed jobs: {self.retry_error}"] if self.retry_error else []
        )
        return [*retry, *self.errors]


def act(
    plan: Plan,
    context: RunContext,
    config: RepoConfig,
    forge: Forge | None,
    outcome: Outcome,
    *,
    comment: Callable[[Outcome], str],
    redact: Callable[[str], str],
    env: Mapping[str, str],
    cache_dir: Path,
) -> Outcome:
    """Retry, fix, then comment (``comment`` renders the body from the outcome so far;
    ``redact`` cleans the texts of fix PRs/MRs, which leave the runner too; fixers get the
    allow-listed part of ``env`` and keep their tools under ``cache_dir``)."""
    if plan.retry and not plan.dry_run and forge is not None:
        try:
            forge.retry(plan.retry)
            outcome.retried = True
        except ForgeError as exc:
            outcome.retry_error = str(exc)
    for job in plan.fixes:
        fix = _fix(
            job, context, config, forge, outcome, plan.dry_run, redact, env=env, cache_dir=cache_dir
        )
        outcome.fixes.append(fix)
    if plan.comment and not plan.dry_run and forge is not None:
        _comment(forge, outcome, comment)
    return outcome


def _fix(  # noqa: PLR0917 - the plan's pieces, each used once
    job: JobPlan,
    context: RunContext,
    config: RepoConfig,
    forge: Forge | None,
    outcome: Outcome,
    dry_run: bool,
    redact: Callable[[str], str],
    *,
    env: Mapping[str, str],
    cache_dir: Path,
) -> FixOutcome:
    fix_id = job.diagnosis.fix or ""
    try:
        attempt = prepare_fix(
            job.diagnosis,
            context,
            config,
            log=job.job.log_path,
            env=env,
            cache_dir=cache_dir,
            redact=redact,
        )
    except FixUnavailable as exc:
        return FixOutcome(fix_id=fix_id, error=str(exc), command=exc.command)
    except GuardError as exc:
        return FixOutcome(fix_id=fix_id, error=str(exc))
    result = FixOutcome(
        fix_id=fix_id, summary=attempt.request.title, verification=attempt.verification
    )
    if dry_run or forge is None:
        return result
    try:
        result.url = forge.open_fix(attempt.request)
    except ForgeError as exc:
        result.error = str(exc)
        outcome.errors.append(f"Could not open the `{fix_id}` fix: {exc}")
    return result


def _comment(forge: Forge, outcome: Outcome, comment: Callable[[Outcome], str]) -> None:
    if outcome.change_request is None:
        return
    try:
        outcome.comment_url = forge.upsert_comment(outcome.change_request, comment(outcome))
    except ForgeError as exc:
        outcome.errors.append(f"Could not comment on the pull request: {exc}")

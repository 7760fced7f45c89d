"""Act: carry out a :class:`~pipeline_guard.guard.policy.Plan` through a forge, and return what
happened as an :class:`Outcome`.

Retries and fixes go first, so the comment can say what they did. Each step returns its own
result and the outcome is assembled from them (nothing is filled in by reference), so the
order of what is reported is the order of the plan, every run. A failure of one action (an API
error, a missing permission, a fix that does not verify) is recorded and the others still run:
the comment and the summary must go out whatever else broke. Nothing here decides; a dry run
records what would have been done and calls nothing that changes anything.

"Say once": when the forge refuses the first fix for want of a permission, the other fixes are
not even made (their fixers are not installed or run): they would be refused the same way.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from pipeline_guard.context import RunContext
from pipeline_guard.errors import FixUnavailable, ForgeError, GuardError, PermissionMissing
from pipeline_guard.forges.base import FixRequest, Forge
from pipeline_guard.guard.config import RepoConfig
from pipeline_guard.guard.fix_request import prepare_fix
from pipeline_guard.guard.policy import JobPlan, Plan


class Problem(BaseModel):
    """An error of pipeline-guard's own (not the diagnosed failure), already in user words."""

    model_config = ConfigDict(frozen=True)

    message: str
    exit_code: int = 1

    @classmethod
    def of(cls, error: GuardError, prefix: str = "") -> Problem:
        """The error's message (after ``prefix``) and its exit code (the class carries it)."""
        return cls(message=f"{prefix}{error}", exit_code=error.exit_code)


class RetryOutcome(BaseModel):
    """The re-run of the planned jobs: done, would be done (dry run), or refused and why."""

    model_config = ConfigDict(frozen=True)

    jobs: tuple[str, ...]
    done: bool = False
    dry_run: bool = False
    error: str | None = None
    permission: str | None = None  # the permission the forge said is missing


class FixOutcome(BaseModel):
    """One fix: its PR/MR URL, or why there is none (and the command to run instead)."""

    model_config = ConfigDict(frozen=True)

    fix_id: str
    summary: str = ""
    url: str | None = None
    error: str | None = None
    command: str | None = None
    verification: str = ""
    dry_run: bool = False
    forge_refused: bool = False  # the forge refused it: an error of ours (exit 1), not the fix's
    permission: str | None = None  # the permission the forge said is missing

    @property
    def number(self) -> int | None:
        """The PR/MR number, read from the end of its URL (``.../pull/12``)."""
        found = re.search(r"/(\d+)/?$", self.url or "")
        return int(found.group(1)) if found else None


class Outcome(BaseModel):
    """What the guard did for one run, assembled from each stage's result."""

    model_config = ConfigDict(frozen=True)

    change_request: int | None = None
    retry: RetryOutcome | None = None
    fixes: tuple[FixOutcome, ...] = ()
    comment_url: str | None = None
    problems: tuple[Problem, ...] = ()  # errors not tied to a retry or a fix

    @property
    def errors(self) -> list[str]:
        """Every error of pipeline-guard's own, once each: what stderr and the report list."""
        retry = self.retry
        failed = (
            [f"Could not re-run the failed jobs: {retry.error}"] if retry and retry.error else []
        )
        failed += [
            f"Could not open the `{fix.fix_id}` fix: {fix.error}"
            for fix in self.fixes
            if fix.forge_refused
        ]
        return [*failed, *(problem.message for problem in self.problems)]

    @property
    def exit_code(self) -> int:
        """0 when all went as planned; else the highest code of what failed (2: the token)."""
        codes = [problem.exit_code for problem in self.problems]
        if self.retry is not None and self.retry.error:
            codes.append(1)
        codes += [1 for fix in self.fixes if fix.forge_refused]
        return max(codes, default=0)


def act(
    plan: Plan,
    context: RunContext,
    config: RepoConfig,
    forge: Forge | None,
    *,
    change_request: int | None,
    earlier: Sequence[Problem] = (),
    comment: Callable[[Outcome], str],
    marker: str,
    redact: Callable[[str], str],
    env: Mapping[str, str],
    cache_dir: Path,
) -> Outcome:
    """Retry, fix, then comment. ``comment`` renders the body from the outcome so far;
    ``marker`` finds our earlier comment; ``redact`` cleans the texts of fix PRs/MRs, which
    leave the runner too; ``earlier`` are the problems of the stages before this one; fixers
    get the allow-listed part of ``env`` and keep their tools under ``cache_dir``."""
    outcome = Outcome(
        change_request=change_request,
        retry=_retry(plan, forge),
        fixes=_fixes(plan, context, config, forge, redact, env=env, cache_dir=cache_dir),
        problems=tuple(earlier),
    )
    if not plan.comment or plan.dry_run or forge is None or change_request is None:
        return outcome
    try:
        url = forge.upsert_comment(change_request, comment(outcome), marker)
    except ForgeError as exc:
        problem = Problem.of(exc, f"Could not comment on the {context.request_name}: ")
        return outcome.model_copy(update={"problems": (*outcome.problems, problem)})
    return outcome.model_copy(update={"comment_url": url})


def _retry(plan: Plan, forge: Forge | None) -> RetryOutcome | None:
    if not plan.retry:
        return None
    names = tuple(job.name for job in plan.retry)
    if plan.dry_run:
        return RetryOutcome(jobs=names, dry_run=True)
    if forge is None:
        return RetryOutcome(jobs=names, error="pipeline-guard could not connect to the forge")
    try:
        forge.retry(plan.retry)
    except PermissionMissing as exc:
        return RetryOutcome(jobs=names, error=str(exc), permission=exc.permission)
    except ForgeError as exc:
        return RetryOutcome(jobs=names, error=str(exc))
    return RetryOutcome(jobs=names, done=True)


def _fixes(
    plan: Plan,
    context: RunContext,
    config: RepoConfig,
    forge: Forge | None,
    redact: Callable[[str], str],
    *,
    env: Mapping[str, str],
    cache_dir: Path,
) -> tuple[FixOutcome, ...]:
    results: list[FixOutcome] = []
    refused: FixOutcome | None = None  # a permission is missing: no use making the others
    for job in plan.fixes:
        fix_id = job.diagnosis.fix or ""
        if refused is not None:
            update = {"fix_id": fix_id, "forge_refused": False}  # one error to report, not N
            results.append(refused.model_copy(update=update))
            continue
        result = _fix(
            job, context, config, forge, plan.dry_run, redact, env=env, cache_dir=cache_dir
        )
        if result.permission is not None:
            refused = FixOutcome(fix_id=fix_id, error=result.error, permission=result.permission)
        results.append(result)
    return tuple(results)


def _fix(  # noqa: PLR0917 - the plan's pieces, each used once
    job: JobPlan,
    context: RunContext,
    config: RepoConfig,
    forge: Forge | None,
    dry_run: bool,
    redact: Callable[[str], str],
    *,
    env: Mapping[str, str],
    cache_dir: Path,
) -> FixOutcome:
    """Make the fix (the fixer runs here), then open it unless this is a dry run."""
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
    made = FixOutcome(
        fix_id=fix_id,
        summary=attempt.request.title,
        verification=attempt.verification,
        dry_run=dry_run,
    )
    if dry_run:
        return made
    if forge is None:
        return made.model_copy(update={"error": "pipeline-guard could not connect to the forge"})
    return _open(forge, attempt.request, made)


def _open(forge: Forge, request: FixRequest, made: FixOutcome) -> FixOutcome:
    try:
        url = forge.open_fix(request)
    except PermissionMissing as exc:
        update = {"error": str(exc), "forge_refused": True, "permission": exc.permission}
        return made.model_copy(update=update)
    except ForgeError as exc:
        return made.model_copy(update={"error": str(exc), "forge_refused": True})
    return made.model_copy(update={"url": url})

"""Decide: from diagnoses, the run's context and the repository's config to a :class:`Plan`.

Pure (data in, data out) and forge-blind. The guards that cannot be configured off
(docs/categories.md) are enforced here: no retry beyond the budget or while the run is not
finished, no retry when too many jobs failed at once, no fix for fork PRs; the comment is one per
PR, which the forge keeps by editing in place.

Retry is all or nothing: it happens only when *every* failed job looks transient. When one job
really broke, re-running its neighbours cannot turn the run green, and would only spend an
attempt of the budget.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict

from pipeline_guard.categories import Action, Category, default_action
from pipeline_guard.context import Mode, RunContext
from pipeline_guard.engine.diagnosis import Diagnosis
from pipeline_guard.forges.base import FailedJob
from pipeline_guard.guard.config import RepoConfig

PlannedAction = Literal["retry", "comment", "fix-pr", "none"]


class JobPlan(BaseModel):
    """One failed job: its diagnosis and what to do about it, with the reason in words."""

    model_config = ConfigDict(frozen=True)

    job: FailedJob
    diagnosis: Diagnosis
    action: PlannedAction
    reason: str


class Plan(BaseModel):
    """What the guard will do for this run."""

    model_config = ConfigDict(frozen=True)

    jobs: tuple[JobPlan, ...]
    comment: bool = False
    dry_run: bool = False
    notes: tuple[str, ...] = ()  # why something the user might expect will not happen

    @property
    def retry(self) -> tuple[FailedJob, ...]:
        """The jobs to re-run."""
        return tuple(job.job for job in self.jobs if job.action == "retry")

    @property
    def fixes(self) -> tuple[JobPlan, ...]:
        """The jobs to open a fix for: the first of each fix id (one PR per fix)."""
        first: dict[str, JobPlan] = {}
        for job in self.jobs:
            if job.action == "fix-pr" and job.diagnosis.fix:
                first.setdefault(job.diagnosis.fix, job)
        return tuple(first.values())

    @property
    def primary(self) -> JobPlan | None:
        """The job whose diagnosis speaks for the run: the strongest, surest cause."""
        return max(self.jobs, key=_weight, default=None)


def _weight(job: JobPlan) -> tuple[bool, float]:
    return (job.diagnosis.category != Category.UNKNOWN, job.diagnosis.confidence)


def wanted_action(diagnosis: Diagnosis, config: RepoConfig) -> PlannedAction:
    """The configured action for the diagnosis' category, else the product default."""
    configured = config.actions.get(diagnosis.category)
    if configured is not None:
        return configured
    default = default_action(diagnosis.category, diagnosis.fix)
    return (
        "retry" if default == Action.RETRY else "fix-pr" if default == Action.FIX_PR else "comment"
    )


def decide(
    context: RunContext,
    config: RepoConfig,
    diagnosed: Sequence[tuple[FailedJob, Diagnosis]],
    *,
    has_fixer: frozenset[str] = frozenset(),
) -> Plan:
    """The plan for this run. ``has_fixer`` lists the fix ids a fixer exists for."""
    wanted = [(job, diagnosis, wanted_action(diagnosis, config)) for job, diagnosis in diagnosed]
    retry_ok, retry_note = _may_retry(context, config, wanted)
    notes = [retry_note] if retry_note else []
    plans = []
    for job, diagnosis, action in wanted:
        final, reason = _settle(
            action,
            diagnosis,
            context=context,
            config=config,
            retry_ok=retry_ok,
            retry_note=retry_note,
            has_fixer=has_fixer,
        )
        plans.append(JobPlan(job=job, diagnosis=diagnosis, action=final, reason=reason))
        if action == "fix-pr" and final != "fix-pr" and diagnosis.fix:
            notes.append(f"No fix PR for `{job.name}`: {reason}.")
    comment = config.comment and bool(plans)
    if comment and _read_only_fork_run(context):
        comment = False
        notes.append(
            "No comment: a pull request from a fork gets a read-only token in its own run. "
            "Run pipeline-guard on `workflow_run` to comment on fork pull requests."
        )
    return Plan(
        jobs=tuple(plans),
        comment=comment,
        dry_run=config.dry_run,
        notes=tuple(notes),
    )


def _read_only_fork_run(context: RunContext) -> bool:
    """GitHub gives a fork's own `pull_request` run a read-only token: writing would fail."""
    return context.from_fork and context.mode in (Mode.AFTER_JOB, Mode.IN_JOB)


def _may_retry(
    context: RunContext,
    config: RepoConfig,
    wanted: Sequence[tuple[FailedJob, Diagnosis, PlannedAction]],
) -> tuple[bool, str | None]:
    """Whether the transient jobs get re-run; if not, the reason for the report."""
    retryable = [item for item in wanted if item[2] == "retry"]
    if not retryable:
        return False, None
    if len(retryable) < len(wanted):
        return False, "Not re-run: another job failed for a reason a retry cannot fix."
    if len(wanted) > config.retry.max_failed_jobs:
        return False, (
            f"Not re-run: {len(wanted)} jobs failed at once (limit "
            f"{config.retry.max_failed_jobs}): that looks like an outage or a real break."
        )
    attempt = max([context.run_attempt, *(job.attempt for job, _, _ in wanted)])
    if attempt >= config.retry.max_attempts:
        return False, (
            f"Not re-run: this was attempt {attempt} and the budget is "
            f"{config.retry.max_attempts} attempts (`retry.max-attempts`)."
        )
    if not context.can_retry:
        return False, _why_cannot_retry(context.mode)
    return True, None


def _why_cannot_retry(mode: Mode) -> str:
    if mode == Mode.LOCAL:
        return "Not re-run: no forge to ask (local mode)."
    return (
        "Not re-run: GitHub refuses re-runs while the run is in progress. Run pipeline-guard "
        "from a separate workflow on `workflow_run: completed` to let it retry "
        "(see the README's workflow_run quick start)."
    )


def _settle(
    action: PlannedAction,
    diagnosis: Diagnosis,
    *,
    context: RunContext,
    config: RepoConfig,
    retry_ok: bool,
    retry_note: str | None,
    has_fixer: frozenset[str],
) -> tuple[PlannedAction, str]:
    """The action that will really happen for one job, and why."""
    if action == "retry":
        if retry_ok:
            return "retry", f"{diagnosis.category} failures are usually transient"
        return "comment", retry_note or "retry not possible"
    if action == "fix-pr":
        refusal = _fix_refusal(diagnosis, context, config, has_fixer)
        if refusal:
            return "comment", refusal
        return "fix-pr", f"the `{diagnosis.fix}` fixer knows how to fix this"
    if action == "none":
        return "none", f"`actions.{diagnosis.category}` is `none` in the config"
    return "comment", "explained in the comment"


def _fix_refusal(
    diagnosis: Diagnosis, context: RunContext, config: RepoConfig, has_fixer: frozenset[str]
) -> str | None:
    if not diagnosis.fix or diagnosis.fix not in has_fixer:
        return "no fixer applies to this failure"
    if context.from_fork:
        return "no fix PR for a pull request from a fork (its code is never run with a write token)"
    if not config.fix.enabled:
        return "fix PRs are off (`fix.enabled: false`)"
    if diagnosis.category not in config.fix.categories:
        return f"fix PRs for `{diagnosis.category}` are off (`fix.categories`)"
    return None

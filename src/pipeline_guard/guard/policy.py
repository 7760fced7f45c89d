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

from collections.abc import Mapping, Sequence

from pydantic import BaseModel, ConfigDict

from pipeline_guard.categories import Action, Category, default_action
from pipeline_guard.context import Mode, RunContext
from pipeline_guard.engine.diagnosis import MODEL_RULE, Diagnosis, model_action
from pipeline_guard.forges.base import FailedJob
from pipeline_guard.guard.config import RepoConfig
from pipeline_guard.history.evidence import JobHistory


class JobPlan(BaseModel):
    """One failed job: its diagnosis and what to do about it, with the reason in words."""

    model_config = ConfigDict(frozen=True)

    job: FailedJob
    diagnosis: Diagnosis
    action: Action  # what will be attempted
    wanted: Action  # what the config (or the default) asked for; differs when refused
    reason: str
    history: JobHistory = JobHistory()


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
        return tuple(job.job for job in self.jobs if job.action == Action.RETRY)

    @property
    def fixes(self) -> tuple[JobPlan, ...]:
        """The jobs to open a fix for: the first of each fix id (one PR per fix)."""
        first: dict[str, JobPlan] = {}
        for job in self.jobs:
            if job.action == Action.FIX_PR and job.diagnosis.fix:
                first.setdefault(job.diagnosis.fix, job)
        return tuple(first.values())

    @property
    def primary(self) -> JobPlan | None:
        """The job whose diagnosis speaks for the run: the strongest, surest cause."""
        return max(self.jobs, key=_weight, default=None)


def _weight(job: JobPlan) -> tuple[bool, float]:
    return (job.diagnosis.category != Category.UNKNOWN, job.diagnosis.confidence)


def wanted_action(diagnosis: Diagnosis, config: RepoConfig) -> Action:
    """The configured action for the diagnosis' category, else the product default; a model's
    judgement (no rule matched) is never re-run
    (:func:`~pipeline_guard.engine.diagnosis.model_action`)."""
    configured = config.actions.get(diagnosis.category)
    action = (
        configured if configured is not None else default_action(diagnosis.category, diagnosis.fix)
    )
    if diagnosis.rule == MODEL_RULE and action == Action.RETRY:
        return model_action(diagnosis.category)
    return action


def decide(
    context: RunContext,
    config: RepoConfig,
    diagnosed: Sequence[tuple[FailedJob, Diagnosis]],
    *,
    has_fixer: frozenset[str] = frozenset(),
    checkout_problem: str | None = None,
    history: Mapping[int, JobHistory] | None = None,
) -> Plan:
    """The plan for this run. ``has_fixer`` lists the fix ids a fixer exists for;
    ``checkout_problem`` says why the workspace cannot take a fix (no checkout, another
    commit), found at the edge, so no fixer is installed or run for nothing; ``history``
    (by job id) says which failures are broken trunk or known flaky."""
    past = history or {}
    wanted = [
        (job, diagnosis, history_action(wanted_action(diagnosis, config), past.get(job.id), config))
        for job, diagnosis in diagnosed
    ]
    retry_ok, retry_note = _may_retry(context, config, wanted)
    fix_blocker = _fix_blocker(context, checkout_problem)
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
            fix_blocker=fix_blocker,
        )
        record = past.get(job.id) or JobHistory()
        reason = history_reason(record, final) or reason
        plans.append(
            JobPlan(
                job=job,
                diagnosis=diagnosis,
                action=final,
                wanted=action,
                reason=reason,
                history=record,
            )
        )
        note = f"No fix {context.request_abbr}: {reason}."
        if action == Action.FIX_PR and final != Action.FIX_PR and diagnosis.fix:
            notes.append(note)
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
        notes=tuple(dict.fromkeys(notes)),  # said once, however many jobs it concerns
    )


def _fix_blocker(context: RunContext, checkout_problem: str | None) -> str | None:
    """Why no fix can be made in this run at all, in words that say what would enable it."""
    if context.mode == Mode.LOCAL:
        return (
            "local mode has no forge to open one on; run pipeline-guard in GitHub Actions or "
            "GitLab CI to get fix pull/merge requests"
        )
    return checkout_problem


# -- history (issue 14) ----------------------------------------------------------------------


def history_action(action: Action, record: JobHistory | None, config: RepoConfig) -> Action:
    """Broken trunk: explain only (a re-run or a fix here cannot mend the target branch).
    Known flaky with ``retry.flaky: true``: re-run, within the same budget."""
    if record is None or action == Action.NONE:
        return action
    if record.broken_trunk is not None:
        return Action.COMMENT
    if record.flaky is not None and config.retry.flaky:
        return Action.RETRY
    return action


def history_reason(record: JobHistory, final: Action) -> str | None:
    """The reason history gives for the final action, in the report's words."""
    trunk = record.broken_trunk
    if trunk is not None:
        return (
            f"also failing on `{trunk.branch}` since {trunk.short_sha}: probably not caused "
            "by this change (not re-run, no fix)"
        )
    if record.flaky is not None and final == Action.RETRY:
        return (
            f"known flaky: failed then passed on retry {record.flaky.count} times in "
            f"{record.flaky.days} days (`retry.flaky: true`)"
        )
    return None


def _read_only_fork_run(context: RunContext) -> bool:
    """GitHub gives a fork's own `pull_request` run a read-only token: writing would fail."""
    return context.from_fork and context.mode in (Mode.AFTER_JOB, Mode.IN_JOB)


def _may_retry(
    context: RunContext,
    config: RepoConfig,
    wanted: Sequence[tuple[FailedJob, Diagnosis, Action]],
) -> tuple[bool, str | None]:
    """Whether the transient jobs get re-run; if not, the reason for the report."""
    retryable = [item for item in wanted if item[2] == Action.RETRY]
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
    action: Action,
    diagnosis: Diagnosis,
    *,
    context: RunContext,
    config: RepoConfig,
    retry_ok: bool,
    retry_note: str | None,
    has_fixer: frozenset[str],
    fix_blocker: str | None,
) -> tuple[Action, str]:
    """The action that will really be attempted for one job, and why."""
    if action == Action.RETRY:
        if retry_ok:
            return Action.RETRY, f"{diagnosis.category} failures are usually transient"
        return Action.COMMENT, retry_note or "retry not possible"
    if action == Action.FIX_PR:
        refusal = _fix_refusal(diagnosis, context, config, has_fixer) or fix_blocker
        if refusal:
            return Action.COMMENT, refusal
        return Action.FIX_PR, f"the `{diagnosis.fix}` fixer knows how to fix this"
    if action == Action.NONE:
        return Action.NONE, f"`actions.{diagnosis.category}` is `none` in the config"
    return Action.COMMENT, "explained in the comment"


def _fix_refusal(
    diagnosis: Diagnosis, context: RunContext, config: RepoConfig, has_fixer: frozenset[str]
) -> str | None:
    word = context.request_abbr
    if not diagnosis.fix or diagnosis.fix not in has_fixer:
        return "no fixer applies to this failure"
    if context.from_fork:
        return (
            f"no fix {word} for a {context.request_name} from a fork (its code is never run "
            "with a write token)"
        )
    if not config.fix.enabled:
        return f"fix {word}s are off (`fix.enabled: false`)"
    if diagnosis.category not in config.fix.categories:
        return f"fix {word}s for `{diagnosis.category}` are off (`fix.categories`)"
    return None

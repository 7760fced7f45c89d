"""decide(): the policy is pure, so every guard DESIGN.md promises is tested without a network."""

from __future__ import annotations

import dataclasses

from pipeline_guard.categories import Action, Category
from pipeline_guard.context import Mode, Platform, RunContext
from pipeline_guard.engine.diagnosis import MODEL_RULE, Diagnosis
from pipeline_guard.forges.base import FailedJob
from pipeline_guard.guard.config import RepoConfig
from pipeline_guard.guard.policy import decide

FIXERS = frozenset({"black"})


def _context(mode: Mode = Mode.WORKFLOW_RUN, attempt: int = 1, fork: bool = False) -> RunContext:
    return RunContext(
        platform=Platform.GITHUB, mode=mode, run_attempt=attempt, from_fork=fork, run_id=1
    )


def _job(name: str, category: Category, fix: str | None = None) -> tuple[FailedJob, Diagnosis]:
    diagnosis = Diagnosis(
        source=name,
        category=category,
        confidence=0.9,
        action=Action.COMMENT,
        rule="r",
        title="t",
        explain="e",
        advice="a",
        evidence=[],
        step=None,
        tests=[],
        fix=fix,
    )
    return FailedJob(id=len(name), name=name), diagnosis


def test_transient_failures_are_retried_within_budget() -> None:
    plan = decide(_context(), RepoConfig(), [_job("a", Category.NETWORK)], has_fixer=FIXERS)
    assert [job.name for job in plan.retry] == ["a"]
    assert plan.jobs[0].action == "retry"


def test_last_attempt_of_the_budget_is_not_retried() -> None:
    plan = decide(_context(attempt=2), RepoConfig(), [_job("a", Category.RUNNER)])
    assert plan.retry == ()
    assert plan.jobs[0].action == "comment"
    assert "budget is 2 attempts" in plan.notes[0]


def test_a_bigger_budget_allows_a_third_attempt() -> None:
    config = RepoConfig.model_validate({"retry": {"max-attempts": 3}})
    plan = decide(_context(attempt=2), config, [_job("a", Category.RATE_LIMIT)])
    assert len(plan.retry) == 1


def test_outage_guard_more_failed_jobs_than_the_limit() -> None:
    jobs = [_job(f"j{n}", Category.NETWORK) for n in range(6)]
    plan = decide(_context(), RepoConfig(), jobs)
    assert plan.retry == ()
    assert "6 jobs failed at once" in plan.notes[0]


def test_no_retry_when_one_failure_is_real() -> None:
    plan = decide(
        _context(), RepoConfig(), [_job("a", Category.NETWORK), _job("b", Category.TEST_FAILURE)]
    )
    assert plan.retry == ()
    assert [job.action for job in plan.jobs] == ["comment", "comment"]


def test_no_retry_while_the_run_is_in_progress() -> None:
    plan = decide(_context(Mode.AFTER_JOB), RepoConfig(), [_job("a", Category.NETWORK)])
    assert plan.retry == ()
    assert "workflow_run: completed" in plan.notes[0]


def test_fix_pr_for_a_fixable_failure_but_never_for_a_fork() -> None:
    job = _job("lint", Category.FORMAT, fix="black")
    plan = decide(_context(), RepoConfig(), [job], has_fixer=FIXERS)
    assert [fix.job.name for fix in plan.fixes] == ["lint"]
    forked = decide(_context(fork=True), RepoConfig(), [job], has_fixer=FIXERS)
    assert forked.fixes == ()
    assert "fork" in forked.jobs[0].reason


def test_config_turns_fixes_and_categories_off() -> None:
    job = _job("lint", Category.FORMAT, fix="black")
    off = RepoConfig.model_validate({"fix": {"enabled": False}})
    assert decide(_context(), off, [job], has_fixer=FIXERS).fixes == ()
    no_format = RepoConfig.model_validate({"fix": {"categories": ["lockfile"]}})
    assert decide(_context(), no_format, [job], has_fixer=FIXERS).fixes == ()
    assert decide(_context(), RepoConfig(), [job], has_fixer=frozenset()).fixes == ()


def test_actions_per_category_override_the_default() -> None:
    config = RepoConfig.model_validate({"actions": {"network": "comment", "test-failure": "none"}})
    plan = decide(
        _context(), config, [_job("a", Category.NETWORK), _job("b", Category.TEST_FAILURE)]
    )
    assert [job.action for job in plan.jobs] == ["comment", "none"]
    assert plan.retry == ()


def test_one_fix_per_fix_id() -> None:
    jobs = [_job("lint-1", Category.FORMAT, fix="black"), _job("lint-2", Category.FORMAT, "black")]
    plan = decide(_context(), RepoConfig(), jobs, has_fixer=FIXERS)
    assert len(plan.fixes) == 1


def test_primary_diagnosis_prefers_a_known_cause() -> None:
    unknown = _job("a", Category.UNKNOWN)
    plan = decide(_context(), RepoConfig(), [unknown, _job("b", Category.LINT)])
    assert plan.primary is not None
    assert plan.primary.job.name == "b"


def test_a_forks_own_run_does_not_try_to_comment() -> None:
    plan = decide(_context(Mode.IN_JOB, fork=True), RepoConfig(), [_job("a", Category.LINT)])
    assert plan.comment is False
    assert "read-only token" in plan.notes[-1]
    assert decide(_context(fork=True), RepoConfig(), [_job("a", Category.LINT)]).comment is True


def test_local_mode_plans_no_fix_and_says_once_what_would_enable_it() -> None:
    jobs = [_job("a", Category.FORMAT, fix="black"), _job("b", Category.FORMAT, fix="black")]
    local = RunContext(platform=Platform.LOCAL, mode=Mode.LOCAL)
    plan = decide(local, RepoConfig(), jobs, has_fixer=FIXERS)
    assert plan.fixes == ()
    assert [job.wanted for job in plan.jobs] == [Action.FIX_PR, Action.FIX_PR]
    assert len(plan.notes) == 1
    assert "run pipeline-guard in GitHub Actions or GitLab CI" in plan.notes[0]


def test_a_workspace_that_cannot_take_a_fix_plans_none() -> None:
    job = _job("lint", Category.FORMAT, fix="black")
    problem = "fixes need the failing commit checked out, and the workspace is not a git checkout"
    plan = decide(_context(), RepoConfig(), [job], has_fixer=FIXERS, checkout_problem=problem)
    assert plan.fixes == ()
    assert plan.notes == (f"No fix PR: {problem}.",)


def test_gitlab_words_in_notes() -> None:
    gitlab = RunContext(platform=Platform.GITLAB, mode=Mode.PIPELINE, run_id=1)
    off = RepoConfig.model_validate({"fix": {"enabled": False}})
    plan = decide(gitlab, off, [_job("lint", Category.FORMAT, fix="black")], has_fixer=FIXERS)
    assert plan.notes == ("No fix MR: fix MRs are off (`fix.enabled: false`).",)


def test_a_models_judgement_of_network_is_explained_never_re_run() -> None:
    """Only a rule's specific evidence may re-run a job: the model's guess is commented on."""
    job, diagnosis = _job("a", Category.NETWORK)
    guessed = dataclasses.replace(diagnosis, rule=MODEL_RULE)
    plan = decide(_context(), RepoConfig(), [(job, guessed)], has_fixer=FIXERS)
    assert plan.retry == ()
    assert plan.jobs[0].action == Action.COMMENT
    ruled = decide(_context(), RepoConfig(), [(job, diagnosis)], has_fixer=FIXERS)
    assert ruled.jobs[0].action == Action.RETRY

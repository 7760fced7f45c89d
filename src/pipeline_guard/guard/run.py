"""``pipeline-guard run``: context -> collect -> diagnose -> decide -> act -> report.

One direction, each stage a function whose output is the next one's input: nothing is handed
down to be filled in, so what is reported comes out in the same order every run. The forge is
found through the registry and is the only thing that talks to the outside; diagnosis and
policy never see it. Whatever fails after the diagnosis (API down, token missing, a fix that
does not verify) is recorded, and the report still reaches the summary, the outputs and the
report file (the CLI prints the job log): pipeline-guard never hides the original failure
behind an error of its own.

A run whose event says it passed (``workflow_run`` fires on every completion) lists no jobs and
downloads no log: it only turns an earlier comment of the same workflow green.
"""

from __future__ import annotations

import glob
import tempfile
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from pipeline_guard.cache_dir import cache_dir
from pipeline_guard.categories import Category, default_action
from pipeline_guard.context import Mode, RunContext
from pipeline_guard.engine.analysis import analyze_source
from pipeline_guard.engine.diagnosis import Diagnosis
from pipeline_guard.engine.matcher import Matcher
from pipeline_guard.engine.prediction import Scorer
from pipeline_guard.errors import ForgeError, InputError, UsageError
from pipeline_guard.fixers.all_fixers import fix_ids
from pipeline_guard.fixers.jail import seal_process
from pipeline_guard.forges.all_forges import forge_for
from pipeline_guard.forges.base import FailedJob, Forge, ForgeModule, RunOptions, comment_marker
from pipeline_guard.guard.act import Outcome, Problem, act
from pipeline_guard.guard.config import RepoConfig
from pipeline_guard.guard.fix_request import checkout_problem
from pipeline_guard.guard.policy import Plan, decide
from pipeline_guard.guard.report import (
    comment_markdown,
    json_report,
    outputs,
    passed_comment,
    summary_markdown,
)
from pipeline_guard.redact import Redactor, secrets_from_env

DOWNLOADS = 4  # logs fetched at once: the forge's limits, not our bandwidth, bound this


@dataclass(frozen=True)
class RunResult:
    """What ``run`` hands back to the command, which prints the job log from it."""

    context: RunContext
    plan: Plan
    outcome: Outcome
    redactor: Redactor

    @property
    def exit_code(self) -> int:
        return self.outcome.exit_code


@dataclass(frozen=True)
class Collected:
    """The collect stage's result: the connected forge, the failed jobs with their logs."""

    forge: Forge | None
    jobs: tuple[FailedJob, ...]
    change_request: int | None = None
    problems: tuple[Problem, ...] = ()


def run(
    env: Mapping[str, str],
    options: RunOptions,
    config: RepoConfig,
    matcher: Matcher,
    model: Scorer | None,
    *,
    platform: str | None = None,
    report_path: Path,
    earlier: Sequence[Problem] = (),
) -> RunResult:
    """The whole guard, for one finished (or failing) run. ``earlier``: problems the command
    found before (an invalid config file), reported with the rest."""
    seal_process()  # no process of our user may read our tokens from /proc (fixers' jail)
    module = forge_for(env, platform)
    context = module.read_context(env, options)
    if context.mode == Mode.LOCAL and not context.log_files:
        raise UsageError(
            "nothing to diagnose: outside GitHub Actions and GitLab CI, pass the logs with "
            "--log-file GLOB"
        )
    redactor = _redactor(env, context)
    marker = comment_marker(context.workflow)
    if context.passed and not context.log_files:
        plan = Plan(jobs=(), dry_run=config.dry_run)
        hands_off = config.dry_run or not config.comment
        outcome = _clear_comment(module, context, marker, hands_off)
        outcome = outcome.model_copy(update={"problems": (*earlier, *outcome.problems)})
        return _report(module, env, RunResult(context, plan, outcome, redactor), report_path)
    collected = _collect(module, context, Path(tempfile.mkdtemp(prefix="pg-logs-")))
    diagnosed = [(job, _diagnose(job, matcher, model)) for job in collected.jobs]
    plan = decide(
        context,
        config,
        diagnosed,
        has_fixer=fix_ids(),
        checkout_problem=_checkout_problem(context, diagnosed),
    )
    outcome = act(
        plan,
        context,
        config,
        collected.forge,
        change_request=collected.change_request,
        earlier=(*earlier, *collected.problems),
        comment=lambda done: comment_markdown(context, plan, done, redactor, marker=marker),
        marker=marker,
        redact=redactor.redact,
        env=env,
        cache_dir=_fixer_cache(env),
    )
    return _report(module, env, RunResult(context, plan, outcome, redactor), report_path)


def _fixer_cache(env: Mapping[str, str]) -> Path:
    """Where fixers keep their tools: the one cache directory, else a temporary one ("off")."""
    return cache_dir(env) or Path(tempfile.mkdtemp(prefix="pg-tools-"))


def _redactor(env: Mapping[str, str], context: RunContext) -> Redactor:
    secrets = secrets_from_env(env)
    for token in (context.token, context.fix_token):
        if token is not None:
            secrets.append(token.get_secret_value())
    return Redactor(secrets)


def _checkout_problem(
    context: RunContext, diagnosed: Sequence[tuple[FailedJob, Diagnosis]]
) -> str | None:
    """Asked only when a diagnosis names a fixer: a git call is not free."""
    if not any(diagnosis.fix for _, diagnosis in diagnosed):
        return None
    return checkout_problem(context.workspace, context.head_sha)


def _clear_comment(
    module: ForgeModule, context: RunContext, marker: str, hands_off: bool
) -> Outcome:
    """A passing run: turn our earlier comment for this workflow green, if there is one
    (``hands_off``: a dry run or comments turned off, so only look)."""
    try:
        forge = module.connect(context)
        number = forge.find_change_request()
        if number is None or hands_off:
            return Outcome(change_request=number)
        url = forge.edit_comment(number, marker, partial(passed_comment, context, marker=marker))
    except ForgeError as exc:
        return Outcome(problems=(Problem.of(exc),))
    return Outcome(change_request=number, comment_url=url)


def _collect(module: ForgeModule, context: RunContext, log_dir: Path) -> Collected:
    """The failed jobs with their logs on disk; forge errors are returned, not raised."""
    file_jobs = tuple(jobs_from_files(context.log_files))
    try:
        forge = module.connect(context)
    except ForgeError as exc:
        return Collected(None, file_jobs, problems=(Problem.of(exc),))
    try:
        change_request = forge.find_change_request()
    except ForgeError as exc:
        return Collected(forge, file_jobs, problems=(Problem.of(exc),))
    if file_jobs:
        return Collected(forge, file_jobs, change_request)
    try:
        listed = forge.failed_jobs()
    except ForgeError as exc:
        return Collected(forge, (), change_request, (Problem.of(exc),))
    fetched = _fetch_logs(forge, listed, log_dir)
    jobs = tuple(job for job, _ in fetched)
    problems = tuple(problem for _, problem in fetched if problem is not None)
    return Collected(forge, jobs, change_request, problems)


def jobs_from_files(patterns: Sequence[str]) -> list[FailedJob]:
    """In-job and local mode: each log file (globs allowed) is one job, named by its path. A
    pattern that matches no file is the same usage error whether it is a glob or a path."""
    paths: list[str] = []
    for pattern in patterns:
        if glob.has_magic(pattern):
            matches = sorted(glob.glob(pattern, recursive=True))
        else:
            matches = [pattern] if Path(pattern).exists() else []
        if not matches:
            raise UsageError(f"log-file: {pattern!r} matches no file")
        paths += matches
    return [
        FailedJob(id=index, name=path, log_path=Path(path))
        for index, path in enumerate(dict.fromkeys(paths), start=1)
    ]


def _fetch_logs(
    forge: Forge, jobs: list[FailedJob], log_dir: Path
) -> list[tuple[FailedJob, Problem | None]]:
    """Every job's log, a few at a time, in the forge's order; annotations are appended where
    rules can see them. A log that cannot be fetched costs only its own job's diagnosis."""

    def fetch(job: FailedJob) -> tuple[FailedJob, Problem | None]:
        problem = None
        try:
            path = forge.fetch_log(job, log_dir / f"job-{job.id}.log")
        except ForgeError as exc:
            problem = Problem.of(exc, f"Could not read the log of `{job.name}`: ")
            path = None
        if job.annotations:
            path = path or log_dir / f"job-{job.id}.log"
            with path.open("a", encoding="utf-8") as handle:
                for message in job.annotations:
                    handle.write(f"\n##[error]{message}")
        return job.model_copy(update={"log_path": path}), problem

    with ThreadPoolExecutor(max_workers=DOWNLOADS) as pool:
        return list(pool.map(fetch, jobs))  # map keeps the input order


def _diagnose(job: FailedJob, matcher: Matcher, model: Scorer | None) -> Diagnosis:
    """The job's diagnosis; a job without a readable log still gets an (unknown) diagnosis."""
    if job.log_path is not None:
        try:
            return analyze_source(str(job.log_path), matcher, model)
        except InputError as exc:
            return _no_log(job, str(exc))
    return _no_log(job, "the forge has no log for this job")


def _no_log(job: FailedJob, why: str) -> Diagnosis:
    return Diagnosis(
        source=job.name,
        category=Category.UNKNOWN,
        confidence=0.0,
        action=default_action(Category.UNKNOWN, None),
        rule=None,
        title="No log to read",
        explain=f"pipeline-guard could not read this job's log: {why}.",
        advice="Open the job's page to see what happened.",
        evidence=[],
        step=job.step,
        tests=[],
    )


def _report(
    module: ForgeModule,
    env: Mapping[str, str],
    result: RunResult,
    report_path: Path,
) -> RunResult:
    """The summary, outputs and JSON file, each redacted; a file that cannot be written is one
    more problem, and the result says so."""
    context, plan, redactor = result.context, result.plan, result.redactor
    outcome = result.outcome
    try:
        report_path.write_text(json_report(context, plan, outcome, redactor), encoding="utf-8")
    except OSError as exc:
        problem = Problem(message=f"could not write the report file {report_path}: {exc.strerror}")
        outcome = outcome.model_copy(update={"problems": (*outcome.problems, problem)})
    summary = summary_markdown(context, plan, outcome, redactor)
    module.publish(env, summary, outputs(plan, outcome, context, str(report_path), redactor))
    return RunResult(context, plan, outcome, redactor)

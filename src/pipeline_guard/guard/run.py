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
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline_guard.cache_dir import cache_dir
from pipeline_guard.context import Mode, RunContext
from pipeline_guard.engine.analysis import analyze_source
from pipeline_guard.engine.diagnosis import Diagnosis
from pipeline_guard.engine.matcher import Matcher
from pipeline_guard.engine.prediction import LineScorer, Scorer
from pipeline_guard.engine.signature import signature_of
from pipeline_guard.errors import ConfigError, ForgeError, UsageError
from pipeline_guard.fixers.all_fixers import fix_ids
from pipeline_guard.fixers.jail import seal_process
from pipeline_guard.forges.all_forges import forge_for
from pipeline_guard.forges.base import (
    FailedJob,
    Forge,
    ForgeModule,
    History,
    PastJob,
    RunOptions,
    comment_marker,
)
from pipeline_guard.guard.act import Outcome, Problem, act
from pipeline_guard.guard.analysis_pool import AnalysisPool, Engine, worker_count
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
from pipeline_guard.history import evidence
from pipeline_guard.history.evidence import JobHistory, Limits, Lookup
from pipeline_guard.history.record import FAILED, PASSED, Record
from pipeline_guard.redact import Redactor, secrets_from_env

if TYPE_CHECKING:
    from pipeline_guard.history.store import Store

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
    ranker: LineScorer | None = None,
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
    log_dir = Path(tempfile.mkdtemp(prefix="pg-logs-"))
    collected = _collect(module, context)
    lookup = _lookup(collected.forge, context, config, log_dir)
    engine = Engine(matcher, model, ranker)
    found = _diagnose_all(collected, lookup, context, engine, log_dir)
    diagnosed, baselines, baseline_notes = found.diagnosed, found.baselines, found.notes
    store, store_problems = _open_store(config)
    history, history_notes = _history(lookup, context, diagnosed, store, matcher, model, ranker)
    plan = decide(
        context,
        config,
        diagnosed,
        has_fixer=fix_ids(),
        checkout_problem=_checkout_problem(context, diagnosed),
        history=_with_baselines(history, diagnosed, baselines),
    )
    plan = plan.model_copy(update={"notes": (*plan.notes, *baseline_notes, *history_notes)})
    outcome = act(
        plan,
        context,
        config,
        collected.forge,
        change_request=collected.change_request,
        earlier=(*earlier, *collected.problems, *found.problems, *store_problems),
        comment=lambda done: comment_markdown(context, plan, done, redactor, marker=marker),
        marker=marker,
        redact=redactor.redact,
        env=env,
        cache_dir=_fixer_cache(env),
    )
    recorded = _record(store, context, plan, outcome)
    outcome = outcome.model_copy(update={"problems": (*outcome.problems, *recorded)})
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


def _collect(module: ForgeModule, context: RunContext) -> Collected:
    """The failed jobs (their logs are fetched by :func:`_diagnose_all`, as they are
    analysed); forge errors are returned, not raised."""
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
    return Collected(forge, tuple(listed), change_request)


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
    forge: Forge | None, jobs: Sequence[FailedJob], log_dir: Path
) -> Iterator[tuple[FailedJob, Problem | None]]:
    """Every job's log, a few at a time, in the forge's order, each as soon as it (and those
    before it) arrived; annotations are appended where rules can see them. A log that cannot
    be fetched costs only its own job's diagnosis. Jobs read from files (``forge`` None, or
    a ``log_path`` already set) are not fetched."""

    def fetch(job: FailedJob) -> tuple[FailedJob, Problem | None]:
        if forge is None or job.log_path is not None:
            return job, None
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
        yield from pool.map(fetch, jobs)  # map keeps the input order


# -- history (issue 14): lookups on the forge, the optional store ------------------------------


def _open_store(config: RepoConfig) -> tuple[Store | None, tuple[Problem, ...]]:
    """The store of ``history.url``, migrated; a store that cannot be opened is reported."""
    if not config.history.url:
        return None, ()
    from pipeline_guard.history.store import Store  # noqa: PLC0415 - the optional extra

    try:
        return Store.open(config.history.url), ()
    except ConfigError as exc:
        return None, (Problem.of(exc),)


def _lookup(
    forge: Forge | None, context: RunContext, config: RepoConfig, log_dir: Path
) -> Lookup | None:
    """This run's history reads, when the forge has history and lookups are on."""
    if not isinstance(forge, History) or not config.history.lookups:
        return None
    limits = Limits(window_days=config.history.window_days, flaky_after=config.history.flaky_after)
    return Lookup(forge, log_dir, limits, current_run=context.run_id)


Baseline = tuple[Path | None, PastJob | None]


@dataclass(frozen=True)
class Diagnosed:
    """The diagnose stage's result: each job with its diagnosis, in the forge's order."""

    diagnosed: list[tuple[FailedJob, Diagnosis]]
    baselines: dict[int, Baseline]
    notes: list[str]
    problems: tuple[Problem, ...]
    """Logs that could not be fetched (their jobs are diagnosed ``unknown``)."""


def _diagnose_all(
    collected: Collected,
    lookup: Lookup | None,
    context: RunContext,
    engine: Engine,
    log_dir: Path,
) -> Diagnosed:
    """Each job's diagnosis, its log scanned as soon as it arrives, in a worker process while
    the next logs download (:mod:`.analysis_pool`); with the last green log of the same job as
    the engine's baseline (issue 10): the same branch, else the default branch; at most one
    per job, capped, inside the lookups' budget; none when there is none. A forge error stops
    the baseline lookups, not the diagnoses."""
    branches = [b for b in (context.head_branch, context.default_branch) if b]
    pending: list[tuple[FailedJob, Future[Diagnosis]]] = []
    baselines: dict[int, Baseline] = {}
    notes: list[str] = []
    problems: list[Problem] = []
    with AnalysisPool(engine, worker_count(len(collected.jobs))) as pool:
        for job, problem in _fetch_logs(collected.forge, collected.jobs, log_dir):
            if problem is not None:
                problems.append(problem)
            green = None
            if lookup is not None and job.log_path is not None and not notes:
                try:
                    green = evidence.fetch_baseline(lookup, job, branches)
                except ForgeError as exc:
                    notes.append(f"No baseline logs: {exc}.")
            if green is not None:
                baselines[job.id] = green
            pending.append((job, pool.submit(job, green[0] if green else None)))
        diagnosed = [(job, future.result()) for job, future in pending]
    return Diagnosed(diagnosed, baselines, notes, tuple(problems))


def _with_baselines(
    history: dict[int, JobHistory],
    diagnosed: Sequence[tuple[FailedJob, Diagnosis]],
    baselines: dict[int, Baseline],
) -> dict[int, JobHistory]:
    """Name the green job whose log the engine really compared with (the report says so)."""
    for job, diagnosis in diagnosed:
        green = baselines.get(job.id, (None, None))[1]
        if diagnosis.baseline is not None and green is not None:
            record = history.get(job.id) or JobHistory()
            link = green.url or green.run_url or f"job {green.id}"
            history[job.id] = record.model_copy(update={"baseline": link})
    return history


def _history(  # noqa: PLR0917 - the stage's inputs, each used once
    lookup: Lookup | None,
    context: RunContext,
    diagnosed: Sequence[tuple[FailedJob, Diagnosis]],
    store: Store | None,
    matcher: Matcher,
    model: Scorer | None,
    ranker: LineScorer | None = None,
) -> tuple[dict[int, JobHistory], list[str]]:
    """Broken trunk and flaky evidence per job; a forge error ends the lookups with a note."""
    if lookup is None or not diagnosed:
        return {}, []
    trunk = context.default_branch if context.head_branch != context.default_branch else None
    found: dict[int, JobHistory] = {}
    try:
        if store is not None:
            _read_back_retries(store, lookup.forge, context)
        for job, diagnosis in diagnosed:
            stored = _stored_flips(store, context, job, diagnosis, lookup.since)
            found[job.id] = evidence.job_history(
                lookup,
                job,
                diagnosis,
                trunk=trunk,
                diagnose=lambda path: analyze_source(str(path), matcher, model, ranker=ranker),
                stored_flips=stored,
            )
    except ForgeError as exc:
        return found, [f"History lookups stopped: {exc}."]
    return found, []


def _stored_flips(
    store: Store | None,
    context: RunContext,
    job: FailedJob,
    diagnosis: Diagnosis,
    since: datetime,
) -> int:
    signature = signature_of(diagnosis)
    if store is None or signature is None:
        return 0
    return store.flaky_count(context.repository, job.name, signature.key, since)


RETRY_READ_BACKS = 5  # earlier re-runs whose outcome is read back per guard run


def _read_back_retries(store: Store, forge: History, context: RunContext) -> None:
    """Did the guard's earlier re-runs turn green? Read from the runs' attempts."""
    for row_id, run_id, attempt in store.pending_retries(context.repository, RETRY_READ_BACKS):
        if run_id == context.run_id:
            store.set_outcome(row_id, FAILED)  # we run again: that re-run failed
            continue
        state = forge.run_state(run_id)
        if state is None or state.conclusion is None:
            continue
        if state.attempt > attempt or context.platform == "gitlab":
            store.set_outcome(row_id, PASSED if state.conclusion == "success" else FAILED)


def _key(diagnosis: Diagnosis) -> str | None:
    signature = signature_of(diagnosis)
    return signature.key if signature is not None else None


def _done(action: str, outcome: Outcome) -> str:
    """What was really done: a refused re-run is stored as such, never as a re-run."""
    retried = outcome.retry is not None and outcome.retry.done
    return "retry-refused" if action == "retry" and not retried else str(action)


def _record(
    store: Store | None, context: RunContext, plan: Plan, outcome: Outcome
) -> tuple[Problem, ...]:
    """One row per diagnosed job; a store error is reported, the rest goes on."""
    if store is None or plan.dry_run:
        return ()
    now = datetime.now(UTC)
    records = [
        Record(
            recorded_at=now,
            platform=str(context.platform),
            repository=context.repository,
            run_id=context.run_id,
            run_url=context.run_url,
            job=job.job.name,
            job_url=job.job.url,
            commit=context.head_sha,
            branch=context.head_branch,
            attempt=max(context.run_attempt, job.job.attempt),
            category=str(job.diagnosis.category),
            rule=job.diagnosis.rule,
            signature=_key(job.diagnosis),
            tests=tuple(job.diagnosis.tests),
            action=_done(job.action, outcome),
            broken_trunk=job.history.broken_trunk is not None,
            flaky=job.history.flaky is not None,
            duration=job.job.duration,
        )
        for job in plan.jobs
    ]
    try:
        store.append(records)
    except Exception as exc:  # SQLAlchemy's errors: the store is optional, the report is not
        return (Problem(message=f"could not write to the history store: {type(exc).__name__}"),)
    return ()


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

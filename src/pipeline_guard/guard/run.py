"""``pipeline-guard run``: context -> collect -> diagnose -> decide -> act -> report.

One direction, each stage a function whose output is the next one's input. The forge is
found through the registry and is the only thing that talks to the outside; diagnosis and
policy never see it. Whatever fails after the diagnosis (API down, token missing, a fix that
does not verify) is recorded, and the report still reaches the job log, the summary and the
report file: pipeline-guard never hides the original failure behind an error of its own.
"""

from __future__ import annotations

import glob
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from pipeline_guard.categories import Category, default_action
from pipeline_guard.context import RunContext
from pipeline_guard.engine.analysis import analyze_source
from pipeline_guard.engine.diagnosis import Diagnosis
from pipeline_guard.engine.matcher import Matcher
from pipeline_guard.engine.prediction import Scorer
from pipeline_guard.errors import ForgeError, InputError, TokenMissing, UsageError
from pipeline_guard.fixers.all_fixers import fix_ids
from pipeline_guard.forges.all_forges import forge_for
from pipeline_guard.forges.base import FailedJob, Forge, ForgeModule, RunOptions
from pipeline_guard.guard.act import Outcome, act
from pipeline_guard.guard.config import RepoConfig
from pipeline_guard.guard.policy import Plan, decide
from pipeline_guard.guard.report import comment_markdown, json_report, outputs, summary_markdown
from pipeline_guard.redact import Redactor, secrets_from_env

DOWNLOADS = 4  # logs fetched at once: the forge's limits, not our bandwidth, bound this


@dataclass(frozen=True)
class RunResult:
    """What ``run`` hands back to the command: the plan, what was done, the exit code."""

    plan: Plan
    outcome: Outcome
    exit_code: int


def run(
    env: Mapping[str, str],
    options: RunOptions,
    config: RepoConfig,
    matcher: Matcher,
    model: Scorer | None,
    *,
    platform: str | None = None,
    report_path: Path,
) -> RunResult:
    """The whole guard, for one failed run."""
    module = forge_for(env, platform)
    context = module.read_context(env, options)
    redactor = _redactor(env, context)
    outcome = Outcome()
    forge, jobs = _collect(module, context, outcome, Path(tempfile.mkdtemp(prefix="pg-logs-")))
    diagnosed = [(job, _diagnose(job, matcher, model)) for job in jobs]
    plan = decide(context, config, diagnosed, has_fixer=fix_ids())
    if forge is not None:
        act(
            plan,
            context,
            config,
            forge,
            outcome,
            comment=lambda done: comment_markdown(context, plan, done, redactor),
            redact=redactor.redact,
        )
    _report(module, env, context, plan, outcome, redactor, report_path)
    return RunResult(plan, outcome, exit_code=_exit_code(outcome))


def _exit_code(outcome: Outcome) -> int:
    """2: the token is missing or rejected (configuration); 1: something else failed."""
    if outcome.usage_error:
        return 2
    return 1 if outcome.problems else 0


def _redactor(env: Mapping[str, str], context: RunContext) -> Redactor:
    secrets = secrets_from_env(env)
    for token in (context.token, context.fix_token):
        if token is not None:
            secrets.append(token.get_secret_value())
    return Redactor(secrets)


def _collect(
    module: ForgeModule, context: RunContext, outcome: Outcome, log_dir: Path
) -> tuple[Forge | None, Iterable[FailedJob]]:
    """The failed jobs with their logs on disk; forge errors are recorded, not raised."""
    file_jobs = jobs_from_files(context.log_files)
    try:
        forge = module.connect(context)
    except ForgeError as exc:
        outcome.errors.append(str(exc))
        outcome.usage_error = isinstance(exc, TokenMissing)
        return None, file_jobs
    try:
        outcome.change_request = forge.find_change_request()
        if file_jobs:
            return forge, file_jobs
        return forge, _fetch_logs(forge, forge.failed_jobs(), log_dir, outcome)
    except ForgeError as exc:
        outcome.errors.append(str(exc))
        outcome.usage_error = outcome.usage_error or isinstance(exc, TokenMissing)
        return forge, file_jobs


def jobs_from_files(patterns: Sequence[str]) -> list[FailedJob]:
    """In-job and local mode: each log file (globs allowed) is one job, named by its path."""
    paths: list[str] = []
    for pattern in patterns:
        matches = sorted(glob.glob(pattern, recursive=True)) if glob.has_magic(pattern) else []
        if glob.has_magic(pattern) and not matches:
            raise UsageError(f"log-file: {pattern!r} matches no file")
        paths += matches or [pattern]
    return [
        FailedJob(id=index, name=path, log_path=Path(path))
        for index, path in enumerate(dict.fromkeys(paths), start=1)
    ]


def _fetch_logs(
    forge: Forge, jobs: list[FailedJob], log_dir: Path, outcome: Outcome
) -> Iterator[FailedJob]:
    """Every job's log, a few at a time; annotations are appended where rules can see them.
    A log that cannot be fetched costs only its own job's diagnosis (recorded as an error)."""

    def fetch(job: FailedJob) -> FailedJob:
        try:
            path = forge.fetch_log(job, log_dir / f"job-{job.id}.log")
        except ForgeError as exc:
            outcome.errors.append(f"Could not read the log of `{job.name}`: {exc}")
            path = None
        if job.annotations:
            path = path or log_dir / f"job-{job.id}.log"
            with path.open("a", encoding="utf-8") as handle:
                for message in job.annotations:
                    handle.write(f"\n##[error]{message}")
        return job.model_copy(update={"log_path": path})

    with ThreadPoolExecutor(max_workers=DOWNLOADS) as pool:
        yield from pool.map(fetch, jobs)  # in order, as each is ready: analyses overlap downloads


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


def _report(  # noqa: PLR0917 - the stage's inputs, all used once
    module: ForgeModule,
    env: Mapping[str, str],
    context: RunContext,
    plan: Plan,
    outcome: Outcome,
    redactor: Redactor,
    report_path: Path,
) -> None:
    """Job log, summary, outputs and JSON file; each redacted; a failure here is reported."""
    try:
        report_path.write_text(json_report(context, plan, outcome, redactor), encoding="utf-8")
    except OSError as exc:
        outcome.errors.append(f"could not write the report file {report_path}: {exc.strerror}")
    summary = summary_markdown(context, plan, outcome, redactor)
    print(summary, flush=True)
    for error in outcome.problems:
        print(f"pipeline-guard: error: {redactor.redact(error)}", file=sys.stderr, flush=True)
    module.publish(env, summary, outputs(plan, str(report_path), redactor))

"""The analyses of a run's failed jobs: in worker processes, while the next logs download.

A guard run with many failed jobs spends its time in two places: downloading the logs (the
network, a few at a time) and scanning them (the CPU, and the GIL: the scan is Python around
RE2). Done one after the other, 20 jobs of 5 MB took about 4 s on a 2-core runner; with the
scans in one worker process per core, started as each log arrives, the downloads hide behind
the scans (``benchmarks/bench_workflow_run.py``).

Workers are **forked** once the rule pack is compiled, so they inherit it instead of building
it again (about 0.1 s each), and only while the guard has a single thread: a process forked
while another thread holds a lock can hang on it. So the pool starts before any download
thread, and a run where a forge call was abandoned on its deadline (its thread may still be
running, see :mod:`pipeline_guard.forges.resilience`) analyses in its own process, as does a
run with one job or one core. Either way each job gets the same diagnosis: the same function
runs.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from pipeline_guard.categories import Category, default_action
from pipeline_guard.engine.analysis import analyze_source
from pipeline_guard.engine.diagnosis import Diagnosis
from pipeline_guard.engine.matcher import Matcher
from pipeline_guard.engine.prediction import LineScorer, Scorer
from pipeline_guard.engine.step_tracker import JobStep
from pipeline_guard.errors import InputError
from pipeline_guard.forges.base import FailedJob

MAX_WORKERS = 4
"""Hosted GitHub and GitLab runners have 2-4 cores; more workers would only wait."""


@dataclass(frozen=True)
class Engine:
    """What a diagnosis needs: the compiled rules, and the model pack's two parts."""

    matcher: Matcher
    model: Scorer | None = None
    ranker: LineScorer | None = None

    def diagnose(self, job: FailedJob, baseline: Path | None = None) -> Diagnosis:
        """The job's diagnosis (lines of the ``baseline`` green log discounted); a job without
        a readable log still gets an (unknown) diagnosis.

        The step the forge says failed (GitHub's jobs API) is where the engine looks for the
        cause: a ``continue-on-error`` step also logs a failing exit, and only the API tells
        it from the step that failed the job."""
        if job.log_path is None:
            return no_log(job, "the forge has no log for this job")
        try:
            return analyze_source(
                str(job.log_path),
                self.matcher,
                self.model,
                baseline=str(baseline) if baseline is not None else None,
                ranker=self.ranker,
                job_steps=_failed_step(job),
            )
        except InputError as exc:
            return no_log(job, str(exc))


def _failed_step(job: FailedJob) -> tuple[JobStep, ...]:
    # the forge keeps only the failed step's name; its number is not used to find it
    return (JobStep(job.step, 0, "failure"),) if job.step else ()


def no_log(job: FailedJob, why: str) -> Diagnosis:
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


_INHERITED: Engine | None = None
"""The engine a forked worker inherits from the guard (set just before the fork)."""


def _diagnose_in_worker(job: FailedJob, baseline: Path | None) -> Diagnosis:
    assert _INHERITED is not None, "workers are forked after the engine is set"
    return _INHERITED.diagnose(job, baseline)


def _ready() -> None:
    """A first task, so that every worker is forked before the caller starts any thread."""


def worker_count(jobs: int) -> int:
    """Worker processes for ``jobs`` analyses: one per usable core, none for a single job."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    workers = min(MAX_WORKERS, cores or 1, jobs)
    return workers if workers > 1 else 0


class AnalysisPool:
    """Diagnoses jobs in forked workers (see the module docstring) or, failing that, inline.

    Use as a context manager; :meth:`submit` returns a future either way, so the caller does
    not care which.
    """

    def __init__(self, engine: Engine, workers: int) -> None:
        self.engine = engine
        self._executor: Executor | None = None
        forkable = "fork" in multiprocessing.get_all_start_methods()
        if workers and threading.active_count() == 1 and forkable:
            self._executor = _forked_pool(engine, workers)

    @property
    def parallel(self) -> bool:
        return self._executor is not None

    def submit(self, job: FailedJob, baseline: Path | None = None) -> Future[Diagnosis]:
        if self._executor is not None:
            return self._executor.submit(_diagnose_in_worker, job, baseline)
        done: Future[Diagnosis] = Future()
        try:
            done.set_result(self.engine.diagnose(job, baseline))
        except Exception as exc:  # handed to the caller through the future, as a worker would
            done.set_exception(exc)
        return done

    def __enter__(self) -> AnalysisPool:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=kind is None, cancel_futures=kind is not None)


def _forked_pool(engine: Engine, workers: int) -> Executor:
    global _INHERITED  # noqa: PLW0603 - what fork hands to the workers; set once per pool
    _ = engine.matcher.prefilter  # compiled once, here, and inherited by every worker
    _INHERITED = engine
    executor = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"))
    executor.submit(_ready).result()  # forks every worker now, while we have one thread
    return executor

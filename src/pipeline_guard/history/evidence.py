"""Broken trunk, flaky failures and the last green log, read from the forge's own history.

No server: the forge keeps the runs. For each failed job with a specific
:class:`~pipeline_guard.engine.signature.Signature` (never for a generic one):

- **broken trunk**: the same job in the newest completed runs of the same workflow (GitHub)
  or the newest finished pipelines (GitLab) on the default branch. A log is downloaded only
  when the job name and a failed status already match; the newest failing one is diagnosed,
  and only an equal signature counts. "Since" is the oldest run of the unbroken streak of
  failures of that job (by status: the older logs are not read).
- **flaky**: the same job failed and then passed at the same commit (GitHub: run attempts;
  GitLab: a retried job's next try) within the window; the failed try's log is diagnosed and
  only tries with an equal signature are counted ("failed then passed on retry N times").
- **baseline** (issue 10): the log of the latest successful run of the same job, on the same
  branch, else on the default branch, for the engine to discount what a green run also prints.

Bounded, as the README says: the lists are read once per guard run and cached
(:class:`Lookup`), at most :attr:`Limits.max_logs` history logs of at most
:attr:`Limits.max_log_bytes` each are downloaded, and nothing more is asked once
:attr:`Limits.seconds` are spent. A forge error ends the lookups with a note; the guard goes on.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from pipeline_guard.engine.diagnosis import Diagnosis
from pipeline_guard.engine.signature import Signature, signature_of
from pipeline_guard.errors import ForgeError, InputError
from pipeline_guard.forges.base import FailedJob, History, PastJob

TRUNK_RUNS = 5  # newest runs of the default branch looked at (one list call)
BASELINE_RUNS = 3  # runs per branch searched for a green run of the job
FLAKY_RUNS = 8  # retried runs whose attempts are read (GitHub: one call each)
FLAKY_LOGS = 3  # failed tries diagnosed per job

Diagnose = Callable[[Path], Diagnosis]
Run = tuple[int, str | None, str | None]  # id, URL, head sha


class Limits(BaseModel):
    """The caps of one guard run's history lookups (documented in the README)."""

    model_config = ConfigDict(frozen=True)

    window_days: int = 14
    flaky_after: int = 2  # flips with the same signature that make a job flaky
    max_logs: int = 8  # broken-trunk and flaky logs
    max_baselines: int = 10  # last green logs (one per failed job at most)
    max_log_bytes: int = 16 << 20
    seconds: float = 30.0


class TrunkEvidence(BaseModel):
    """The job fails the same way on the default branch."""

    branch: str
    since_sha: str | None
    since_url: str | None
    failing_runs: int

    @property
    def short_sha(self) -> str:
        return (self.since_sha or "")[:7] or "?"


class FlakyEvidence(BaseModel):
    """The job failed this way and then passed at the same commit, ``count`` times."""

    count: int
    days: int


class JobHistory(BaseModel):
    """What history says about one failed job."""

    signature: str | None = None
    broken_trunk: TrunkEvidence | None = None
    flaky: FlakyEvidence | None = None
    baseline: str | None = None  # the green job whose log was the baseline (its URL)


class Lookup:
    """One guard run's reads of the forge's history: cached, counted and bounded."""

    def __init__(
        self,
        forge: History,
        log_dir: Path,
        limits: Limits,
        now: datetime | None = None,
        current_run: int | None = None,
    ) -> None:
        self.forge = forge
        self.current_run = current_run  # never history of itself
        self.log_dir = log_dir
        self.limits = limits
        self.now = now or datetime.now(UTC)
        self.started = time.monotonic()
        self.logs = 0
        self.baselines = 0
        self._runs: dict[tuple[str, bool], list[Run]] = {}
        self._jobs: dict[int, list[PastJob]] = {}
        self._flips: list[tuple[PastJob, PastJob]] | None = None
        self._logs: dict[int, Path | None] = {}

    @property
    def since(self) -> datetime:
        return self.now - timedelta(days=self.limits.window_days)

    def _check(self) -> None:
        if time.monotonic() - self.started > self.limits.seconds:
            raise ForgeError(f"history lookups stopped after {self.limits.seconds:.0f} s")

    def branch_runs(
        self, branch: str, limit: int = TRUNK_RUNS, *, pushes_only: bool = True
    ) -> list[Run]:
        key = (branch, pushes_only)
        if key not in self._runs:
            self._check()
            runs = self.forge.branch_runs(branch, TRUNK_RUNS, pushes_only=pushes_only)
            self._runs[key] = [run for run in runs if run[0] != self.current_run]
        return self._runs[key][:limit]

    def run_jobs(self, run_id: int) -> list[PastJob]:
        if run_id not in self._jobs:
            self._check()
            self._jobs[run_id] = self.forge.run_jobs(run_id)
        return self._jobs[run_id]

    def flips(self) -> list[tuple[PastJob, PastJob]]:
        if self._flips is None:
            self._check()
            self._flips = self.forge.flips(self.since, FLAKY_RUNS)
        return self._flips

    def past_log(self, job: PastJob, *, baseline: bool = False) -> Path | None:
        """The job's log on disk (once), or None past the cap on history (or baseline) logs."""
        if job.id not in self._logs:
            if baseline and self.baselines >= self.limits.max_baselines:
                return None
            if not baseline and self.logs >= self.limits.max_logs:
                return None
            self._check()
            self.baselines += baseline
            self.logs += not baseline
            dest = self.log_dir / f"history-{job.id}.log"
            self._logs[job.id] = self.forge.fetch_past_log(job, dest, self.limits.max_log_bytes)
        return self._logs[job.id]

    def signature_of_log(self, job: PastJob, diagnose: Diagnose) -> Signature | None:
        log = self.past_log(job)
        if log is None:
            return None
        try:
            return signature_of(diagnose(log))
        except InputError:
            return None


def find_baseline(lookup: Lookup, job: FailedJob, branches: Sequence[str]) -> PastJob | None:
    """The newest green run of a job of this name: on the first branch that has one."""
    for branch in dict.fromkeys(b for b in branches if b):
        for run_id, _, _ in lookup.branch_runs(branch, BASELINE_RUNS, pushes_only=False):
            for past in lookup.run_jobs(run_id):
                if past.name == job.name and past.passed and past.id != job.id:
                    return past
    return None


def fetch_baseline(
    lookup: Lookup, job: FailedJob, branches: Sequence[str]
) -> tuple[Path, PastJob] | None:
    """The log of the newest green run of the job (capped, once per failed job), or None
    when there is none, the cap on history logs is reached or the forge has no log."""
    green = find_baseline(lookup, job, branches)
    if green is None:
        return None
    path = lookup.past_log(green, baseline=True)
    return (path, green) if path is not None else None


def broken_trunk(
    lookup: Lookup, name: str, signature: Signature, branch: str, diagnose: Diagnose
) -> TrunkEvidence | None:
    """Whether ``name`` fails with ``signature`` in the newest run on ``branch``."""
    streak: list[tuple[PastJob, Run]] = []
    for run in lookup.branch_runs(branch):
        past = next((job for job in lookup.run_jobs(run[0]) if job.name == name), None)
        if past is None or not past.failed:
            break
        streak.append((past, run))
    if not streak:
        return None
    seen = lookup.signature_of_log(streak[0][0], diagnose)
    if seen is None or seen.key != signature.key:
        return None
    _, (_, since_url, since_sha) = streak[-1]
    return TrunkEvidence(
        branch=branch, since_sha=since_sha, since_url=since_url, failing_runs=len(streak)
    )


def flaky(
    lookup: Lookup, name: str, signature: Signature, diagnose: Diagnose, stored: int = 0
) -> FlakyEvidence | None:
    """Whether ``name`` failed with ``signature`` and then passed at the same commit often
    enough in the window; ``stored`` is the count the history store has seen."""
    tries = [failed for failed, _ in lookup.flips() if failed.name == name][:FLAKY_LOGS]
    count = sum(
        1
        for failed in tries
        if (seen := lookup.signature_of_log(failed, diagnose)) and seen.key == signature.key
    )
    count = max(count, stored)
    if count < lookup.limits.flaky_after:
        return None
    return FlakyEvidence(count=count, days=lookup.limits.window_days)


def job_history(
    lookup: Lookup,
    job: FailedJob,
    diagnosis: Diagnosis,
    *,
    trunk: str | None,
    diagnose: Diagnose,
    stored_flips: int = 0,
) -> JobHistory:
    """Broken trunk (when ``trunk`` names the target branch) and flaky, for one job."""
    signature = signature_of(diagnosis)
    if signature is None:
        return JobHistory()
    found = broken_trunk(lookup, job.name, signature, trunk, diagnose) if trunk else None
    return JobHistory(
        signature=signature.key,
        broken_trunk=found,
        flaky=None if found else flaky(lookup, job.name, signature, diagnose, stored_flips),
    )

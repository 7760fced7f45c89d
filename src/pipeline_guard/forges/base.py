"""What every forge provides, like pre-commit's ``lang_base``: the protocol and its data.

A forge module (``github.py``, ``gitlab.py``, ``local.py``) offers three functions, listed in
:class:`ForgeModule`: whether it is the platform we run on, the :class:`RunContext` read from
the environment, and a connected :class:`Forge` with the verbs the guard needs. The guard
reaches them only through :data:`pipeline_guard.forges.all_forges.forges`; forges never
decide anything, they do what the plan says and raise :class:`~pipeline_guard.errors.ForgeError`
(with the missing permission named) when they cannot.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from pipeline_guard.context import RunContext

COMMENT_MARKER = "<!-- pipeline-guard:comment -->"  # runs that name no workflow (GitLab)


def comment_marker(workflow: str | None) -> str:
    """The hidden marker of our comment for one watched workflow: one comment per PR per
    workflow, so two workflows failing on one PR each keep their diagnosis visible, and each
    run edits only its own comment (no read-modify-write race between two runs)."""
    if not workflow:
        return COMMENT_MARKER
    safe = re.sub(r"[^\w .()/+-]|-(?=-)", "_", workflow)[:100]  # nothing can close the comment
    return f'<!-- pipeline-guard:comment workflow="{safe}" -->'


class FailedJob(BaseModel):
    """One failed job of the run, as the forge lists it."""

    model_config = ConfigDict(frozen=True)

    id: int
    name: str
    url: str | None = None  # the job's page, for links in the comment
    attempt: int = 1  # which attempt of the run (GitHub) or how many tries so far (GitLab)
    step: str | None = None  # the failed step, when the forge says
    annotations: tuple[str, ...] = ()  # failures shown only as annotations (before any step)
    log_path: Path | None = None  # where the log was saved, once fetched
    duration: float | None = None  # seconds the job ran (job timings), when the forge says


class RunOptions(BaseModel):
    """What the user asked for on the command line or as action/component inputs."""

    model_config = ConfigDict(frozen=True)

    mode: str | None = None
    log_files: tuple[str, ...] = ()
    workspace: Path = Path()


class FileChange(BaseModel):
    """A whole new content for one file of the repository (``None`` deletes it)."""

    model_config = ConfigDict(frozen=True)

    path: str
    content: bytes | None
    executable: bool = False
    created: bool = False  # the file is new (GitLab's commits API wants create, not update)


class FixRequest(BaseModel):
    """A verified fix, ready to become a branch, one commit and a PR/MR."""

    model_config = ConfigDict(frozen=True)

    branch: str
    base_branch: str
    base_sha: str | None = None
    title: str
    body: str
    commit_message: str
    changes: tuple[FileChange, ...]
    draft: bool = False
    labels: tuple[str, ...] = ()
    reviewers: tuple[str, ...] = ()


class Forge(Protocol):
    """A connected forge: the verbs the guard uses, nothing more."""

    # Every failed job of the run/pipeline, except our own, without logs yet.
    def failed_jobs(self) -> list[FailedJob]: ...

    # Save the job's log to `dest`; None when the forge has no log for it (yet).
    def fetch_log(self, job: FailedJob, dest: Path) -> Path | None: ...

    # Re-run these jobs (the run must be finished); raises ForgeError when refused.
    def retry(self, jobs: Sequence[FailedJob]) -> None: ...

    # The number of the PR/MR the run belongs to, also for fork PRs (by head SHA).
    def find_change_request(self) -> int | None: ...

    # Create or edit our one comment (found by `marker`); returns its URL.
    def upsert_comment(self, number: int, body: str, marker: str) -> str: ...

    # Edit our comment (found by `marker`) with `edit(old body)`, if there is one: its URL.
    def edit_comment(self, number: int, marker: str, edit: Callable[[str], str]) -> str | None: ...

    # Open (or update) the fix PR/MR; returns its URL. Finds an earlier one by branch name.
    def open_fix(self, fix: FixRequest) -> str: ...


class PastJob(BaseModel):
    """A job of an earlier run/pipeline, as history lookups see it (no log yet)."""

    model_config = ConfigDict(frozen=True)

    id: int
    name: str
    conclusion: str  # "success", "failure", or the forge's word for anything else
    run_id: int
    attempt: int = 1  # GitHub: the run attempt; GitLab: the try of this job in its pipeline
    sha: str | None = None
    branch: str | None = None
    url: str | None = None
    run_url: str | None = None
    created_at: datetime | None = None
    duration: float | None = None

    @property
    def failed(self) -> bool:
        return self.conclusion == "failure"

    @property
    def passed(self) -> bool:
        return self.conclusion == "success"

    def as_failed_job(self) -> FailedJob:
        """The shape :meth:`Forge.fetch_log` takes."""
        return FailedJob(id=self.id, name=self.name, url=self.url, attempt=self.attempt)


class RunState(BaseModel):
    """Where a run/pipeline stands now: its latest attempt and that attempt's conclusion."""

    model_config = ConfigDict(frozen=True)

    run_id: int
    attempt: int
    conclusion: str | None  # None while it runs


@runtime_checkable
class History(Protocol):
    """The pipeline's own history, read from the forge (no server, no state of ours).

    Every call is bounded: a page or two of runs, the jobs of one run, never a scan of the
    whole history; the caller (:mod:`pipeline_guard.history.lookup`) caps how many it makes.
    """

    # The latest completed runs of this workflow (GitHub) / pipelines (GitLab) on `branch`,
    # newest first, as (run id, run URL, head sha); at most `limit`. `pushes_only`: leave out
    # the runs of pull/merge requests (what the branch itself does, for broken trunk).
    def branch_runs(
        self, branch: str, limit: int, *, pushes_only: bool = True
    ) -> list[tuple[int, str | None, str | None]]: ...

    # The jobs of one run: the latest attempt of each job (GitHub), the newest try (GitLab).
    def run_jobs(self, run_id: int) -> list[PastJob]: ...

    # Jobs that failed and then passed at the same commit since `since` (GitHub: run attempts;
    # GitLab: retried jobs), as (failed try, passing try) pairs, newest first, at most `limit`.
    def flips(self, since: datetime, limit: int) -> list[tuple[PastJob, PastJob]]: ...

    # Where an earlier run stands now (did our re-run turn it green?).
    def run_state(self, run_id: int) -> RunState | None: ...

    # Save at most `max_bytes` of an earlier job's log; None when the forge has none.
    def fetch_past_log(self, job: PastJob, dest: Path, max_bytes: int) -> Path | None: ...


@runtime_checkable
class IssueKeeper(Protocol):
    """A forge that keeps one issue up to date (the digest), found by a hidden marker."""

    # Create the open issue whose body carries `marker`, or edit it in place; its URL.
    def upsert_issue(self, title: str, marker: str, body: str) -> str: ...


class ForgeModule(Protocol):
    """What a forge module provides at module level (see :mod:`.all_forges`)."""

    NAME: str

    # Whether the environment says we run on this platform.
    def detect(self, env: Mapping[str, str]) -> bool: ...

    # The failing run, from the environment and the event payload.
    def read_context(self, env: Mapping[str, str], options: RunOptions) -> RunContext: ...

    # A connected forge for this run.
    def connect(self, context: RunContext) -> Forge: ...

    # Hand the report to the CI system: job summary and step outputs, or the job log.
    def publish(self, env: Mapping[str, str], summary: str, outputs: Mapping[str, str]) -> None: ...

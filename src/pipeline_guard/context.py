"""Where pipeline-guard runs: the :class:`RunContext` every later stage reads.

A forge module (:mod:`pipeline_guard.forges`) builds it from the environment and the event
payload the CI system provides; nothing after this stage reads ``os.environ``. The token is a
``SecretStr`` so that it never shows up in a ``repr``, a log line or a JSON report.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, SecretStr


class Platform(StrEnum):
    GITHUB = "github"
    GITLAB = "gitlab"
    LOCAL = "local"


class Mode(StrEnum):
    """How pipeline-guard was started (docs/architecture.md, "Modes")."""

    WORKFLOW_RUN = "workflow_run"  # GitHub: a separate workflow on `workflow_run: completed`
    AFTER_JOB = "after-job"  # GitHub: a later job of the failing run (`if: failure()`)
    IN_JOB = "in-job"  # GitHub: a step of the failing job, reading the log files it wrote
    PIPELINE = "pipeline"  # GitLab: a `.post` job with `when: on_failure`
    LOCAL = "local"  # any other CI, or a laptop: log files in, report out


class RunContext(BaseModel):
    """The failing run as the forge describes it, plus the options that shape this run."""

    model_config = ConfigDict(frozen=True)

    platform: Platform
    mode: Mode
    repository: str = ""  # "owner/name" on GitHub, the project path on GitLab
    project_id: str | None = None  # GitLab's numeric project id, when known
    api_url: str = ""
    server_url: str = ""
    run_id: int | None = None  # the run (GitHub) or pipeline (GitLab) that failed
    run_attempt: int = 1
    run_url: str | None = None
    event_name: str = ""
    head_sha: str | None = None
    head_branch: str | None = None
    default_branch: str | None = None
    pr_number: int | None = None  # the PR/MR, when the event names it
    from_fork: bool = False
    own_job: str | None = None  # our own job, left out of the failed jobs
    log_files: tuple[str, ...] = ()
    workspace: Path = Path()
    token: SecretStr | None = None
    fix_token: SecretStr | None = None
    job_token: SecretStr | None = None  # GitLab's CI_JOB_TOKEN: read attempts only

    @property
    def can_retry(self) -> bool:
        """Whether the run is finished, so the forge accepts a re-run (docs/architecture.md)."""
        return self.mode in (Mode.WORKFLOW_RUN, Mode.PIPELINE)

"""Any other CI, or a laptop: log files in, report out, no forge to talk to.

``pipeline-guard run --platform local --log-file 'logs/*.log'`` diagnoses the files and writes
the markdown and JSON report; it never retries, comments or opens anything.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from pipeline_guard.context import Mode, Platform, RunContext
from pipeline_guard.errors import ForgeError
from pipeline_guard.forges.base import FailedJob, FixRequest, RunOptions

NAME = "local"


def detect(env: Mapping[str, str]) -> bool:
    """Never detected: local mode is what runs when no forge is, or when asked for."""
    return False


def read_context(env: Mapping[str, str], options: RunOptions) -> RunContext:
    return RunContext(
        platform=Platform.LOCAL,
        mode=Mode.LOCAL,
        log_files=options.log_files,
        workspace=options.workspace,
    )


def publish(env: Mapping[str, str], summary: str, outputs: Mapping[str, str]) -> None:
    """Nothing to publish to: the report is printed and written to the report file."""


def connect(context: RunContext) -> LocalForge:
    return LocalForge()


class LocalForge:
    """A forge with nothing behind it: the jobs are the log files."""

    def failed_jobs(self) -> list[FailedJob]:
        return []

    def fetch_log(self, job: FailedJob, dest: Path) -> Path | None:
        return job.log_path

    def retry(self, jobs: Sequence[FailedJob]) -> None:
        raise ForgeError("local mode cannot re-run jobs")

    def find_change_request(self) -> int | None:
        return None

    def upsert_comment(self, number: int, body: str, marker: str) -> str:
        raise ForgeError("local mode cannot comment")

    def edit_comment(self, number: int, marker: str, edit: Callable[[str], str]) -> str | None:
        return None

    def open_fix(self, fix: FixRequest) -> str:
        raise ForgeError("local mode cannot open pull requests")

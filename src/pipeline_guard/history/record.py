"""One stored diagnosis: the row the guard appends per diagnosed job (pure data).

Kept apart from :mod:`.store` so that the digest and the guard can build and read records
without importing SQLAlchemy.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

# What became of a re-run the guard made: read back from the run's attempts.
PASSED = "passed"  # the re-run turned green
FAILED = "failed"  # the re-run failed again


class Record(BaseModel):
    """A diagnosed job: where, what, what the guard did, and (later) what came of it."""

    model_config = ConfigDict(frozen=True)

    recorded_at: datetime
    platform: str
    repository: str
    workflow: str | None = None
    run_id: int | None = None
    run_url: str | None = None
    job: str
    job_url: str | None = None
    commit: str | None = None
    branch: str | None = None
    attempt: int = 1
    category: str
    rule: str | None = None
    signature: str | None = None
    tests: tuple[str, ...] = ()
    action: str
    outcome: str | None = None
    broken_trunk: bool = False
    flaky: bool = False
    duration: float | None = None  # seconds the failed job ran

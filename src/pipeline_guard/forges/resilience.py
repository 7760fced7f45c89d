"""A total time budget for everything the guard asks of a forge, and polite backoff.

Each call has its own timeout and a few retries (honouring ``Retry-After`` and rate-limit
reset headers); the :class:`Deadline` bounds the sum, so an API that is slow or down cannot
keep the job running for an hour: the guard stops asking and reports what it has.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from pipeline_guard.errors import ForgeError

DEFAULT_BUDGET = 300.0  # seconds for all forge calls of one run
MAX_WAIT = 60.0  # never sleep longer than this for one retry


class Deadline:
    """Seconds left of the run's forge budget (``RunContext.deadline``, which each forge's
    context reader takes from ``PIPELINE_GUARD_DEADLINE``; else the default)."""

    def __init__(self, seconds: float | None = None) -> None:
        budget = seconds if seconds is not None else DEFAULT_BUDGET
        self.expires = time.monotonic() + budget

    @property
    def remaining(self) -> float:
        return max(0.0, self.expires - time.monotonic())

    def cap(self, seconds: float) -> float:
        """``seconds``, or less if the deadline is nearer."""
        return min(seconds, self.remaining)

    def check(self, doing: str) -> None:
        """Raise when the budget is spent, naming what could not be done."""
        if self.remaining <= 0:
            raise ForgeError(f"gave up {doing}: the forge API time budget is spent")


def deadline_from(env: Mapping[str, str]) -> float | None:
    """``PIPELINE_GUARD_DEADLINE`` in seconds, read by each forge's context reader (the edge);
    unset or not a positive number: None (the default budget)."""
    try:
        seconds = float(env.get("PIPELINE_GUARD_DEADLINE") or "nan")
    except ValueError:
        return None
    return seconds if seconds > 0 else None


def retry_wait(status: int, headers: Mapping[str, str], attempt: int) -> float | None:
    """How long to wait before retrying an answer with ``status``; None: do not retry.

    ``Retry-After`` wins, then a rate-limit reset time (GitHub ``x-ratelimit-reset``, GitLab
    ``RateLimit-Reset``, epoch seconds) when the remaining count is 0, else exponential
    backoff for 429 and 5xx.
    """
    lower = {key.lower(): value for key, value in headers.items()}
    retry_after = lower.get("retry-after", "")
    if retry_after.isdigit():
        return min(float(retry_after), MAX_WAIT)
    remaining = lower.get("x-ratelimit-remaining", lower.get("ratelimit-remaining"))
    reset = lower.get("x-ratelimit-reset", lower.get("ratelimit-reset", ""))
    if remaining == "0" and reset.isdigit():
        return min(max(float(reset) - time.time(), 0.0) + 1.0, MAX_WAIT)
    if status == 429 or status >= 500:
        return backoff(attempt)
    return None


def backoff(attempt: int) -> float:
    """Exponential backoff for the ``attempt``-th retry (0-based): 0.5 s, 1 s, 2 s, ..."""
    return min(0.5 * 2.0**attempt, MAX_WAIT)

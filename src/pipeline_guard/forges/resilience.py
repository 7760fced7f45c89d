"""A total time budget for everything the guard asks of a forge, and polite backoff.

Each call has its own timeout and a few retries (honouring ``Retry-After`` and rate-limit
reset headers); the :class:`Deadline` bounds the sum, so an API that is slow or down cannot
keep the job running for an hour: the guard stops asking and reports what it has.

**Every forge call goes through** :meth:`Deadline.run` (``forge.deadline.run("list jobs",
lambda: ...)``, or the forge's own ``_call``, which uses it). Timeouts and capped sleeps alone
cannot bound a call: a read timeout restarts with every byte (a log blob trickling a byte every
5 s never times out), and libraries retry and sleep inside one call (urllib3 inside PyGithub
sleeps for a ``Retry-After: 3600``). ``run`` waits for the call at most until the budget ends,
then raises a :class:`~pipeline_guard.errors.ForgeError` that names the call; the abandoned
call finishes (or not) in a daemon thread that cannot outlive the process, while the guard
writes the diagnosis, summary, report and outputs it already has.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import TypeVar

from pipeline_guard.errors import ForgeError

T = TypeVar("T")

DEFAULT_BUDGET = 300.0  # seconds for all forge calls of one run
MAX_WAIT = 60.0  # never sleep longer than this for one retry


class Deadline:
    """Seconds left of the run's forge budget (``RunContext.deadline``, which each forge's
    context reader takes from ``PIPELINE_GUARD_DEADLINE``; else the default)."""

    def __init__(self, seconds: float | None = None) -> None:
        self.budget = seconds if seconds is not None else DEFAULT_BUDGET
        self.expires = time.monotonic() + self.budget

    @property
    def remaining(self) -> float:
        return max(0.0, self.expires - time.monotonic())

    def cap(self, seconds: float) -> float:
        """``seconds``, or less if the deadline is nearer."""
        return min(seconds, self.remaining)

    def check(self, doing: str) -> None:
        """Raise when the budget is spent, naming what could not be done."""
        if self.remaining <= 0:
            raise ForgeError(
                f"gave up {doing}: the forge API time budget is spent "
                f"({self.budget:g} s, PIPELINE_GUARD_DEADLINE)"
            )

    def run(self, what: str, action: Callable[[], T]) -> T:
        """``action()`` (one forge call, its retries included), given up on when the budget
        ends: then a :class:`ForgeError` says that ``what`` ran out of time. See the module
        docstring for why a thread, and why that is safe."""
        self.check(f"before it could {what}")
        outcome: list[T] = []
        failure: list[BaseException] = []

        def call() -> None:
            try:
                outcome.append(action())
            except BaseException as exc:  # handed to the caller's thread, raised there
                failure.append(exc)

        worker = threading.Thread(target=call, name=f"pipeline-guard: {what}", daemon=True)
        worker.start()
        worker.join(self.remaining)
        if worker.is_alive():
            raise ForgeError(
                f"gave up trying to {what}: the forge API time budget is spent "
                f"({self.budget:g} s, PIPELINE_GUARD_DEADLINE)"
            )
        if failure:
            raise failure[0]
        return outcome[0]

    def allows_wait(self, seconds: float) -> bool:
        """Whether waiting ``seconds`` (a ``Retry-After``) still leaves time for the retry."""
        return seconds < self.remaining


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

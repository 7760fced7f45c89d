"""Stream a (possibly huge) log from a URL to disk, with retries, within the deadline.

Used for GitHub's log blob URLs: they are pre-signed, so the request carries no token, and
the body goes to disk in chunks so a 1 GB log never sits in memory. The deadline is checked as
the bytes arrive (a blob trickling a byte every few seconds never hits a read timeout), every
timeout and every wait is capped by what is left of it, and the caller wraps the whole download
in :meth:`~pipeline_guard.forges.resilience.Deadline.run`.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from pipeline_guard.errors import ForgeError
from pipeline_guard.forges.resilience import Deadline, backoff, retry_wait

ATTEMPTS = 4
CHUNK = 1 << 20


def stream_to_file(
    url: str,
    dest: Path,
    deadline: Deadline,
    headers: dict[str, str] | None = None,
    *,
    max_bytes: int | None = None,
) -> None:
    """Save the body of ``GET url`` to ``dest``; retries 429/5xx and connection errors.
    With ``max_bytes``, stop reading there (history logs: a bounded download, head kept)."""
    for attempt in range(ATTEMPTS):
        deadline.check("downloading a job log")
        wait = _try_once(url, dest, deadline, headers or {}, attempt, max_bytes)
        if wait is None:
            return
        if not deadline.allows_wait(wait):
            raise ForgeError(
                f"the job log download from {_host(url)} asked to wait {wait:.0f} s, more than "
                f"the {deadline.remaining:.0f} s left of the forge API time budget"
            )
        time.sleep(wait)
    raise ForgeError(f"could not download the job log from {_host(url)} after {ATTEMPTS} tries")


def _try_once(  # noqa: PLR0917 - the download's pieces, each used once
    url: str,
    dest: Path,
    deadline: Deadline,
    headers: dict[str, str],
    attempt: int,
    max_bytes: int | None = None,
) -> float | None:
    """None when saved; otherwise how long to wait before the next try."""
    timeout = httpx.Timeout(deadline.cap(30.0), connect=deadline.cap(10.0))
    try:
        with httpx.stream("GET", url, headers=headers, timeout=timeout) as response:
            if response.status_code >= 400:
                wait = retry_wait(response.status_code, dict(response.headers), attempt)
                if wait is None:
                    raise ForgeError(
                        f"the job log download from {_host(url)} answered {response.status_code}"
                    )
                return wait
            with dest.open("wb") as handle:
                written = 0
                for chunk in response.iter_bytes(CHUNK):
                    part = chunk if max_bytes is None else chunk[: max_bytes - written]
                    handle.write(part)
                    written += len(part)
                    if max_bytes is not None and written >= max_bytes:
                        break
                    deadline.check(f"downloading a job log from {_host(url)} (still arriving)")
    except httpx.TransportError:
        return backoff(attempt)
    return None


def _host(url: str) -> str:
    return httpx.URL(url).host or url

"""The CI-health digest: stored diagnoses of the last N days in, a :class:`Digest` out, and its
markdown (one issue per repository, edited in place) or JSON.

Pure and single-pass: the records are counted once into plain dicts, so 5,000 diagnoses are
summarised in milliseconds (the benchmark in ``benchmarks/bench_history.py``). Charts are
mermaid, which GitHub and GitLab both draw in issues: failures per day by category (a line per
category, the five commonest) and the most failing jobs (bars); the tables carry the numbers.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta

from pydantic import BaseModel

from pipeline_guard.history.record import FAILED, PASSED, Record

DIGEST_MARKER = "<!-- pipeline-guard:digest -->"
TOP = 10
CHART_CATEGORIES = 5


class FlakyItem(BaseModel):
    repository: str
    job: str
    tests: tuple[str, ...]
    times: int  # failures flagged flaky, or re-runs that turned green


class TrunkPeriod(BaseModel):
    repository: str
    job: str
    signature: str | None
    first: datetime
    last: datetime
    failures: int


class Digest(BaseModel):
    """The numbers of one digest; the markdown and the JSON are both made from it."""

    repositories: tuple[str, ...]
    since: date
    until: date
    failures: int
    by_category: dict[str, int]
    by_job: dict[str, int]
    per_day: dict[str, dict[str, int]]  # ISO day -> category -> failures
    flaky: list[FlakyItem]
    broken_trunk: list[TrunkPeriod]
    reruns: int
    reruns_green: int
    reruns_red: int
    failed_minutes: float  # runner time of the failed attempts (job timings)


def build_digest(
    records: Iterable[Record], *, since: datetime, until: datetime, repositories: Sequence[str]
) -> Digest:
    """Count the records once; everything the digest shows comes from these counters."""
    by_category: Counter[str] = Counter()
    by_job: Counter[str] = Counter()
    per_day: dict[str, Counter[str]] = defaultdict(Counter)
    flaky: dict[tuple[str, str, tuple[str, ...]], int] = Counter()
    trunk: dict[tuple[str, str, str | None], list[datetime]] = defaultdict(list)
    reruns = green = red = 0
    seconds = 0.0
    total = 0
    seen_repositories: set[str] = set()
    for record in records:
        total += 1
        seen_repositories.add(record.repository)
        job = _job_name(record, len(repositories) != 1)
        by_category[record.category] += 1
        by_job[job] += 1
        per_day[record.recorded_at.date().isoformat()][record.category] += 1
        seconds += record.duration or 0.0
        if record.action == "retry":
            reruns += 1
            green += record.outcome == PASSED
            red += record.outcome == FAILED
        if record.flaky or record.outcome == PASSED:
            flaky[(record.repository, record.job, record.tests)] += 1
        if record.broken_trunk:
            trunk[(record.repository, record.job, record.signature)].append(record.recorded_at)
    return Digest(
        repositories=tuple(repositories) or tuple(sorted(seen_repositories)),
        since=since.date(),
        until=until.date(),
        failures=total,
        by_category=dict(by_category.most_common()),
        by_job=dict(by_job.most_common(TOP)),
        per_day={day: dict(per_day[day]) for day in _days(since.date(), until.date())},
        flaky=[
            FlakyItem(repository=repo, job=job, tests=tests, times=times)
            for (repo, job, tests), times in Counter(flaky).most_common(TOP)
        ],
        broken_trunk=[
            TrunkPeriod(
                repository=repo,
                job=job,
                signature=signature,
                first=min(times),
                last=max(times),
                failures=len(times),
            )
            for (repo, job, signature), times in sorted(trunk.items(), key=lambda i: min(i[1]))
        ],
        reruns=reruns,
        reruns_green=green,
        reruns_red=red,
        failed_minutes=round(seconds / 60.0, 1),
    )


def _job_name(record: Record, qualify: bool) -> str:
    return f"{record.repository}: {record.job}" if qualify else record.job


def _days(first: date, last: date) -> list[str]:
    count = (last - first).days + 1
    return [(first + timedelta(days=n)).isoformat() for n in range(count)]


def digest_json(digest: Digest) -> str:
    return json.dumps(digest.model_dump(mode="json"), indent=2)


def digest_title(digest: Digest) -> str:
    return "CI health: pipeline-guard digest"


def digest_markdown(digest: Digest) -> str:
    """The issue body: hidden marker, headline numbers, charts, tables."""
    days = (digest.until - digest.since).days + 1
    where = ", ".join(f"`{repo}`" for repo in digest.repositories) or "no repository yet"
    lines = [
        DIGEST_MARKER,
        f"## CI health, last {days} days ({digest.since} to {digest.until})",
        "",
        f"{where}: **{digest.failures}** failed jobs diagnosed, "
        f"**{digest.failed_minutes:g}** runner minutes spent on failed attempts, "
        f"**{digest.reruns}** re-runs by pipeline-guard ({digest.reruns_green} turned green, "
        f"{digest.reruns_red} failed again).",
        "",
    ]
    if digest.failures:
        lines += _per_day_chart(digest) + _jobs_chart(digest) + _category_table(digest)
    lines += _flaky_table(digest) + _trunk_table(digest)
    lines.append(
        "<sub>Kept up to date by `pipeline-guard digest`; this issue is edited in place.</sub>"
    )
    return "\n".join(lines) + "\n"


def _per_day_chart(digest: Digest) -> list[str]:
    categories = list(digest.by_category)[:CHART_CATEGORIES]
    days = list(digest.per_day)
    labels = ", ".join(f'"{day[5:]}"' for day in days)
    most = max((sum(v.values()) for v in digest.per_day.values()), default=1) or 1
    chart = [
        "### Failures per day by category",
        "",
        "```mermaid",
        "xychart-beta",
        f'  title "Failures per day ({", ".join(categories)})"',
        f"  x-axis [{labels}]",
        f'  y-axis "failed jobs" 0 --> {most}',
    ]
    for category in categories:
        counts = ", ".join(str(digest.per_day[day].get(category, 0)) for day in days)
        chart.append(f"  line [{counts}]")
    return [*chart, "```", ""]


def _jobs_chart(digest: Digest) -> list[str]:
    jobs = list(digest.by_job)
    labels = ", ".join(json.dumps(job[:40]) for job in jobs)
    counts = ", ".join(str(count) for count in digest.by_job.values())
    return [
        "### Most failing jobs",
        "",
        "```mermaid",
        "xychart-beta horizontal",
        f"  x-axis [{labels}]",
        f'  y-axis "failed jobs" 0 --> {max(digest.by_job.values(), default=1)}',
        f"  bar [{counts}]",
        "```",
        "",
    ]


def _category_table(digest: Digest) -> list[str]:
    rows = [f"| `{category}` | {count} |" for category, count in digest.by_category.items()]
    return ["| Category | Failed jobs |", "|---|---|", *rows, ""]


def _flaky_table(digest: Digest) -> list[str]:
    if not digest.flaky:
        return ["No flaky jobs or tests seen.", ""]
    rows = [
        f"| {_cell(item.job)} | {_cell(', '.join(item.tests[:3]) or '(whole job)')} | "
        f"{item.times} |"
        for item in digest.flaky
    ]
    return ["### Flaky", "", "| Job | Tests | Times |", "|---|---|---|", *rows, ""]


def _trunk_table(digest: Digest) -> list[str]:
    if not digest.broken_trunk:
        return ["No broken-trunk periods on the default branch.", ""]
    rows = [
        f"| {_cell(period.job)} | {period.first:%Y-%m-%d %H:%M} | {period.last:%Y-%m-%d %H:%M} "
        f"| {period.failures} |"
        for period in digest.broken_trunk
    ]
    head = ["### Broken trunk (the same failure on the default branch)", ""]
    return [*head, "| Job | First seen | Last seen | PR failures |", "|---|---|---|---|", *rows, ""]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ").replace("`", "'")[:120]

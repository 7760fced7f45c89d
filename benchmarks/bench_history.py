"""What history costs: lookups against a fake GitHub with 200 runs, and a 5,000-row digest.

1. A pull request's failed test job, against a fake GitHub whose workflow has 200 runs of
   history (default-branch runs, the newest green; PR runs retried at one commit, green on
   the second attempt): the flaky path, the dearer one (broken trunk stops earlier). The
   guard runs as a fresh process twice per round, with `history.lookups: false` and with the
   lookups on; the difference in wall time and in API calls is what history adds
   [issue 14: at most 2 s and 30 API calls].
2. `pipeline-guard digest --format markdown` over a SQLite store of 5,000 diagnoses, as a fresh
   process [under 5 s].

    .venv/bin/python benchmarks/bench_history.py [--runs 3] [--rows 5000]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from bench_analyze import warm_rule_cache  # noqa: E402
from fakes.github_api import FakeGitHub  # noqa: E402
from github_env import HEAD_SHA, REPO_NAME, github_env, run_guard, workflow_run_event  # noqa: E402
from pipeline_guard.history.record import PASSED, Record  # noqa: E402
from pipeline_guard.history.store import Store  # noqa: E402

FAILING = """\
2026-11-20T09:14:02.0000000Z ##[group]Run pytest
2026-11-20T09:14:03.0000000Z E   assert 1 == 2
2026-11-20T09:14:03.0000000Z FAILED tests/test_app.py::test_add - assert 1 == 2
2026-11-20T09:14:03.0000000Z ========================= 1 failed, 2 passed in 0.12s =====
2026-11-20T09:14:03.0000000Z ##[error]Process completed with exit code 1.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rows", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pg-bench-history-") as scratch:
        work = Path(scratch)
        warm_rule_cache(work / "cache")
        rounds = [_lookup_round(work / f"round{n}") for n in range(args.runs)]
        extra = [with_ - without for (without, with_, _) in rounds]
        calls = rounds[0][2]
        print(
            f"history lookups, 200 runs of history: +{statistics.median(extra):.2f} s median "
            f"(rounds: {', '.join(f'{t:+.2f}' for t in extra)}), +{calls} API calls "
            "[targets 2 s, 30 calls]"
        )
        digest = _digest(work / "history.db", args.rows, args.runs)
        print(
            f"digest over {args.rows} stored diagnoses, fresh process: median "
            f"{statistics.median(digest):.2f} s (runs: {', '.join(f'{t:.2f}' for t in digest)}) "
            "[target 5 s]"
        )


def _history(fake: FakeGitHub) -> None:
    now = time.time()
    fake.add_repo(REPO_NAME)
    fake.add_pull(REPO_NAME, 7, head_sha=HEAD_SHA, head_ref="feature")
    fake.add_run(REPO_NAME, 1000, head_sha=HEAD_SHA, head_branch="feature", created=now)
    fake.add_job(REPO_NAME, 1000, job_id=50_000, name="test", log=FAILING)
    for run_id in range(1, 201):
        on_main = run_id % 2 == 0
        retried = not on_main and run_id % 10 == 1
        fake.add_run(
            REPO_NAME,
            run_id,
            head_sha=f"{run_id:040x}",
            head_branch="main" if on_main else f"topic-{run_id}",
            event="push" if on_main else "pull_request",
            attempt=2 if retried else 1,
            created=now - run_id * 1800,
        )
        green = on_main and run_id % 4 == 2  # main's newest run is green: the flaky path
        fake.add_job(
            REPO_NAME,
            run_id,
            job_id=10_000 + run_id,
            name="test",
            attempt=1,
            conclusion="success" if green else "failure",
            log="4 passed\n" if green else FAILING,
        )
        fake.add_job(REPO_NAME, run_id, job_id=20_000 + run_id, name="lint", conclusion="success")
        if retried:
            fake.add_job(
                REPO_NAME,
                run_id,
                job_id=30_000 + run_id,
                name="test",
                attempt=2,
                conclusion="success",
            )


def _lookup_round(work: Path) -> tuple[float, float, int]:
    """(seconds without lookups, seconds with, API calls the lookups added)."""
    results = []
    for lookups in ("false", "true"):
        folder = work / lookups
        folder.mkdir(parents=True)
        (folder / ".pipeline-guard.yml").write_text(f"history:\n  lookups: {lookups}\n")
        with FakeGitHub() as fake:
            _history(fake)
            env = github_env(
                fake, folder, "workflow_run", workflow_run_event(1000, pulls=[7]), run_id=2000
            )
            env["PIPELINE_GUARD_CACHE_DIR"] = os.environ["PIPELINE_GUARD_CACHE_DIR"]
            start = time.perf_counter()
            done = run_guard(env, folder)
            seconds = time.perf_counter() - start
            if done.returncode != 0:
                raise SystemExit(done.stderr)
            api_calls = sum(1 for r in fake.requests if not r.path.startswith("/_blobs/"))
        results.append((seconds, api_calls))
    (without, calls_without), (with_, calls_with) = results
    return without, with_, calls_with - calls_without


def _digest(path: Path, rows: int, runs: int) -> list[float]:
    rng = random.Random(7)
    now = datetime.now(UTC)
    categories = ["network", "test-failure", "lint", "format", "timeout", "unknown"]
    Store.open(str(path)).append(
        [
            Record(
                recorded_at=now - timedelta(minutes=rng.randrange(14 * 24 * 60)),
                platform="github",
                repository=f"octo/repo-{n % 5}",
                job=f"job-{rng.randrange(40)}",
                category=rng.choice(categories),
                action=rng.choice(["retry", "comment", "comment"]),
                outcome=PASSED if rng.random() < 0.3 else None,
                tests=(f"tests/test_{rng.randrange(50)}.py::test_x",),
                flaky=rng.random() < 0.05,
                broken_trunk=rng.random() < 0.03,
                signature=f"{rng.randrange(200):016x}",
                duration=rng.uniform(30, 900),
            )
            for n in range(rows)
        ]
    )
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "pipeline_guard", "digest", "--history-url", str(path)],
            check=True,
            capture_output=True,
        )
        times.append(time.perf_counter() - start)
    return times


if __name__ == "__main__":
    main()

"""Time a `workflow_run` with many failed jobs against the local fake GitHub API.

Target (docs/numbers.md, issue 17): 20 failed jobs x 5 MB logs handled in <= 2 s, end to end: list the jobs
(paginated), read each job's annotations, follow each log's redirect and stream it to disk,
diagnose every log, decide, post the comment. The guard runs as a fresh process, exactly as
the container's entrypoint does; the fake serves over real HTTP on 127.0.0.1.

    .venv/bin/python benchmarks/bench_workflow_run.py [--jobs 20] [--mb 5] [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_analyze import warm_rule_cache  # noqa: E402
from fakes.github_api import FakeGitHub  # noqa: E402
from generate_log import generate  # noqa: E402
from github_env import HEAD_SHA, REPO_NAME, github_env, run_guard, workflow_run_event  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--mb", type=int, default=5)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pg-bench-") as scratch:
        work = Path(scratch)
        warm_rule_cache(work / "cache")
        log = work / "job.log"
        generate(log, args.mb, seed=7)
        data = log.read_bytes()
        times = [_one_run(work / f"run{n}", data, args.jobs) for n in range(args.runs)]
    print(
        f"workflow_run, {args.jobs} failed jobs x {len(data) / 1e6:.1f} MB logs, warm rule "
        f"cache: "
        f"median {statistics.median(times):.2f} s (runs: {', '.join(f'{t:.2f}' for t in times)})"
        " [target 2 s]"
    )


def _one_run(work: Path, log: bytes, jobs: int) -> float:
    work.mkdir()
    with FakeGitHub() as fake:
        fake.add_repo(REPO_NAME)
        fake.add_pull(REPO_NAME, 7, head_sha=HEAD_SHA, head_ref="feature")
        fake.add_run(REPO_NAME, 100, head_sha=HEAD_SHA, head_branch="feature", pull_requests=[7])
        for index in range(jobs):
            fake.add_job(REPO_NAME, 100, job_id=1000 + index, name=f"job-{index}", log=log)
        env = github_env(fake, work, "workflow_run", workflow_run_event(100, pulls=[7]), run_id=200)
        started = time.perf_counter()
        completed = run_guard(env, work)
        elapsed = time.perf_counter() - started
        if completed.returncode != 0:
            sys.exit(f"pipeline-guard run failed ({completed.returncode}):\n{completed.stderr}")
        if len(fake.comments(REPO_NAME, 7)) != 1:
            sys.exit("no comment was posted")
    return elapsed


if __name__ == "__main__":
    main()

"""Time the GitLab component's job on a pipeline with many failed jobs, against the fake GitLab.

DESIGN.md: 20 failed jobs x 5 MB logs must be handled in <= 10 s, end to end: list the
pipeline's jobs (with the retried ones), stream each trace to disk, diagnose every log, decide,
find the MR and write the note. The guard runs as a fresh process with the command line and the
variables of the component's job (``tests/gitlab_env.py``), as the job's script runs it; the
fake serves over real HTTP on 127.0.0.1. The rule cache is warm, as it is in the published image
(built there at image build time); ``--cold-cache`` measures a first run after ``pip install``.

    .venv/bin/python benchmarks/bench_gitlab_pipeline.py [--jobs 20] [--mb 5] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from fakes.gitlab_api import GITLAB_TOKEN, FakeGitLab  # noqa: E402
from generate_log import generate  # noqa: E402
from gitlab_env import (  # noqa: E402
    HEAD_SHA,
    PIPELINE_ID,
    PROJECT_ID,
    PROJECT_PATH,
    gitlab_env,
    run_guard,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--mb", type=int, default=5)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cold-cache", action="store_true", help="no rule cache")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pg-bench-gitlab-") as scratch:
        work = Path(scratch)
        cache = "off" if args.cold_cache else _warm_cache(work / "cache")
        log = work / "job.log"
        generate(log, args.mb, seed=11)
        data = log.read_bytes()
        times = [_one_run(work / f"run{n}", data, args.jobs, cache) for n in range(args.runs)]
    print(
        f"GitLab pipeline, {args.jobs} failed jobs x {len(data) / 1e6:.1f} MB traces, "
        f"{'cold' if args.cold_cache else 'warm'} rule cache: "
        f"median {statistics.median(times):.2f} s (runs: {', '.join(f'{t:.2f}' for t in times)})"
        " [target 10 s]"
    )


def _warm_cache(cache: Path) -> str:
    """A rule cache filled the way the image's build fills it (``pipeline-guard rules list``)."""
    env = {**os.environ, "PIPELINE_GUARD_CACHE_DIR": str(cache)}
    command = [sys.executable, "-m", "pipeline_guard", "rules", "list"]
    subprocess.run(command, env=env, capture_output=True, check=True)
    return str(cache)


def _one_run(work: Path, trace: bytes, jobs: int, cache: str) -> float:
    work.mkdir()
    with FakeGitLab({GITLAB_TOKEN: {"api"}}, usernames={GITLAB_TOKEN: "guard-bot"}) as fake:
        fake.add_project(PROJECT_ID, PROJECT_PATH, files={"README.md": "# shop\n"})
        fake.add_branch(PROJECT_ID, "feature")
        fake.add_merge_request(PROJECT_ID, 3, source_branch="feature", sha=HEAD_SHA)
        fake.add_pipeline(PROJECT_ID, PIPELINE_ID, ref="feature", sha=HEAD_SHA)
        for index in range(jobs):
            fake.add_job(
                PROJECT_ID,
                PIPELINE_ID,
                job_id=1000 + index,
                name=f"test {index + 1}/{jobs}",
                trace=trace,
            )
        fake.add_job(
            PROJECT_ID,
            PIPELINE_ID,
            job_id=5000,
            name="pipeline-guard",
            stage=".post",
            status="running",
        )
        env = gitlab_env(fake, work, mr_iid=3) | {"PIPELINE_GUARD_CACHE_DIR": cache}
        started = time.perf_counter()
        result = run_guard(env, work)
        elapsed = time.perf_counter() - started
        if result.returncode != 0:
            sys.exit(f"pipeline-guard run failed ({result.returncode}):\n{result.stderr}")
        if len(fake.notes(PROJECT_ID, 3)) != 1:
            sys.exit("no note was written")
        if result.report is None or len(result.report["jobs"]) != jobs:
            sys.exit(f"the report does not list the {jobs} jobs")
    return elapsed


if __name__ == "__main__":
    main()

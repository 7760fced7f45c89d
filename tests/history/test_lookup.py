"""History lookups through the real forge adapters against the fakes: what is asked, how
often, and what is downloaded (the caps the README documents)."""

from __future__ import annotations

import time
from pathlib import Path

from pydantic import SecretStr

from fakes.github_api import FakeGitHub
from fakes.gitlab_api import FakeGitLab
from github_env import HEAD_SHA, REPO_NAME, TOKEN
from gitlab_env import PROJECT_ID, PROJECT_PATH
from pipeline_guard.context import Mode, Platform, RunContext
from pipeline_guard.forges.base import FailedJob
from pipeline_guard.forges.github import GitHubForge
from pipeline_guard.forges.gitlab import GitLabForge
from pipeline_guard.history.evidence import Limits, Lookup, fetch_baseline


def github(fake: FakeGitHub) -> GitHubForge:
    context = RunContext(
        platform=Platform.GITHUB,
        mode=Mode.WORKFLOW_RUN,
        repository=REPO_NAME,
        api_url=fake.url,
        run_id=100,
        head_sha=HEAD_SHA,
        head_branch="feature",
        default_branch="main",
        token=SecretStr(TOKEN),
    )
    return GitHubForge(context)


def test_github_baseline_is_the_newest_green_job_on_the_branch_else_main(
    fake_github: FakeGitHub, tmp_path: Path
) -> None:
    fake_github.add_repo(REPO_NAME)
    now = time.time()
    fake_github.add_run(REPO_NAME, 100, head_sha=HEAD_SHA, head_branch="feature", created=now)
    fake_github.add_job(REPO_NAME, 100, job_id=500, name="test", log="boom\n")
    for run_id, branch, conclusion, age in (
        (91, "main", "success", 100),
        (92, "main", "failure", 50),
        (93, "other", "success", 10),
    ):
        fake_github.add_run(
            REPO_NAME,
            run_id,
            head_sha="d" * 40,
            head_branch=branch,
            event="push",
            conclusion=conclusion,
            created=now - age,
        )
        fake_github.add_job(
            REPO_NAME,
            run_id,
            job_id=run_id * 10,
            name="test",
            conclusion=conclusion,
            log=f"green log of {run_id}\n" + "x" * 5000,
        )
    lookup = Lookup(github(fake_github), tmp_path, Limits(max_log_bytes=1000))

    found = fetch_baseline(lookup, FailedJob(id=500, name="test"), ["feature", "main"])

    assert found is not None
    path, green = found
    assert green.id == 910  # feature has no run of its own; main's newest green one
    assert path.read_text().startswith("green log of 91")
    assert path.stat().st_size < 5000  # the size cap stopped the download
    assert fetch_baseline(lookup, FailedJob(id=501, name="lint"), ["feature", "main"]) is None


def test_github_history_of_200_runs_costs_a_bounded_number_of_calls(
    fake_github: FakeGitHub, tmp_path: Path
) -> None:
    fake_github.add_repo(REPO_NAME)
    now = time.time()
    for run_id in range(1, 201):
        fake_github.add_run(
            REPO_NAME,
            run_id,
            head_sha=f"{run_id:040x}",
            head_branch=f"b{run_id}",
            attempt=2 if run_id % 5 == 0 else 1,
            created=now - run_id * 600,
        )
        fake_github.add_job(REPO_NAME, run_id, job_id=10_000 + run_id, name="test", attempt=1)
    fake_github.add_run(REPO_NAME, 1000, head_sha=HEAD_SHA, head_branch="feature", created=now)
    lookup = Lookup(github(fake_github), tmp_path, Limits())
    before = len(fake_github.requests)

    flips = lookup.flips()
    lookup.flips()  # cached

    calls = len(fake_github.requests) - before
    assert calls <= 1 + 2 + 8  # the run (workflow id), two pages of runs, 8 retried runs
    assert flips == []  # the retried runs' jobs failed on both attempts


def test_gitlab_flips_come_from_retried_jobs(fake_gitlab: FakeGitLab, tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta  # noqa: PLC0415

    fake_gitlab.add_project(PROJECT_ID, PROJECT_PATH)
    fake_gitlab.add_pipeline(
        PROJECT_ID, 50, ref="x", sha="e" * 40, created_at=datetime.now(UTC) - timedelta(days=1)
    )
    fake_gitlab.add_job(PROJECT_ID, 50, job_id=1, name="test", retried=True)
    fake_gitlab.add_job(PROJECT_ID, 50, job_id=2, name="test", status="success")
    fake_gitlab.add_job(PROJECT_ID, 50, job_id=3, name="lint")
    context = RunContext(
        platform=Platform.GITLAB,
        mode=Mode.PIPELINE,
        repository=PROJECT_PATH,
        project_id=str(PROJECT_ID),
        api_url=f"{fake_gitlab.url}/api/v4",
        server_url=fake_gitlab.url,
        run_id=60,
        token=SecretStr("glpat-test"),
    )
    lookup = Lookup(GitLabForge(context), tmp_path, Limits())

    [(failed, passed)] = lookup.flips()

    assert (failed.id, passed.id) == (1, 2)
    assert (failed.attempt, passed.attempt) == (1, 2)
    assert failed.sha == "e" * 40

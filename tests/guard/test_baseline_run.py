"""Issue 10, the `run` side: the guard fetches the last green log of the same job and the
engine never takes a line found there as the evidence. Both forges, real subprocesses against
the fakes (contract-checked)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from test_run_gitlab import pipeline

from fakes.github_api import FakeGitHub
from fakes.gitlab_api import FakeGitLab
from fakes.gitlab_contract import check_requests
from github_env import HEAD_SHA, REPO_NAME, github_env, run_guard, workflow_run_event
from gitlab_env import PROJECT_ID, gitlab_env
from gitlab_env import run_guard as run_gitlab_guard

FAMILIAR = "error: could not lock config file /home/runner/.gitconfig: File exists"
FAILED = f"""\
2026-11-20T09:14:01.0000000Z ##[group]Run ./ci.sh
2026-11-20T09:14:02.0000000Z Starting checks
2026-11-20T09:14:02.0000000Z {FAMILIAR}
2026-11-20T09:14:03.0000000Z Checks finished badly
2026-11-20T09:14:03.0000000Z Error: the release notes are missing a section for 2.0
2026-11-20T09:14:03.0000000Z ##[error]Process completed with exit code 1.
"""
GREEN = f"""\
2026-11-19T08:00:01.0000000Z ##[group]Run ./ci.sh
2026-11-19T08:00:02.0000000Z Starting checks
2026-11-19T08:00:02.0000000Z {FAMILIAR}
2026-11-19T08:00:03.0000000Z Checks finished
"""


def evidence(report: dict[str, object] | None) -> list[str]:
    assert report is not None
    jobs = report["jobs"]
    assert isinstance(jobs, list)
    return [line["text"] for line in jobs[0]["diagnosis"]["evidence"]]


def test_github_a_line_of_the_last_green_run_is_never_the_evidence(
    fake_github: FakeGitHub, tmp_path: Path
) -> None:
    now = time.time()
    fake_github.add_repo(REPO_NAME)
    fake_github.add_pull(REPO_NAME, 7, head_sha=HEAD_SHA, head_ref="feature")
    fake_github.add_run(REPO_NAME, 100, head_sha=HEAD_SHA, head_branch="feature", created=now)
    fake_github.add_job(REPO_NAME, 100, job_id=500, name="checks", log=FAILED)
    fake_github.add_run(
        REPO_NAME,
        99,
        head_sha="9" * 40,
        head_branch="feature",
        event="pull_request",
        conclusion="success",
        created=now - 600,
    )
    fake_github.add_job(REPO_NAME, 99, job_id=499, name="checks", conclusion="success", log=GREEN)
    env = github_env(fake_github, tmp_path, "workflow_run", workflow_run_event(100, pulls=[7]))

    result = run_guard(env, tmp_path)

    assert result.returncode == 0, result.stderr
    shown = evidence(result.report)
    assert shown
    assert FAMILIAR not in shown
    assert result.report is not None
    assert result.report["jobs"][0]["history"]["baseline"].endswith("/job/499")
    assert "Compared with the last green run" in fake_github.comments(REPO_NAME, 7)[0].body


def test_github_without_a_green_run_there_is_no_baseline(
    fake_github: FakeGitHub, tmp_path: Path
) -> None:
    fake_github.add_repo(REPO_NAME)
    fake_github.add_pull(REPO_NAME, 7, head_sha=HEAD_SHA, head_ref="feature")
    fake_github.add_run(REPO_NAME, 100, head_sha=HEAD_SHA, head_branch="feature")
    fake_github.add_job(REPO_NAME, 100, job_id=500, name="checks", log=FAILED)
    env = github_env(fake_github, tmp_path, "workflow_run", workflow_run_event(100, pulls=[7]))

    result = run_guard(env, tmp_path)

    assert result.returncode == 0, result.stderr
    assert FAMILIAR in evidence(result.report)
    assert result.report is not None
    assert result.report["jobs"][0]["history"]["baseline"] is None
    assert "Compared with the last green run" not in fake_github.comments(REPO_NAME, 7)[0].body


def test_gitlab_a_line_of_the_last_green_pipeline_is_never_the_evidence(
    fake_gitlab: FakeGitLab, tmp_path: Path
) -> None:
    pipeline(fake_gitlab, {"checks": FAILED})
    fake_gitlab.add_pipeline(
        PROJECT_ID,
        4000,
        ref="feature",
        sha="9" * 40,
        source="push",
        status="success",
        created_at=datetime.now(UTC) - timedelta(hours=1),
    )
    fake_gitlab.add_job(PROJECT_ID, 4000, job_id=3999, name="checks", status="success", trace=GREEN)

    result = run_gitlab_guard(gitlab_env(fake_gitlab, tmp_path, mr_iid=3), tmp_path)

    assert result.returncode == 0, result.log
    shown = evidence(result.report)
    assert shown
    assert FAMILIAR not in shown
    assert result.report is not None
    assert result.report["jobs"][0]["history"]["baseline"].endswith("/-/jobs/3999")
    assert check_requests(fake_gitlab.requests) == []

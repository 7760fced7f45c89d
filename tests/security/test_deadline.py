"""The time budget holds under every fault (issue 15, "The deadline everywhere").

With ``PIPELINE_GUARD_DEADLINE=20``, a forge that asks to come back in an hour, a server that
accepts the connection and never answers, and a log that trickles in a byte every 5 s each end
the run within 25 s, with the diagnosis in the summary, the JSON report written and one line
saying which call ran out of time. Real subprocesses against the fake GitHub and GitLab APIs.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from fakes.github_api import FakeGitHub
from fakes.gitlab_api import FakeGitLab
from github_env import (
    HEAD_SHA,
    REPO_NAME,
    GuardRun,
    github_env,
    pull_request_event,
    run_guard,
    workflow_run_event,
)
from gitlab_env import PIPELINE_ID, PROJECT_ID, gitlab_env
from gitlab_env import GuardRun as GitLabRun
from gitlab_env import run_guard as run_gitlab_guard

BUDGET = "20"
LIMIT = 25.0
TEST_LOG = """\
2026-11-20T09:14:02.0000000Z ##[group]Run pytest
2026-11-20T09:14:03.0000000Z FAILED tests/test_app.py::test_add - assert 1 == 2
2026-11-20T09:14:03.0000000Z ##[error]Process completed with exit code 1.
"""
GITLAB_LOG = """\
section_start:1767603600:step_script\r\x1b[0K
$ pytest -q
FAILED tests/test_billing.py::test_invoice_totals - AssertionError: assert 10 == 12
section_end:1767603604:step_script\r\x1b[0K
ERROR: Job failed: exit code 1
"""


def _timed(run: Callable[[], GuardRun]) -> tuple[GuardRun, float]:
    started = time.monotonic()
    result = run()
    return result, time.monotonic() - started


def _github_run(fake: FakeGitHub, jobs: int = 1) -> None:
    fake.add_repo(REPO_NAME)
    fake.add_pull(REPO_NAME, 7, head_sha=HEAD_SHA, head_ref="feature")
    fake.add_run(REPO_NAME, 100, head_sha=HEAD_SHA, head_branch="feature", pull_requests=[7])
    for index in range(jobs):
        fake.add_job(REPO_NAME, 100, job_id=500 + index, name=f"test {index}", log=TEST_LOG)


def _workflow_run_env(fake: FakeGitHub, tmp_path: Path) -> dict[str, str]:
    env = github_env(fake, tmp_path, "workflow_run", workflow_run_event(100, pulls=[7]), run_id=200)
    env["PIPELINE_GUARD_DEADLINE"] = BUDGET
    return env


def _assert_reported(result: GuardRun, elapsed: float, call: str) -> None:
    assert elapsed < LIMIT, result.stderr
    assert "Traceback" not in result.stderr
    assert "time budget" in result.stderr
    assert call in result.stderr
    assert "test-failure" in result.summary  # the diagnosis is still written
    assert result.report is not None
    assert result.report["jobs"][0]["diagnosis"]["category"] == "test-failure"
    assert result.outputs["category"] == "test-failure"


@pytest.fixture
def trickle_server() -> Iterator[str]:
    """An HTTP server that sends its headers, then one byte of the body every 5 s."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve(connection: socket.socket) -> None:
        with connection:
            connection.recv(65536)
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
            while not stop.wait(5.0):
                try:
                    connection.sendall(b"x")
                except OSError:
                    return

    def accept() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(connection,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    host, port = listener.getsockname()[:2]
    yield f"http://{host}:{port}/blob/log.txt"
    stop.set()
    listener.close()


def test_github_retry_after_an_hour_is_not_waited_for(
    fake_github: FakeGitHub, tmp_path: Path
) -> None:
    _github_run(fake_github)
    fake_github.fail(
        "GET", r"/repos/octo/app/issues/7/comments", 429, headers={"Retry-After": "3600"}, times=9
    )
    result, elapsed = _timed(lambda: run_guard(_workflow_run_env(fake_github, tmp_path), tmp_path))
    assert elapsed < LIMIT, result.stderr
    assert "3600 s" in result.stderr
    assert "comment on the pull request" in result.stderr
    assert "test-failure" in result.summary
    assert result.report is not None


def test_github_secondary_rate_limit_of_an_hour_is_not_waited_for(
    fake_github: FakeGitHub, tmp_path: Path
) -> None:
    fake_github.add_repo(REPO_NAME)
    (tmp_path / "test.log").write_text(TEST_LOG, encoding="utf-8")
    env = github_env(
        fake_github,
        tmp_path,
        "pull_request",
        pull_request_event(7),
        inputs={"log-file": "test.log"},
    )
    env["PIPELINE_GUARD_DEADLINE"] = BUDGET
    fake_github.secondary_rate_limit(retry_after=3600, times=9, status=403)
    result, elapsed = _timed(lambda: run_guard(env, tmp_path))
    assert elapsed < LIMIT, result.stderr
    assert "Traceback" not in result.stderr
    assert "comment on the pull request" in result.stderr
    assert "test-failure" in result.summary
    assert result.report is not None


def test_github_server_that_never_answers(fake_github: FakeGitHub, tmp_path: Path) -> None:
    _github_run(fake_github)
    fake_github.slow("GET", r"/repos/octo/app/issues/7/comments", 3600.0, times=9)
    result, elapsed = _timed(lambda: run_guard(_workflow_run_env(fake_github, tmp_path), tmp_path))
    _assert_reported(result, elapsed, "comment on the pull request")
    assert result.returncode == 1


def test_github_log_blob_trickling_a_byte_every_5s(
    fake_github: FakeGitHub, tmp_path: Path, trickle_server: str
) -> None:
    _github_run(fake_github, jobs=2)
    fake_github.fail(
        "GET", r"/repos/octo/app/actions/jobs/501/logs", 302, headers={"Location": trickle_server}
    )
    result, elapsed = _timed(lambda: run_guard(_workflow_run_env(fake_github, tmp_path), tmp_path))
    _assert_reported(result, elapsed, "download the log of `test 1`")


def _gitlab_pipeline(fake: FakeGitLab, jobs: int = 1) -> None:
    fake.add_project(PROJECT_ID, "acme/shop", files={"README.md": "# shop\n"})
    fake.add_branch(PROJECT_ID, "feature")
    fake.add_merge_request(PROJECT_ID, 3, source_branch="feature", sha=HEAD_SHA)
    fake.add_pipeline(PROJECT_ID, PIPELINE_ID, ref="feature", sha=HEAD_SHA)
    for index in range(jobs):
        fake.add_job(
            PROJECT_ID, PIPELINE_ID, job_id=200 + index, name=f"test {index}", trace=GITLAB_LOG
        )
    fake.add_job(
        PROJECT_ID, PIPELINE_ID, job_id=900, name="pipeline-guard", stage=".post", status="running"
    )


def _gitlab(fake: FakeGitLab, tmp_path: Path) -> tuple[GitLabRun, float]:
    env = gitlab_env(fake, tmp_path, mr_iid=3)
    env["PIPELINE_GUARD_DEADLINE"] = BUDGET
    started = time.monotonic()
    result = run_gitlab_guard(env, tmp_path)
    return result, time.monotonic() - started


def test_gitlab_server_that_never_answers(fake_gitlab: FakeGitLab, tmp_path: Path) -> None:
    _gitlab_pipeline(fake_gitlab)
    fake_gitlab.slow("GET", r".*/merge_requests/3/notes", 3600.0, times=9)
    result, elapsed = _gitlab(fake_gitlab, tmp_path)
    assert elapsed < LIMIT, result.log
    assert "time budget" in result.log
    assert "comment on the merge request" in result.log
    assert "test-failure" in result.log
    assert result.report is not None


def test_gitlab_trace_that_never_ends(fake_gitlab: FakeGitLab, tmp_path: Path) -> None:
    _gitlab_pipeline(fake_gitlab, jobs=2)
    fake_gitlab.slow("GET", r".*/jobs/201/trace", 3600.0, times=9)
    result, elapsed = _gitlab(fake_gitlab, tmp_path)
    assert elapsed < LIMIT, result.log
    assert "Could not read the log of `test 1`" in result.log
    assert "read job traces" in result.log
    assert result.report is not None
    assert result.report["jobs"][0]["diagnosis"]["category"] == "test-failure"


def test_gitlab_retry_after_an_hour_ends_within_the_budget(
    fake_gitlab: FakeGitLab, tmp_path: Path
) -> None:
    _gitlab_pipeline(fake_gitlab)
    fake_gitlab.fail(
        "GET", r".*/merge_requests/3/notes", 429, headers={"Retry-After": "3600"}, times=9
    )
    result, elapsed = _gitlab(fake_gitlab, tmp_path)
    assert elapsed < LIMIT, result.log
    assert "Traceback" not in result.log
    assert "test-failure" in result.log
    assert result.report is not None

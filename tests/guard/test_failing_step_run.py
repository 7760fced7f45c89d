"""Issue 10, end to end on both forges: the step that failed the job decides, and an error the
job recovered from earlier in the log is context, never a reason to re-run. Real subprocesses
against the fakes (contract-checked)."""

from __future__ import annotations

from pathlib import Path

from test_run_gitlab import pipeline

from fakes.github_api import FakeGitHub
from fakes.gitlab_api import FakeGitLab
from fakes.gitlab_contract import check_requests
from github_env import HEAD_SHA, REPO_NAME, github_env, run_guard, workflow_run_event
from gitlab_env import gitlab_env
from gitlab_env import run_guard as run_gitlab_guard

TEST_FAILURE = "FAILED tests/test_api.py::test_create - AssertionError: assert 201 == 500"

# A `continue-on-error` step fails on the network (its exit is logged like any other), then
# the test step fails: only the jobs API says which of the two failed the job.
GITHUB_LOG = f"""\
2026-11-20T09:14:01.0000000Z ##[group]Run actions/checkout@v4
2026-11-20T09:14:02.0000000Z Syncing repository: acme/shop
2026-11-20T09:14:02.0000000Z ##[endgroup]
2026-11-20T09:14:03.0000000Z ##[group]Run npm run warm-cache
2026-11-20T09:14:04.0000000Z npm error code ECONNRESET
2026-11-20T09:14:04.0000000Z npm error network aborted
2026-11-20T09:14:04.0000000Z ##[error]Process completed with exit code 1.
2026-11-20T09:14:05.0000000Z ##[group]Run python -m pytest
2026-11-20T09:14:06.0000000Z =================== test session starts ====================
2026-11-20T09:14:09.0000000Z {TEST_FAILURE}
2026-11-20T09:14:09.0000000Z =============== 1 failed, 20 passed in 2.10s ================
2026-11-20T09:14:09.0000000Z ##[error]Process completed with exit code 1.
"""
GITHUB_STEPS = [
    ("Set up job", "success"),
    ("Run actions/checkout@v4", "success"),
    ("Run npm run warm-cache", "success"),  # continue-on-error: the API calls it a success
    ("Run python -m pytest", "failure"),
]

# pip retried a dropped connection and went on; then the tests failed in the same script.
GITLAB_LOG = f"""\
\x1b[0KRunning with gitlab-runner 17.5.0 (abc123)
section_start:1700000000:prepare_script\r\x1b[0K\x1b[0K\x1b[36;1mPreparing environment\x1b[0;m
Running on runner-abc via gitlab-runner...
section_end:1700000001:prepare_script\r\x1b[0K
section_start:1700000002:step_script\r\x1b[0K\x1b[0K\x1b[36;1mExecuting "step_script" stage\x1b[0;m
$ pip install -r requirements.txt
WARNING: Retrying (Retry(total=4, connect=None, read=None, redirect=None, status=None)) after \
connection broken by 'ReadTimeoutError("HTTPSConnectionPool(host='pypi.org', port=443): Read \
timed out. (read timeout=15)")': /simple/requests/
Successfully installed requests-2.32.3
$ python -m pytest
=================== test session starts ====================
{TEST_FAILURE}
=============== 1 failed, 20 passed in 2.10s ================
section_end:1700000009:step_script\r\x1b[0K
\x1b[31;1mERROR: Job failed: exit code 1
\x1b[0;m
"""


def diagnosis(report: dict[str, object] | None) -> dict[str, object]:
    assert report is not None
    jobs = report["jobs"]
    assert isinstance(jobs, list)
    found = jobs[0]["diagnosis"]
    assert isinstance(found, dict)
    return found


def first_evidence(found: dict[str, object]) -> str:
    evidence = found["evidence"]
    assert isinstance(evidence, list)
    assert evidence, "a test failure is shown with its line"
    return str(evidence[0]["text"])


def test_github_the_step_the_jobs_api_says_failed_decides(
    fake_github: FakeGitHub, tmp_path: Path
) -> None:
    fake_github.add_repo(REPO_NAME)
    fake_github.add_pull(REPO_NAME, 7, head_sha=HEAD_SHA, head_ref="feature")
    fake_github.add_run(REPO_NAME, 100, head_sha=HEAD_SHA, head_branch="feature")
    fake_github.add_job(
        REPO_NAME, 100, job_id=500, name="tests", log=GITHUB_LOG, steps=GITHUB_STEPS
    )
    env = github_env(fake_github, tmp_path, "workflow_run", workflow_run_event(100, pulls=[7]))

    result = run_guard(env, tmp_path)

    assert result.returncode == 0, result.stderr
    found = diagnosis(result.report)
    assert found["category"] == "test-failure"
    assert found["step"] == "Run python -m pytest"
    assert first_evidence(found) == TEST_FAILURE
    assert fake_github.reruns == []
    assert "test_create" in fake_github.comments(REPO_NAME, 7)[0].body


def test_gitlab_a_recovered_network_error_before_the_tests_is_not_re_run(
    fake_gitlab: FakeGitLab, tmp_path: Path
) -> None:
    pipeline(fake_gitlab, {"tests": GITLAB_LOG})

    result = run_gitlab_guard(gitlab_env(fake_gitlab, tmp_path, mr_iid=3), tmp_path)

    assert result.returncode == 0, result.log
    found = diagnosis(result.report)
    assert found["category"] == "test-failure"
    assert first_evidence(found) == TEST_FAILURE
    assert fake_gitlab.retried == []
    assert check_requests(fake_gitlab.requests) == []

"""``pipeline-guard run`` on GitHub, end to end: a real subprocess with the environment and
event file GitHub sets, against the fake GitHub API (every request contract-checked by the
``fake_github`` fixture). Assertions are what a maintainer sees: the PR comment, re-runs, the
job summary, the step outputs and the JSON report."""

from __future__ import annotations

from pathlib import Path

from conftest import REPO
from fakes.github_api import FakeGitHub
from fakes.github_contract import check_requests
from github_env import (
    HEAD_SHA,
    REPO_NAME,
    TOKEN,
    github_env,
    pull_request_event,
    run_guard,
    workflow_run_event,
)
from pipeline_guard.forges.base import COMMENT_MARKER

NETWORK_LOG = (REPO / "examples" / "npm-registry-outage.log").read_text(encoding="utf-8")
TEST_LOG = """\
2026-11-20T09:14:02.0000000Z ##[group]Run pytest
2026-11-20T09:14:03.0000000Z ============================= FAILURES =============================
2026-11-20T09:14:03.0000000Z E   assert 1 == 2
2026-11-20T09:14:03.0000000Z FAILED tests/test_app.py::test_add - assert 1 == 2
2026-11-20T09:14:03.0000000Z ========================= 1 failed, 2 passed in 0.12s ==========
2026-11-20T09:14:03.0000000Z ##[error]Process completed with exit code 1.
"""


def _repo_with_run(
    fake: FakeGitHub, logs: dict[str, str], *, attempt: int = 1, pulls: tuple[int, ...] = (7,)
) -> None:
    fake.add_repo(REPO_NAME)
    fake.add_pull(REPO_NAME, 7, head_sha=HEAD_SHA, head_ref="feature")
    fake.add_run(
        REPO_NAME,
        100,
        head_sha=HEAD_SHA,
        head_branch="feature",
        attempt=attempt,
        pull_requests=pulls,
    )
    for index, (name, log) in enumerate(logs.items()):
        fake.add_job(
            REPO_NAME,
            100,
            job_id=500 + index,
            name=name,
            log=log,
            steps=[("Set up job", "success"), ("Run tests", "failure")],
        )


def test_workflow_run_retries_a_network_failure_and_comments_once(
    fake_github: FakeGitHub, tmp_path: Path
) -> None:
    _repo_with_run(fake_github, {"build (20.x)": NETWORK_LOG})
    env = github_env(
        fake_github, tmp_path, "workflow_run", workflow_run_event(100, pulls=[7]), run_id=200
    )

    first = run_guard(env, tmp_path)

    assert first.returncode == 0, first.stderr
    assert fake_github.reruns == [("job", 500)]
    comments = fake_github.comments(REPO_NAME, 7)
    assert len(comments) == 1
    body = comments[0].body
    assert COMMENT_MARKER in body
    assert "`network`" in body
    assert "build (20.x)" in body
    assert "Re-ran `build (20.x)`" in body
    assert "ECONNRESET" in body  # the decisive log line is quoted
    assert first.outputs["category"] == "network"
    assert first.outputs["action"] == "retry"
    assert float(first.outputs["confidence"]) > 0.5
    assert first.outputs["report"] == "pipeline-guard-report.json"
    assert "network" in first.summary
    assert COMMENT_MARKER not in first.summary
    assert first.report is not None
    assert first.report["jobs"][0]["action"] == "retry"

    # The re-run failed again: attempt 2 is the budget's last, so no retry, same comment edited.
    fake_github.complete_run(REPO_NAME, 100, "failure", job_conclusion="failure")
    for job in fake_github.runs[(REPO_NAME, 100)].jobs:
        job.log = NETWORK_LOG.encode()
    env = github_env(
        fake_github,
        tmp_path,
        "workflow_run",
        workflow_run_event(100, attempt=2, pulls=[7]),
        run_id=201,
    )
    second = run_guard(env, tmp_path)

    assert second.returncode == 0, second.stderr
    assert fake_github.reruns == [("job", 500)]
    comments = fake_github.comments(REPO_NAME, 7)
    assert len(comments) == 1
    assert "budget is 2 attempts" in comments[0].body
    assert second.outputs["action"] == "comment"


def test_a_test_failure_is_explained_not_retried(fake_github: FakeGitHub, tmp_path: Path) -> None:
    _repo_with_run(fake_github, {"test": TEST_LOG})
    env = github_env(
        fake_github, tmp_path, "workflow_run", workflow_run_event(100, pulls=[7]), run_id=200
    )

    result = run_guard(env, tmp_path)

    assert result.returncode == 0, result.stderr
    assert fake_github.reruns == []
    body = fake_github.comments(REPO_NAME, 7)[0].body
    assert "`test-failure`" in body
    assert "tests/test_app.py::test_add" in body
    assert result.outputs["category"] == "test-failure"
    assert result.outputs["action"] == "comment"


def test_no_retry_when_another_job_really_broke(fake_github: FakeGitHub, tmp_path: Path) -> None:
    _repo_with_run(fake_github, {"build": NETWORK_LOG, "test": TEST_LOG})
    env = github_env(
        fake_github, tmp_path, "workflow_run", workflow_run_event(100, pulls=[7]), run_id=200
    )

    result = run_guard(env, tmp_path)

    assert fake_github.reruns == []
    assert "another job failed for a reason a retry cannot fix" in result.summary


def test_outage_guard_no_retry_when_many_jobs_fail(fake_github: FakeGitHub, tmp_path: Path) -> None:
    _repo_with_run(fake_github, {f"build-{n}": NETWORK_LOG for n in range(6)})
    env = github_env(
        fake_github, tmp_path, "workflow_run", workflow_run_event(100, pulls=[7]), run_id=200
    )

    result = run_guard(env, tmp_path)

    assert result.returncode == 0, result.stderr
    assert fake_github.reruns == []
    assert "6 jobs failed at once" in result.summary


def test_fork_pr_found_by_head_sha_and_never_fixed(fake_github: FakeGitHub, tmp_path: Path) -> None:
    fake_github.add_repo(REPO_NAME)
    fake_github.add_pull(
        REPO_NAME, 9, head_sha=HEAD_SHA, head_ref="feature", head_repo="mallory/app"
    )
    fake_github.add_run(
        REPO_NAME, 100, head_sha=HEAD_SHA, head_branch="feature", head_repo="mallory/app"
    )
    fake_github.add_job(REPO_NAME, 100, job_id=500, name="test", log=TEST_LOG)
    event = workflow_run_event(100, pulls=[], fork="mallory/app")
    env = github_env(fake_github, tmp_path, "workflow_run", event, run_id=200)

    result = run_guard(env, tmp_path)

    assert result.returncode == 0, result.stderr
    assert len(fake_github.comments(REPO_NAME, 9)) == 1
    assert result.report is not None
    assert result.report["pull_request"] == 9


def test_after_job_mode_reports_the_retry_it_cannot_do(
    fake_github: FakeGitHub, tmp_path: Path
) -> None:
    fake_github.add_repo(REPO_NAME)
    fake_github.add_pull(REPO_NAME, 7, head_sha=HEAD_SHA, head_ref="feature")
    fake_github.add_run(
        REPO_NAME,
        100,
        head_sha=HEAD_SHA,
        head_branch="feature",
        status="in_progress",
        conclusion=None,
    )
    fake_github.add_job(REPO_NAME, 100, job_id=500, name="build", log=NETWORK_LOG)
    fake_github.add_job(REPO_NAME, 100, job_id=501, name="guard", status="in_progress")
    env = github_env(fake_github, tmp_path, "pull_request", pull_request_event(7), run_id=100)

    result = run_guard(env, tmp_path)

    assert result.returncode == 0, result.stderr
    assert fake_github.reruns == []
    assert "workflow_run: completed" in result.summary
    assert len(fake_github.comments(REPO_NAME, 7)) == 1
    assert result.outputs["category"] == "network"


def test_in_job_mode_reads_log_files_and_redacts_secrets(
    fake_github: FakeGitHub, tmp_path: Path
) -> None:
    fake_github.add_repo(REPO_NAME)
    fake_github.add_pull(REPO_NAME, 7, head_sha=HEAD_SHA, head_ref="feature")
    secret = "s3cr3t-deploy-key-value"
    leaked_pat = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "build.log").write_text(
        f"Using token {TOKEN} and {secret}\ncurl https://user:{leaked_pat}@example.com\n"
        "npm ERR! code ECONNRESET\nnpm ERR! network aborted\n"
        f"npm ERR! network request to https://registry.npmjs.org/x failed: {secret}\n",
        encoding="utf-8",
    )
    env = github_env(
        fake_github,
        tmp_path,
        "pull_request",
        pull_request_event(7),
        inputs={"log-file": "logs/*.log"},
    )
    env["DEPLOY_KEY"] = secret

    result = run_guard(env, tmp_path)

    assert result.returncode == 0, result.stderr
    body = fake_github.comments(REPO_NAME, 7)[0].body
    everything = "\n".join([body, result.summary, result.stdout, result.stderr, str(result.report)])
    for value in (TOKEN, secret, leaked_pat):
        assert value not in everything
    assert "ECONNRESET" in body


def test_missing_permission_is_named_and_the_diagnosis_still_goes_out(
    tmp_path: Path,
) -> None:
    permissions: dict[str, str | None] = {
        "actions": "read",
        "issues": "write",
        "pull_requests": "write",
        "checks": "read",
    }
    with FakeGitHub(permissions=permissions) as fake:
        _repo_with_run(fake, {"build": NETWORK_LOG})
        env = github_env(
            fake, tmp_path, "workflow_run", workflow_run_event(100, pulls=[7]), run_id=200
        )
        result = run_guard(env, tmp_path)
        comments = fake.comments(REPO_NAME, 7)
    assert check_requests(fake.requests) == []
    assert result.returncode == 1
    assert "actions: write" in result.stderr
    assert len(comments) == 1
    assert "actions: write" in comments[0].body
    assert result.outputs["category"] == "network"
    assert "Traceback" not in result.stderr


def test_api_down_keeps_the_diagnosis_in_the_log_and_summary(
    fake_github: FakeGitHub, tmp_path: Path
) -> None:
    fake_github.add_repo(REPO_NAME)
    fake_github.fail("GET", r"/repos/.*", 502, times=100)
    fake_github.fail("POST", r"/repos/.*", 502, times=100)
    (tmp_path / "build.log").write_text(TEST_LOG, encoding="utf-8")
    env = github_env(
        fake_github,
        tmp_path,
        "pull_request",
        pull_request_event(7),
        inputs={"log-file": "build.log"},
    )

    result = run_guard(env, tmp_path)

    assert result.returncode == 1
    assert "test-failure" in result.stdout
    assert "test-failure" in result.summary
    assert "502" in result.stderr
    assert result.outputs["category"] == "test-failure"
    assert "Traceback" not in result.stderr


def test_dry_run_changes_nothing(fake_github: FakeGitHub, tmp_path: Path) -> None:
    _repo_with_run(fake_github, {"build": NETWORK_LOG})
    env = github_env(
        fake_github,
        tmp_path,
        "workflow_run",
        workflow_run_event(100, pulls=[7]),
        inputs={"dry-run": "true"},
    )

    result = run_guard(env, tmp_path)

    assert result.returncode == 0, result.stderr
    assert fake_github.reruns == []
    assert fake_github.comments(REPO_NAME, 7) == []
    assert "Would re-run `build` (dry run)" in result.stdout
    writes = [r for r in fake_github.requests if r.method in ("POST", "PATCH", "PUT")]
    assert writes == []


def test_bad_input_is_a_one_line_usage_error(fake_github: FakeGitHub, tmp_path: Path) -> None:
    env = github_env(
        fake_github,
        tmp_path,
        "workflow_run",
        workflow_run_event(100),
        inputs={"dry-run": "maybe"},
    )

    result = run_guard(env, tmp_path)

    assert result.returncode == 2
    assert result.stderr.strip() == (
        "pipeline-guard: error: dry-run: expected true or false, got 'maybe'"
    )


def test_primary_rate_limit_waits_for_the_reset_then_succeeds(
    fake_github: FakeGitHub, tmp_path: Path
) -> None:
    _repo_with_run(fake_github, {"test": TEST_LOG})
    fake_github.exhaust_rate_limit(reset_in=0, times=1)
    env = github_env(
        fake_github, tmp_path, "workflow_run", workflow_run_event(100, pulls=[7]), run_id=200
    )

    result = run_guard(env, tmp_path)

    assert result.returncode == 0, result.stderr
    assert len(fake_github.comments(REPO_NAME, 7)) == 1
    limited = [r for r in fake_github.requests if r.path.endswith("/jobs")]
    assert len(limited) >= 2  # refused once, then asked again after the reset


def test_secondary_rate_limit_honours_retry_after(fake_github: FakeGitHub, tmp_path: Path) -> None:
    _repo_with_run(fake_github, {"test": TEST_LOG})
    fake_github.secondary_rate_limit(retry_after=1, times=1, status=429)
    env = github_env(
        fake_github, tmp_path, "workflow_run", workflow_run_event(100, pulls=[7]), run_id=200
    )

    result = run_guard(env, tmp_path)

    assert result.returncode == 0, result.stderr
    assert len(fake_github.comments(REPO_NAME, 7)) == 1


def test_total_deadline_stops_a_slow_api_and_still_reports(
    fake_github: FakeGitHub, tmp_path: Path
) -> None:
    _repo_with_run(fake_github, {"test": TEST_LOG})
    fake_github.slow("GET", r"/repos/octo/app/actions/runs/100/attempts/1/jobs", 3.0)
    env = github_env(
        fake_github, tmp_path, "workflow_run", workflow_run_event(100, pulls=[7]), run_id=200
    )
    env["PIPELINE_GUARD_DEADLINE"] = "2"

    result = run_guard(env, tmp_path)

    assert result.returncode == 1
    assert "time budget is spent" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.report is not None
    assert fake_github.comments(REPO_NAME, 7) == []


def test_failure_before_any_step_is_read_from_annotations(
    fake_github: FakeGitHub, tmp_path: Path
) -> None:
    fake_github.add_repo(REPO_NAME)
    fake_github.add_pull(REPO_NAME, 7, head_sha=HEAD_SHA, head_ref="feature")
    fake_github.add_run(REPO_NAME, 100, head_sha=HEAD_SHA, head_branch="feature")
    message = (
        "This request has been automatically failed because it uses a deprecated version of "
        "`actions/upload-artifact: v3`. Learn more: https://github.blog/changelog/"
        "2024-04-16-deprecation-notice-v3-of-the-artifact-actions/"
    )
    fake_github.add_job(
        REPO_NAME, 100, job_id=500, name="build", log="", annotations=[("failure", message)]
    )
    env = github_env(
        fake_github, tmp_path, "workflow_run", workflow_run_event(100, pulls=[7]), run_id=200
    )

    result = run_guard(env, tmp_path)

    body = fake_github.comments(REPO_NAME, 7)[0].body
    assert "`config`" in body
    assert "actions/upload-artifact: v3" in body
    assert result.outputs["category"] == "config"
    assert fake_github.reruns == []


def test_no_token_is_a_one_line_configuration_error_after_the_diagnosis(tmp_path: Path) -> None:
    with FakeGitHub() as fake:
        (tmp_path / "build.log").write_text(TEST_LOG, encoding="utf-8")
        env = github_env(
            fake, tmp_path, "pull_request", pull_request_event(7), inputs={"log-file": "build.log"}
        )
        del env["INPUT_GITHUB-TOKEN"]

        result = run_guard(env, tmp_path)

    assert fake.requests == []
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "pipeline-guard: error: no GitHub token was given: set the action's `github-token` input"
        " (its default is `${{ github.token }}`), or GITHUB_TOKEN outside the action"
    ]
    assert "test-failure" in result.summary

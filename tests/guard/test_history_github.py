"""Is it my change? ``pipeline-guard run`` on GitHub against a fake with history: the same
failure on `main` (broken trunk), a test that failed then passed at one commit (flaky), a
generic wrapper that must never get either label. Real subprocesses, real HTTP, every request
contract-checked by the ``fake_github`` fixture."""

from __future__ import annotations

import time
from pathlib import Path

from conftest import REPO
from fakes.github_api import FakeGitHub
from github_env import HEAD_SHA, REPO_NAME, GuardRun, github_env, run_guard, workflow_run_event

NETWORK_LOG = (REPO / "examples" / "npm-registry-outage.log").read_text(encoding="utf-8")
TRUNK_SHA = "b" * 40
OLDER_SHA = "c" * 40


def make_log(seconds: str = "0.12", when: str = "09:14") -> str:
    """A pytest failure; timestamps and durations vary between runs, the failure does not."""
    return f"""\
2026-11-20T{when}:02.0000000Z ##[group]Run pytest
2026-11-20T{when}:03.0000000Z ============================= FAILURES ==========================
2026-11-20T{when}:03.0000000Z E   assert 1 == 2
2026-11-20T{when}:03.0000000Z FAILED tests/test_app.py::test_add - assert 1 == 2
2026-11-20T{when}:03.0000000Z ========================= 1 failed, 2 passed in {seconds}s =======
2026-11-20T{when}:03.0000000Z ##[error]Process completed with exit code 1.
"""


WRAPPER_LOG = """\
2026-11-20T09:14:02.0000000Z ##[group]Run make
2026-11-20T09:14:03.0000000Z make: *** [all] Error 2
2026-11-20T09:14:03.0000000Z ##[error]Process completed with exit code 2.
"""


def pull_request_run(fake: FakeGitHub, name: str, log: str) -> None:
    """Run 100: the PR's run, one failed job."""
    fake.add_repo(REPO_NAME)
    fake.add_pull(REPO_NAME, 7, head_sha=HEAD_SHA, head_ref="feature")
    fake.add_run(REPO_NAME, 100, head_sha=HEAD_SHA, head_branch="feature", pull_requests=[7])
    fake.add_job(REPO_NAME, 100, job_id=500, name=name, log=log)


def trunk_runs(fake: FakeGitHub, name: str, logs: list[str | None]) -> None:
    """Runs of `main` (push), newest first: a log per run, None for a green job."""
    now = time.time()
    for index, log in enumerate(logs):
        run_id = 90 - index
        sha = f"{index + 1:x}" * 40
        fake.add_run(
            REPO_NAME,
            run_id,
            head_sha=sha,
            head_branch="main",
            event="push",
            conclusion="failure" if log else "success",
            created=now - 3600 * (index + 1),
        )
        fake.add_job(
            REPO_NAME,
            run_id,
            job_id=400 - index,
            name=name,
            conclusion="failure" if log else "success",
            log=log or "all good\n",
        )


def guard(fake: FakeGitHub, tmp_path: Path, config: str = "") -> GuardRun:
    if config:
        (tmp_path / ".pipeline-guard.yml").write_text(config, encoding="utf-8")
    env = github_env(fake, tmp_path, "workflow_run", workflow_run_event(100, pulls=[7]), run_id=200)
    return run_guard(env, tmp_path)


def test_the_same_failure_on_main_is_broken_trunk_and_not_rerun(
    fake_github: FakeGitHub, tmp_path: Path
) -> None:
    pull_request_run(fake_github, "build", NETWORK_LOG)
    trunk_runs(fake_github, "build", [NETWORK_LOG, NETWORK_LOG, None])

    result = guard(fake_github, tmp_path)

    assert result.returncode == 0, result.stderr
    assert fake_github.reruns == []  # a network failure, but main fails the same way
    body = fake_github.comments(REPO_NAME, 7)[0].body
    since = "2" * 7  # run 89: the oldest of the two failing runs on main
    assert f"also failing on `main` since [`{since}`]" in body
    assert "probably not caused by this change" in body
    assert result.outputs["broken-trunk"] == "true"
    assert result.outputs["action"] == "comment"
    assert result.report is not None
    trunk = result.report["jobs"][0]["history"]["broken_trunk"]
    assert trunk["since_sha"] == "2" * 40
    assert trunk["failing_runs"] == 2
    # only the newest failing log of main was read, never the older one
    assert fake_github.find("GET", r".*/actions/jobs/400/logs")
    assert not fake_github.find("GET", r".*/actions/jobs/399/logs")


def test_a_different_failure_on_main_is_not_broken_trunk(
    fake_github: FakeGitHub, tmp_path: Path
) -> None:
    pull_request_run(fake_github, "test", make_log())
    other = make_log().replace("test_add", "test_sub")
    trunk_runs(fake_github, "test", [other])

    result = guard(fake_github, tmp_path)

    assert result.returncode == 0, result.stderr
    assert "also failing on" not in fake_github.comments(REPO_NAME, 7)[0].body
    assert result.outputs["broken-trunk"] == "false"


def test_a_generic_wrapper_is_never_broken_trunk_and_its_log_is_not_read(
    fake_github: FakeGitHub, tmp_path: Path
) -> None:
    pull_request_run(fake_github, "build", WRAPPER_LOG)
    trunk_runs(fake_github, "build", [WRAPPER_LOG])

    result = guard(fake_github, tmp_path)

    assert result.returncode == 0, result.stderr
    assert "also failing on" not in fake_github.comments(REPO_NAME, 7)[0].body
    assert result.report is not None
    assert result.report["jobs"][0]["history"]["signature"] is None
    assert not fake_github.find("GET", r".*/actions/jobs/400/logs")


def flaky_history(fake: FakeGitHub, name: str, log: str, times: int = 2) -> None:
    """``times`` earlier PR runs where ``name`` failed with ``log``, then passed on attempt 2."""
    now = time.time()
    for index in range(times):
        run_id = 80 - index
        fake.add_run(
            REPO_NAME,
            run_id,
            head_sha=f"{index + 10:x}" * 20,
            head_branch=f"other-{index}",
            attempt=2,
            conclusion="success",
            created=now - 86400 * (index + 1),
        )
        fake.add_job(REPO_NAME, run_id, job_id=300 + 2 * index, name=name, attempt=1, log=log)
        fake.add_job(
            REPO_NAME, run_id, job_id=301 + 2 * index, name=name, attempt=2, conclusion="success"
        )


def test_failed_then_passed_twice_is_flaky_and_explained(
    fake_github: FakeGitHub, tmp_path: Path
) -> None:
    pull_request_run(fake_github, "test", make_log())
    flaky_history(fake_github, "test", make_log("3.40", "11:02"))

    result = guard(fake_github, tmp_path)

    assert result.returncode == 0, result.stderr
    body = fake_github.comments(REPO_NAME, 7)[0].body
    assert "Known flaky:** failed then passed on retry 2 times in 14 days" in body
    assert fake_github.reruns == []  # retry.flaky is off by default
    assert result.outputs["flaky"] == "true"


def test_flaky_is_rerun_once_with_retry_flaky(fake_github: FakeGitHub, tmp_path: Path) -> None:
    pull_request_run(fake_github, "test", make_log())
    flaky_history(fake_github, "test", make_log("3.40", "11:02"))

    first = guard(fake_github, tmp_path, "retry:\n  flaky: true\n")

    assert first.returncode == 0, first.stderr
    assert fake_github.reruns == [("job", 500)]
    body = fake_github.comments(REPO_NAME, 7)[0].body
    assert "Re-run for that reason" in body
    assert first.report is not None
    assert "known flaky" in first.report["jobs"][0]["reason"]

    # It failed again on attempt 2: the budget is spent, no second re-run.
    fake_github.complete_run(REPO_NAME, 100, "failure", job_conclusion="failure")
    for job in fake_github.runs[(REPO_NAME, 100)].jobs:
        job.log = make_log().encode()
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


def test_one_flip_is_not_flaky_and_a_wrapper_never_is(
    fake_github: FakeGitHub, tmp_path: Path
) -> None:
    pull_request_run(fake_github, "build", WRAPPER_LOG)
    flaky_history(fake_github, "build", WRAPPER_LOG, times=3)

    result = guard(fake_github, tmp_path, "retry:\n  flaky: true\n")

    assert result.returncode == 0, result.stderr
    assert result.outputs["flaky"] == "false"
    assert fake_github.reruns == []


def test_the_store_records_each_job_and_reads_back_that_the_rerun_turned_green(
    fake_github: FakeGitHub, tmp_path: Path
) -> None:
    from datetime import UTC, datetime, timedelta  # noqa: PLC0415

    from pipeline_guard.history.record import PASSED  # noqa: PLC0415
    from pipeline_guard.history.store import Store  # noqa: PLC0415

    pull_request_run(fake_github, "build", NETWORK_LOG)
    config = "history:\n  url: store/history.db\n"
    first = guard(fake_github, tmp_path, config)
    assert first.returncode == 0, first.stderr
    assert fake_github.reruns == [("job", 500)]
    fake_github.complete_run(REPO_NAME, 100, "success")  # the re-run passed

    fake_github.add_run(REPO_NAME, 101, head_sha=HEAD_SHA, head_branch="feature")
    fake_github.add_job(REPO_NAME, 101, job_id=600, name="test", log=make_log())
    env = github_env(fake_github, tmp_path, "workflow_run", workflow_run_event(101, pulls=[7]))
    second = run_guard(env, tmp_path)

    assert second.returncode == 0, second.stderr
    rows = Store.open(str(tmp_path / "store" / "history.db")).records(
        datetime.now(UTC) - timedelta(hours=1)
    )
    assert [(row.job, row.action, row.outcome) for row in rows] == [
        ("build", "retry", PASSED),
        ("test", "comment", None),
    ]
    assert rows[1].signature is not None
    assert rows[0].duration == 60.0

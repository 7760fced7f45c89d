"""Is it my change? ``pipeline-guard run`` on GitLab against a fake with history: the same
failure in the newest pipelines of `main` (broken trunk), a job retried and then green at one
commit (flaky), and a generic wrapper that gets neither label. The component's own command
line as a fresh process, over real HTTP; the history requests are checked against GitLab's
API description (``gitlab_contract.py``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from test_run_gitlab import TEST_LOG, notes, pipeline

from fakes.gitlab_api import FakeGitLab
from fakes.gitlab_contract import check_requests
from gitlab_env import PROJECT_ID, GuardRun, gitlab_env, run_guard

WRAPPER_LOG = """\
section_start:1767603600:step_script\r\x1b[0K\x1b[0K\x1b[36;1mExecuting "step_script" stage\x1b[0;m
\x1b[32;1m$ make\x1b[0;m
make: *** [all] Error 2
section_end:1767603604:step_script\r\x1b[0K
\x1b[31;1mERROR: Job failed: exit code 2\x1b[0;m
"""


def trunk(fake: FakeGitLab, name: str, traces: list[str | None]) -> None:
    """Pipelines of `main` (push), newest first: a trace per pipeline, None for green."""
    now = datetime.now(UTC)
    for index, trace in enumerate(traces):
        pipeline_id = 4100 - index
        fake.add_pipeline(
            PROJECT_ID,
            pipeline_id,
            ref="main",
            sha=f"{index + 1:x}" * 40,
            source="push",
            status="failed" if trace else "success",
            created_at=now - timedelta(hours=index + 1),
        )
        fake.add_job(
            PROJECT_ID,
            pipeline_id,
            job_id=3100 - index,
            name=name,
            status="failed" if trace else "success",
            trace=trace or "ok\n",
        )


def flips(fake: FakeGitLab, name: str, trace: str, times: int) -> None:
    """``times`` earlier pipelines where ``name`` failed, was retried and passed."""
    now = datetime.now(UTC)
    for index in range(times):
        pipeline_id = 4000 + index
        fake.add_pipeline(
            PROJECT_ID,
            pipeline_id,
            ref=f"other-{index}",
            sha=f"{index + 10:x}" * 20,
            source="merge_request_event",
            status="success",
            created_at=now - timedelta(days=index + 1),
        )
        fake.add_job(
            PROJECT_ID, pipeline_id, job_id=3000 + 2 * index, name=name, trace=trace, retried=True
        )
        fake.add_job(PROJECT_ID, pipeline_id, job_id=3001 + 2 * index, name=name, status="success")


def guard(fake: FakeGitLab, tmp_path: Path, config: str = "") -> GuardRun:
    if config:
        (tmp_path / ".pipeline-guard.yml").write_text(config, encoding="utf-8")
    return run_guard(gitlab_env(fake, tmp_path, mr_iid=3), tmp_path)


def test_the_same_failure_on_main_is_broken_trunk(fake_gitlab: FakeGitLab, tmp_path: Path) -> None:
    pipeline(fake_gitlab, {"unit-tests": TEST_LOG})
    trunk(fake_gitlab, "unit-tests", [TEST_LOG.replace("4.20s", "5.01s"), TEST_LOG, None])

    result = guard(fake_gitlab, tmp_path)

    assert result.returncode == 0, result.log
    [body] = notes(fake_gitlab)
    assert "also failing on `main` since [`2222222`]" in body
    assert "/-/pipelines/4099" in body
    assert fake_gitlab.retried == []
    assert result.report is not None
    assert result.report["jobs"][0]["history"]["broken_trunk"]["failing_runs"] == 2
    assert check_requests(fake_gitlab.requests) == []


def test_a_wrapper_is_never_broken_trunk(fake_gitlab: FakeGitLab, tmp_path: Path) -> None:
    pipeline(fake_gitlab, {"build": WRAPPER_LOG})
    trunk(fake_gitlab, "build", [WRAPPER_LOG])

    result = guard(fake_gitlab, tmp_path)

    assert result.returncode == 0, result.log
    assert "also failing on" not in notes(fake_gitlab)[0]
    assert not fake_gitlab.find("GET", r".*/jobs/3100/trace")


def test_retried_then_green_twice_is_flaky_and_rerun_with_retry_flaky(
    fake_gitlab: FakeGitLab, tmp_path: Path
) -> None:
    failed = pipeline(fake_gitlab, {"unit-tests": TEST_LOG})
    flips(fake_gitlab, "unit-tests", TEST_LOG.replace("4.20s", "9.99s"), times=2)

    result = guard(fake_gitlab, tmp_path, "retry:\n  flaky: true\n")

    assert result.returncode == 0, result.log
    [body] = notes(fake_gitlab)
    assert "failed then passed on retry 2 times in 14 days" in body
    assert fake_gitlab.retried == [failed["unit-tests"].id]
    assert check_requests(fake_gitlab.requests) == []

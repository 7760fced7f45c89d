"""``pipeline-guard run`` on GitLab, end to end: the component job's own command line, as a
fresh process, with the ``CI_*`` variables GitLab sets and the variables the component's
template gives the job (expanded against the project's CI/CD variables, see
``gitlab_env.py``), against the fake GitLab API. Assertions are what a maintainer sees: the MR
note, the retried jobs, the job log and the JSON report artifact."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from fakes.gitlab_api import GITLAB_READ_TOKEN, Commit, FakeGitLab, Job, PipelineSource
from fixer_sites import reachable
from gitlab_env import (
    HEAD_SHA,
    JOB_TOKEN,
    PIPELINE_ID,
    PROJECT_ID,
    PROJECT_PATH,
    TOKEN,
    GuardRun,
    gitlab_env,
    run_guard,
)
from pipeline_guard.context import Platform
from pipeline_guard.forges import gitlab
from pipeline_guard.forges.base import COMMENT_MARKER, FileChange, FixRequest, RunOptions

NETWORK_LOG = (Path(__file__).parents[2] / "examples" / "gitlab" / "npm-ci.sh").read_text(
    encoding="utf-8"
)
TEST_LOG = """\
\x1b[0KRunning with gitlab-runner 17.5.0 (1f5b3f7c)\x1b[0;m
section_start:1767603600:step_script\r\x1b[0K\x1b[0K\x1b[36;1mExecuting "step_script" stage\x1b[0;m
\x1b[32;1m$ pytest -q\x1b[0;m
============================= FAILURES =============================
E   AssertionError: assert 10 == 12
FAILED tests/test_billing.py::test_invoice_totals - AssertionError: assert 10 == 12
========================= 1 failed, 211 passed in 4.20s ==========================
section_end:1767603604:step_script\r\x1b[0K
\x1b[31;1mERROR: Job failed: exit code 1\x1b[0;m
"""


def pipeline(
    fake: FakeGitLab,
    logs: dict[str, str],
    *,
    mr_iid: int | None = 3,
    tries: int = 1,
    branch: str = "feature",
) -> dict[str, Job]:
    """Project, branch, MR and a failed pipeline: ``logs`` are the failed jobs (each tried
    ``tries`` times, the older tries retried), plus a green job and the running guard."""
    fake.add_project(PROJECT_ID, PROJECT_PATH, files={"README.md": "# shop\n"})
    fake.add_branch(PROJECT_ID, branch)
    if mr_iid is not None:
        fake.add_merge_request(PROJECT_ID, mr_iid, source_branch=branch, sha=HEAD_SHA)
    source: PipelineSource = "push" if mr_iid is None else "merge_request_event"
    fake.add_pipeline(PROJECT_ID, PIPELINE_ID, ref=branch, sha=HEAD_SHA, source=source)
    fake.add_job(PROJECT_ID, PIPELINE_ID, job_id=100, name="build", stage="build", status="success")
    failed: dict[str, Job] = {}
    next_id = 200
    for name, log in logs.items():
        for attempt in range(tries):
            job = fake.add_job(PROJECT_ID, PIPELINE_ID, job_id=next_id, name=name, trace=log)
            job.retried = attempt < tries - 1
            failed[name] = job
            next_id += 1
    fake.add_job(
        PROJECT_ID, PIPELINE_ID, job_id=900, name="pipeline-guard", stage=".post", status="running"
    )
    return failed


def notes(fake: FakeGitLab, iid: int = 3) -> list[str]:
    return [note.body for note in fake.notes(PROJECT_ID, iid)]


def everything(result: GuardRun, fake: FakeGitLab) -> str:
    """Every text pipeline-guard let out: job log, report, notes, MR descriptions."""
    bodies = [n.body for p in fake.projects.values() for n in p.notes]
    descriptions = [mr.description for mr in fake.merge_requests]
    return "\n".join([result.log, str(result.report), *bodies, *descriptions])


def test_mr_pipeline_retries_a_network_failure_and_edits_one_note(
    fake_gitlab: FakeGitLab, tmp_path: Path
) -> None:
    failed = pipeline(fake_gitlab, {"install": NETWORK_LOG})
    env = gitlab_env(fake_gitlab, tmp_path, mr_iid=3)

    first = run_guard(env, tmp_path)

    assert first.returncode == 0, first.log
    assert fake_gitlab.retried == [failed["install"].id]
    [body] = notes(fake_gitlab)
    assert body.startswith(COMMENT_MARKER)
    assert "`network`" in body
    assert "Re-ran `install`" in body
    assert "ECONNRESET" in body
    assert f"/-/jobs/{failed['install'].id}" in body  # a link to the job's log
    assert "network" in first.stdout  # the report is in the job log
    assert COMMENT_MARKER not in first.stdout
    assert first.report is not None
    assert first.report["platform"] == "gitlab"
    assert first.report["pull_request"] == 3
    assert first.report["jobs"][0]["action"] == "retry"
    note_id = fake_gitlab.notes(PROJECT_ID, 3)[0].id
    assert first.report["comment_url"].endswith(
        f"/{PROJECT_PATH}/-/merge_requests/3#note_{note_id}"
    )

    # The retry failed the same way: attempt 2 is the budget's last. No retry, same note edited.
    retry = max(fake_gitlab.projects[PROJECT_ID].jobs.values(), key=lambda job: job.id)
    retry.status, retry.trace = "failed", NETWORK_LOG.encode()
    second = run_guard(env, tmp_path)

    assert second.returncode == 0, second.log
    assert fake_gitlab.retried == [failed["install"].id]
    [edited] = notes(fake_gitlab)
    assert "this was attempt 2 and the budget is 2 attempts" in edited
    assert fake_gitlab.find("PUT", r".*/merge_requests/3/notes/\d+")


def test_branch_pipeline_finds_its_mr_by_branch_and_explains_a_test_failure(
    fake_gitlab: FakeGitLab, tmp_path: Path
) -> None:
    pipeline(fake_gitlab, {"unit-tests": TEST_LOG}, mr_iid=None)
    # Our MR, with a human quoting our marker; then, newer (listed first), a fork's MR from a
    # branch of the same name.
    fake_gitlab.add_merge_request(PROJECT_ID, 5, source_branch="feature", sha=HEAD_SHA)
    fake_gitlab.add_note(PROJECT_ID, 5, f"> {COMMENT_MARKER}\n> quoted by a human", author="dev")
    fake_gitlab.add_merge_request(
        PROJECT_ID, 4, source_branch="feature", sha="f" * 40, source_project_id=99
    )
    env = gitlab_env(fake_gitlab, tmp_path, mr_iid=None)

    result = run_guard(env, tmp_path)
    again = run_guard(env, tmp_path)

    assert result.returncode == 0, result.log
    assert again.returncode == 0, again.log
    assert fake_gitlab.retried == []
    assert notes(fake_gitlab, 4) == []
    human, ours = fake_gitlab.notes(PROJECT_ID, 5)
    assert "quoted by a human" in human.body
    assert ours.author.username == "guard-bot"
    assert "`test-failure`" in ours.body
    assert "tests/test_billing.py::test_invoice_totals" in ours.body
    assert result.report is not None
    assert result.report["pull_request"] == 5


def test_no_retry_when_another_job_really_broke(fake_gitlab: FakeGitLab, tmp_path: Path) -> None:
    pipeline(fake_gitlab, {"install": NETWORK_LOG, "unit-tests": TEST_LOG})

    result = run_guard(gitlab_env(fake_gitlab, tmp_path, mr_iid=3), tmp_path)

    assert result.returncode == 0, result.log
    assert fake_gitlab.retried == []
    assert "another job failed for a reason a retry cannot fix" in result.stdout
    assert len(notes(fake_gitlab)) == 1


def test_no_retry_when_too_many_jobs_failed(fake_gitlab: FakeGitLab, tmp_path: Path) -> None:
    pipeline(fake_gitlab, {f"install {n}/6": NETWORK_LOG for n in range(1, 7)})

    result = run_guard(gitlab_env(fake_gitlab, tmp_path, mr_iid=3), tmp_path)

    assert result.returncode == 0, result.log
    assert fake_gitlab.retried == []
    assert "6 jobs failed at once" in result.stdout


def test_attempts_are_counted_from_the_retried_jobs(
    fake_gitlab: FakeGitLab, tmp_path: Path
) -> None:
    pipeline(fake_gitlab, {"install": NETWORK_LOG}, tries=2)

    result = run_guard(gitlab_env(fake_gitlab, tmp_path, mr_iid=3), tmp_path)

    assert result.returncode == 0, result.log
    assert fake_gitlab.retried == []
    assert "this was attempt 2 and the budget is 2 attempts" in result.stdout
    assert result.report is not None
    assert [job["id"] for job in result.report["jobs"]] == [201]  # the newest try only


def test_dry_run_input_changes_nothing(fake_gitlab: FakeGitLab, tmp_path: Path) -> None:
    pipeline(fake_gitlab, {"install": NETWORK_LOG})
    env = gitlab_env(fake_gitlab, tmp_path, mr_iid=3, inputs={"dry-run": True})

    result = run_guard(env, tmp_path)

    assert result.returncode == 0, result.log
    assert "Would re-run `install` (dry run)" in result.stdout
    assert [r for r in fake_gitlab.requests if r.method != "GET"] == []


def test_secrets_never_leave_the_runner(fake_gitlab: FakeGitLab, tmp_path: Path) -> None:
    other_pat = "glpat-" + "Zx9Yw8Vu7Ts6Rq5Po4Nm"
    deploy_password = "hunter2-Deploy-Pass"
    leaky = (
        f"$ curl --header 'PRIVATE-TOKEN: {TOKEN}' $CI_API_V4_URL/projects\n"
        f"git clone https://gitlab-ci-token:{JOB_TOKEN}@gitlab.example.com/acme/shop.git\n"
        f"export RELEASE_TOKEN={other_pat}\n"
        f"deploying with {deploy_password}\n" + NETWORK_LOG
    )
    pipeline(fake_gitlab, {"install": leaky})
    env = gitlab_env(
        fake_gitlab,
        tmp_path,
        mr_iid=3,
        project_variables={"PIPELINE_GUARD_TOKEN": TOKEN, "DEPLOY_PASSWORD": deploy_password},
    )

    result = run_guard(env, tmp_path)

    assert result.returncode == 0, result.log
    text = everything(result, fake_gitlab)
    for secret in (TOKEN, JOB_TOKEN, other_pat, deploy_password):
        assert secret not in text
    assert "ECONNRESET" in notes(fake_gitlab)[0]


def test_missing_token_names_the_token_to_create(fake_gitlab: FakeGitLab, tmp_path: Path) -> None:
    pipeline(fake_gitlab, {"install": NETWORK_LOG})
    # No PIPELINE_GUARD_TOKEN variable: the token input's `$PIPELINE_GUARD_TOKEN` is empty, and
    # CI_JOB_TOKEN, which GitLab ignores on these endpoints, is all there is.
    env = gitlab_env(fake_gitlab, tmp_path, mr_iid=3, project_variables={})

    result = run_guard(env, tmp_path)

    assert result.returncode == 2  # a missing token is a configuration error
    [line] = result.stderr.splitlines()
    assert line.startswith("pipeline-guard: error: CI_JOB_TOKEN cannot list the pipeline's jobs")
    assert "project access token with the `api` scope" in line
    assert "Traceback" not in result.log
    assert "CI_JOB_TOKEN cannot" in result.stdout  # the report in the job log says it too
    assert result.report is not None
    assert result.report["errors"] == [line.removeprefix("pipeline-guard: error: ")]
    assert JOB_TOKEN not in everything(result, fake_gitlab)
    assert [r for r in fake_gitlab.requests if r.method != "GET"] == []


@pytest.mark.parametrize("token_input", ["", "$PIPELINE_GUARD_TOKEN", "${PIPELINE_GUARD_TOKEN}"])
def test_no_token_at_all_is_one_line_and_no_request(
    fake_gitlab: FakeGitLab, tmp_path: Path, token_input: str
) -> None:
    """No job token either (gitlab-ci-local, a local run); a reference that GitLab left
    unexpanded is no token, not a token to send."""
    pipeline(fake_gitlab, {"install": NETWORK_LOG})
    env = gitlab_env(fake_gitlab, tmp_path, mr_iid=3, project_variables={}, job_token=None)
    env["INPUT_TOKEN"] = token_input

    result = run_guard(env, tmp_path)

    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"pipeline-guard: error: no GitLab API token was given: {gitlab.TOKEN_HELP}"
    ]
    assert fake_gitlab.requests == []


def test_read_api_token_diagnoses_but_cannot_retry_or_comment(
    fake_gitlab: FakeGitLab, tmp_path: Path
) -> None:
    pipeline(fake_gitlab, {"install": NETWORK_LOG})
    env = gitlab_env(
        fake_gitlab,
        tmp_path,
        mr_iid=3,
        project_variables={"PIPELINE_GUARD_TOKEN": GITLAB_READ_TOKEN},
    )

    result = run_guard(env, tmp_path)

    assert result.returncode == 1
    assert fake_gitlab.retried == []
    assert notes(fake_gitlab) == []
    errors = result.stderr.splitlines()
    assert len(errors) == 2
    assert "Could not re-run the failed jobs: the token cannot retry jobs" in errors[0]
    assert "Could not comment on the pull request" in errors[1]
    assert all("needs the `api` scope" in error for error in errors)
    assert "`network`" in result.stdout  # the diagnosis is in the job log all the same
    assert "Traceback" not in result.log


def test_an_input_token_wins_over_the_default_variable(
    fake_gitlab: FakeGitLab, tmp_path: Path
) -> None:
    pipeline(fake_gitlab, {"install": NETWORK_LOG})
    env = gitlab_env(
        fake_gitlab,
        tmp_path,
        mr_iid=3,
        inputs={"token": "$GUARD_BOT_TOKEN"},
        project_variables={"GUARD_BOT_TOKEN": TOKEN, "PIPELINE_GUARD_TOKEN": GITLAB_READ_TOKEN},
    )

    result = run_guard(env, tmp_path)

    assert result.returncode == 0, result.log
    assert len(notes(fake_gitlab)) == 1
    assert {r.headers.get("private-token") for r in fake_gitlab.requests} == {TOKEN}


def test_rate_limit_429_waits_for_retry_after(fake_gitlab: FakeGitLab, tmp_path: Path) -> None:
    pipeline(fake_gitlab, {"install": NETWORK_LOG})
    env = gitlab_env(fake_gitlab, tmp_path, mr_iid=3)
    fake_gitlab.throttle(retry_after=1, times=2)

    started = time.monotonic()
    result = run_guard(env, tmp_path)
    elapsed = time.monotonic() - started

    assert result.returncode == 0, result.log
    assert len(notes(fake_gitlab)) == 1
    assert fake_gitlab.retried != []
    first, second, third = fake_gitlab.requests[:3]
    assert first.path == second.path == third.path  # asked again, after waiting
    assert elapsed >= 2.0


def test_a_retry_after_date_from_a_proxy_is_waited_out_too(
    fake_gitlab: FakeGitLab, tmp_path: Path
) -> None:
    """RFC 9110 allows an HTTP date; python-gitlab alone would crash on it with int()."""
    pipeline(fake_gitlab, {"install": NETWORK_LOG})
    env = gitlab_env(fake_gitlab, tmp_path, mr_iid=3)
    date = {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}
    fake_gitlab.fail("GET", rf".*/pipelines/{PIPELINE_ID}/jobs", 429, headers=date, body="Retry")

    result = run_guard(env, tmp_path)

    assert result.returncode == 0, result.log
    assert len(notes(fake_gitlab)) == 1


def test_server_errors_are_retried(fake_gitlab: FakeGitLab, tmp_path: Path) -> None:
    pipeline(fake_gitlab, {"install": NETWORK_LOG})
    env = gitlab_env(fake_gitlab, tmp_path, mr_iid=3)
    jobs = rf".*/pipelines/{PIPELINE_ID}/jobs"
    fake_gitlab.fail("GET", jobs, 502, times=2)
    fake_gitlab.fail("POST", r".*/jobs/\d+/retry", 503, times=1)

    result = run_guard(env, tmp_path)

    assert result.returncode == 0, result.log
    assert len(fake_gitlab.find("GET", jobs)) == 3
    assert len(fake_gitlab.retried) == 1
    assert len(notes(fake_gitlab)) == 1


def test_api_down_is_one_line_per_error_and_no_traceback(
    fake_gitlab: FakeGitLab, tmp_path: Path
) -> None:
    pipeline(fake_gitlab, {"install": NETWORK_LOG})
    env = gitlab_env(fake_gitlab, tmp_path, mr_iid=3)
    fake_gitlab.fail("GET", r".*/jobs/\d+/trace", 503, times=100)

    result = run_guard(env, tmp_path)

    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "pipeline-guard: error: Could not read the log of `install`: "
        "GitLab API error 503 when trying to read job traces (fault)"
    ]
    assert "No log to read" in result.stdout  # the job still has its place in the report
    assert "Traceback" not in result.log
    assert result.report is not None


def test_bad_boolean_variable_is_a_usage_error(fake_gitlab: FakeGitLab, tmp_path: Path) -> None:
    pipeline(fake_gitlab, {"install": NETWORK_LOG})
    env = gitlab_env(
        fake_gitlab,
        tmp_path,
        mr_iid=3,
        project_variables={"PIPELINE_GUARD_TOKEN": TOKEN, "PIPELINE_GUARD_DRY_RUN": "maybe"},
    )

    result = run_guard(env, tmp_path)

    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "pipeline-guard: error: dry-run: expected true or false, got 'maybe'"
    ]


# -- the context, read from the variables of each kind of pipeline ----------------------


def test_context_of_a_merge_request_pipeline(tmp_path: Path) -> None:
    env = gitlab_env("https://gitlab.example.com", tmp_path, mr_iid=3)

    context = gitlab.read_context(env, RunOptions(workspace=tmp_path))

    assert context.platform == Platform.GITLAB
    assert context.api_url == "https://gitlab.example.com/api/v4"
    assert context.project_id == str(PROJECT_ID)
    assert context.run_id == PIPELINE_ID
    assert context.pr_number == 3
    assert context.head_branch == "feature"
    assert context.own_job == "pipeline-guard"
    assert not context.from_fork
    assert context.token is not None
    assert context.token.get_secret_value() == TOKEN


def test_context_of_a_fork_merge_request(tmp_path: Path) -> None:
    """Run in the parent project: the MR is ours, from a fork (no fix MR). Run in the fork:
    the IID numbers an MR of the parent project, not one of the fork."""
    env = gitlab_env("https://gitlab.example.com", tmp_path, mr_iid=3)
    env["CI_MERGE_REQUEST_SOURCE_PROJECT_ID"] = "99"
    in_parent = gitlab.read_context(env, RunOptions())
    env["CI_PROJECT_ID"] = "99"
    in_fork = gitlab.read_context(env, RunOptions())

    assert in_parent.from_fork
    assert in_parent.pr_number == 3
    assert in_fork.from_fork
    assert in_fork.pr_number is None


# -- fix merge requests through the commits API ------------------------------------------

UGLY = b"def add(a,b):\n    return a+b\n"
PRETTY = b"def add(a, b):\n    return a + b\n"
FILES = {"src/app.py": UGLY, "requirements-dev.txt": b"black==24.4.2\n", "README.md": b"# app\n"}
BLACK_LOG = """\
\x1b[32;1m$ black --check .\x1b[0;m
would reformat /builds/acme/shop/src/app.py

Oh no! 💥 💔 💥
1 file would be reformatted, 1 file would be left unchanged.
\x1b[31;1mERROR: Job failed: exit code 1\x1b[0;m
"""


def checkout(fake: FakeGitLab, workspace: Path) -> str:
    """A git checkout of FILES on `feature`, and the fake's project at that very commit."""
    git = ["git", "-C", str(workspace), "-c", "user.name=Dev", "-c", "user.email=d@example.com"]
    for path, content in FILES.items():
        (workspace / path).parent.mkdir(parents=True, exist_ok=True)
        (workspace / path).write_bytes(content)
    subprocess.run([*git, "init", "-q", "-b", "feature"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "Add app"], check=True)
    sha = subprocess.run(
        [*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()
    project = fake.add_project(PROJECT_ID, PROJECT_PATH, files=FILES)
    project.commits[sha] = Commit(sha, PROJECT_ID, "Add app", None, dict(FILES), "feature")
    project.branches["feature"] = sha
    return sha


def test_formatter_drift_becomes_one_fix_mr(fake_gitlab: FakeGitLab, tmp_path: Path) -> None:
    """One commit through the commits API on a branch named after the fix, one MR; a second
    run force-pushes the branch again and updates that MR instead of opening another."""
    workspace = reachable(tmp_path) / "shop"
    workspace.mkdir()
    sha = checkout(fake_gitlab, workspace)
    fake_gitlab.add_merge_request(PROJECT_ID, 3, source_branch="feature", sha=sha)
    fake_gitlab.add_pipeline(PROJECT_ID, PIPELINE_ID, ref="feature", sha=sha)
    fake_gitlab.add_job(PROJECT_ID, PIPELINE_ID, job_id=200, name="lint", trace=BLACK_LOG)
    env = gitlab_env(fake_gitlab, workspace, mr_iid=3) | {"CI_COMMIT_SHA": sha}

    first = run_guard(env, workspace)
    second = run_guard(env, workspace)

    assert first.returncode == 0, first.log
    assert second.returncode == 0, second.log
    [fix] = [mr for mr in fake_gitlab.merge_requests if mr.iid != 3]
    assert (fix.source_branch, fix.target_branch) == ("pipeline-guard/fix/black/feature", "feature")
    assert fake_gitlab.get_file(PROJECT_ID, fix.source_branch, "src/app.py") == PRETTY
    assert fake_gitlab.get_file(PROJECT_ID, fix.source_branch, "README.md") == FILES["README.md"]
    commit = fake_gitlab.commits[-1]
    assert commit.parent == sha
    assert [a["action"] for a in commit.actions] == ["update"]
    assert "black --check" in fix.description
    assert fake_gitlab.find("PUT", rf".*/merge_requests/{fix.iid}")  # updated, not reopened
    [note] = notes(fake_gitlab)
    assert f"/-/merge_requests/{fix.iid}" in note
    assert (workspace / "src/app.py").read_bytes() == UGLY  # the fix lives only on its branch


def test_fix_commit_creates_deletes_and_marks_executable(
    fake_gitlab: FakeGitLab, tmp_path: Path
) -> None:
    """GitLab reads `execute_filemode` only on a `chmod` action: a new executable file needs
    one after its `create`."""
    fake_gitlab.add_project(PROJECT_ID, PROJECT_PATH, files={"README.md": "# shop\n"})
    fake_gitlab.add_branch(PROJECT_ID, "feature")
    context = gitlab.read_context(gitlab_env(fake_gitlab, tmp_path), RunOptions())
    fix = FixRequest(
        branch="pipeline-guard/fix/demo/feature",
        base_branch="feature",
        title="Demo",
        body="demo",
        commit_message="Demo",
        changes=(
            FileChange(path="bin/fmt", content=b"#!/bin/sh\n", executable=True, created=True),
            FileChange(path="README.md", content=None),
        ),
    )

    url = gitlab.connect(context).open_fix(fix)

    actions = [(a["action"], a["file_path"]) for a in fake_gitlab.commits[-1].actions]
    assert actions == [("create", "bin/fmt"), ("chmod", "bin/fmt"), ("delete", "README.md")]
    assert fake_gitlab.get_file(PROJECT_ID, fix.branch, "bin/fmt") == b"#!/bin/sh\n"
    assert fake_gitlab.get_file(PROJECT_ID, fix.branch, "README.md") is None
    assert url.endswith(f"/{PROJECT_PATH}/-/merge_requests/1")

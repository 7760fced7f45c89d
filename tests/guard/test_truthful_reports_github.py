"""What a maintainer sees on GitHub is what happened: one comment per watched workflow, turned
green by a passing run; refusals reported as refusals in the comment, the outputs and the JSON;
a job log that reads as text, with annotations; no fixer run where a fix cannot work."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conftest import REPO
from fakes.github_api import FakeGitHub
from github_env import HEAD_SHA, REPO_NAME, github_env, run_guard, workflow_run_event
from pipeline_guard.forges.base import comment_marker

NETWORK_LOG = (REPO / "examples" / "npm-registry-outage.log").read_text(encoding="utf-8")
TEST_LOG = """\
2026-11-20T09:14:02.0000000Z ##[group]Run pytest
2026-11-20T09:14:03.0000000Z E   assert 1 == 2
2026-11-20T09:14:03.0000000Z FAILED tests/test_app.py::test_add - assert 1 == 2
2026-11-20T09:14:03.0000000Z ========================= 1 failed, 2 passed in 0.12s ==========
2026-11-20T09:14:03.0000000Z ##[error]Process completed with exit code 1.
"""
DOCS_LOG = """\
2026-11-20T09:14:02.0000000Z ##[group]Run npm ci
2026-11-20T09:14:03.0000000Z npm error code ECONNRESET
2026-11-20T09:14:03.0000000Z npm error network request to https://registry.npmjs.org/x failed
2026-11-20T09:14:03.0000000Z ##[error]Process completed with exit code 1.
"""
BLACK_LOG = """\
2026-11-20T09:14:02.0000000Z ##[group]Run black --check .
2026-11-20T09:14:03.0000000Z would reformat /home/runner/work/app/app/src/app.py
2026-11-20T09:14:03.0000000Z 1 file would be reformatted, 1 file would be left unchanged.
2026-11-20T09:14:03.0000000Z ##[error]Process completed with exit code 1.
"""


def _event(run_id: int, workflow: str, *, conclusion: str = "failure", attempt: int = 1) -> Any:
    event = workflow_run_event(run_id, pulls=[7], attempt=attempt)
    event["workflow_run"].update(name=workflow, conclusion=conclusion, run_number=run_id)
    return event


def _run(fake: FakeGitHub, run_id: int, logs: dict[str, str]) -> None:
    fake.add_run(REPO_NAME, run_id, head_sha=HEAD_SHA, head_branch="feature", pull_requests=[7])
    for index, (name, log) in enumerate(logs.items()):
        fake.add_job(REPO_NAME, run_id, job_id=run_id * 10 + index, name=name, log=log)


def test_two_watched_workflows_keep_both_diagnoses_and_a_pass_turns_one_green(
    fake_github: FakeGitHub, tmp_path: Path
) -> None:
    fake_github.add_repo(REPO_NAME)
    fake_github.add_pull(REPO_NAME, 7, head_sha=HEAD_SHA, head_ref="feature")
    _run(fake_github, 100, {"test": TEST_LOG})
    _run(fake_github, 101, {"docs": TEST_LOG.replace("test_add", "test_docs_build")})

    ci = run_guard(github_env(fake_github, tmp_path, "workflow_run", _event(100, "CI")), tmp_path)
    docs = run_guard(
        github_env(fake_github, tmp_path, "workflow_run", _event(101, "Docs")), tmp_path
    )

    assert (ci.returncode, docs.returncode) == (0, 0), ci.stderr + docs.stderr
    bodies = [comment.body for comment in fake_github.comments(REPO_NAME, 7)]
    assert len(bodies) == 2
    ci_body = next(body for body in bodies if comment_marker("CI") in body)
    docs_body = next(body for body in bodies if comment_marker("Docs") in body)
    assert "test_add" in ci_body
    assert "test_docs_build" in docs_body
    assert "[CI \\#100]" in ci_body  # the run title is markdown-escaped; rendered: "CI #100"

    before = len(fake_github.requests)
    passed = run_guard(
        github_env(fake_github, tmp_path, "workflow_run", _event(100, "CI", conclusion="success")),
        tmp_path,
    )

    assert passed.returncode == 0, passed.stderr
    asked = [request.path for request in fake_github.requests[before:]]
    assert not [path for path in asked if "/jobs" in path or "/logs" in path], asked
    bodies = [comment.body for comment in fake_github.comments(REPO_NAME, 7)]
    assert len(bodies) == 2
    green = next(body for body in bodies if comment_marker("CI") in body)
    assert "> [!TIP]" in green
    assert "passed." in green
    assert "<details><summary>The earlier report</summary>" in green
    assert next(body for body in bodies if comment_marker("Docs") in body) == docs_body
    assert passed.outputs["action"] == "none"


def test_a_passing_run_without_an_earlier_comment_writes_none(
    fake_github: FakeGitHub, tmp_path: Path
) -> None:
    fake_github.add_repo(REPO_NAME)
    fake_github.add_pull(REPO_NAME, 7, head_sha=HEAD_SHA, head_ref="feature")
    _run(fake_github, 100, {})
    event = _event(100, "CI", conclusion="success")

    result = run_guard(github_env(fake_github, tmp_path, "workflow_run", event), tmp_path)

    assert result.returncode == 0, result.stderr
    assert fake_github.comments(REPO_NAME, 7) == []
    assert "passed; nothing to diagnose" in result.stdout


def test_a_refused_rerun_is_reported_as_refused_everywhere(tmp_path: Path) -> None:
    permissions: dict[str, str | None] = {
        "actions": "read",
        "issues": "write",
        "pull_requests": "write",
        "checks": "read",
    }
    with FakeGitHub(permissions=permissions) as fake:
        fake.add_repo(REPO_NAME)
        fake.add_pull(REPO_NAME, 7, head_sha=HEAD_SHA, head_ref="feature")
        _run(fake, 100, {"build": NETWORK_LOG})
        env = github_env(fake, tmp_path, "workflow_run", _event(100, "CI"), run_id=200)
        result = run_guard(env, tmp_path)
        body = fake.comments(REPO_NAME, 7)[0].body

    assert result.returncode == 1
    row = next(line for line in body.splitlines() if line.startswith("| build |"))
    assert row.endswith("| re-run refused: needs `actions: write` |")
    assert "re-ran" not in body.lower().replace("tried to re-run", "")
    assert result.outputs["action"] == "comment"
    assert result.report is not None
    assert result.report["jobs"][0]["action"] == "comment"
    assert result.report["jobs"][0]["result"] == "re-run refused: needs `actions: write`"
    # One line per error of our own, in our words: PyGithub's logger stays quiet.
    assert all(line.startswith("pipeline-guard: error:") for line in result.stderr.splitlines())
    assert "Request POST" not in result.stderr
    assert (result.stdout + result.stderr).count("the token cannot re-run jobs") == 1


def test_a_dry_run_says_would(fake_github: FakeGitHub, tmp_path: Path) -> None:
    fake_github.add_repo(REPO_NAME)
    fake_github.add_pull(REPO_NAME, 7, head_sha=HEAD_SHA, head_ref="feature")
    _run(fake_github, 100, {"build": NETWORK_LOG})
    env = github_env(
        fake_github, tmp_path, "workflow_run", _event(100, "CI"), inputs={"dry-run": "true"}
    )

    result = run_guard(env, tmp_path)

    assert result.returncode == 0, result.stderr
    row = next(line for line in result.summary.splitlines() if line.startswith("| build |"))
    assert row.endswith("| would re-run (dry run) |")
    assert result.outputs["action"] == "none"
    assert result.report is not None
    assert result.report["jobs"][0]["planned"] == "retry"


def test_without_a_checkout_no_fixer_runs_and_the_comment_says_what_would_enable_it(
    fake_github: FakeGitHub, tmp_path: Path
) -> None:
    fake_github.add_repo(REPO_NAME)
    fake_github.add_pull(REPO_NAME, 7, head_sha=HEAD_SHA, head_ref="feature")
    _run(fake_github, 100, {"lint": BLACK_LOG})
    env = github_env(fake_github, tmp_path, "workflow_run", _event(100, "CI"))
    env["PIPELINE_GUARD_CACHE_DIR"] = str(tmp_path / "cache")

    result = run_guard(env, tmp_path)

    assert result.returncode == 0, result.stderr
    body = fake_github.comments(REPO_NAME, 7)[0].body
    assert "fixes need the failing commit checked out" in body
    assert body.count("fixes need the failing commit checked out") == 1
    assert "fatal:" not in body
    assert "rev-parse" not in body
    assert not (tmp_path / "cache" / "tools").exists(), "no fixer tool was installed"
    assert result.outputs["action"] == "comment"


def test_the_job_log_is_text_with_folded_causes_and_annotations(
    fake_github: FakeGitHub, tmp_path: Path
) -> None:
    fake_github.add_repo(REPO_NAME)
    fake_github.add_pull(REPO_NAME, 7, head_sha=HEAD_SHA, head_ref="feature")
    _run(fake_github, 100, {f"test ({n})": TEST_LOG for n in range(4)} | {"docs": DOCS_LOG})
    env = github_env(fake_github, tmp_path, "workflow_run", _event(100, "CI"))

    result = run_guard(env, tmp_path)

    log = result.stdout
    for markdown in ("| Job |", "####", "<sub>", "```", "<details>"):
        assert markdown not in log
    groups = [line for line in log.splitlines() if line.startswith("::group::")]
    assert len(groups) == 2
    assert groups[0].startswith("::group::test (0) and 3 more: ")
    annotations = [line for line in log.splitlines() if line.startswith(("::error ", "::warning "))]
    assert len(annotations) == 2
    assert annotations[0].startswith("::error title=test (0) and 3 more%3A ")
    assert "FAILED tests/test_app.py%3A%3Atest_add" not in annotations[0]  # data is not escaped so
    assert "FAILED tests/test_app.py::test_add" in annotations[0]
    assert log.count("::endgroup::") == 2


def test_log_lines_cannot_issue_workflow_commands(fake_github: FakeGitHub, tmp_path: Path) -> None:
    fake_github.add_repo(REPO_NAME)
    fake_github.add_pull(REPO_NAME, 7, head_sha=HEAD_SHA, head_ref="feature")
    hostile = TEST_LOG.replace("E   assert 1 == 2", "::add-mask::E   assert 1 == 2")
    _run(fake_github, 100, {"::warning::fake": hostile})
    env = github_env(fake_github, tmp_path, "workflow_run", _event(100, "CI"))

    result = run_guard(env, tmp_path)

    active = True
    token = ""
    for line in result.stdout.splitlines():
        if line.startswith("::stop-commands::"):
            active, token = False, line.removeprefix("::stop-commands::")
        elif not active and line == f"::{token}::":
            active = True
        elif active and line.startswith("::"):
            assert line.startswith(("::group::", "::endgroup::", "::error ", "::warning ")), line
            assert "add-mask" not in line.split("::", 2)[1]


def test_a_config_typo_lists_every_problem_after_the_diagnosis(
    fake_github: FakeGitHub, tmp_path: Path
) -> None:
    fake_github.add_repo(REPO_NAME)
    fake_github.add_pull(REPO_NAME, 7, head_sha=HEAD_SHA, head_ref="feature")
    _run(fake_github, 100, {"build": NETWORK_LOG})
    (tmp_path / ".pipeline-guard.yml").write_text(
        "retry:\n  max-atempts: 3\ncomment: perhaps\n", encoding="utf-8"
    )
    env = github_env(fake_github, tmp_path, "workflow_run", _event(100, "CI"))

    result = run_guard(env, tmp_path)

    assert result.returncode == 2
    assert "npm could not reach the package registry" in result.stdout
    assert "npm could not reach the package registry" in result.summary
    error = result.stderr.strip()
    assert error.startswith("pipeline-guard: error: the configuration is invalid")
    assert "retry.max-atempts: unknown key" in error
    assert "comment: Input should be a valid boolean" in error
    assert len(error.splitlines()) == 1
    assert fake_github.reruns == []
    assert fake_github.comments(REPO_NAME, 7) == []

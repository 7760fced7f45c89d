"""The PR comment cannot be hijacked (issue 15, "Comments").

Anyone can write pipeline-guard's hidden marker in a comment; only the comment the guard's own
identity wrote is edited. Job and step names come from the workflow file of the branch (a
fork's, in a fork PR) and are shown as text, never as links, images, mentions or HTML. A run
whose head repository is unknown is treated as a fork (no fix PR).
"""

from __future__ import annotations

import json
from pathlib import Path

from fakes.github_api import FakeGitHub
from fakes.gitlab_api import FakeGitLab
from github_env import HEAD_SHA, REPO_NAME, github_env, run_guard, workflow_run_event
from gitlab_env import PIPELINE_ID, PROJECT_ID, gitlab_env
from gitlab_env import run_guard as run_gitlab_guard
from pipeline_guard.context import Mode
from pipeline_guard.forges import github, gitlab
from pipeline_guard.forges.base import COMMENT_MARKER, RunOptions
from pipeline_guard.markdown import escape_inline

TEST_LOG = """\
2026-11-20T09:14:02.0000000Z ##[group]Run pytest
2026-11-20T09:14:03.0000000Z FAILED tests/test_app.py::test_add - assert 1 == 2
2026-11-20T09:14:03.0000000Z ##[error]Process completed with exit code 1.
"""
HOSTILE_NAME = (
    "test [click](https://evil.example/x) ![img](https://evil.example/p.png) @octo/admins "
    "<img src=x onerror=alert(1)> **bold** | cell"
)


def _run(fake: FakeGitHub, tmp_path: Path, job_name: str = "test") -> None:
    fake.add_repo(REPO_NAME)
    fake.add_pull(REPO_NAME, 7, head_sha=HEAD_SHA, head_ref="feature")
    fake.add_run(REPO_NAME, 100, head_sha=HEAD_SHA, head_branch="feature", pull_requests=[7])
    fake.add_job(REPO_NAME, 100, job_id=500, name=job_name, log=TEST_LOG)


def test_a_comment_by_someone_else_with_the_marker_is_not_edited(
    fake_github: FakeGitHub, tmp_path: Path
) -> None:
    _run(fake_github, tmp_path)
    planted = fake_github.add_comment(REPO_NAME, 7, f"{COMMENT_MARKER}\nlooks like the guard's")
    env = github_env(
        fake_github, tmp_path, "workflow_run", workflow_run_event(100, pulls=[7]), run_id=200
    )

    first = run_guard(env, tmp_path)
    second = run_guard(env, tmp_path)

    assert first.returncode == second.returncode == 0, second.stderr
    comments = fake_github.comments(REPO_NAME, 7)
    assert planted.body == f"{COMMENT_MARKER}\nlooks like the guard's"  # untouched
    ours = [c for c in comments if c.user["login"] == "github-actions[bot]"]
    assert len(ours) == 1  # created once, then edited in place
    assert "test-failure" in ours[0].body


def test_markdown_in_a_job_name_is_shown_as_text(fake_github: FakeGitHub, tmp_path: Path) -> None:
    _run(fake_github, tmp_path, job_name=HOSTILE_NAME)
    env = github_env(
        fake_github, tmp_path, "workflow_run", workflow_run_event(100, pulls=[7]), run_id=200
    )

    result = run_guard(env, tmp_path)

    assert result.returncode == 0, result.stderr
    body = fake_github.comments(REPO_NAME, 7)[0].body
    for text in (body, result.summary):
        assert "[click](" not in text
        assert "![img](" not in text
        assert "<img" not in text.replace("\\<img", "")  # only as escaped text
        assert "@octo/admins" not in text  # no mention: a zero-width space follows the @
        assert "**bold**" not in text
    assert json.dumps(result.report).count(HOSTILE_NAME) >= 1  # the report keeps the name


def test_escaping_keeps_the_text_readable() -> None:
    escaped = escape_inline("build (3.11) [linux] #1 @me <x>")
    assert escaped == "build \\(3.11\\) \\[linux\\] \\#1 @\u200bme \\<x\\>"


def test_an_unknown_head_repository_is_a_fork(tmp_path: Path) -> None:
    event = workflow_run_event(100, pulls=[7])
    del event["workflow_run"]["head_repository"]
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event), encoding="utf-8")
    env = {
        "GITHUB_EVENT_PATH": str(path),
        "GITHUB_EVENT_NAME": "workflow_run",
        "GITHUB_REPOSITORY": REPO_NAME,
    }
    context = github.read_context(env, RunOptions())
    assert context.mode == Mode.WORKFLOW_RUN
    assert context.from_fork


def test_a_pull_request_without_its_head_repository_is_a_fork(tmp_path: Path) -> None:
    event = {"pull_request": {"number": 7, "head": {"sha": HEAD_SHA, "ref": "x"}}}
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event), encoding="utf-8")
    env = {
        "GITHUB_EVENT_PATH": str(path),
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_REPOSITORY": REPO_NAME,
    }
    assert github.read_context(env, RunOptions()).from_fork


def test_a_push_is_not_a_fork(tmp_path: Path) -> None:
    env = {"GITHUB_EVENT_NAME": "push", "GITHUB_REPOSITORY": REPO_NAME, "GITHUB_RUN_ID": "1"}
    assert not github.read_context(env, RunOptions()).from_fork


def test_a_gitlab_merge_request_without_its_source_project_is_a_fork() -> None:
    env = {"CI_PROJECT_ID": "7", "CI_MERGE_REQUEST_IID": "3", "CI_MERGE_REQUEST_PROJECT_ID": "7"}
    assert gitlab.read_context(env, RunOptions()).from_fork
    same = {**env, "CI_MERGE_REQUEST_SOURCE_PROJECT_ID": "7"}
    assert not gitlab.read_context(same, RunOptions()).from_fork
    branch = {"CI_PROJECT_ID": "7"}
    assert not gitlab.read_context(branch, RunOptions()).from_fork


GITLAB_LOG = """\
section_start:1767603600:step_script\r\x1b[0K
FAILED tests/test_billing.py::test_invoice_totals - AssertionError: assert 10 == 12
section_end:1767603604:step_script\r\x1b[0K
ERROR: Job failed: exit code 1
"""


def test_a_gitlab_note_by_someone_else_with_the_marker_is_not_edited(
    fake_gitlab: FakeGitLab, tmp_path: Path
) -> None:
    fake_gitlab.add_project(PROJECT_ID, "acme/shop", files={"README.md": "# shop\n"})
    fake_gitlab.add_branch(PROJECT_ID, "feature")
    fake_gitlab.add_merge_request(PROJECT_ID, 3, source_branch="feature", sha=HEAD_SHA)
    fake_gitlab.add_pipeline(PROJECT_ID, PIPELINE_ID, ref="feature", sha=HEAD_SHA)
    fake_gitlab.add_job(PROJECT_ID, PIPELINE_ID, job_id=200, name="test", trace=GITLAB_LOG)
    planted = fake_gitlab.add_note(PROJECT_ID, 3, f"{COMMENT_MARKER}\nmine", author="mallory")
    env = gitlab_env(fake_gitlab, tmp_path, mr_iid=3)

    first = run_gitlab_guard(env, tmp_path)
    second = run_gitlab_guard(env, tmp_path)

    assert first.returncode == second.returncode == 0, second.log
    notes = fake_gitlab.notes(PROJECT_ID, 3)
    assert planted.body == f"{COMMENT_MARKER}\nmine"
    assert fake_gitlab.find("PUT", rf".*/notes/{planted.id}") == []  # not even attempted
    ours = [note for note in notes if note.id != planted.id]
    assert len(ours) == 1  # created once, edited the second time
    assert "test-failure" in ours[0].body

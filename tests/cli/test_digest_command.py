"""``pipeline-guard digest --publish`` on both forges, as the scheduled job runs it: a fresh
process against the fake GitHub / GitLab, reading a SQLite store the guard wrote. The issue is
created once and then edited in place."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fakes.github_api import FakeGitHub
from fakes.gitlab_api import FakeGitLab
from github_env import REPO_NAME, github_env
from gitlab_env import PROJECT_ID, PROJECT_PATH, gitlab_env
from pipeline_guard.history.digest import DIGEST_MARKER
from pipeline_guard.history.record import PASSED, Record
from pipeline_guard.history.store import Store


def seed(path: Path, repository: str, count: int = 3) -> None:
    now = datetime.now(UTC)
    Store.open(str(path)).append(
        [
            Record(
                recorded_at=now - timedelta(hours=n),
                platform="github",
                repository=repository,
                job="test",
                category="network",
                action="retry",
                outcome=PASSED if n == 0 else None,
                duration=60.0,
            )
            for n in range(count)
        ]
        + [
            Record(
                recorded_at=now,
                platform="github",
                repository="someone/else",
                job="x",
                category="lint",
                action="comment",
            )
        ]
    )


def digest(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipeline_guard", "digest", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=120,
        check=False,
    )


def test_github_digest_issue_is_created_once_then_edited(
    fake_github: FakeGitHub, tmp_path: Path
) -> None:
    fake_github.add_repo(REPO_NAME)
    store = tmp_path / "history.db"
    seed(store, REPO_NAME)
    event = {"repository": {"full_name": REPO_NAME, "default_branch": "main"}}
    env = github_env(fake_github, tmp_path, "schedule", event)
    env["PIPELINE_GUARD_HISTORY_URL"] = str(store)

    first = digest(env, tmp_path, "--publish")
    seed(store, REPO_NAME, count=1)
    second = digest(env, tmp_path, "--publish")

    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    [issue] = fake_github.issues(REPO_NAME)
    assert issue.body is not None
    assert issue.body.startswith(DIGEST_MARKER)
    assert "**4** failed jobs" in issue.body  # edited: 3 + 1, this repository only
    assert "```mermaid" in issue.body
    assert len(fake_github.find("POST", r".*/issues")) == 1
    assert len(fake_github.find("PATCH", r".*/issues/\d+")) == 1
    assert "digest issue: " in second.stderr


def test_gitlab_digest_issue_is_created_once_then_edited(
    fake_gitlab: FakeGitLab, tmp_path: Path
) -> None:
    fake_gitlab.add_project(PROJECT_ID, PROJECT_PATH)
    store = tmp_path / "history.db"
    seed(store, PROJECT_PATH)
    env = gitlab_env(fake_gitlab, tmp_path, branch="main")
    env["PIPELINE_GUARD_HISTORY_URL"] = str(store)

    first = digest(env, tmp_path, "--publish")
    second = digest(env, tmp_path, "--publish", "--format", "json")

    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    [issue] = fake_gitlab.projects[PROJECT_ID].issues.values()
    assert issue.description.startswith(DIGEST_MARKER)
    assert "**3** failed jobs" in issue.description
    assert json.loads(second.stdout)["reruns_green"] == 1
    assert len(fake_gitlab.find("POST", r".*/issues")) == 1
    assert len(fake_gitlab.find("PUT", r".*/issues/\d+")) == 1


def test_digest_without_a_store_is_a_usage_error(tmp_path: Path) -> None:
    done = digest({"PATH": "/usr/bin:/bin"}, tmp_path)

    assert done.returncode == 2
    assert "digest needs a history store" in done.stderr

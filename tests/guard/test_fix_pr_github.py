"""Fix PRs on GitHub, end to end: a failed run whose log shows formatter drift yields exactly
one verified fix PR with exactly the formatted file, a second run updates it instead of opening
another, and the PR comment links to it. The workspace is a real git checkout of the very
commit the fake GitHub holds (same sha), black is the real tool at the version the repository
pins, and every request is contract-checked by the ``fake_github`` fixture."""

from __future__ import annotations

import subprocess
from pathlib import Path

from fakes.github_api import FakeGitHub
from fixer_sites import reachable
from github_env import REPO_NAME, github_env, run_guard, workflow_run_event

UGLY = b"def add(a,b):\n    return a+b\n"
PRETTY = b"def add(a, b):\n    return a + b\n"
FILES = {
    "src/app.py": UGLY,
    "requirements-dev.txt": b"black==24.4.2\n",
    "README.md": b"# app\n",
}
BLACK_LOG = """\
2026-11-20T09:14:02.0000000Z ##[group]Run black --check .
2026-11-20T09:14:03.0000000Z would reformat /home/runner/work/app/app/src/app.py
2026-11-20T09:14:03.0000000Z
2026-11-20T09:14:03.0000000Z Oh no! 💥 💔 💥
2026-11-20T09:14:03.0000000Z 1 file would be reformatted, 1 file would be left unchanged.
2026-11-20T09:14:03.0000000Z ##[error]Process completed with exit code 1.
"""


def checkout_of(fake: FakeGitHub, workspace: Path, files: dict[str, bytes] = FILES) -> str:
    """A git checkout whose HEAD is byte for byte the fake's initial commit (same sha)."""
    state = fake.repos[REPO_NAME]
    sha = state.refs["refs/heads/main"]
    commit = state.git.commits[sha]
    workspace.mkdir(parents=True, exist_ok=True)
    git = ["git", "-C", str(workspace)]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    for path, content in files.items():
        (workspace / path).parent.mkdir(parents=True, exist_ok=True)
        (workspace / path).write_bytes(content)
    subprocess.run([*git, "add", "-A"], check=True)
    tree = subprocess.run([*git, "write-tree"], check=True, capture_output=True, text=True)
    person = "Octo Cat <octocat@example.com> 1704067200 +0000"
    raw = f"tree {tree.stdout.strip()}\nauthor {person}\ncommitter {person}\n\n{commit.message}"
    made = subprocess.run(
        [*git, "hash-object", "-t", "commit", "-w", "--stdin"],
        input=raw,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    assert made == sha, "the checkout must be the fake's commit"
    subprocess.run([*git, "reset", "-q", "--hard", sha], check=True)
    return sha


def _failed_run(fake: FakeGitHub, tmp_path: Path) -> tuple[Path, str]:
    fake.add_repo(REPO_NAME, files=FILES)
    workspace = reachable(tmp_path) / "workspace"
    sha = checkout_of(fake, workspace)
    fake.repos[REPO_NAME].refs["refs/heads/feature"] = sha
    fake.add_pull(REPO_NAME, 7, head_sha=sha, head_ref="feature")
    fake.add_run(REPO_NAME, 100, head_sha=sha, head_branch="feature", pull_requests=[7])
    fake.add_job(REPO_NAME, 100, job_id=500, name="lint", log=BLACK_LOG)
    return workspace, sha


def _env(fake: FakeGitHub, tmp_path: Path, workspace: Path, sha: str) -> dict[str, str]:
    event = workflow_run_event(100, pulls=[7])
    event["workflow_run"]["head_sha"] = sha
    env = github_env(fake, tmp_path, "workflow_run", event, run_id=200)
    env["GITHUB_WORKSPACE"] = str(workspace)
    return env


def test_formatter_drift_becomes_one_verified_fix_pr(
    fake_github: FakeGitHub, tmp_path: Path
) -> None:
    workspace, sha = _failed_run(fake_github, tmp_path)
    env = _env(fake_github, tmp_path, workspace, sha)

    first = run_guard(env, workspace)

    assert first.returncode == 0, first.stderr
    fixes = [pull for pull in fake_github.pulls if pull.number != 7]
    assert len(fixes) == 1
    fix = fixes[0]
    assert fix.head_ref == "pipeline-guard/fix/black/feature"
    assert fix.base_ref == "feature"
    assert fake_github.get_file(REPO_NAME, fix.head_ref, "src/app.py") == PRETTY
    assert fake_github.get_file(REPO_NAME, fix.head_ref, "README.md") == FILES["README.md"]
    assert fix.body is not None
    assert "black --check" in fix.body
    assert "24.4.2" in fix.body
    comment = fake_github.comments(REPO_NAME, 7)[0].body
    assert f"/pull/{fix.number}" in comment
    assert first.outputs["action"] == "fix-pr"
    # The workspace is left as it was: the fix lives only on the PR branch.
    assert (workspace / "src/app.py").read_bytes() == UGLY

    second = run_guard(env, workspace)

    assert second.returncode == 0, second.stderr
    assert len([pull for pull in fake_github.pulls if pull.number != 7]) == 1
    assert len(fake_github.comments(REPO_NAME, 7)) == 1


def test_no_fix_pr_for_a_fork(fake_github: FakeGitHub, tmp_path: Path) -> None:
    workspace, sha = _failed_run(fake_github, tmp_path)
    env = _env(fake_github, tmp_path, workspace, sha)
    event_path = Path(env["GITHUB_EVENT_PATH"])
    event_path.write_text(
        event_path.read_text().replace(
            '"head_repository": {"full_name": "octo/app"}',
            '"head_repository": {"full_name": "mallory/app"}',
        )
    )

    result = run_guard(env, workspace)

    assert result.returncode == 0, result.stderr
    assert [pull.number for pull in fake_github.pulls] == [7]
    assert "fork" in fake_github.comments(REPO_NAME, 7)[0].body


def test_a_checkout_of_another_commit_is_refused(fake_github: FakeGitHub, tmp_path: Path) -> None:
    workspace, _sha = _failed_run(fake_github, tmp_path)
    env = _env(fake_github, tmp_path, workspace, "b" * 40)
    fake_github.runs[(REPO_NAME, 100)].head_sha = "b" * 40

    result = run_guard(env, workspace)

    assert [pull.number for pull in fake_github.pulls] == [7]
    assert "not the failing commit" in fake_github.comments(REPO_NAME, 7)[0].body
    assert result.returncode == 0, result.stderr


def test_repo_setting_that_blocks_actions_prs_is_named(
    fake_github: FakeGitHub, tmp_path: Path
) -> None:
    workspace, sha = _failed_run(fake_github, tmp_path)
    env = _env(fake_github, tmp_path, workspace, sha)
    fake_github.fail(
        "POST",
        r"/repos/octo/app/pulls",
        403,
        body={
            "message": "GitHub Actions is not permitted to create or approve pull requests.",
            "documentation_url": "https://docs.github.com/rest/pulls/pulls#create-a-pull-request",
        },
    )

    result = run_guard(env, workspace)

    assert result.returncode == 1
    assert "Allow GitHub Actions to create and approve pull requests" in result.stderr
    comment = fake_github.comments(REPO_NAME, 7)[0].body
    assert "Allow GitHub Actions to create and approve pull requests" in comment


WORKFLOW = b"""\
name: CI
on: [push]
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/upload-artifact@v3 # keep this comment
        with: {name: dist, path: dist}
"""
DEPRECATED = (
    "This request has been automatically failed because it uses a deprecated version of "
    "`actions/upload-artifact: v3`. Learn more: https://github.blog/changelog/"
    "2024-04-16-deprecation-notice-v3-of-the-artifact-actions/"
)


def test_workflow_fix_without_workflows_permission_asks_for_a_fix_token(
    fake_github: FakeGitHub, tmp_path: Path
) -> None:
    files = {".github/workflows/ci.yml": WORKFLOW, "README.md": b"# app\n"}
    fake_github.add_repo(REPO_NAME, files=files)
    workspace = reachable(tmp_path) / "workspace"
    sha = checkout_of(fake_github, workspace, files)
    fake_github.repos[REPO_NAME].refs["refs/heads/feature"] = sha
    fake_github.add_pull(REPO_NAME, 7, head_sha=sha, head_ref="feature")
    fake_github.add_run(REPO_NAME, 100, head_sha=sha, head_branch="feature", pull_requests=[7])
    fake_github.add_job(
        REPO_NAME, 100, job_id=500, name="build", log="", annotations=[("failure", DEPRECATED)]
    )
    env = _env(fake_github, tmp_path, workspace, sha)

    result = run_guard(env, workspace)

    assert result.returncode == 1
    assert "`workflows` permission" in result.stderr
    assert "fix-token" in fake_github.comments(REPO_NAME, 7)[0].body
    assert [pull.number for pull in fake_github.pulls] == [7]

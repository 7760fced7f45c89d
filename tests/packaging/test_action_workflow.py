"""The action as a workflow uses it: ``tests/workflows/in-job-local-action.yml`` run by act.

``../shared/tools/act-run.sh`` runs the workflow with nektos/act, its jobs in containers through
podman. A job fails with a network error after writing its log to a file; an ``if: failure()``
step then runs this checkout's action (``uses: ./``: act builds the Dockerfile, reads
``action.yml``'s inputs and defaults, and runs the image the way GitHub runs a Docker action)
in in-job mode. act itself runs in a loopback-only network namespace, but the containers are
created by podman's service on the host's network, so the action reaches the fake GitHub API
this test serves on 127.0.0.1. act's ``--env`` overrides the API URL and the repository name of
the GitHub context; the token goes in as act's ``GITHUB_TOKEN`` secret, which the
``github-token`` input's default ``${{ github.token }}`` picks up.

What is checked is what a maintainer sees: the failing step still fails, the guard's step
succeeds and prints the diagnosis (category, the decisive lines) in the job log, the step's
outputs are set, and the pull request of the pushed commit gets one comment.

Runtime: about 2-3 minutes on a fresh machine (act-run.sh installs podman and act, builds the
base images, then act builds the action's image); about 15 seconds once they are in place.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from conftest import REPO, SHARED
from fakes.github_api import FakeGitHub
from pipeline_guard.forges.base import COMMENT_MARKER

pytestmark = [pytest.mark.e2e, pytest.mark.tools]

ACT_RUN = SHARED / "tools" / "act-run.sh"
WORKFLOW = Path("tests/workflows/in-job-local-action.yml")
REPO_NAME = "octo/app"
TOKEN = "ghs_test"  # FakeGitHub's default token
# The Dockerfile's base image; act-run.sh has container-smoke.sh serve it from a local stand-in.
FROM_ALIASES = "python:3.11-slim-bookworm"


def _act_env() -> dict[str, str]:
    """The caller's environment minus anything GitHub-like, so a run on real GitHub Actions
    leaks none of its own variables into the workflow under test."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("GITHUB_", "INPUT_", "RUNNER_", "ACTIONS_"))
    }
    env["FROM_ALIASES"] = FROM_ALIASES
    return env


def _head_sha() -> str:
    """The commit act reports as GITHUB_SHA: the checkout's HEAD."""
    return subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.strip()


def _step_lines(log: str, job: str = "build") -> list[str]:
    """What the job's steps printed (act prefixes each line with ``[workflow/job]   | ``)."""
    prefix = re.compile(rf"^\[[^\]]*/{re.escape(job)}\]\s+\| ?")
    return [prefix.sub("", line) for line in log.splitlines() if prefix.match(line)]


@pytest.mark.timeout(900)
def test_local_action_diagnoses_the_failed_step_and_comments(fake_github: FakeGitHub) -> None:
    if not ACT_RUN.is_file():
        pytest.fail(f"{ACT_RUN} is missing: the shared test tools must sit next to the repo")
    fake_github.add_repo(REPO_NAME)
    fake_github.add_pull(REPO_NAME, 7, head_sha=_head_sha(), head_ref="feature")

    done = subprocess.run(
        [
            str(ACT_RUN),
            "push",
            "--workflows",
            str(WORKFLOW),
            "--secret",
            f"GITHUB_TOKEN={TOKEN}",
            "--env",
            f"GITHUB_API_URL={fake_github.url}",
            "--env",
            f"GITHUB_REPOSITORY={REPO_NAME}",
        ],
        cwd=REPO,
        env=_act_env(),
        capture_output=True,
        text=True,
        timeout=840,
        check=False,
    )
    log = done.stdout + done.stderr
    tail = "\n".join(log.splitlines()[-60:])

    assert "Failure - Main Install dependencies" in log, f"act did not run the job:\n{tail}"
    assert "Success - Main Diagnose with pipeline-guard" in log, f"the guard failed:\n{tail}"
    assert done.returncode != 0, "the job failed, so act must report a failure"

    printed = _step_lines(log)
    diagnosis = [line for line in printed if "ci-logs/install.log" in line and "`network`" in line]
    assert diagnosis, f"no category line in the job log:\n{tail}"
    assert any("npm ERR! code ECONNRESET" in line for line in printed)  # the decisive line
    assert re.search(r"::set-output:: category=network\b", log)
    assert re.search(r"::set-output:: action=comment\b", log)  # in-job mode cannot retry

    comments = fake_github.comments(REPO_NAME, 7)
    assert len(comments) == 1, [comment.body[:200] for comment in comments]
    assert COMMENT_MARKER in comments[0].body
    assert "`network`" in comments[0].body
    assert fake_github.reruns == []

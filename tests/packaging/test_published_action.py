"""The tagged ``action.yml`` a release produces starts the published image, with no build.

The release (``.github/workflows/release.yml``) pushes ``ghcr.io/OWNER/NAME:X.Y.Z`` and commits
``action.yml`` with ``image: docker://ghcr.io/OWNER/NAME:X.Y.Z`` (``scripts/release.py
pin-action``). Here: the image is built once with podman (:func:`image_env.built_image`, shared
with the other image tests) and tagged as the release names it; a scratch copy of this checkout
gets the pinned ``action.yml`` and loses its Dockerfile, so nothing could be built even by
mistake; act then runs ``tests/workflows/in-job-local-action.yml`` (a job fails on a registry
outage, the next step runs the action in in-job mode) against the fake GitHub API, as
``test_action_workflow.py`` does with the Dockerfile build.

The image is not in any registry: podman holds it under the published name, and act, which
pulls with ``--pull=false`` only what is missing, starts it from there. What is checked: act
used the image (no ``docker build`` in the run), the guard diagnosed the failure, wrote its
outputs and posted one comment.

Runtime: about 30 seconds once the image is built (the first image test builds it).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO
from fakes.github_api import FakeGitHub
from image_env import (
    ACT_RUN,
    BUILD_TIMEOUT,
    ImageBuildError,
    built_image,
    clean_env,
    head_sha,
    podman,
    scratch_repo,
    tail,
)
from pipeline_guard import __version__
from pipeline_guard.forges.base import comment_marker

pytestmark = [pytest.mark.e2e, pytest.mark.tools]

REGISTRY_REPOSITORY = "ghcr.io/Octo/Pipeline-Guard"  # as github.repository may spell it
PUBLISHED = f"ghcr.io/octo/pipeline-guard:{__version__}"
WORKFLOW = "tests/workflows/in-job-local-action.yml"
REPO_NAME = "octo/app"
TOKEN = "ghs_test"  # FakeGitHub's default token
TIMEOUT = 900


def tagged_checkout(tmp_path: Path) -> Path:
    """This checkout as the release's tagged commit has it: the pinned ``action.yml``, and
    (here only) no Dockerfile."""
    repo = scratch_repo(tmp_path / "repo", f"https://github.com/{REPO_NAME}.git")
    pin = [sys.executable, str(REPO / "scripts" / "release.py"), "pin-action"]
    subprocess.run([*pin, REGISTRY_REPOSITORY, "--action", str(repo / "action.yml")], check=True)
    (repo / "Dockerfile").unlink()
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "commit", "-q", "-am", f"Release {__version__}"], check=True)
    return repo


@pytest.mark.timeout(TIMEOUT + BUILD_TIMEOUT)
def test_the_pinned_action_runs_the_published_image(
    fake_github: FakeGitHub, tmp_path: Path
) -> None:
    if not ACT_RUN.is_file():
        pytest.fail(f"{ACT_RUN} is missing: the shared test tools must sit next to the repo")
    try:
        image = built_image()
    except ImageBuildError as error:
        pytest.fail(f"container-smoke.sh could not build and start the image:\n{error}")
    tagged = podman("tag", image, PUBLISHED)
    assert tagged.returncode == 0, tagged.stderr
    repo = tagged_checkout(tmp_path)
    assert f"image: docker://{PUBLISHED}" in (repo / "action.yml").read_text(encoding="utf-8")
    fake_github.add_repo(REPO_NAME)
    fake_github.add_pull(REPO_NAME, 7, head_sha=head_sha(repo), head_ref="feature")

    done = subprocess.run(
        [
            str(ACT_RUN),
            "push",
            "--workflows",
            WORKFLOW,
            "--secret",
            f"GITHUB_TOKEN={TOKEN}",
            "--env",
            f"GITHUB_API_URL={fake_github.url}",
            "--env",
            f"GITHUB_REPOSITORY={REPO_NAME}",
        ],
        cwd=repo,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    log = done.stdout + done.stderr

    assert "Failure - Main Install dependencies" in log, tail(log, 60)
    assert "Success - Main Diagnose with pipeline-guard" in log, tail(log, 60)
    assert f"docker pull image={PUBLISHED}" in log
    assert "docker build" not in log
    assert re.search(r"::set-output:: category=network\b", log)
    comments = fake_github.comments(REPO_NAME, 7)
    assert len(comments) == 1, tail(log, 60)
    assert comment_marker("pipeline-guard in-job (local action)") in comments[0].body
    assert "`network`" in comments[0].body

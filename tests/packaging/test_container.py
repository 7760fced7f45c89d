"""The real container image, built from the Dockerfile and run the way GitHub runs the action.

``../shared/tools/container-smoke.sh`` builds the Dockerfile with podman (no Docker daemon, no
registry: the base image is a local stand-in) and runs the entrypoint as GitHub runs a Docker
container action: host network, the workspace at ``/github/workspace``, the runner's file
commands under ``/github/file_commands``, every ``GITHUB_*``/``INPUT_*`` variable passed in.
Here the entrypoint runs in ``workflow_run`` mode against the fake GitHub API on the host's
127.0.0.1, and must re-run the job that failed on a network error, post one pull-request
comment and write its step outputs.

GitHub's runner also mounts the event payload at ``/github/workflow/event.json``;
container-smoke.sh does not, and clears its workspace folder before each run. So this test puts
a ``podman`` wrapper first on ``PATH`` that adds that one mount to ``podman run``, as the
runner does (it can go once container-smoke.sh mounts the event file itself).

Measurements (image size, start time) are in ``benchmarks/bench_container.py``; these tests are
about correctness. Runtime: 2-3 minutes on a fresh machine (container-smoke.sh installs podman,
bootstraps the base images, then builds the image); 10-20 seconds once the layers are cached.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import REPO
from fakes.github_api import FakeGitHub
from github_env import HEAD_SHA, REPO_NAME, TOKEN, parse_outputs, workflow_run_event
from image_env import (
    BUILD_TIMEOUT,
    CONTAINER_SMOKE,
    ImageBuildError,
    built_image,
    clean_env,
    podman_env,
)
from pipeline_guard.forges.base import COMMENT_MARKER

pytestmark = [pytest.mark.e2e, pytest.mark.tools]

NETWORK_LOG = (REPO / "examples" / "npm-registry-outage.log").read_text(encoding="utf-8")
EVENT_MOUNT = "/github/workflow"  # where GitHub's runner mounts the event file's folder
TIMEOUT = BUILD_TIMEOUT


def _smoke(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """container-smoke.sh: (re)build the image, cached layers reused, and run its entrypoint."""
    return subprocess.run(
        [str(CONTAINER_SMOKE), *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def _tail(done: subprocess.CompletedProcess[str], lines: int = 40) -> str:
    return "\n".join((done.stdout + done.stderr).splitlines()[-lines:])


def printed_outputs(stderr: str) -> dict[str, str]:
    """The ``GITHUB_OUTPUT`` file as container-smoke.sh prints it (indented, after a header)."""
    lines = stderr.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.endswith("] GITHUB_OUTPUT:"))
    except StopIteration:
        return {}
    body = []
    for line in lines[start + 1 :]:
        if not line.startswith("  "):
            break
        body.append(line[2:])
    return parse_outputs("\n".join(body))


@pytest.fixture(scope="module")
def image() -> str:
    """The image, built once for the session's image tests (container-smoke.sh installs what
    it needs first), its entrypoint checked: ``pipeline-guard run --help``."""
    if not CONTAINER_SMOKE.is_file():
        pytest.fail(
            f"{CONTAINER_SMOKE} is missing: the shared test tools must sit next to the repo"
        )
    try:
        return built_image()
    except ImageBuildError as error:
        pytest.fail(f"container-smoke.sh could not build and start the image:\n{error}")


@pytest.fixture
def podman_with_event_mount(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A folder for the event file and an environment whose ``podman run`` mounts it where
    GitHub's runner does."""
    real = shutil.which("podman")
    assert real, "container-smoke.sh installed podman, yet it is not on PATH"
    events, bin_dir = tmp_path / "workflow", tmp_path / "bin"
    events.mkdir()
    bin_dir.mkdir()
    wrapper = bin_dir / "podman"
    wrapper.write_text(
        "#!/bin/bash\n"  # not sh: dash drops variables with a dash in the name (INPUT_DRY-RUN)
        "# GitHub's runner mounts the event file's folder; container-smoke.sh does not (yet).\n"
        'if [ "$1" = run ]; then\n'
        f'  shift; exec {real} run -v {events}:{EVENT_MOUNT}:ro "$@"\n'
        "fi\n"
        f'exec {real} "$@"\n',
        encoding="utf-8",
    )
    wrapper.chmod(0o755)
    env = clean_env()
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    return events, env


@pytest.mark.timeout(TIMEOUT + 60)
def test_workflow_run_retries_a_network_failure_and_comments(
    image: str, fake_github: FakeGitHub, podman_with_event_mount: tuple[Path, dict[str, str]]
) -> None:
    events, env = podman_with_event_mount
    fake_github.add_repo(REPO_NAME)
    fake_github.add_pull(REPO_NAME, 7, head_sha=HEAD_SHA, head_ref="feature")
    fake_github.add_run(
        REPO_NAME, 100, head_sha=HEAD_SHA, head_branch="feature", pull_requests=(7,)
    )
    fake_github.add_job(
        REPO_NAME,
        100,
        job_id=500,
        name="build (20.x)",
        log=NETWORK_LOG,
        steps=[("Set up job", "success"), ("Run npm ci", "failure")],
    )
    (events / "event.json").write_text(json.dumps(workflow_run_event(100, pulls=[7])))
    env.update(
        {
            "GITHUB_API_URL": fake_github.url,  # 127.0.0.1: the container uses the host network
            "GITHUB_SERVER_URL": "https://github.com",
            "GITHUB_REPOSITORY": REPO_NAME,
            "GITHUB_EVENT_NAME": "workflow_run",
            "GITHUB_EVENT_PATH": f"{EVENT_MOUNT}/event.json",
            "GITHUB_RUN_ID": "200",
            "GITHUB_RUN_ATTEMPT": "1",
            "GITHUB_JOB": "guard",
            "GITHUB_SHA": HEAD_SHA,
            "GITHUB_REF_NAME": "main",
            # Inputs as the runner passes them: action.yml's defaults filled in, dashes kept.
            "INPUT_GITHUB-TOKEN": TOKEN,
            "INPUT_FIX-TOKEN": "",
            "INPUT_CONFIG": "",
            "INPUT_LOG-FILE": "",
            "INPUT_MODE": "",
            "INPUT_DRY-RUN": "false",
            "INPUT_COMMENT": "true",
        }
    )

    done = _smoke(str(REPO), env=env)

    assert done.returncode == 0, _tail(done)
    assert "entrypoint exit code: 0" in done.stderr
    assert fake_github.reruns == [("job", 500)], _tail(done)
    comments = fake_github.comments(REPO_NAME, 7)
    assert len(comments) == 1, _tail(done)
    body = comments[0].body
    assert COMMENT_MARKER in body
    assert "`network`" in body
    assert "build (20.x)" in body
    assert "Re-ran `build (20.x)`" in body
    outputs = printed_outputs(done.stderr)
    assert outputs.get("category") == "network", _tail(done)
    assert outputs.get("action") == "retry"
    assert outputs.get("report") == "pipeline-guard-report.json"
    assert TOKEN not in done.stdout + done.stderr + body


@pytest.mark.timeout(TIMEOUT + 60)
def test_git_in_the_image_runs_the_commands_fixers_use(image: str, tmp_path: Path) -> None:
    """The image carries git's main binary only (the 200 MB budget of docs/numbers.md): every
    command the fixers run must be built into it, in a checkout owned by another user (as on
    GitHub)."""
    script = (
        "set -e; cd /repo; git init -q; git add f.txt; "
        "git -c user.name=t -c user.email=t@example.com commit -qm init; "
        "echo changed > f.txt; echo new > g.txt; "
        "git rev-parse HEAD; git status --porcelain -z --untracked-files=all | tr '\\0' '\\n'; "
        "git ls-files -z | tr '\\0' '\\n'; git diff --no-color -- f.txt | grep '^+changed'; "
        "git checkout HEAD -- f.txt; cat f.txt"
    )
    (tmp_path / "f.txt").write_text("original\n", encoding="utf-8")
    if os.geteuid() == 0:  # as on GitHub: the checkout belongs to the runner's user, not root
        for path in (tmp_path, tmp_path / "f.txt"):
            os.chown(path, 1001, 1001)
    done = subprocess.run(
        [
            "podman",
            "run",
            "--rm",
            "-v",
            f"{tmp_path}:/repo",
            "--entrypoint",
            "sh",
            image,
            "-c",
            script,
        ],
        env=podman_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert re.fullmatch(r"[0-9a-f]{40}", lines[0])
    assert " M f.txt" in lines  # status
    assert "?? g.txt" in lines
    assert "f.txt" in lines  # ls-files
    assert lines[-1] == "original"

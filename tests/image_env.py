"""The container image and the tools around it, shared by the tests that run them.

- :func:`built_image` builds the Dockerfile once per test session with
  ``../shared/tools/container-smoke.sh`` (podman, no Docker daemon, no registry: the base image
  is a local stand-in) and checks that its entrypoint starts; every test that needs the image
  reuses that build.
- :func:`podman_service` serves podman's Docker-compatible API on a socket, so the ``docker``
  command line (as a workflow step calls it) builds and runs images with podman.
- :func:`scratch_repo` copies this checkout, uncommitted edits included, into a fresh git
  repository with the ``origin`` a test chooses: act and gitlab-ci-local read the repository's
  name from ``origin``, and a release job rewrites ``action.yml``, which must not happen here.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from conftest import REPO, TOOLS

CONTAINER_SMOKE = TOOLS / "container-smoke.sh"
ACT_RUN = TOOLS / "act-run.sh"
GCL_RUN = TOOLS / "gcl-run.sh"
IMAGE = "localhost/pipeline-guard:test"
# The Dockerfile's base image, which container-smoke.sh serves from a local stand-in.
FROM_ALIASES = "python:3.11-slim-bookworm"
STATE_DIR = Path(os.environ.get("TMPDIR") or "/tmp") / "pg-tools" / "podman-state"
BUILD_TIMEOUT = 840  # a cold run: podman and base images installed, the image built from scratch


class ImageBuildError(RuntimeError):
    """container-smoke.sh could not build the image or start its entrypoint."""


def clean_env() -> dict[str, str]:
    """The caller's environment without GitHub's variables: the tools pass every
    ``GITHUB_*``/``INPUT_*`` variable into containers and workflows, and a run of this suite on
    GitHub Actions must not hand them the real run's."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("GITHUB_", "INPUT_", "RUNNER_", "ACTIONS_"))
    }
    env.update(FROM_ALIASES=FROM_ALIASES, IMAGE=IMAGE, STATE_DIR=str(STATE_DIR))
    return env


def podman_env() -> dict[str, str]:
    """The environment for podman on container-smoke.sh's storage (its ``env.sh``)."""
    env = clean_env()
    for line in (STATE_DIR / "env.sh").read_text(encoding="utf-8").splitlines():
        if match := re.fullmatch(r"export (\w+)=(.*)", line.strip()):
            env[match[1]] = match[2]
    env["TMPDIR"] = str(STATE_DIR / "tmp")
    return env


def tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.splitlines()[-lines:])


@functools.cache
def built_image() -> str:
    """Build the image (container-smoke.sh installs what it needs first), check that the
    entrypoint starts (``pipeline-guard run --help``), and return its name."""
    done = subprocess.run(
        [str(CONTAINER_SMOKE), str(REPO), "--help"],
        cwd=REPO,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
        check=False,
    )
    if done.returncode != 0 or "usage: pipeline-guard run" not in done.stdout:
        raise ImageBuildError(tail(done.stdout + done.stderr))
    return IMAGE


def podman(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["podman", *args],
        env=podman_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def ensure_podman() -> None:
    """podman installed and its storage set up (container-smoke.sh, about a second when done)."""
    if (STATE_DIR / "env.sh").is_file() and shutil.which("podman"):
        return
    done = subprocess.run(
        [str(CONTAINER_SMOKE), "--setup-only"],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
        check=False,
    )
    if done.returncode != 0:
        raise ImageBuildError(tail(done.stdout + done.stderr))


@contextmanager
def podman_service(folder: Path) -> Iterator[str]:
    """podman's Docker-compatible API on a socket in ``folder``; yields its ``DOCKER_HOST``."""
    ensure_podman()
    socket = folder / "podman.sock"
    log = (folder / "podman-service.log").open("w")
    service = subprocess.Popen(
        ["podman", "system", "service", "--time=0", f"unix://{socket}"],
        env=podman_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 10
        while not socket.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        yield f"unix://{socket}"
    finally:
        service.terminate()
        service.wait(timeout=30)
        log.close()


def scratch_repo(destination: Path, origin: str) -> Path:
    """This checkout's files (tracked ones and new ones not ignored, as they are on disk) in a
    new repository of one commit on ``main``, with ``origin`` set."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    git = ["git", "-C", str(destination), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "scratch"], check=True)
    subprocess.run([*git, "remote", "add", "origin", origin], check=True)
    return destination


def head_sha(repo: Path) -> str:
    return subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()

"""The release workflow's jobs that publish nothing, run by act on a pushed tag.

``.github/workflows/release.yml`` on a tag ``vX.Y.Z``: ``version`` checks the tag against
``__version__`` and shows the ``action.yml`` the release will commit; ``smoke`` builds the image
for the runner's architecture with ``docker build`` and starts it. ``act -j smoke`` runs both
(``smoke`` needs ``version``) and nothing else: ``image``, ``pypi`` and ``pin`` publish.

How: ``../shared/tools/act-run.sh`` in host mode (the jobs' steps run on this machine, as on a
runner), in a scratch copy of this checkout whose ``origin`` is ``github.com/Octo/Pipeline-Guard``
(act names the repository after it; the image name must come out lower-cased), with the tag push
given as the event. The ``docker`` command line the steps call talks to podman's Docker API
(:func:`image_env.podman_service`), so the image is built by podman with the layers the other
image tests built.

Runtime: about a minute once the image's layers are cached (the other tests build them first).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from image_env import ACT_RUN, clean_env, podman_service, scratch_repo, tail
from pipeline_guard import __version__

pytestmark = [pytest.mark.e2e, pytest.mark.tools]

ORIGIN = "https://github.com/Octo/Pipeline-Guard.git"
IMAGE = f"ghcr.io/octo/pipeline-guard:{__version__}"
TIMEOUT = 900


def run_release(tmp_path: Path, tag: str) -> subprocess.CompletedProcess[str]:
    """``act push -j smoke`` of the release workflow, for a push of ``tag``."""
    if not ACT_RUN.is_file():
        pytest.fail(f"{ACT_RUN} is missing: the shared test tools must sit next to the repo")
    repo = scratch_repo(tmp_path / "repo", ORIGIN)
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"ref": f"refs/tags/{tag}"}), encoding="utf-8")
    with podman_service(tmp_path) as docker_host:
        env = {**clean_env(), "HOST_MODE": "1", "DOCKER_HOST": docker_host}
        command = [str(ACT_RUN), "push", "-W", ".github/workflows/release.yml", "-j", "smoke"]
        return subprocess.run(
            [*command, "-e", str(event)],
            cwd=repo,
            env=env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )


def printed(log: str) -> list[str]:
    """What the steps printed (act prefixes each line with ``[workflow/job]   | ``)."""
    prefix = re.compile(r"^\[[^\]]*\]\s+\| ?")
    return [prefix.sub("", line) for line in log.splitlines() if prefix.match(line)]


@pytest.mark.timeout(TIMEOUT + 60)
def test_the_tag_of_the_version_builds_and_starts_the_image(tmp_path: Path) -> None:
    done = run_release(tmp_path, f"v{__version__}")
    log = done.stdout + done.stderr
    lines = printed(log)

    assert done.returncode == 0, tail(log, 60)
    assert "Success - Main Check the tag against __version__" in log
    assert f"version={__version__}" in lines
    assert f"major=v{__version__.split('.')[0]}" in lines
    assert f"image={IMAGE}" in lines  # lower-cased from Octo/Pipeline-Guard
    assert any(line.endswith(f"image: docker://{IMAGE}") for line in lines), tail(log, 60)
    assert "Success - Main Start it, and read its labels" in log
    assert f"pipeline-guard {__version__}" in lines  # the image's own --version
    assert "usage: pipeline-guard run" in "\n".join(lines)
    for publishing in ("Publish the image", "Publish to PyPI", "move the major tag"):
        assert publishing not in log
    # The job rewrote its own copy: the checkout's action.yml still builds the Dockerfile.
    assert "image: Dockerfile" in (tmp_path / "repo" / "action.yml").read_text(encoding="utf-8")


@pytest.mark.timeout(TIMEOUT + 60)
def test_a_tag_pushed_before_the_version_bump_stops_the_release(tmp_path: Path) -> None:
    major, minor, patch = __version__.split(".")
    tag = f"v{major}.{minor}.{int(patch) + 1}"

    done = run_release(tmp_path, tag)
    log = done.stdout + done.stderr

    assert done.returncode != 0
    assert f"release: error: tag '{tag}' does not match the version {__version__}" in log, tail(log)
    assert "Failure - Main Check the tag against __version__" in log
    assert "Main Build" not in log  # the smoke job never started

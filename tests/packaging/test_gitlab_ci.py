"""The project's own GitLab pipeline (``.gitlab-ci.yml``), its jobs that push nothing run by
gitlab-ci-local (``../shared/tools/gcl-run.sh``: shell executor, loopback-only network).

- ``version`` on a tag: the tag must be ``__version__``, and the facts it exports (a dotenv
  report) name the image the component's default points at (with ``CI_REGISTRY_IMAGE`` as
  GitLab sets it for the project on gitlab.com);
- ``lint``: the same checks as .ci/run's, with this checkout's virtual environment (the job
  reuses an environment that already has ``.[test]``, as it reuses its cached one on GitLab).

``image-build``, ``image-manifest`` and ``release`` push to the registry and the catalog: they
are checked by GitLab's schema (``test_lint.py``) and by gitlab-ci-local's own validation, which
every run here does first. Each run happens in a scratch copy of this checkout whose ``origin``
is ``gitlab.example.com:pipeline-guard/pipeline-guard``, the project the component is published
from. Runtime: a few seconds per job once gitlab-ci-local is installed.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gitlab_env import TEMPLATE, split_component
from image_env import GCL_RUN, clean_env, scratch_repo, tail
from pipeline_guard import __version__

pytestmark = [pytest.mark.e2e, pytest.mark.tools]

ORIGIN = "git@gitlab.example.com:pipeline-guard/pipeline-guard.git"
# The project's registry image on gitlab.com, as GitLab sets CI_REGISTRY_IMAGE there.
REGISTRY_IMAGE = "registry.gitlab.com/pipeline-guard/pipeline-guard"


def gitlab_ci_local(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``gcl-run.sh ARGS`` in a scratch copy, with the registry of the project on gitlab.com."""
    if not GCL_RUN.is_file():
        pytest.fail(f"{GCL_RUN} is missing: the shared test tools must sit next to the repo")
    repo = scratch_repo(tmp_path / "repo", ORIGIN)
    registry = ["--variable", f"CI_REGISTRY_IMAGE={REGISTRY_IMAGE}"]
    return subprocess.run(
        [str(GCL_RUN), *args, *registry],
        cwd=repo,
        env={**clean_env(), "GCL_IGNORE_PREDEFINED_VARS": "CI_REGISTRY_IMAGE"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=600,
        check=False,
    )


def test_the_tag_job_exports_the_release_facts(tmp_path: Path) -> None:
    done = gitlab_ci_local(tmp_path, "version", "--variable", f"CI_COMMIT_TAG={__version__}")

    assert done.returncode == 0, tail(done.stdout)
    assert "PASS" in done.stdout
    facts = (tmp_path / "repo" / "release.env").read_text(encoding="utf-8").splitlines()
    assert f"version={__version__}" in facts
    # What the tag publishes is what the component starts by default.
    spec, _ = split_component(TEMPLATE.read_text(encoding="utf-8"))
    assert f"image={spec['inputs']['image']['default']}" in facts
    assert f"image={REGISTRY_IMAGE}:{__version__}" in facts


def test_a_tag_that_is_not_the_version_fails_the_pipeline(tmp_path: Path) -> None:
    done = gitlab_ci_local(tmp_path, "version", "--variable", "CI_COMMIT_TAG=99.0.0")

    assert done.returncode != 0
    assert f"tag '99.0.0' does not match the version {__version__}" in done.stdout, tail(
        done.stdout
    )


def test_the_lint_job_passes(tmp_path: Path) -> None:
    done = gitlab_ci_local(tmp_path, "lint", "--variable", f"VENV={sys.prefix}")

    assert done.returncode == 0, tail(done.stdout)
    assert "lint-imports" in done.stdout
    assert "Contracts: 1 kept, 0 broken." in done.stdout

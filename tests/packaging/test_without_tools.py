"""A clone without ``../shared/tools`` next to it: the tests that need the tools are skipped
with one reason; with ``PIPELINE_GUARD_REQUIRE_TOOLS=1`` (as ``.ci/run`` sets it) they fail.

The suite is copied into a folder that has no ``shared/`` beside it and run there by pytest in
a fresh process, on one module that needs the tools and one that does not.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, REQUIRE_TOOLS

MODULES = ["tests/packaging/test_lint.py", "tests/packaging/test_image_lock.py"]


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tests and the project files they read, in a folder with no ``../shared``."""
    root = tmp_path_factory.mktemp("clone") / "pipeline-guard"
    shutil.copytree(REPO / "tests", root / "tests", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "examples", "docker", "rules"):
        source = REPO / name
        copy = shutil.copytree if source.is_dir() else shutil.copy
        copy(source, root / name)
    assert not (root.parent / "shared").exists()
    return root


def pytest_in(clone: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != REQUIRE_TOOLS}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *MODULES],
        cwd=clone,
        env={**environment, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_tests_that_need_the_tools_are_skipped_with_one_reason(clone: Path) -> None:
    done = pytest_in(clone)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "tools are skipped: it is not there" in done.stdout  # the header, once
    skipped = [line for line in done.stdout.splitlines() if line.startswith("SKIPPED")]
    assert skipped, done.stdout
    assert all("shared/tools not found next to the clone" in line for line in skipped)
    assert " failed" not in done.stdout
    assert " error" not in done.stdout
    assert " passed" in done.stdout  # the modules that need no tools still run


def test_ci_turns_the_skip_into_a_failure(clone: Path) -> None:
    done = pytest_in(clone, **{REQUIRE_TOOLS: "1"})

    assert done.returncode == 1
    assert "lint.sh is missing: the shared test tools must sit next to the repo" in done.stdout

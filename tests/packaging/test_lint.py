"""Static checks of what users copy or run: the action, the Dockerfile, the workflows.

``../shared/tools/lint.sh`` checks ``action.yml`` (GitHub's action schema), ``.github/workflows``
(schema, actionlint), everything zizmor finds from the repository root, the Dockerfile
(hadolint, warnings fail) and the GitLab CI files and component templates (GitLab's schema). It
does not look at the example workflows users copy (``examples/github/``) nor at the workflow
the act test runs (``tests/workflows/``): those get the same three workflow checks here, with
the tools lint.sh installed into its venv.

Runtime: about 30 seconds on a fresh machine (lint.sh installs the tools from PyPI), about
2 seconds afterwards.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from conftest import REPO, SHARED

pytestmark = [pytest.mark.e2e, pytest.mark.tools]

LINT = SHARED / "tools" / "lint.sh"
LINT_VENV = Path(os.environ.get("TMPDIR") or "/tmp") / "pg-tools" / "venv"
WORKFLOWS = sorted(
    [*(REPO / "examples" / "github").glob("*.yml"), *(REPO / "tests" / "workflows").glob("*.yml")]
)


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, timeout=600, check=False
    )


@pytest.fixture(scope="module")
def lint_sh() -> subprocess.CompletedProcess[str]:
    """lint.sh on the repository (it installs its tools on first use)."""
    if not LINT.is_file():
        pytest.fail(f"{LINT} is missing: the shared test tools must sit next to the repo")
    return _run([str(LINT), str(REPO)])


def test_lint_sh_passes(lint_sh: subprocess.CompletedProcess[str]) -> None:
    assert lint_sh.returncode == 0, lint_sh.stdout + lint_sh.stderr
    assert "FAILED" not in lint_sh.stdout


def test_the_example_workflows_exist() -> None:
    names = {path.name for path in WORKFLOWS}
    assert {"workflow-run.yml", "after-job.yml", "in-job.yml"} <= names


@pytest.mark.parametrize(
    "check",
    [
        ["check-jsonschema", "--builtin-schema", "vendor.github-workflows"],
        ["actionlint", "-no-color"],
        ["zizmor", "--offline", "--no-progress"],
    ],
    ids=["schema", "actionlint", "zizmor"],
)
def test_workflows_outside_github_workflows_pass(
    lint_sh: subprocess.CompletedProcess[str], check: list[str]
) -> None:
    tool = LINT_VENV / "bin" / check[0]
    if not tool.is_file():
        pytest.fail(f"{tool} is missing: lint.sh should have installed it\n{lint_sh.stdout}")
    done = _run([str(tool), *check[1:], *map(str, WORKFLOWS)])
    assert done.returncode == 0, done.stdout + done.stderr

"""The GitLab digest example is a valid GitLab CI file (GitLab's schema, with the tools
``../shared/tools/lint.sh`` installs); the GitHub one is linted with the other example
workflows in ``test_lint.py``."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from conftest import REPO, SHARED

pytestmark = pytest.mark.e2e

LINT_VENV = Path(os.environ.get("TMPDIR") or "/tmp") / "pg-tools" / "venv"


def test_the_gitlab_digest_example_is_a_valid_pipeline(tmp_path: Path) -> None:
    check = LINT_VENV / "bin" / "check-jsonschema"
    if not check.exists():
        subprocess.run([str(SHARED / "tools" / "lint.sh"), str(tmp_path)], check=False)
    done = subprocess.run(
        [str(check), "--builtin-schema", "vendor.gitlab-ci", "examples/gitlab/digest.yml"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr

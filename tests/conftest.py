"""Shared helpers: write rule files, scan text, run the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from pipeline_guard.engine.matcher import Matcher, ScanResult
from pipeline_guard.engine.rule import Rule
from pipeline_guard.engine.rule_checks import scan_text

# The fake forges' fixtures (`fake_github`, `fake_gitlab`), for every test module.
pytest_plugins = ["fakes.github_api", "fakes.gitlab_api"]

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def make_rule(**fields: object) -> Rule:
    """A valid rule with sensible defaults; tests override what they are about."""
    base: dict[str, object] = {
        "id": "test-rule",
        "category": "network",
        "title": "a test rule",
        "patterns": ["ECONNRESET"],
        "explain": "explain",
        "advice": "advice",
        "examples": {"match": ["ECONNRESET"], "no_match": ["fine"]},
    }
    base.update(fields)
    return Rule.model_validate(base)


def scan(rules: Sequence[Rule], text: str) -> ScanResult:
    return scan_text(Matcher(rules), text)


@pytest.fixture
def write_rules(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write a rule file under tmp_path/<folder>/ and return the folder."""

    def write(content: str, name: str = "rules.yml", folder: str = "rules") -> Path:
        directory = tmp_path / folder
        directory.mkdir(parents=True, exist_ok=True)
        (directory / name).write_text(textwrap.dedent(content), encoding="utf-8")
        return directory

    return write


def run_cli(
    *args: str,
    stdin: bytes | None = None,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m pipeline_guard`` as a user would, in a fresh process."""
    full_env = {**os.environ, "NO_COLOR": "", "FORCE_COLOR": ""}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "pipeline_guard", *args],
        input=stdin.decode() if stdin is not None else None,
        capture_output=True,
        text=True,
        cwd=cwd or REPO,
        env=full_env,
        timeout=120,
        check=False,
    )


def pytest_configure(config: pytest.Config) -> None:
    """Keep the suite's rule cache out of the user's home (the CLI tests inherit it)."""
    del config
    cache = Path(tempfile.mkdtemp(prefix="pipeline-guard-test-cache-"))
    os.environ.setdefault("PIPELINE_GUARD_CACHE_DIR", str(cache))

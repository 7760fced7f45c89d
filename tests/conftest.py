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
from pipeline_guard.engine.rule_schema import validate_rule

# The fake forges' fixtures (`fake_github`, `fake_gitlab`), for every test module.
pytest_plugins = ["fakes.github_api", "fakes.gitlab_api"]

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
# The shared test tools (podman without a daemon, act, gitlab-ci-local, lint.sh): next to the
# clone on the reference machine, absent from a contributor's clone. Tests marked `tools` need
# them; they are skipped without them, unless this variable is 1 (.ci/run sets it: there, a
# missing tool is a failure, not a skip).
TOOLS = SHARED / "tools"
REQUIRE_TOOLS = "PIPELINE_GUARD_REQUIRE_TOOLS"


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
    return validate_rule(base)


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


def _tools_missing() -> bool:
    return not TOOLS.is_dir() and os.environ.get(REQUIRE_TOOLS) != "1"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without the shared tools, skip the tests that need them with one reason, instead of
    letting each fail on a missing script."""
    del config
    if not _tools_missing():
        return
    skip = pytest.mark.skip(reason=f"{TOOLS} not found next to the clone (see CONTRIBUTING.md)")
    for item in items:
        if item.get_closest_marker("tools"):
            item.add_marker(skip)


def pytest_report_header(config: pytest.Config) -> str | None:
    del config
    if _tools_missing():
        return f"end-to-end tests that need {TOOLS} are skipped: it is not there"
    return None

"""The built wheel works without the source tree: rules and model pack are inside it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from conftest import REPO
from pipeline_guard import __version__
from pipeline_guard.engine.rule import load_rule_dir


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project built as a wheel and unpacked into a folder of its own."""
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(REPO)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    wheel = next(out.glob("pipeline_guard-*.whl"))
    site = out / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    return site


def run_installed(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(site), "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "pipeline_guard", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_wheel_carries_every_bundled_rule(installed: Path, tmp_path: Path) -> None:
    done = run_installed(installed, tmp_path, "rules", "list", "--format", "json")
    assert done.returncode == 0, done.stderr
    listed = json.loads(done.stdout)
    assert len(listed) == len(load_rule_dir(REPO / "rules"))
    assert all(rule["source"].startswith(str(installed)) for rule in listed)


def test_wheel_analyzes_the_bundled_example_from_elsewhere(installed: Path, tmp_path: Path) -> None:
    example = tmp_path / "job.log"
    example.write_bytes((REPO / "examples" / "npm-registry-outage.log").read_bytes())
    done = run_installed(installed, tmp_path, "analyze", str(example), "--format", "json")
    assert done.returncode == 0, done.stderr
    diagnosis = json.loads(done.stdout)["diagnoses"][0]
    assert (diagnosis["category"], diagnosis["action"]) == ("network", "retry")
    model = installed / "pipeline_guard" / "bundled" / "rules" / "model" / "default.npz"
    assert model.is_file() == (REPO / "rules" / "model" / "default.npz").is_file()


def test_the_wheel_carries_the_version_and_the_metadata_an_index_shows(installed: Path) -> None:
    [info] = installed.glob("pipeline_guard-*.dist-info")
    assert info.name == f"pipeline_guard-{__version__}.dist-info"
    metadata = (info / "METADATA").read_text(encoding="utf-8")
    assert f"\nVersion: {__version__}\n" in metadata
    assert "\nLicense-Expression: MIT\n" in metadata
    assert (info / "licenses" / "LICENSE").is_file()
    assert "\nProject-URL: Source, https://github.com/pipeline-guard/pipeline-guard\n" in metadata
    assert "\nClassifier: Programming Language :: Python :: 3.11\n" in metadata
    assert "\nDescription-Content-Type: text/markdown\n" in metadata


def test_the_action_description_fits_the_marketplace() -> None:
    action = yaml.safe_load((REPO / "action.yml").read_text(encoding="utf-8"))
    assert 0 < len(action["description"]) <= 125  # GitHub Marketplace's limit


def test_the_report_file_is_ignored_by_git() -> None:
    done = subprocess.run(
        ["git", "check-ignore", "-q", "pipeline-guard-report.json"], cwd=REPO, check=False
    )
    assert done.returncode == 0

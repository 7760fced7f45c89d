"""The project's own workflows keep their security properties (static checks, no tools needed).

zizmor and actionlint (``test_lint.py``) catch the general mistakes; these pin down the
decisions of this repository: which job may write what, actions pinned by commit, no
``pull_request_target``, and a guard of its own CI that never runs the failing commit's code.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import REPO
from pipeline_guard.guard.config import load_config

WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+(\.\d+)*$")


def load(path: Path) -> dict[Any, Any]:
    workflow = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(workflow, dict)
    return workflow


def triggers(workflow: dict[Any, Any]) -> dict[str, Any]:
    on = workflow["on"] if "on" in workflow else workflow[True]  # YAML 1.1 reads `on` as True
    return on if isinstance(on, dict) else dict.fromkeys(on)


def test_the_workflows_exist() -> None:
    names = {path.name for path in WORKFLOWS}
    assert {"ci.yml", "release.yml", "pipeline-guard.yml"} <= names


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_no_default_permissions_and_every_job_says_its_own(path: Path) -> None:
    workflow = load(path)
    assert workflow["permissions"] == {}
    assert "pull_request_target" not in triggers(workflow)
    for name, job in workflow["jobs"].items():
        assert "permissions" in job, f"{path.name}: job {name} has no permissions"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_action_is_pinned_by_commit_with_its_version(path: Path) -> None:
    for line in path.read_text(encoding="utf-8").splitlines():
        match = re.match(r"\s*(?:- )?uses: (.+)$", line)
        if match and not match[1].startswith("./"):
            assert PINNED.match(match[1].strip()), f"{path.name}: {match[1]}"


def test_only_the_publishing_jobs_can_write() -> None:
    jobs = load(REPO / ".github" / "workflows" / "release.yml")["jobs"]
    writes = {
        (name, scope)
        for name, job in jobs.items()
        for scope, level in job["permissions"].items()
        if level == "write"
    }
    assert writes == {("image", "packages"), ("pypi", "id-token"), ("pin", "contents")}
    assert jobs["pypi"]["environment"]["name"] == "pypi"  # what PyPI's trusted publisher names


def test_the_release_runs_on_version_tags_only() -> None:
    on = triggers(load(REPO / ".github" / "workflows" / "release.yml"))
    assert on == {"push": {"tags": ["v[0-9]+.[0-9]+.[0-9]+"]}}


def test_the_guard_of_our_own_ci_never_checks_out_the_failing_commit() -> None:
    workflow = load(REPO / ".github" / "workflows" / "pipeline-guard.yml")
    ci = load(REPO / ".github" / "workflows" / "ci.yml")
    assert triggers(workflow)["workflow_run"]["workflows"] == [ci["name"]]
    [job] = workflow["jobs"].values()
    checkouts = [step for step in job["steps"] if step.get("uses", "").startswith("actions/")]
    assert all("ref" not in step.get("with", {}) for step in checkouts)
    [guard] = [step for step in job["steps"] if step.get("uses") == "./"]
    config = load_config(path=REPO / guard["with"]["config"])
    assert config.fix.enabled is False
    assert job["permissions"].get("contents") in (None, "read")

"""``scripts/release.py``: the tag logic and the ``action.yml`` pin the release jobs run."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

import release
from conftest import REPO

ACTION = (REPO / "action.yml").read_text(encoding="utf-8")


@pytest.mark.parametrize("tag", ["v1.2.3", "1.2.3", "refs/tags/v1.2.3"])
def test_a_tag_naming_the_version_gives_the_release_facts(tag: str) -> None:
    assert release.tag_facts(tag, "1.2.3") == {
        "version": "1.2.3",
        "major": "v1",
        "prerelease": "false",
    }


def test_a_zero_major_is_a_prerelease_with_its_own_moving_tag() -> None:
    assert release.tag_facts("v0.4.0", "0.4.0") == {
        "version": "0.4.0",
        "major": "v0",
        "prerelease": "true",
    }


@pytest.mark.parametrize("tag", ["v1.2", "v1.2.3-rc1", "v01.2.3", "main", "v1", "vv1.2.3", ""])
def test_a_tag_that_is_not_a_release_is_refused(tag: str) -> None:
    with pytest.raises(release.ReleaseError, match="not a release tag"):
        release.tag_facts(tag, "1.2.3")


def test_a_tag_pushed_before_the_bump_is_refused() -> None:
    with pytest.raises(release.ReleaseError, match=r"does not match the version 1\.2\.3"):
        release.tag_facts("v1.2.4", "1.2.3")


def test_the_pin_changes_the_image_line_alone() -> None:
    pinned = release.pinned_action(ACTION, "ghcr.io/o/n:1.2.3")
    before, after = ACTION.splitlines(), pinned.splitlines()
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    assert changed == [("  image: Dockerfile", "  image: docker://ghcr.io/o/n:1.2.3")]
    assert yaml.safe_load(pinned)["inputs"] == yaml.safe_load(ACTION)["inputs"]


def test_an_action_already_pinned_is_refused() -> None:
    pinned = release.pinned_action(ACTION, "ghcr.io/o/n:1.2.3")
    with pytest.raises(release.ReleaseError, match="exactly one `image: Dockerfile`"):
        release.pinned_action(pinned, "ghcr.io/o/n:1.2.4")


def test_the_image_name_is_lower_case_and_checked() -> None:
    assert release.image_name("ghcr.io/Octo-Org/Pipeline-Guard", "1.0.0") == (
        "ghcr.io/octo-org/pipeline-guard:1.0.0"
    )
    with pytest.raises(release.ReleaseError, match="not an image repository"):
        release.image_name("ghcr.io/o/n:latest", "1.0.0")


def test_the_command_prints_facts_for_the_job_outputs_and_one_line_errors() -> None:
    script = [sys.executable, str(REPO / "scripts" / "release.py")]
    version = release.project_version()
    ok = subprocess.run(
        [*script, "check-tag", f"v{version}", "--repository", "ghcr.io/O/N"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    assert f"image=ghcr.io/o/n:{version}" in ok.stdout.splitlines()
    bad = subprocess.run(
        [*script, "check-tag", "v99.0.0"], capture_output=True, text=True, check=False
    )
    assert bad.returncode == 2
    assert bad.stdout == ""
    assert bad.stderr.startswith("release: error: tag 'v99.0.0' does not match")
    assert len(bad.stderr.splitlines()) == 1

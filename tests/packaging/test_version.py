"""One version, in one place: ``__version__`` in ``src/pipeline_guard/__init__.py``.

Everything a release publishes names it: the wheel (hatch's dynamic version), ``pipeline-guard
--version``, the GitLab component's default image and ``install`` requirement, the root file for
``include: project:``, the README's quick starts and examples, the CHANGELOG's latest entry,
and (through ``scripts/release.py``) the image tag and the tagged ``action.yml``. A version bump
that misses one of them fails here.
"""

from __future__ import annotations

import re
import tomllib

import yaml

import release
from conftest import REPO, run_cli
from gitlab_env import ROOT_COMPONENT, TEMPLATE, split_component
from pipeline_guard import __version__

# Every place that names a published pipeline-guard: `pipeline-guard==X`, `...pipeline-guard:X`
# (an image), `.../pipeline-guard@X` (a component), `ref: X`.
MENTION = re.compile(r"(?:pipeline-guard(?:==|:|@)|\bref: )(\d+\.\d+\.\d+)\b")
FILES = [
    REPO / "README.md",
    TEMPLATE,
    ROOT_COMPONENT,
    *sorted((REPO / "examples" / "gitlab").glob("*.yml")),
    *sorted((REPO / "docs").glob("*.md")),
]


def test_the_package_version_comes_from_init() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert "version" not in project["project"]
    assert project["project"]["dynamic"] == ["version"]
    assert project["tool"]["hatch"]["version"]["path"] == "src/pipeline_guard/__init__.py"
    assert release.project_version() == __version__


def test_the_command_line_says_the_version() -> None:
    done = run_cli("--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == f"pipeline-guard {__version__}"  # the release greps it


def test_the_component_defaults_are_what_the_release_publishes() -> None:
    spec, _ = split_component(TEMPLATE.read_text(encoding="utf-8"))
    image = spec["inputs"]["image"]["default"]
    assert image == f"registry.gitlab.com/pipeline-guard/pipeline-guard:{__version__}"
    assert spec["inputs"]["install"]["default"] == f"pipeline-guard=={__version__}"
    root = yaml.safe_load(ROOT_COMPONENT.read_text(encoding="utf-8"))["pipeline-guard"]
    assert root["image"]["name"] == image
    assert root["variables"]["PIPELINE_GUARD_INSTALL"] == f"pipeline-guard=={__version__}"


def test_every_mention_of_a_release_names_this_version() -> None:
    stale = {
        f"{path.relative_to(REPO)}: {match[0]}"
        for path in FILES
        for match in MENTION.finditer(path.read_text(encoding="utf-8"))
        if match[1] != __version__
    }
    assert not stale, f"bump these to {__version__}: {sorted(stale)}"
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert f"pipeline-guard/pipeline-guard@{__version__}" in readme  # the GitLab quick start


def test_the_changelog_starts_with_this_version() -> None:
    changelog = (REPO / "CHANGELOG.md").read_text(encoding="utf-8")
    first = re.search(r"^## \[?(\d+\.\d+\.\d+)\]?", changelog, re.M)
    assert first is not None, "CHANGELOG.md has no `## X.Y.Z` entry"
    assert first[1] == __version__


def test_the_release_tags_and_pins_this_version() -> None:
    facts = release.tag_facts(f"v{__version__}", __version__)
    assert facts["version"] == __version__
    pinned = release.pinned_action(
        (REPO / "action.yml").read_text(encoding="utf-8"),
        release.image_name("ghcr.io/pipeline-guard/pipeline-guard", __version__),
    )
    runs = yaml.safe_load(pinned)["runs"]
    assert runs["image"] == f"docker://ghcr.io/pipeline-guard/pipeline-guard:{__version__}"

"""The image installs its dependencies from docker/requirements.txt, pinned with hashes; the
pins must satisfy pyproject.toml, or the image would run other versions than the tests."""

from __future__ import annotations

import re
import tomllib

from packaging.requirements import Requirement

from conftest import REPO

LOCK = REPO / "docker" / "requirements.txt"


def _pins() -> dict[str, str]:
    text = LOCK.read_text(encoding="utf-8")
    return {_name(name): version for name, version in re.findall(r"^([\w.-]+)==(\S+)", text, re.M)}


def _name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_dependency_is_pinned_within_its_range() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    pins = _pins()
    for line in project["dependencies"]:
        requirement = Requirement(line)
        pinned = pins.get(_name(requirement.name))
        assert pinned is not None, f"{requirement.name} is not in {LOCK}: recompile it"
        assert requirement.specifier.contains(pinned), f"{requirement.name}=={pinned} vs {line}"


def test_every_pin_has_a_hash() -> None:
    blocks = re.split(r"\n(?=[\w.-]+==)", LOCK.read_text(encoding="utf-8"))
    pinned = [block for block in blocks if re.match(r"[\w.-]+==", block)]
    assert pinned
    for block in pinned:
        assert "--hash=sha256:" in block, block.splitlines()[0]


BUILD_LOCK = REPO / "docker" / "build-requirements.txt"


def test_the_build_backend_is_pinned_by_hash_within_the_build_requirement() -> None:
    """The image builds pipeline-guard without build isolation, from these pins alone."""
    build = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["build-system"]
    text = BUILD_LOCK.read_text(encoding="utf-8")
    pins = {_name(n): v for n, v in re.findall(r"^([\w.-]+)==(\S+)", text, re.M)}
    for line in build["requires"]:
        requirement = Requirement(line)
        pinned = pins.get(_name(requirement.name))
        assert pinned is not None, f"{requirement.name} is not in {BUILD_LOCK}"
        assert requirement.specifier.contains(pinned), f"{requirement.name}=={pinned} vs {line}"
    blocks = [b for b in re.split(r"\n(?=[\w.-]+==)", text) if re.match(r"[\w.-]+==", b)]
    assert len(blocks) == len(pins)
    assert all("--hash=sha256:" in block for block in blocks)

"""Release helpers the GitHub and GitLab release pipelines call: the tag logic and the pin.

    python3 scripts/release.py version                  # 0.1.0
    python3 scripts/release.py check-tag v0.1.0 [--repository ghcr.io/OWNER/NAME]
    python3 scripts/release.py pin-action ghcr.io/OWNER/NAME [--action action.yml]

The version lives in one place, ``__version__`` in ``src/pipeline_guard/__init__.py`` (the wheel
reads it through hatch's dynamic version). A release tag must name that version exactly
(``vX.Y.Z`` on GitHub, ``X.Y.Z`` on GitLab, whose CI/CD catalog wants bare semantic versions),
so a tag pushed before the version bump fails before anything is built or published.

``pin-action`` turns the ``action.yml`` of the tagged commit into one that starts the published
image (``image: docker://REPO:X.Y.Z``) instead of building the Dockerfile on every run; main
keeps ``image: Dockerfile``. It edits the one line and keeps the rest of the file (comments,
folding) as it is.

Standard library only: the release jobs run it before anything is installed.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VERSION_FILE = ROOT / "src" / "pipeline_guard" / "__init__.py"
SEMVER = re.compile(r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)")
DOCKERFILE_IMAGE = re.compile(r"^(?P<indent>[ \t]+)image:[ \t]*['\"]?Dockerfile['\"]?[ \t]*$", re.M)
IMAGE_REPO = re.compile(r"[a-z0-9]+(?:[._-][a-z0-9]+)*(?::\d+)?(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)+")


class ReleaseError(Exception):
    """A release that must stop: the message is printed as one line, the exit code is 2."""


def project_version(path: Path = VERSION_FILE) -> str:
    """``__version__`` as written in the package, without importing it."""
    match = re.search(r'^__version__ = "([^"]+)"$', path.read_text(encoding="utf-8"), re.M)
    if match is None or not SEMVER.fullmatch(match[1]):
        raise ReleaseError(f'{path}: no `__version__ = "X.Y.Z"` line')
    return match[1]


def tag_facts(tag: str, version: str) -> dict[str, str]:
    """What the release jobs need to know about ``tag``; refuses a tag that is not the version.

    ``v1.2.3`` and ``1.2.3`` are both accepted; ``major`` is the moving tag (``v1``) the GitHub
    release points at the new commit, ``prerelease`` is ``true`` for ``0.x`` (no stable API yet,
    but still published)."""
    match = re.fullmatch(r"v?(\S+)", tag.removeprefix("refs/tags/"))
    bare = match[1] if match else ""
    if not SEMVER.fullmatch(bare):
        raise ReleaseError(f"tag {tag!r} is not a release tag: vX.Y.Z (GitHub) or X.Y.Z (GitLab)")
    if bare != version:
        raise ReleaseError(
            f"tag {tag!r} does not match the version {version} in "
            f"{VERSION_FILE.relative_to(ROOT)}: bump __version__ first, then tag"
        )
    major = bare.split(".", 1)[0]
    return {"version": bare, "major": f"v{major}", "prerelease": str(major == "0").lower()}


def pinned_action(text: str, image: str) -> str:
    """``action.yml``'s text with ``runs.image: Dockerfile`` replaced by ``docker://image``."""
    found = DOCKERFILE_IMAGE.findall(text)
    if len(found) != 1:
        raise ReleaseError("action.yml must have exactly one `image: Dockerfile` line to pin")
    return DOCKERFILE_IMAGE.sub(lambda m: f"{m['indent']}image: docker://{image}", text)


def image_name(repository: str, version: str) -> str:
    """``REGISTRY/OWNER/NAME:version``, lower-cased (registries refuse upper case; GitHub owner
    names may have it)."""
    repository = repository.lower()
    if not IMAGE_REPO.fullmatch(repository):
        raise ReleaseError(f"{repository!r} is not an image repository such as ghcr.io/owner/name")
    return f"{repository}:{version}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("version", help="print the project's version")
    check = commands.add_parser("check-tag", help="print key=value facts of a release tag")
    check.add_argument("tag")
    check.add_argument("--repository", help="also print image=REPOSITORY:version (lower-cased)")
    pin = commands.add_parser("pin-action", help="point action.yml at the published image")
    pin.add_argument("repository", help="image repository, e.g. ghcr.io/owner/pipeline-guard")
    pin.add_argument("--action", type=Path, default=ROOT / "action.yml")
    args = parser.parse_args(argv)
    try:
        version = project_version()
        if args.command == "version":
            print(version)
        elif args.command == "check-tag":
            facts = tag_facts(args.tag, version)
            if args.repository:
                facts["image"] = image_name(args.repository, version)
            for key, value in facts.items():
                print(f"{key}={value}")
        else:
            image = image_name(args.repository, version)
            args.action.write_text(
                pinned_action(args.action.read_text(encoding="utf-8"), image), encoding="utf-8"
            )
            print(f"image={image}")
    except ReleaseError as error:
        print(f"release: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

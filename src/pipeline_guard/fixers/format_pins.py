"""The version of a formatter the repository pins, so the fix is made by the very formatter
the failing check ran (another version could reformat the files and leave the check red).

PyPI tools: a lockfile's resolved version (``uv.lock``, ``poetry.lock``, ``pdm.lock``,
``Pipfile.lock``), then an exact ``==`` pin in ``pyproject.toml`` or ``requirements*.txt``,
then the hook's ``rev:`` in ``.pre-commit-config.yaml`` (first when the log shows a pre-commit
hook). prettier: the lockfiles, the ``package.json`` range, the mirrors-prettier rev. Rust: the
``rust-toolchain(.toml)`` channel.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from pipeline_guard.errors import FixError
from pipeline_guard.fixers.repo_files import (
    checked_range,
    checked_version,
    parse_yaml,
    read_json,
    read_text,
    read_toml,
)

P = ParamSpec("P")
R = TypeVar("R")

_PY_HOOK_REPOS: dict[str, tuple[str, ...]] = {
    "black": ("psf/black", "psf/black-pre-commit-mirror"),
    "ruff": ("astral-sh/ruff-pre-commit", "charliermarsh/ruff-pre-commit"),
    "isort": ("pycqa/isort", "timothycrosley/isort"),
    "prettier": ("pre-commit/mirrors-prettier", "rbubley/mirrors-prettier"),
}
_PY_HOOK_IDS = {"black": {"black", "black-jupyter"}, "ruff": {"ruff-format"}, "isort": {"isort"}}


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _plain_data(function: Callable[P, R]) -> Callable[P, R]:
    """Pin files are the repository's (anyone who pushes a branch writes them): a value of an
    unexpected type anywhere in them (``repos: 3``, ``project = "x"``) is refused in one line
    instead of surfacing as a traceback from deep inside a ``.get`` chain."""

    @functools.wraps(function)
    def read(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return function(*args, **kwargs)
        except (AttributeError, TypeError, KeyError):
            raise FixError(
                "a file that pins the formatter's version has an unexpected shape; no fix "
                "is made from it"
            ) from None

    return read


def precommit_rev(workspace: Path, repos: Iterable[str]) -> str | None:
    """The ``rev:`` of a hook repository in ``.pre-commit-config.yaml``, without its ``v``;
    a frozen SHA is read from its ``# frozen: v1.2.3`` comment."""
    text = read_text(workspace / ".pre-commit-config.yaml")
    if text is None:
        return None
    config = parse_yaml(text, ".pre-commit-config.yaml")
    wanted = {repo.lower() for repo in repos}
    for entry in (config or {}).get("repos", []) if isinstance(config, dict) else []:
        url = str(entry.get("repo", "")).lower().removesuffix(".git").rstrip("/")
        if not any(url.endswith("/" + repo) for repo in wanted):
            continue
        rev = str(entry.get("rev", ""))
        if re.fullmatch(r"[0-9a-f]{40}", rev):
            frozen = re.search(rf"{rev}\s*#\s*frozen:\s*v?(\S+)", text)
            return frozen.group(1) if frozen else None
        return rev.removeprefix("v") or None
    return None


def _exact(requirement: str, package: str) -> str | None:
    """The version of ``package==X`` in a requirement line (extras and markers allowed)."""
    found = re.match(
        r"^\s*([A-Za-z0-9][\w.-]*)\s*(?:\[[^\]]*\])?\s*===?\s*([\w.!+-]+)\s*(?:;.*)?$",
        requirement.split(" #", 1)[0],
    )
    if found and _canonical(found.group(1)) == _canonical(package):
        return found.group(2)
    return None


def _locked_python(workspace: Path, package: str) -> tuple[str, str] | None:
    """The version a Python lockfile resolved for ``package``."""
    for lock in ("uv.lock", "poetry.lock", "pdm.lock"):
        for entry in read_toml(workspace / lock).get("package", []):
            if _canonical(str(entry.get("name", ""))) == _canonical(package):
                return str(entry.get("version")), lock
    data = read_json(workspace / "Pipfile.lock")
    if isinstance(data, dict):
        for section in ("develop", "default"):
            version = str(data.get(section, {}).get(package, {}).get("version", ""))
            if version.startswith("=="):
                return version[2:], "Pipfile.lock"
    return None


def _pyproject_requirements(data: dict[str, Any]) -> Iterator[str]:
    """Every PEP 508 requirement string a pyproject lists for any group or extra."""
    project = data.get("project", {})
    yield from project.get("dependencies", [])
    for group in (
        *project.get("optional-dependencies", {}).values(),
        *data.get("dependency-groups", {}).values(),
        *data.get("tool", {}).get("pdm", {}).get("dev-dependencies", {}).values(),
        data.get("tool", {}).get("uv", {}).get("dev-dependencies", []),
    ):
        yield from (item for item in group if isinstance(item, str))


def _poetry_pins(data: dict[str, Any], package: str) -> Iterator[str]:
    """Exact versions Poetry tables give ``package`` (``"24.4.2"`` or ``"==24.4.2"``)."""
    poetry = data.get("tool", {}).get("poetry", {})
    tables = [poetry.get("dependencies", {}), poetry.get("dev-dependencies", {})]
    tables += [group.get("dependencies", {}) for group in poetry.get("group", {}).values()]
    for table in tables:
        for name, spec in table.items():
            if _canonical(name) != _canonical(package):
                continue
            version = spec.get("version", "") if isinstance(spec, dict) else str(spec)
            exact = re.fullmatch(r"\s*(?:==?)?\s*(\d[\w.!+-]*)\s*", str(version))
            if exact:
                yield exact.group(1)


def _declared_python(workspace: Path, package: str) -> tuple[str, str] | None:
    """An exact pin in ``pyproject.toml`` or a requirements file."""
    data = read_toml(workspace / "pyproject.toml")
    for requirement in _pyproject_requirements(data):
        version = _exact(requirement, package)
        if version:
            return version, "pyproject.toml"
    for version in _poetry_pins(data, package):
        return version, "pyproject.toml"
    files = sorted([*workspace.glob("requirements*.txt"), *workspace.glob("requirements/*.txt")])
    for path in files:
        for line in (read_text(path) or "").splitlines():
            version = _exact(line, package)
            if version:
                return version, path.relative_to(workspace).as_posix()
    return None


@_plain_data
def python_pin(workspace: Path, package: str, hooks: Iterable[str] = ()) -> tuple[str, str] | None:
    """The version of a PyPI formatter the repo pins and where: ``("24.4.2", "uv.lock")``.

    When the failing log shows the tool ran as a pre-commit hook, the hook's ``rev:`` is what
    ran; otherwise a lockfile's resolution is the truth, then a declared ``==`` pin, then
    the pre-commit ``rev:`` (the version developers run locally).
    """
    rev = precommit_rev(workspace, _PY_HOOK_REPOS.get(package, ()))
    precommit = (rev, ".pre-commit-config.yaml") if rev else None
    if precommit and _PY_HOOK_IDS.get(package, set()) & set(hooks):
        pin: tuple[str, str] | None = precommit
    else:
        pin = _locked_python(workspace, package) or _declared_python(workspace, package)
        pin = pin or precommit
    if pin is None:
        return None
    return checked_version(pin[0], f"{package} pinned in {pin[1]}"), pin[1]


@_plain_data
def prettier_pin(project: Path, workspace: Path) -> tuple[str, str] | None:
    """The prettier version (or npm range) the project uses and where it is written."""
    pin = _prettier_pin(project, workspace)
    if pin is None:
        return None
    return checked_range(pin[0], f"prettier pinned in {pin[1]}"), pin[1]


def _prettier_pin(project: Path, workspace: Path) -> tuple[str, str] | None:
    data = read_json(project / "package-lock.json")
    if isinstance(data, dict):
        entry = data.get("packages", {}).get("node_modules/prettier") or data.get(
            "dependencies", {}
        ).get("prettier")
        if isinstance(entry, dict) and entry.get("version"):
            return str(entry["version"]), "package-lock.json"
    yarn = re.search(
        r'(?m)^"?prettier@[^\n]*:\n\s+version:? "?([\w.+-]+)"?',
        read_text(project / "yarn.lock") or "",
    )
    if yarn:
        return yarn.group(1), "yarn.lock"
    pnpm = re.search(
        r"(?m)^\s+'?/?prettier@(\d[\w.+-]*)", read_text(project / "pnpm-lock.yaml") or ""
    )
    if pnpm:
        return pnpm.group(1), "pnpm-lock.yaml"
    manifest = read_json(project / "package.json")
    for section in ("devDependencies", "dependencies"):
        spec = manifest.get(section, {}).get("prettier") if isinstance(manifest, dict) else None
        if isinstance(spec, str) and re.fullmatch(r"[\w.^~<>=| -]+", spec):
            return spec.strip(), "package.json"
    rev = precommit_rev(workspace, _PY_HOOK_REPOS["prettier"])
    return (rev, ".pre-commit-config.yaml") if rev else None


@_plain_data
def rust_toolchain(workspace: Path) -> str | None:
    """The toolchain ``rust-toolchain(.toml)`` pins; rustup applies it by itself."""
    channel = read_toml(workspace / "rust-toolchain.toml").get("toolchain", {}).get("channel")
    if channel:
        return str(channel)
    plain = (read_text(workspace / "rust-toolchain") or "").strip()
    if plain.startswith("["):
        return str(
            read_toml(workspace / "rust-toolchain").get("toolchain", {}).get("channel") or ""
        )
    return plain or None

"""Formatter fixers: run the formatter the failing check ran, at the version the repo pins.

A format check fails because some files are not formatted the way the project's formatter,
*at the project's version and with the project's config*, would write them. Another
formatter, or another version of the same one, could "fix" the files and still leave the
check red, so every fixer here first finds the pin:

* PyPI tools (black, ruff, isort): a lockfile's resolved version (``uv.lock``,
  ``poetry.lock``, ``pdm.lock``, ``Pipfile.lock``), then an exact ``==`` pin in
  ``pyproject.toml`` (project/optional dependencies, dependency groups, Poetry groups, PDM/uv
  dev dependencies) or ``requirements*.txt``, then the hook's ``rev:`` in
  ``.pre-commit-config.yaml``; when the log shows the check ran as a pre-commit hook, the
  pre-commit pin comes first. Installed with :func:`~.tools.pypi_tool` in its own venv.
* prettier: the project's own ``node_modules/.bin/prettier``, else ``npx`` with the version
  of ``package-lock.json``/``yarn.lock``/``pnpm-lock.yaml``, the ``package.json`` range, or
  the mirrors-prettier hook's ``rev:``.
* gofmt and rustfmt come with their toolchains, which are used only when on ``PATH``
  (rustup itself honours ``rust-toolchain(.toml)``); nothing else is installed.

The files come from the log when it names them (black's ``would reformat X``, ruff's
``Would reformat: X``, isort's ``ERROR: X Imports are incorrectly sorted``, prettier's
``[warn] X``, ``gofmt -l`` output, rustfmt's ``Diff in X``), matched against the files git
tracks, so CI's absolute paths (``/home/runner/work/app/app/src/a.py``) map to the checkout.
Without names the tool runs on what its own check covers. The check then runs again, in
check mode, on the same files: its output is the fix's proof, and a still-failing check is a
:class:`FixError`. clang-format, dotnet format, mix format and pre-commit are comment-only
(:class:`FixUnavailable` with the command): their pins live in toolchains we cannot install
here, and pre-commit would run arbitrary hook code fetched from the network.
"""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pipeline_guard.clean import clean_bytes, iter_chunks, open_log
from pipeline_guard.diagnosis import Diagnosis
from pipeline_guard.errors import FixError
from pipeline_guard.fixers.base import (
    FixResult,
    FixUnavailable,
    changed_since,
    check_owned,
    tracked_files,
    workspace_state,
)
from pipeline_guard.fixers.tools import ToolRun, pypi_tool, run_tool, which

_PY = ("**/*.py", "**/*.pyi", "**/*.ipynb")
_WEB = tuple(
    f"**/*.{ext}"
    for ext in (
        "js jsx mjs cjs ts tsx mts cts vue svelte astro json json5 jsonc css scss less "
        "html htm md mdx markdown yaml yml graphql gql hbs handlebars"
    ).split()
)
_C = tuple(f"**/*.{ext}" for ext in "c h cc cpp cxx hh hpp hxx ipp inl m mm cu proto".split())

_OWNED: dict[str, tuple[str, ...]] = {
    "black": _PY,
    "ruff-format": _PY,
    "isort": ("**/*.py", "**/*.pyi"),
    "prettier": _WEB,
    "gofmt": ("**/*.go",),
    "rustfmt": ("**/*.rs",),
    "clang-format": _C,
    "dotnet-format": ("**/*.cs", "**/*.vb", "**/*.csproj", "**/*.vbproj", "**/.editorconfig"),
    "mix-format": ("**/*.ex", "**/*.exs", "**/*.heex", "**/*.eex", "**/*.leex"),
    "pre-commit": ("**",),
}
FIX_IDS: frozenset[str] = frozenset(_OWNED)

# Fix ids handled by a comment only, with the command a person runs instead.
_MANUAL: dict[str, tuple[str, str]] = {
    "clang-format": ("clang-format", "the LLVM version the check used is not pinned in the repo"),
    "dotnet-format": ("dotnet format", "the .NET SDK is not installed here"),
    "mix-format": ("mix format", "Elixir is not installed here"),
    "pre-commit": (
        "pre-commit run --all-files",
        "pre-commit would run hook code fetched from the network",
    ),
}


def owned_files(fix_id: str) -> tuple[str, ...]:
    """The files a formatter may change: the languages it formats."""
    return _OWNED.get(fix_id, ())


# ---------------------------------------------------------------------------------------------
# Reading the log: which files the check complained about


@dataclass(frozen=True)
class _Names:
    """How a check names the files it complains about in its log."""

    keywords: tuple[bytes, ...]  # cheap test before a line is cleaned and matched
    patterns: tuple[re.Pattern[str], ...]  # with a ``path`` group; every name must resolve
    loose: tuple[re.Pattern[str], ...] = ()  # bare paths: names that do not resolve are noise


_LOG_NAMES: dict[str, _Names] = {
    "black": _Names((b"would reformat ",), (re.compile(r"^would reformat (?P<path>.+)$"),)),
    "ruff-format": _Names((b"Would reformat: ",), (re.compile(r"^Would reformat: (?P<path>.+)$"),)),
    "isort": _Names(
        (b"Imports are incorrectly sorted",),
        (re.compile(r"^ERROR: (?P<path>.+?) Imports are incorrectly sorted"),),
    ),
    "prettier": _Names(
        (b"[warn] ", b"prettier/prettier", b"/", b"\\"),
        (
            re.compile(r"^\[warn\] (?P<path>[^\s\[\]]+\.\w+)$"),
            re.compile(r"^(?P<path>[^\s:]+):\d+(?::\d+)?:? .*\(prettier/prettier\)$"),
        ),
        # eslint's stylish format: the file's full path alone on a line, problems below it
        (re.compile(r"^(?P<path>(?:/|[A-Za-z]:\\)\S+\.\w+)$"),),
    ),
    "gofmt": _Names(
        (b".go",),
        (
            re.compile(r"^diff (?:-u )?\S+\.go\.orig (?P<path>\S+\.go)$"),
            re.compile(r"^(?P<path>\S+\.go):\d+(?::\d*)*:?.*(?:is not|not properly).*\(\w+\)$"),
        ),
        (re.compile(r"^(?P<path>\S+\.go)$"),),
    ),
    "rustfmt": _Names(
        (b"Diff in ",), (re.compile(r"^Diff in (?P<path>.+?\.rs)(?: at line \d+|:\d+)?:\s*$"),)
    ),
    "clang-format": _Names(
        (b"clang-format",),
        (
            re.compile(
                r"^(?P<path>\S+?):\d+:\d+: (?:error|warning): code should be clang-formatted"
            ),
        ),
    ),
}
_HOOK_ID = re.compile(r"^- hook id: (?P<hook>\S+)$")
_GO_FLAGS = re.compile(r"\bgofmt\b.* -s\b|`gofmt`-ed with `-s`|gofmted with -s")
_GO_OTHER = re.compile(r"\((goimports|gofumpt|gci|golines)\)$|^(?:\+ |\$ )?(goimports|gofumpt)\b")


@dataclass
class _LogScan:
    """What the failing log says: file names (strict and loose), pre-commit hooks, flags."""

    strict: list[str] = field(default_factory=list)
    loose: list[str] = field(default_factory=list)
    hooks: set[str] = field(default_factory=set)
    lines: list[str] = field(default_factory=list)  # lines that mention the tool, for flags


def _scan_log(source: str, names: _Names | None) -> _LogScan:
    """Stream the log once (it may be a gigabyte) and pick out the lines that name files."""
    scan = _LogScan()
    keywords = (*(names.keywords if names else ()), b"- hook id: ", b"gofmt", b"goimports")
    stream = open_log(source)
    try:
        for chunk in iter_chunks(stream):
            if not any(keyword in chunk.data for keyword in keywords):
                continue
            for raw in chunk.data.split(b"\n"):
                if any(keyword in raw for keyword in keywords):
                    _scan_line(clean_bytes(raw)[0].decode("utf-8", "replace"), names, scan)
    finally:
        if source != "-":
            stream.close()
    return scan


def _scan_line(text: str, names: _Names | None, scan: _LogScan) -> None:
    hook = _HOOK_ID.match(text)
    if hook:
        scan.hooks.add(hook.group("hook"))
    if "gofmt" in text or "goimports" in text or "gofumpt" in text:
        scan.lines.append(text)
    if names is None:
        return
    for pattern in names.patterns:
        found = pattern.match(text)
        if found:
            scan.strict.append(found.group("path"))
            return
    for pattern in names.loose:
        found = pattern.match(text)
        if found:
            scan.loose.append(found.group("path"))
            if len(scan.lines) < 1000:
                scan.lines.append(text)
            return


def _normalise(name: str) -> tuple[str, bool]:
    """A log path as forward-slash text, and whether it was absolute."""
    name = name.strip().strip("'\"`")
    name = name.removeprefix("\\\\?\\").replace("\\", "/")
    absolute = name.startswith("/") or re.match(r"^[A-Za-z]:/", name) is not None
    name = re.sub(r"^[A-Za-z]:/", "/", name)
    while name.startswith("./"):
        name = name[2:]
    return name, absolute


def resolve_log_path(name: str, workspace: Path, tracked: Sequence[str]) -> str | None:
    """The tracked file a log's path names, or ``None``.

    CI prints paths of its own checkout (``/home/runner/work/app/app/src/a.py``,
    ``/builds/group/app/src/a.py``, ``D:\\a\\app\\app\\src\\a.py``): the longest tail of the
    path that is a tracked file is the one. A relative path is taken from the root, or else
    from the one tracked file it ends (a check run in a sub-folder of a monorepo).
    Untracked and ambiguous names resolve to nothing, so a fix never touches a file by guess.
    """
    text, absolute = _normalise(name)
    known = set(tracked)
    root = workspace.resolve().as_posix().rstrip("/") + "/"
    if absolute and text.startswith(root):
        text = text[len(root) :]
    parts = [part for part in text.split("/") if part not in ("", ".")]
    if ".." in parts or not parts:
        return None
    if not absolute:
        joined = "/".join(parts)
        if joined in known:
            return joined
        ends = [path for path in tracked if path.endswith("/" + joined)]
        return ends[0] if len(ends) == 1 else None
    for start in range(len(parts)):
        tail = "/".join(parts[start:])
        if tail in known:
            return tail
    return None


def _files_from_log(scan: _LogScan, workspace: Path, *, strict: bool = True) -> list[str]:
    """The tracked files the log complains about; a strict name that names no tracked file
    stops the fix, since fixing the others would leave the check red."""
    if not scan.strict and not scan.loose:
        return []
    tracked = tracked_files(workspace)
    files: dict[str, None] = {}
    for name in scan.strict:
        path = resolve_log_path(name, workspace, tracked)
        if path is None and strict:
            raise FixError(
                f"the log names {name}, which is not a tracked file of this checkout "
                "(the check ran on another commit or in another folder)"
            )
        if path is not None:
            files[path] = None
    for name in scan.loose:
        path = resolve_log_path(name, workspace, tracked)
        if path is not None:
            files[path] = None
    return list(files)


# ---------------------------------------------------------------------------------------------
# Finding the version the repository pins


_PY_HOOK_REPOS: dict[str, tuple[str, ...]] = {
    "black": ("psf/black", "psf/black-pre-commit-mirror"),
    "ruff": ("astral-sh/ruff-pre-commit", "charliermarsh/ruff-pre-commit"),
    "isort": ("pycqa/isort", "timothycrosley/isort"),
    "prettier": ("pre-commit/mirrors-prettier", "rbubley/mirrors-prettier"),
}
_PY_HOOK_IDS = {"black": {"black", "black-jupyter"}, "ruff": {"ruff-format"}, "isort": {"isort"}}


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _toml(path: Path) -> dict[str, Any]:
    text = _read(path)
    if text is None:
        return {}
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return {}


def precommit_rev(workspace: Path, repos: Iterable[str]) -> str | None:
    """The ``rev:`` of a hook repository in ``.pre-commit-config.yaml``, without its ``v``;
    a frozen SHA is read from its ``# frozen: v1.2.3`` comment."""
    text = _read(workspace / ".pre-commit-config.yaml")
    if text is None:
        return None
    try:
        config = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
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
        for entry in _toml(workspace / lock).get("package", []):
            if _canonical(str(entry.get("name", ""))) == _canonical(package):
                return str(entry.get("version")), lock
    pipfile = _read(workspace / "Pipfile.lock")
    if pipfile:
        try:
            data = json.loads(pipfile)
        except ValueError:
            data = {}
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
    data = _toml(workspace / "pyproject.toml")
    for requirement in _pyproject_requirements(data):
        version = _exact(requirement, package)
        if version:
            return version, "pyproject.toml"
    for version in _poetry_pins(data, package):
        return version, "pyproject.toml"
    files = sorted([*workspace.glob("requirements*.txt"), *workspace.glob("requirements/*.txt")])
    for path in files:
        for line in (_read(path) or "").splitlines():
            version = _exact(line, package)
            if version:
                return version, path.relative_to(workspace).as_posix()
    return None


def python_pin(workspace: Path, package: str, hooks: Iterable[str] = ()) -> tuple[str, str] | None:
    """The version of a PyPI formatter the repo pins and where: ``("24.4.2", "uv.lock")``.

    When the failing log shows the tool ran as a pre-commit hook, the hook's ``rev:`` is what
    ran; otherwise a lockfile's resolution is the truth, then a declared ``==`` pin, then
    the pre-commit ``rev:`` (the version developers run locally).
    """
    rev = precommit_rev(workspace, _PY_HOOK_REPOS.get(package, ()))
    precommit = (rev, ".pre-commit-config.yaml") if rev else None
    if precommit and _PY_HOOK_IDS.get(package, set()) & set(hooks):
        return precommit
    return _locked_python(workspace, package) or _declared_python(workspace, package) or precommit


def prettier_pin(project: Path, workspace: Path) -> tuple[str, str] | None:
    """The prettier version (or npm range) the project uses and where it is written."""
    lock = _read(project / "package-lock.json")
    if lock:
        try:
            data = json.loads(lock)
        except ValueError:
            data = {}
        entry = data.get("packages", {}).get("node_modules/prettier") or data.get(
            "dependencies", {}
        ).get("prettier")
        if isinstance(entry, dict) and entry.get("version"):
            return str(entry["version"]), "package-lock.json"
    yarn = re.search(
        r'(?m)^"?prettier@[^\n]*:\n\s+version:? "?([\w.+-]+)"?', _read(project / "yarn.lock") or ""
    )
    if yarn:
        return yarn.group(1), "yarn.lock"
    pnpm = re.search(r"(?m)^\s+'?/?prettier@(\d[\w.+-]*)", _read(project / "pnpm-lock.yaml") or "")
    if pnpm:
        return pnpm.group(1), "pnpm-lock.yaml"
    try:
        manifest = json.loads(_read(project / "package.json") or "{}")
    except ValueError:
        manifest = {}
    for section in ("devDependencies", "dependencies"):
        spec = manifest.get(section, {}).get("prettier") if isinstance(manifest, dict) else None
        if isinstance(spec, str) and re.fullmatch(r"[\w.^~<>=| -]+", spec):
            return spec.strip(), "package.json"
    rev = precommit_rev(workspace, _PY_HOOK_REPOS["prettier"])
    return (rev, ".pre-commit-config.yaml") if rev else None


def rust_toolchain(workspace: Path) -> str | None:
    """The toolchain ``rust-toolchain(.toml)`` pins; rustup applies it by itself."""
    channel = _toml(workspace / "rust-toolchain.toml").get("toolchain", {}).get("channel")
    if channel:
        return str(channel)
    plain = (_read(workspace / "rust-toolchain") or "").strip()
    if plain.startswith("["):
        return str(_toml(workspace / "rust-toolchain").get("toolchain", {}).get("channel") or "")
    return plain or None


# ---------------------------------------------------------------------------------------------
# Tools: what to run to fix and to check


@dataclass(frozen=True)
class _Call:
    """One command: the argv we run and the text a person would type."""

    argv: tuple[str, ...]
    shown: str
    cwd: Path


def _exit_zero(run: ToolRun) -> bool:
    return run.ok


def _silent_and_zero(run: ToolRun) -> bool:
    """``gofmt -l`` exits 0 even when it lists files: a clean check lists nothing."""
    return run.ok and not run.output.strip()


@dataclass(frozen=True)
class _Tool:
    label: str  # "black 24.4.2 (pinned in uv.lock)"
    write: tuple[_Call, ...]
    check: tuple[_Call, ...]
    setup: str = ""  # how a person gets the tool: "pip install black==24.4.2"
    check_ok: Callable[[ToolRun], bool] = _exit_zero

    @property
    def command(self) -> str:
        return " && ".join([*([self.setup] if self.setup else []), *(c.shown for c in self.write)])


def _call(executable: str | Path, shown: str, args: Sequence[str], cwd: Path) -> _Call:
    return _Call((str(executable), *args), " ".join([shown, shlex.join(args)]).strip(), cwd)


@dataclass(frozen=True)
class _PyTool:
    package: str
    write: tuple[str, ...]
    check: tuple[str, ...]
    default: tuple[str, ...]  # targets when the log names no file: what the check covers


_PY_TOOLS = {
    "black": _PyTool("black", (), ("--check",), (".",)),
    "ruff-format": _PyTool("ruff", ("format",), ("format", "--check"), ()),
    "isort": _PyTool("isort", (), ("--check-only",), (".",)),
}


def _python_tool(fix_id: str, workspace: Path, files: list[str], scan: _LogScan) -> _Tool:
    """black, ruff or isort at the pinned version, in its own cached venv, run in the root
    (where each finds the project's pyproject configuration by itself)."""
    tool = _PY_TOOLS[fix_id]
    pin = python_pin(workspace, tool.package, scan.hooks)
    version = pin[0] if pin else None
    spec = f"{tool.package}=={version}" if version else tool.package
    targets = files or list(tool.default)
    setup = f"pip install {spec}"
    manual = f"{setup} && {shlex.join([tool.package, *tool.write, *targets])}"
    try:
        executable = pypi_tool(tool.package, version)
    except FixError as exc:
        raise FixUnavailable(f"cannot install {spec} here: {exc}", manual) from None
    label = f"{spec.replace('==', ' ')} (pinned in {pin[1]})" if pin else f"{spec} (no pin found)"
    return _Tool(
        label,
        (_call(executable, tool.package, [*tool.write, *targets], workspace),),
        (_call(executable, tool.package, [*tool.check, *targets], workspace),),
        setup,
    )


def _node_project(workspace: Path, files: list[str]) -> Path:
    """The folder whose ``package.json`` governs the files (a monorepo's package), else root."""
    if files:
        folder = (workspace / files[0]).parent
        while folder != workspace and workspace in folder.parents:
            if (folder / "package.json").is_file():
                return folder
            folder = folder.parent
    return workspace


def _prettier(workspace: Path, files: list[str], scan: _LogScan) -> _Tool:
    """The project's installed prettier, else ``npx prettier@<pin>``, run from the package
    folder so prettier finds its config and ``.prettierignore`` as the check did."""
    del scan
    project = _node_project(workspace, files)
    targets = [Path(workspace / file).relative_to(project).as_posix() for file in files] or ["."]
    where = (
        ""
        if project == workspace
        else f"cd {shlex.quote(project.relative_to(workspace).as_posix())} && "
    )
    for folder in dict.fromkeys((project, workspace)):
        local = folder / "node_modules" / ".bin" / "prettier"
        if local.is_file():
            version = json.loads(_read(folder / "node_modules/prettier/package.json") or "{}")
            label = f"prettier {version.get('version', '')} (node_modules)".replace("  ", " ")
            return _Tool(
                label,
                (_call(local, where + "npx prettier", ["--write", *targets], project),),
                (_call(local, "npx prettier", ["--check", *targets], project),),
            )
    pin = prettier_pin(project, workspace)
    package = f"prettier@{pin[0]}" if pin else "prettier"
    shown = f"npx --yes {shlex.quote(package)}"
    npx = which("npx")
    if npx is None:
        raise FixUnavailable(
            "npx is not installed here", f"{where}{shown} {shlex.join(['--write', *targets])}"
        )
    label = f"prettier {pin[0]} (pinned in {pin[1]})" if pin else "prettier (no pin found)"
    write = ["--write", *targets]
    check = ["--check", *targets]
    return _Tool(
        label,
        (
            _Call(
                (str(npx), "--yes", package, *write), f"{where}{shown} {shlex.join(write)}", project
            ),
        ),
        (_Call((str(npx), "--yes", package, *check), f"{shown} {shlex.join(check)}", project),),
    )


def _gofmt(workspace: Path, files: list[str], scan: _LogScan) -> _Tool:
    """gofmt from PATH (Go's formatting barely moves between releases; the toolchain is not
    ours to install), with ``-s`` when the check used it."""
    other = next((m for line in scan.lines if (m := _GO_OTHER.search(line))), None)
    targets = files or ["."]
    if other:
        name = other.group(1) or other.group(2)
        module = {
            "goimports": "golang.org/x/tools/cmd/goimports@latest -w",
            "gofumpt": "mvdan.cc/gofumpt@latest -w",
            "gci": "github.com/daixiang0/gci@latest write",
            "golines": "github.com/segmentio/golines@latest -w",
        }[name]
        raise FixUnavailable(
            f"the check ran {name}, not gofmt", f"go run {module} {shlex.join(targets)}"
        )
    simplify = ["-s"] if any(_GO_FLAGS.search(line) for line in scan.lines) else []
    gofmt = which("gofmt")
    if gofmt is None:
        manual = shlex.join(["gofmt", *simplify, "-w", *targets])
        raise FixUnavailable("gofmt is not installed here (it comes with Go)", manual)
    go = which("go")
    version = run_tool([go, "env", "GOVERSION"], workspace).output.strip() if go else ""
    return _Tool(
        f"gofmt ({version})" if version else "gofmt",
        (_call(gofmt, "gofmt", [*simplify, "-w", *targets], workspace),),
        (_call(gofmt, "gofmt", [*simplify, "-l", *targets], workspace),),
        check_ok=_silent_and_zero,
    )


def _edition(workspace: Path, file: str) -> str:
    """The Rust edition of the crate a file belongs to (rustfmt defaults to 2015 otherwise)."""
    folder = (workspace / file).parent
    while True:
        package = _toml(folder / "Cargo.toml").get("package", {})
        edition = package.get("edition")
        if isinstance(edition, str):
            return edition
        if isinstance(edition, dict):  # edition.workspace = true
            root = _toml(workspace / "Cargo.toml").get("workspace", {}).get("package", {})
            return str(root.get("edition", "2015"))
        if folder == workspace or workspace not in folder.parents:
            return "2015"
        folder = folder.parent


def _rustfmt(workspace: Path, files: list[str], scan: _LogScan) -> _Tool:
    """rustfmt on the named files (grouped by crate edition), else ``cargo fmt --all``;
    rustup picks the toolchain ``rust-toolchain(.toml)`` pins."""
    del scan
    pinned = rust_toolchain(workspace)
    tool = "rustfmt" if files else "cargo"
    executable = which(tool)
    groups: dict[str, list[str]] = {}
    for file in files:
        groups.setdefault(_edition(workspace, file), []).append(file)
    writes = [["--edition", edition, *group] for edition, group in groups.items()]
    if executable is None:
        manual = " && ".join(shlex.join(["rustfmt", *args]) for args in writes) or "cargo fmt --all"
        raise FixUnavailable(f"{tool} is not installed here", manual)
    if not files:
        return _Tool(
            f"cargo fmt ({pinned})" if pinned else "cargo fmt",
            (_call(executable, "cargo", ["fmt", "--all"], workspace),),
            (_call(executable, "cargo", ["fmt", "--all", "--check"], workspace),),
        )
    version = run_tool([executable, "--version"], workspace).output.strip().splitlines()[:1]
    label = version[0] if version else "rustfmt"
    return _Tool(
        label + (f" (toolchain {pinned})" if pinned else ""),
        tuple(_call(executable, "rustfmt", args, workspace) for args in writes),
        tuple(_call(executable, "rustfmt", ["--check", *args], workspace) for args in writes),
    )


_LOCATE: dict[str, Callable[[Path, list[str], _LogScan], _Tool]] = {
    "black": lambda w, f, s: _python_tool("black", w, f, s),
    "ruff-format": lambda w, f, s: _python_tool("ruff-format", w, f, s),
    "isort": lambda w, f, s: _python_tool("isort", w, f, s),
    "prettier": _prettier,
    "gofmt": _gofmt,
    "rustfmt": _rustfmt,
}


# ---------------------------------------------------------------------------------------------
# The fixer


def apply(fix_id: str, diagnosis: Diagnosis, workspace: Path) -> FixResult:
    """Format what the check complained about, with the pinned tool, and prove it: the check
    mode of the same tool on the same files must pass afterwards."""
    if fix_id not in FIX_IDS:
        raise FixError(f"formatters: unknown fix id {fix_id!r}")
    scan = _scan_log(diagnosis.source, _LOG_NAMES.get(fix_id))
    files = _files_from_log(scan, workspace, strict=fix_id not in _MANUAL)
    if fix_id in _MANUAL:
        command, why = _MANUAL[fix_id]
        if fix_id == "pre-commit" and scan.hooks:
            command = f"pre-commit run {' '.join(sorted(scan.hooks))} --all-files"
        elif files:
            command = f"{command} -i {shlex.join(files)}"
        raise FixUnavailable(f"{fix_id} is not run by pipeline-guard: {why}", command)
    tool = _LOCATE[fix_id](workspace, files, scan)
    return _run(fix_id, tool, workspace)


def _run(fix_id: str, tool: _Tool, workspace: Path) -> FixResult:
    before = workspace_state(workspace)
    for call in tool.write:
        done = run_tool(call.argv, call.cwd, display=call.shown)
        if not done.ok:
            raise FixError(
                f"`{done.command}` failed (exit {done.returncode}): {_tail(done.output)}"
            )
    checks = [run_tool(call.argv, call.cwd, display=call.shown) for call in tool.check]
    verification = "\n".join(f"$ {run.command}\n{run.output.rstrip()}".rstrip() for run in checks)
    failed = next((run for run in checks if not tool.check_ok(run)), None)
    if failed is not None:
        raise FixError(f"`{failed.command}` still fails after the fix: {_tail(failed.output)}")
    changed = changed_since(workspace, before)
    if not changed:
        raise FixError(
            f"{tool.label} changed nothing: the check passes here, so the failure came from "
            "another version or configuration than the one this repository pins"
        )
    check_owned(changed, owned_files(fix_id))
    count = f"{len(changed)} file{'s' if len(changed) != 1 else ''}"
    return FixResult(
        fixer=fix_id,
        summary=f"Format {count} with {tool.label}",
        changed=tuple(changed),
        verification=verification,
        command=tool.command,
    )


def _tail(output: str, lines: int = 5) -> str:
    kept = [line for line in output.strip().splitlines() if line.strip()][-lines:]
    return " | ".join(kept) or "no output"

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

The pins are found by :mod:`.format_pins`, the files the log names by :mod:`.format_logs`;
this module runs the tools.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pipeline_guard.engine.diagnosis import Diagnosis
from pipeline_guard.errors import FixError, FixUnavailable
from pipeline_guard.fixers.base import FixResult, FixSite
from pipeline_guard.fixers.format_logs import (
    GO_FLAGS,
    GO_OTHER,
    LOG_NAMES,
    LogScan,
    files_from_log,
    scan_log,
)
from pipeline_guard.fixers.format_pins import prettier_pin, python_pin, rust_toolchain
from pipeline_guard.fixers.jail import Jail
from pipeline_guard.fixers.repo_files import read_json, read_toml
from pipeline_guard.fixers.tools import ToolRun, node_env, pypi_tool, run_tool

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


def _python_tool(fix_id: str, site: FixSite, files: list[str], scan: LogScan) -> _Tool:
    """black, ruff or isort at the pinned version, in its own cached venv, run in the root
    (where each finds the project's pyproject configuration by itself)."""
    tool = _PY_TOOLS[fix_id]
    workspace = site.workspace
    pin = python_pin(workspace, tool.package, scan.hooks)
    version = pin[0] if pin else None
    spec = f"{tool.package}=={version}" if version else tool.package
    targets = files or list(tool.default)
    setup = f"pip install {spec}"
    manual = f"{setup} && {shlex.join([tool.package, *tool.write, *targets])}"
    try:
        executable = pypi_tool(site.jail, tool.package, version)
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


def _prettier(site: FixSite, files: list[str], scan: LogScan) -> _Tool:
    """The project's installed prettier when the config trusts the repository's own tools
    (``fix.trust-repo-tools``: a committed ``node_modules/.bin/prettier`` is the repository's
    code), else ``npx prettier@<pin>``, run from the package folder so prettier finds its
    config and ``.prettierignore`` as the check did."""
    del scan
    workspace = site.workspace
    project = _node_project(workspace, files)
    targets = [Path(workspace / file).relative_to(project).as_posix() for file in files] or ["."]
    where = (
        ""
        if project == workspace
        else f"cd {shlex.quote(project.relative_to(workspace).as_posix())} && "
    )
    for folder in dict.fromkeys((project, workspace)) if site.jail.trust_repo_tools else ():
        local = folder / "node_modules" / ".bin" / "prettier"
        if local.is_file():
            meta = read_json(folder / "node_modules/prettier/package.json")
            version = meta.get("version", "") if isinstance(meta, dict) else ""
            label = f"prettier {version} (node_modules)".replace("  ", " ")
            return _Tool(
                label,
                (_call(local, where + "npx prettier", ["--write", *targets], project),),
                (_call(local, "npx prettier", ["--check", *targets], project),),
            )
    pin = prettier_pin(project, workspace)
    package = f"prettier@{pin[0]}" if pin else "prettier"
    shown = f"npx --yes {shlex.quote(package)}"
    npx = site.jail.which("npx")
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


def _gofmt(site: FixSite, files: list[str], scan: LogScan) -> _Tool:
    """gofmt from PATH (Go's formatting barely moves between releases; the toolchain is not
    ours to install), with ``-s`` when the check used it."""
    other = next((m for line in scan.lines if (m := GO_OTHER.search(line))), None)
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
    simplify = ["-s"] if any(GO_FLAGS.search(line) for line in scan.lines) else []
    workspace, jail = site.workspace, site.jail
    gofmt = jail.which("gofmt")
    if gofmt is None:
        manual = shlex.join(["gofmt", *simplify, "-w", *targets])
        raise FixUnavailable("gofmt is not installed here (it comes with Go)", manual)
    go = jail.which("go")
    version = run_tool(jail, [go, "env", "GOVERSION"], workspace).output.strip() if go else ""
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
        package = read_toml(folder / "Cargo.toml").get("package", {})
        edition = package.get("edition")
        if isinstance(edition, str):
            return edition
        if isinstance(edition, dict):  # edition.workspace = true
            root = read_toml(workspace / "Cargo.toml").get("workspace", {}).get("package", {})
            return str(root.get("edition", "2015"))
        if folder == workspace or workspace not in folder.parents:
            return "2015"
        folder = folder.parent


def _rustfmt(site: FixSite, files: list[str], scan: LogScan) -> _Tool:
    """rustfmt on the named files (grouped by crate edition), else ``cargo fmt --all``;
    rustup picks the toolchain ``rust-toolchain(.toml)`` pins."""
    del scan
    workspace = site.workspace
    pinned = rust_toolchain(workspace)
    tool = "rustfmt" if files else "cargo"
    executable = site.jail.which(tool)
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
    run = run_tool(site.jail, [executable, "--version"], workspace)
    version = run.output.strip().splitlines()[:1]
    label = version[0] if version else "rustfmt"
    return _Tool(
        label + (f" (toolchain {pinned})" if pinned else ""),
        tuple(_call(executable, "rustfmt", args, workspace) for args in writes),
        tuple(_call(executable, "rustfmt", ["--check", *args], workspace) for args in writes),
    )


_LOCATE: dict[str, Callable[[FixSite, list[str], LogScan], _Tool]] = {
    "black": lambda w, f, s: _python_tool("black", w, f, s),
    "ruff-format": lambda w, f, s: _python_tool("ruff-format", w, f, s),
    "isort": lambda w, f, s: _python_tool("isort", w, f, s),
    "prettier": _prettier,
    "gofmt": _gofmt,
    "rustfmt": _rustfmt,
}


# ---------------------------------------------------------------------------------------------
# The fixer


def apply(fix_id: str, diagnosis: Diagnosis, site: FixSite) -> FixResult:
    """Format what the check complained about, with the pinned tool, and prove it: the check
    mode of the same tool on the same files must pass afterwards."""
    if fix_id not in FIX_IDS:
        raise FixError(f"formatters: unknown fix id {fix_id!r}")
    scan = scan_log(site.log, LOG_NAMES.get(fix_id))
    files = files_from_log(scan, site.workspace, strict=fix_id not in _MANUAL)
    if fix_id in _MANUAL:
        command, why = _MANUAL[fix_id]
        if fix_id == "pre-commit" and scan.hooks:
            command = f"pre-commit run {' '.join(sorted(scan.hooks))} --all-files"
        elif files:
            command = f"{command} -i {shlex.join(files)}"
        raise FixUnavailable(f"{fix_id} is not run by pipeline-guard: {why}", command)
    tool = _LOCATE[fix_id](site, files, scan)
    return _run(fix_id, tool, site.jail, files)


def _run(fix_id: str, tool: _Tool, jail: Jail, files: list[str]) -> FixResult:
    env = node_env(jail) if fix_id == "prettier" else None
    for call in tool.write:
        done = run_tool(jail, call.argv, call.cwd, env=env, display=call.shown)
        if not done.ok:
            raise FixError(
                f"`{done.command}` failed (exit {done.returncode}): {_tail(done.output)}"
            )
    checks = [
        run_tool(jail, call.argv, call.cwd, env=env, display=call.shown) for call in tool.check
    ]
    verification = "\n".join(f"$ {run.command}\n{run.output.rstrip()}".rstrip() for run in checks)
    failed = next((run for run in checks if not tool.check_ok(run)), None)
    if failed is not None:
        raise FixError(f"`{failed.command}` still fails after the fix: {_tail(failed.output)}")
    count = f"{len(files)} file{'s' if len(files) != 1 else ''}" if files else "files"
    return FixResult(
        fixer=fix_id,
        summary=f"Format {count} with {tool.label}",
        verification=verification,
        command=tool.command,
        if_unchanged=f"{tool.label} changed nothing: the check passes here, so the failure "
        "came from another version or configuration than the one this repository pins",
    )


def _tail(output: str, lines: int = 5) -> str:
    kept = [line for line in output.strip().splitlines() if line.strip()][-lines:]
    return " | ".join(kept) or "no output"

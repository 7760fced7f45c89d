"""Lockfile fixers against real tools and real registries (npm registry, PyPI), no mocks.

Each test builds a small git repository whose manifest was edited after the lockfile was
written, produces the CI log by running the real frozen check, diagnoses it with the bundled
pack, applies the fix and checks the three promises: only the lockfile changed, the new
dependency is locked at what the manifest asks, and what was locked before did not move even
where a newer release would be allowed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from fixer_sites import apply_fix, namespace_jail, reachable, through_guard
from pipeline_guard.categories import Action, Category
from pipeline_guard.engine.analysis import analyze_source
from pipeline_guard.engine.diagnosis import Diagnosis, Evidence
from pipeline_guard.engine.matcher import Matcher
from pipeline_guard.engine.rule import load_rules
from pipeline_guard.errors import FixError, FixUnavailable
from pipeline_guard.fixers import lockfiles
from pipeline_guard.fixers.base import FixResult, is_owned
from pipeline_guard.fixers.git import changed_files as git_changes
from pipeline_guard.fixers.lockfiles import python as lockfiles_python
from pipeline_guard.fixers.lockfiles import relock
from pipeline_guard.fixers.tools import pypi_tool
from pipeline_guard.guard.fix_request import changed_since, workspace_state

NPM_QUIET = ("--ignore-scripts", "--no-audit", "--no-fund")
POETRY = "2.1.3"
needs_npm = pytest.mark.skipif(shutil.which("npx") is None, reason="needs node's npm and npx")
needs_cargo = pytest.mark.skipif(shutil.which("cargo") is None, reason="needs cargo")


@pytest.fixture(scope="module")
def pack() -> Matcher:
    return Matcher(load_rules(repo_root=Path("/nonexistent")))


def sh(argv: Sequence[str | Path], cwd: Path, *, ok: bool = True) -> str:
    """Run a real command; ``ok=False`` expects it to fail (the CI failure we reproduce)."""
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never", "POETRY_NO_INTERACTION": "1"}
    done = subprocess.run(
        [str(part) for part in argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    output = done.stdout + done.stderr
    assert (done.returncode == 0) == ok, f"{argv}: exit {done.returncode}\n{output}"
    return output


def commit(repo: Path, message: str) -> None:
    if not (repo / ".git").exists():
        sh(["git", "init", "-q", "-b", "main"], repo)
    sh(["git", "add", "-A"], repo)
    sh(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", message],
        repo,
    )


def changed_files(repo: Path) -> list[str]:
    return sh(["git", "status", "--porcelain", "--untracked-files=all"], repo).splitlines()


def diagnose_log(pack: Matcher, tmp_path: Path, output: str, fix: str) -> Diagnosis:
    """Write the failed command's real output as a CI log and diagnose it with the pack."""
    log = tmp_path / "job.log"
    log.write_text(f"Run the install\n{output}\nError: Process completed with exit code 1.\n")
    diagnosis = analyze_source(str(log), pack)
    assert diagnosis.fix == fix, diagnosis
    return diagnosis


def edit_json(path: Path, **dependencies: str) -> None:
    data = json.loads(path.read_text())
    data.setdefault("dependencies", {}).update(dependencies)
    path.write_text(json.dumps(data, indent=2) + "\n")


def assert_verified(result: FixResult, command: str) -> None:
    assert command in result.verification
    assert result.verification.endswith("(exit 0)")


# ---------------------------------------------------------------- npm, pnpm, yarn


@pytest.fixture(scope="module")
def node_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """pnpm 9 and yarn 1 installed once from the npm registry, to set up fixtures quickly."""
    prefix = tmp_path_factory.mktemp("node-tools")
    sh(["npm", "install", "--prefix", prefix, "pnpm@9", "yarn@1", *NPM_QUIET], prefix)
    return prefix / "node_modules" / ".bin"


def npm_project(folder: Path, **dependencies: str) -> None:
    folder.mkdir(parents=True)
    (folder / "package.json").write_text(
        json.dumps({"name": folder.name, "version": "1.0.0", "private": True}) + "\n"
    )
    edit_json(folder / "package.json", **dependencies)
    sh(["npm", "install", "--package-lock-only", *NPM_QUIET], folder)


def locked_npm(folder: Path) -> dict[str, str]:
    packages = json.loads((folder / "package-lock.json").read_text())["packages"]
    return {
        path.removeprefix("node_modules/"): meta["version"]
        for path, meta in packages.items()
        if path
    }


@pytest.mark.e2e
@needs_npm
def test_npm_relocks_only_the_stale_project_and_upgrades_nothing(
    tmp_path: Path, pack: Matcher
) -> None:
    repo = tmp_path / "repo"
    web, api = repo / "web", repo / "api"
    npm_project(web, **{"is-number": "6.0.0"})
    edit_json(web / "package.json", **{"is-number": ">=6.0.0"})  # 7.0.0 would be allowed now
    sh(["npm", "install", "--package-lock-only", *NPM_QUIET], web)
    npm_project(api, ms="2.1.3")  # in sync: must be left alone
    commit(repo, "two projects")
    edit_json(web / "package.json", ms="2.1.2")
    commit(repo, "web: add ms without relocking")
    failure = sh(["npm", "ci", "--dry-run", *NPM_QUIET], web, ok=False)
    diagnosis = diagnose_log(pack, tmp_path, failure, "npm-lockfile")

    result = apply_fix(lockfiles, "npm-lockfile", diagnosis, repo)

    assert changed_files(repo) == [" M web/package-lock.json"]
    assert locked_npm(web) == {"is-number": "6.0.0", "ms": "2.1.2"}
    assert result.command == f"cd web && {lockfiles.SPECS['npm-lockfile'].manual}"
    assert_verified(result, "cd web && npm ci --dry-run --ignore-scripts")
    assert is_owned(git_changes(repo)[0], lockfiles.owned_files("npm-lockfile"))


@pytest.mark.e2e
@needs_npm
def test_npm_in_sync_is_nothing_to_fix(tmp_path: Path) -> None:
    repo = reachable(tmp_path) / "repo"
    npm_project(repo, ms="2.1.3")
    commit(repo, "in sync")
    diagnosis = make_diagnosis("npm-lockfile", "npm error Missing: ms@2.1.3 from lock file")
    with pytest.raises(FixError, match="already in sync"):
        through_guard(diagnosis, repo)


@pytest.mark.e2e
@needs_npm
def test_pnpm_runs_in_the_workspace_root_of_the_package_the_log_names(
    tmp_path: Path, pack: Matcher, node_bin: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", f"{node_bin}{os.pathsep}{os.environ['PATH']}")  # pnpm 9 on PATH
    repo = tmp_path / "repo"
    web = repo / "packages" / "web"
    web.mkdir(parents=True)
    (repo / "package.json").write_text('{"name": "root", "private": true}\n')
    (repo / "pnpm-workspace.yaml").write_text("packages:\n  - 'packages/*'\n")
    (web / "package.json").write_text('{"name": "web", "dependencies": {"is-number": "6.0.0"}}\n')
    pnpm: list[str | Path] = [node_bin / "pnpm", "install", "--ignore-scripts"]
    sh([*pnpm, "--lockfile-only", "--no-frozen-lockfile"], repo)
    edit_json(web / "package.json", **{"is-number": ">=6.0.0"})
    sh([*pnpm, "--lockfile-only", "--no-frozen-lockfile"], repo)
    commit(repo, "workspace")
    edit_json(web / "package.json", ms="2.1.2")
    failure = sh([*pnpm, "--frozen-lockfile"], repo, ok=False)
    diagnosis = diagnose_log(pack, tmp_path, failure, "pnpm-lockfile")
    assert any("packages/web/package.json" in line.text for line in diagnosis.evidence)

    before = workspace_state(repo)
    result = apply_fix(lockfiles, "pnpm-lockfile", diagnosis, repo)

    assert changed_since(repo, before) == ["pnpm-lock.yaml"]
    lock = (repo / "pnpm-lock.yaml").read_text()
    assert "is-number@6.0.0:" in lock
    assert "ms@2.1.2:" in lock
    assert "is-number@7" not in lock
    assert_verified(result, "pnpm install --lockfile-only --ignore-scripts --frozen-lockfile")
    assert not (repo / "node_modules").exists()


@pytest.mark.e2e
@needs_npm
def test_yarn_classic_relocks_without_touching_the_checkout(
    tmp_path: Path, pack: Matcher, node_bin: Path
) -> None:
    """yarn is not on PATH here: the fixer runs yarn 1 through npx, pinned."""
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "package.json").write_text('{"name": "app", "dependencies": {"is-number": "6.0.0"}}\n')
    modules = tmp_path / "modules"
    yarn: list[str | Path] = [node_bin / "yarn", "install", "--ignore-scripts"]
    sh([*yarn, "--modules-folder", modules], repo)
    # yarn 1 keys entries by range, and relocking a changed range resolves it afresh; the
    # committed state "range allows 7, lock says 6" is written the way yarn would read it.
    edit_json(repo / "package.json", **{"is-number": ">=6.0.0"})
    lockfile = repo / "yarn.lock"
    lockfile.write_text(lockfile.read_text().replace("is-number@6.0.0:", "is-number@>=6.0.0:"))
    sh([*yarn, "--frozen-lockfile", "--modules-folder", modules], repo)
    commit(repo, "yarn project")
    edit_json(repo / "package.json", ms="2.1.2")
    commit(repo, "add ms")
    failure = sh([*yarn, "--frozen-lockfile", "--modules-folder", modules], repo, ok=False)
    diagnosis = diagnose_log(pack, tmp_path, failure, "yarn-lockfile")

    result = apply_fix(lockfiles, "yarn-lockfile", diagnosis, repo)

    assert changed_files(repo) == [" M yarn.lock"]
    lock = lockfile.read_text()
    assert re.search(r'is-number@>=6\.0\.0:\n  version "6\.0\.0"', lock), lock
    assert 'ms@2.1.2:\n  version "2.1.2"' in lock
    assert_verified(result, "npx --yes --prefer-offline --package=yarn@1 -- yarn install")
    assert "--frozen-lockfile --ignore-scripts" in result.verification


@pytest.mark.e2e
@needs_npm
def test_yarn_berry_uses_the_lockfile_only_mode_of_the_pinned_release(
    tmp_path: Path, pack: Matcher
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "package.json").write_text(
        '{"name": "app", "packageManager": "yarn@4.9.2", "dependencies": {"is-number": "6.0.0"}}\n'
    )
    (repo / ".gitignore").write_text(".yarn/install-state.gz\n")  # as yarn's docs advise
    yarn = ["npx", "--yes", "--prefer-offline", "--package=@yarnpkg/cli-dist@4.9.2", "--", "yarn"]
    sh([*yarn, "install", "--mode=update-lockfile", "--no-immutable"], repo)
    commit(repo, "berry project")
    edit_json(repo / "package.json", ms="2.1.2")
    failure = sh([*yarn, "install", "--immutable", "--mode=skip-build"], repo, ok=False)
    diagnosis = diagnose_log(pack, tmp_path, failure, "yarn-lockfile")

    before = workspace_state(repo)
    result = apply_fix(lockfiles, "yarn-lockfile", diagnosis, repo)

    assert changed_since(repo, before) == ["yarn.lock"]
    lock = (repo / "yarn.lock").read_text()
    assert '"ms@npm:2.1.2":\n  version: 2.1.2' in lock
    assert '"is-number@npm:6.0.0":\n  version: 6.0.0' in lock
    assert "must not change" in result.verification
    assert not (repo / "node_modules").exists()


def test_missing_node_tools_leave_the_exact_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "package.json").write_text('{"name": "app"}\n')
    (repo / "package-lock.json").write_text('{"lockfileVersion": 3}\n')
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    diagnosis = make_diagnosis("npm-lockfile", "npm error Missing: ms@2.1.3 from lock file")
    with pytest.raises(FixUnavailable, match="npm is not on PATH") as refused:
        apply_fix(lockfiles, "npm-lockfile", diagnosis, repo)
    assert refused.value.command == (
        "npm install --package-lock-only --ignore-scripts --no-audit --no-fund"
    )


# ---------------------------------------------------------------- uv, poetry

PYPROJECT = """\
[project]
name = "app"
version = "0.1.0"
requires-python = ">=3.11"
dependencies = [{deps}]
"""
# This registry mirror serves PyPI's simple API but not the JSON API Poetry prefers; the
# fixture says so explicitly, as a project behind such a mirror would. The fixer is unaware.
POETRY_SOURCE = """
[[tool.poetry.source]]
name = "simple"
url = "https://pypi.org/simple/"
priority = "primary"
"""


def write_pyproject(repo: Path, deps: str, extra: str = "") -> None:
    (repo / "pyproject.toml").write_text(PYPROJECT.format(deps=deps) + extra)


def locked_python(lock: Path) -> dict[str, str]:
    pairs = re.findall(r'^name = "([^"]+)"\nversion = "([^"]+)"', lock.read_text(), re.MULTILINE)
    return dict(pairs)


def test_uv_adds_the_new_requirement_and_keeps_the_old_pin(tmp_path: Path, pack: Matcher) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    uv = pypi_tool(namespace_jail(), "uv", None)
    write_pyproject(repo, '"six==1.15.0"')
    sh([uv, "lock"], repo)
    write_pyproject(repo, '"six>=1.15"')  # six 1.17 would be allowed now
    sh([uv, "lock"], repo)
    commit(repo, "uv project")
    write_pyproject(repo, '"six>=1.15", "idna==3.7"')
    failure = sh([uv, "sync", "--locked", "--dry-run"], repo, ok=False)
    diagnosis = diagnose_log(pack, tmp_path, failure, "uv-lock")

    result = apply_fix(lockfiles, "uv-lock", diagnosis, repo)

    assert changed_files(repo) == [" M pyproject.toml", " M uv.lock"]  # pyproject: the user's
    locked = locked_python(repo / "uv.lock")
    assert locked["six"] == "1.15.0"
    assert locked["idna"] == "3.7"
    assert_verified(result, "uv lock --locked")


def test_poetry_uses_the_version_that_wrote_the_lock(tmp_path: Path, pack: Matcher) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    poetry = pypi_tool(namespace_jail(), "poetry", POETRY)
    write_pyproject(repo, '"six==1.15.0"', POETRY_SOURCE)
    sh([poetry, "lock"], repo)
    write_pyproject(repo, '"six>=1.15"', POETRY_SOURCE)
    sh([poetry, "lock"], repo)
    commit(repo, "poetry project")
    write_pyproject(repo, '"six>=1.15", "idna==3.7"', POETRY_SOURCE)
    commit(repo, "add idna")
    failure = sh([poetry, "check", "--lock"], repo, ok=False)
    diagnosis = diagnose_log(pack, tmp_path, failure, "poetry-lock")
    assert lockfiles_python.poetry_version(repo) == POETRY

    result = apply_fix(lockfiles, "poetry-lock", diagnosis, repo)

    assert changed_files(repo) == [" M poetry.lock"]
    locked = locked_python(repo / "poetry.lock")
    assert locked == {"idna": "3.7", "six": "1.15.0"}
    assert f"Poetry {POETRY}" in result.summary
    assert_verified(result, "poetry check --lock")


# ---------------------------------------------------------------- cargo


def crate(folder: Path, name: str, version: str) -> None:
    """A vendored crate: a directory source needs only the manifest and a checksum file."""
    (folder / "src").mkdir(parents=True)
    (folder / "Cargo.toml").write_text(
        f'[package]\nname = "{name}"\nversion = "{version}"\nedition = "2021"\n'
    )
    (folder / "src" / "lib.rs").write_text("")
    (folder / ".cargo-checksum.json").write_text('{"files": {}, "package": null}')


def cargo_project(root: Path) -> None:
    """crates.io is not reachable here, so the project replaces it with a vendored directory
    holding two releases of one crate: the fix may lock the new crate but not bump the old."""
    for name, version in (("tinydep", "1.0.0"), ("tinydep", "1.1.0"), ("otherdep", "0.1.0")):
        crate(root / "vendor" / f"{name}-{version}", name, version)
    (root / ".cargo").mkdir()
    (root / ".cargo" / "config.toml").write_text(
        '[source.crates-io]\nreplace-with = "vendored"\n\n[source.vendored]\ndirectory = "vendor"\n'
    )
    (root / "src").mkdir()
    (root / "src" / "main.rs").write_text("fn main() {}\n")
    write_cargo_toml(root, 'tinydep = "=1.0.0"')
    sh(["cargo", "generate-lockfile", "--offline"], root)
    write_cargo_toml(root, 'tinydep = "1"')
    sh(["cargo", "update", "--workspace", "--offline"], root)


def write_cargo_toml(root: Path, dependencies: str) -> None:
    (root / "Cargo.toml").write_text(
        f'[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n\n'
        f"[dependencies]\n{dependencies}\n"
    )


def locked_cargo(lock: Path) -> dict[str, str]:
    pairs = re.findall(r'^name = "([^"]+)"\nversion = "([^"]+)"', lock.read_text(), re.MULTILINE)
    return dict(pairs)


@pytest.mark.e2e
@needs_cargo
def test_cargo_locks_the_new_crate_in_the_folder_the_log_names(
    tmp_path: Path, pack: Matcher
) -> None:
    repo = tmp_path / "repo"
    rust = repo / "rust"
    rust.mkdir(parents=True)
    cargo_project(rust)
    commit(repo, "rust project")
    write_cargo_toml(rust, 'tinydep = "1"\notherdep = "0.1"')
    failure = sh(["cargo", "metadata", "--locked", "--format-version", "1"], rust, ok=False)
    # CI checked out elsewhere: the fixer maps the absolute path onto this checkout.
    failure = failure.replace(str(repo), "/home/runner/work/app/app")
    diagnosis = diagnose_log(pack, tmp_path, failure, "cargo-lock")

    before = workspace_state(repo)
    result = apply_fix(lockfiles, "cargo-lock", diagnosis, repo)

    assert changed_since(repo, before) == ["rust/Cargo.lock"]
    assert locked_cargo(rust / "Cargo.lock") == {
        "app": "0.1.0",
        "otherdep": "0.1.0",
        "tinydep": "1.0.0",
    }
    assert result.command == "cd rust && cargo update --workspace"
    assert_verified(result, "cd rust && cargo update --workspace --locked")


def test_missing_cargo_leaves_the_exact_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "Cargo.toml").write_text("")
    (tmp_path / "Cargo.lock").write_text("")
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    diagnosis = make_diagnosis(
        "cargo-lock",
        f"error: the lock file {tmp_path}/Cargo.lock needs to be updated but "
        "--locked was passed to prevent this",
    )
    with pytest.raises(FixUnavailable, match="cargo is not on PATH") as refused:
        apply_fix(lockfiles, "cargo-lock", diagnosis, tmp_path)
    assert refused.value.command == "cargo update --workspace"


# ---------------------------------------------------------------- comment-only and locating


def make_diagnosis(fix: str, *lines: str, rule: str | None = None) -> Diagnosis:
    return Diagnosis(
        source="job.log",
        category=Category.LOCKFILE,
        confidence=0.9,
        action=Action.FIX_PR,
        rule=rule or f"{fix}-rule",
        title="lockfile out of date",
        explain="explain",
        advice="advice",
        evidence=[Evidence(line=number, text=text) for number, text in enumerate(lines, 1)],
        step=None,
        tests=[],
        fix=fix,
    )


def test_pipenv_and_composer_are_comment_only_with_the_command(tmp_path: Path) -> None:
    pipenv = make_diagnosis("pipenv-lock", "Your Pipfile.lock (448457) is out of date.")
    with pytest.raises(FixUnavailable, match="re-resolves every package") as refused:
        apply_fix(lockfiles, "pipenv-lock", pipenv, tmp_path)
    assert refused.value.command == "pipenv lock"
    composer = make_diagnosis(
        "composer-lock", '- Required package "spatie/laravel-permission" is not present in the lock'
    )
    with pytest.raises(FixUnavailable) as refused:
        apply_fix(lockfiles, "composer-lock", composer, tmp_path)
    assert refused.value.command == (
        "composer update spatie/laravel-permission --no-install --no-scripts --no-plugins"
    )


def test_a_missing_lockfile_is_not_created(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(PYPROJECT.format(deps=""))
    diagnosis = make_diagnosis("uv-lock", "error: Unable to find lockfile at `uv.lock`")
    with pytest.raises(FixUnavailable, match="does not decide to create one") as refused:
        apply_fix(lockfiles, "uv-lock", diagnosis, tmp_path)
    assert refused.value.command == "uv lock"
    missing = make_diagnosis("npm-lockfile", "npm error x", rule="npm-ci-missing-lockfile")
    with pytest.raises(FixUnavailable, match=r"no package-lock\.json to refresh"):
        apply_fix(lockfiles, "npm-lockfile", missing, tmp_path)


def test_ci_paths_map_onto_the_checkout_by_their_longest_existing_suffix(tmp_path: Path) -> None:
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "package.json").write_text("{}")
    (tmp_path / "package.json").write_text("{}")
    web = tmp_path / "web" / "package.json"
    assert relock.map_to_workspace("/home/runner/work/a/a/web/package.json", tmp_path) == web
    assert relock.map_to_workspace("<ROOT>/package.json", tmp_path) == tmp_path / "package.json"
    # ".." never climbs out: only suffixes inside the checkout are tried.
    assert relock.map_to_workspace("../../package.json", tmp_path) == tmp_path / "package.json"
    assert relock.map_to_workspace("/elsewhere/Cargo.lock", tmp_path) is None


def test_owned_files_cover_nested_lockfiles_only() -> None:
    owned = lockfiles.owned_files("go-mod-tidy")
    assert is_owned("svc/api/go.sum", owned)
    assert is_owned("go.mod", owned)
    assert not is_owned("main.go", owned)
    ids = "npm-lockfile pnpm-lockfile yarn-lockfile poetry-lock uv-lock cargo-lock go-mod-tidy"
    assert set(f"{ids} bundler-lock composer-lock pipenv-lock".split()) == lockfiles.FIX_IDS


# ---------------------------------------------------------------- go


@pytest.mark.e2e
@pytest.mark.skipif(shutil.which("go") is None, reason="go is not installed (.ci/run installs it)")
def test_go_mod_tidy_adds_the_missing_requirement(tmp_path: Path, pack: Matcher) -> None:
    """Offline: the new requirement is a module replaced by a folder of the repository."""
    repo = tmp_path / "repo"
    (repo / "lib").mkdir(parents=True)
    (repo / "go.mod").write_text(
        "module example.com/app\n\ngo 1.19\n\nreplace example.com/lib => ./lib\n"
    )
    (repo / "main.go").write_text(
        'package main\n\nimport "example.com/lib"\n\nfunc main() { lib.Hello() }\n'
    )
    (repo / "lib" / "go.mod").write_text("module example.com/lib\n\ngo 1.19\n")
    (repo / "lib" / "lib.go").write_text("package lib\n\nfunc Hello() {}\n")
    commit(repo, "go project")
    failure = sh(["go", "build", "-mod=readonly", "./..."], repo, ok=False)
    diagnosis = diagnose_log(pack, tmp_path, failure, "go-mod-tidy")

    before = workspace_state(repo)
    result = apply_fix(lockfiles, "go-mod-tidy", diagnosis, repo)

    assert changed_since(repo, before) == ["go.mod"]
    assert (
        "require example.com/lib v0.0.0-00010101000000-000000000000"
        in (repo / "go.mod").read_text()
    )
    assert_verified(result, "go list -mod=readonly -deps -test ./...")

"""Formatter fixers against the real tools, on small git repositories made in tmp_path.

Each log is what the real check printed in the fixture repository, with the checkout's path
replaced by a GitHub runner's and GitHub timestamps in front, so the bundled rule picks the
fix id and the fixer must map CI paths back to the checkout. PyPI tools install once per test
session into the suite's cache dir (conftest sets ``PIPELINE_GUARD_CACHE_DIR``).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from shutil import which

import pytest

from fixer_sites import apply_fix, namespace_jail, reachable, through_guard
from pipeline_guard.engine.analysis import analyze_source
from pipeline_guard.engine.diagnosis import Diagnosis
from pipeline_guard.engine.matcher import Matcher
from pipeline_guard.engine.rule import bundled_rules_dir, load_rule_dir
from pipeline_guard.errors import FixError, FixUnavailable
from pipeline_guard.fixers import all_fixers, format_logs, format_pins, formatters
from pipeline_guard.fixers.base import check_owned
from pipeline_guard.fixers.git import changed_files
from pipeline_guard.fixers.tools import pypi_tool

RUNNER = "/home/runner/work/app/app"
STAMP = "2024-01-01T00:00:00.0000000Z "
BLACK, RUFF, ISORT, PRETTIER = "24.4.2", "0.4.4", "5.13.2", "3.3.3"


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher(load_rule_dir(bundled_rules_dir()))


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, check=True, timeout=30
    )
    return done.stdout


def make_repo(root: Path, files: dict[str, str]) -> Path:
    """A committed git repository holding ``files``."""
    repo = root / "repo"
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text, encoding="utf-8")
    git(repo, "init", "-q")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    return repo


def ci_log(root: Path, repo: Path, argv: list[str], head: str = "") -> Path:
    """Run the real check in ``repo`` and write its output as a GitHub job log would."""
    done = subprocess.run(argv, cwd=repo, capture_output=True, text=True, check=False)
    assert done.returncode != 0, f"the check should fail: {done.stdout}{done.stderr}"
    output = (head + done.stdout + done.stderr).replace(str(repo), RUNNER)
    lines = [*output.splitlines(), "##[error]Process completed with exit code 1."]
    log = root / "job.log"
    log.write_text("".join(f"{STAMP}{line}\n" for line in lines), encoding="utf-8")
    return log


def diagnose(log: Path, matcher: Matcher, fix: str) -> Diagnosis:
    diagnosis = analyze_source(str(log), matcher)
    assert diagnosis.fix == fix, diagnosis
    return diagnosis


def status(repo: Path) -> list[str]:
    return changed_files(repo)


UGLY_PY = "x = {  'a':37,'b':42,\n'c':927}\ny = 'hello ''world'\n"


def test_black_fixes_only_the_named_file_with_the_pinned_version(
    tmp_path: Path, matcher: Matcher
) -> None:
    repo = make_repo(
        tmp_path,
        {
            "pyproject.toml": "[tool.black]\nline-length = 30\n",
            "requirements-dev.txt": f"pytest>=8\nblack=={BLACK}  # formatter\n",
            "src/app/a.py": UGLY_PY,
            "src/app/b.py": UGLY_PY,  # also ugly, but the check did not name it
        },
    )
    black = pypi_tool(namespace_jail(), "black", BLACK)
    log = ci_log(tmp_path, repo, [str(black), "--check", "src/app/a.py"])
    result = apply_fix(formatters, "black", diagnose(log, matcher, "black"), repo)
    assert (repo / "src/app/a.py").read_text() == (
        'x = {\n    "a": 37,\n    "b": 42,\n    "c": 927,\n}\ny = "hello " "world"\n'
    )
    assert (repo / "src/app/b.py").read_text() == UGLY_PY
    assert tuple(changed_files(repo)) == ("src/app/a.py",)
    assert status(repo) == ["src/app/a.py"]
    assert result.summary == f"Format 1 file with black {BLACK} (pinned in requirements-dev.txt)"
    assert result.verification.startswith("$ black --check src/app/a.py\n")
    assert "1 file would be left unchanged." in result.verification
    assert result.command == f"pip install black=={BLACK} && black src/app/a.py"


def test_ruff_format_uses_the_pre_commit_rev_and_the_project_config(
    tmp_path: Path, matcher: Matcher
) -> None:
    repo = make_repo(
        tmp_path,
        {
            ".pre-commit-config.yaml": (
                "repos:\n  - repo: https://github.com/astral-sh/ruff-pre-commit\n"
                f"    rev: v{RUFF}\n    hooks:\n      - id: ruff-format\n"
            ),
            "pyproject.toml": "[tool.ruff.format]\nquote-style = 'single'\n",
            "a.py": 'print( "hi" )\n',
            "ok.py": "print('ok')\n",
        },
    )
    ruff = pypi_tool(namespace_jail(), "ruff", RUFF)
    log = ci_log(tmp_path, repo, [str(ruff), "format", "--check"])
    result = apply_fix(formatters, "ruff-format", diagnose(log, matcher, "ruff-format"), repo)
    assert (repo / "a.py").read_text() == "print('hi')\n"
    assert tuple(changed_files(repo)) == ("a.py",)
    assert result.summary == f"Format 1 file with ruff {RUFF} (pinned in .pre-commit-config.yaml)"
    assert result.verification == "$ ruff format --check a.py\n1 file already formatted"


def test_isort_reads_the_pin_from_optional_dependencies(tmp_path: Path, matcher: Matcher) -> None:
    repo = make_repo(
        tmp_path,
        {
            "pyproject.toml": (
                "[project]\nname = 'x'\nversion = '0'\n"
                f"[project.optional-dependencies]\ndev = ['isort=={ISORT}']\n"
                "[tool.isort]\nprofile = 'black'\nforce_single_line = true\n"
            ),
            "pkg/api.py": "import sys, os\nimport attr\n",
        },
    )
    isort = pypi_tool(namespace_jail(), "isort", ISORT)
    log = ci_log(tmp_path, repo, [str(isort), "--check-only", "."])
    result = apply_fix(formatters, "isort", diagnose(log, matcher, "isort"), repo)
    assert (repo / "pkg/api.py").read_text() == "import os\nimport sys\n\nimport attr\n"
    assert tuple(changed_files(repo)) == ("pkg/api.py",)
    assert result.verification == "$ isort --check-only pkg/api.py"
    assert result.summary == f"Format 1 file with isort {ISORT} (pinned in pyproject.toml)"


@pytest.mark.e2e
@pytest.mark.skipif(which("npx") is None, reason="npx (node) is not installed on this machine")
def test_prettier_runs_the_pinned_version_through_npx(tmp_path: Path, matcher: Matcher) -> None:
    repo = make_repo(
        tmp_path,
        {
            "package.json": (
                '{\n  "name": "x",\n  "devDependencies": {\n'
                f'    "prettier": "{PRETTIER}"\n  }}\n}}\n'
            ),
            ".prettierrc": '{"semi": false}\n',
            "src/a.js": "const a = {b:1};\n",
            "src/b.js": "const b = 2\n",
        },
    )
    log = ci_log(tmp_path, repo, ["npx", "--yes", f"prettier@{PRETTIER}", "--check", "."])
    result = apply_fix(formatters, "prettier", diagnose(log, matcher, "prettier"), repo)
    assert (repo / "src/a.js").read_text() == "const a = { b: 1 }\n"
    assert tuple(changed_files(repo)) == ("src/a.js",)
    assert result.summary == f"Format 1 file with prettier {PRETTIER} (pinned in package.json)"
    assert result.verification == (
        f"$ npx --yes prettier@{PRETTIER} --check src/a.js\n"
        "Checking formatting...\nAll matched files use Prettier code style!"
    )


@pytest.mark.e2e
@pytest.mark.skipif(which("cargo") is None, reason="cargo (rust) is not installed on this machine")
def test_rustfmt_fixes_the_files_cargo_fmt_named(tmp_path: Path, matcher: Matcher) -> None:
    repo = make_repo(
        tmp_path,
        {
            "Cargo.toml": '[package]\nname = "x"\nversion = "0.1.0"\nedition = "2021"\n',
            "src/main.rs": 'mod util;\nfn main(){println!("{}", util::two());}\n',
            "src/util.rs": "pub fn two() -> u32 {\n    2\n}\n",
        },
    )
    log = ci_log(tmp_path, repo, ["cargo", "fmt", "--check"])
    result = apply_fix(formatters, "rustfmt", diagnose(log, matcher, "rustfmt"), repo)
    assert (repo / "src/main.rs").read_text() == (
        'mod util;\nfn main() {\n    println!("{}", util::two());\n}\n'
    )
    assert tuple(changed_files(repo)) == ("src/main.rs",)
    assert result.verification == "$ rustfmt --check --edition 2021 src/main.rs"
    assert result.summary.startswith("Format 1 file with rustfmt ")


@pytest.mark.e2e
@pytest.mark.skipif(
    which("gofmt") is None,
    reason="gofmt is not installed (apt-get install golang-go); its fixer needs it on PATH",
)
def test_gofmt_fixes_the_files_gofmt_listed(tmp_path: Path, matcher: Matcher) -> None:
    repo = make_repo(
        tmp_path,
        {
            "go.mod": "module x\n\ngo 1.19\n",
            "main.go": "package main\nfunc main(){\n}\n",
            "ok.go": "package main\n\nfunc ok() {}\n",
        },
    )
    log = ci_log(tmp_path, repo, ["sh", "-c", "gofmt -s -l . && false"], head="+ gofmt -s -l .\n")
    result = apply_fix(formatters, "gofmt", diagnose(log, matcher, "gofmt"), repo)
    assert (repo / "main.go").read_text() == "package main\n\nfunc main() {\n}\n"
    assert tuple(changed_files(repo)) == ("main.go",)
    assert result.verification == "$ gofmt -s -l main.go"
    assert result.command == "gofmt -s -w main.go"


def path_with_git_only(tmp_path: Path) -> str:
    """A PATH on which only git exists: the formatters' toolchains are 'not installed'."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    git_path = which("git")
    assert git_path is not None
    (bin_dir / "git").symlink_to(git_path)
    return str(bin_dir)


def write_log(tmp_path: Path, *lines: str) -> Path:
    log = tmp_path / "job.log"
    log.write_text("".join(f"{STAMP}{line}\n" for line in lines), encoding="utf-8")
    return log


def test_missing_npx_gives_the_exact_command(
    tmp_path: Path, matcher: Matcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo(
        tmp_path,
        {
            "package.json": '{"devDependencies": {"prettier": "^3.2.0"}}\n',
            "package-lock.json": (
                '{"lockfileVersion": 3, "packages": '
                f'{{"node_modules/prettier": {{"version": "{PRETTIER}"}}}}}}\n'
            ),
            "src/a.js": "const a = {b:1}\n",
        },
    )
    log = write_log(
        tmp_path,
        "Checking formatting...",
        "[warn] src/a.js",
        "[warn] Code style issues found in the above file. Run Prettier with --write to fix.",
    )
    diagnosis = diagnose(log, matcher, "prettier")
    monkeypatch.setenv("PATH", path_with_git_only(tmp_path))
    with pytest.raises(FixUnavailable) as caught:
        apply_fix(formatters, "prettier", diagnosis, repo)
    assert caught.value.command == f"npx --yes prettier@{PRETTIER} --write src/a.js"
    assert status(repo) == []


def test_missing_gofmt_gives_the_exact_command(
    tmp_path: Path, matcher: Matcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo(tmp_path, {"internal/api/router.go": "package api\n"})
    log = write_log(
        tmp_path, f"{RUNNER}/internal/api/router.go:17: File is not `gofmt`-ed with `-s` (gofmt)"
    )
    diagnosis = diagnose(log, matcher, "gofmt")
    monkeypatch.setenv("PATH", path_with_git_only(tmp_path))
    with pytest.raises(FixUnavailable) as caught:
        apply_fix(formatters, "gofmt", diagnosis, repo)
    assert caught.value.command == "gofmt -s -w internal/api/router.go"


def test_goimports_is_not_mistaken_for_gofmt(tmp_path: Path, matcher: Matcher) -> None:
    repo = make_repo(tmp_path, {"cmd/main.go": "package main\n"})
    log = write_log(
        tmp_path,
        "cmd/main.go:5: File is not `goimports`-ed with -local github.com/acme (goimports)",
    )
    with pytest.raises(FixUnavailable) as caught:
        apply_fix(formatters, "gofmt", diagnose(log, matcher, "gofmt"), repo)
    assert caught.value.command == "go run golang.org/x/tools/cmd/goimports@latest -w cmd/main.go"


def test_pypi_tool_that_cannot_install_gives_the_exact_command(
    tmp_path: Path, matcher: Matcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo(
        tmp_path,
        {"requirements.txt": f"black=={BLACK}\n", "a.py": "x=1\n"},
    )
    log = write_log(
        tmp_path,
        f"would reformat {RUNNER}/a.py",
        "Oh no! 💥 💔 💥",
        "1 file would be reformatted.",
    )
    diagnosis = diagnose(log, matcher, "black")
    monkeypatch.setenv("PIPELINE_GUARD_CACHE_DIR", str(tmp_path / "empty-cache"))
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    with pytest.raises(FixUnavailable) as caught:
        apply_fix(formatters, "black", diagnosis, repo)
    assert caught.value.command == f"pip install black=={BLACK} && black a.py"


def test_a_log_path_that_is_not_in_the_checkout_stops_the_fix(
    tmp_path: Path, matcher: Matcher
) -> None:
    repo = make_repo(tmp_path, {"a.py": "x=1\n"})
    log = write_log(tmp_path, f"would reformat {RUNNER}/gone.py", "Oh no! 💥 💔 💥")
    with pytest.raises(FixError, match=r"gone\.py"):
        apply_fix(formatters, "black", diagnose(log, matcher, "black"), repo)


def test_clang_format_is_comment_only_with_the_named_files(
    tmp_path: Path, matcher: Matcher
) -> None:
    repo = make_repo(tmp_path, {"src/core/scheduler.cpp": "int x;\n"})
    log = write_log(
        tmp_path,
        f"{RUNNER}/src/core/scheduler.cpp:118:42: error: code should be clang-formatted "
        "[-Wclang-format-violations]",
    )
    with pytest.raises(FixUnavailable) as caught:
        apply_fix(formatters, "clang-format", diagnose(log, matcher, "clang-format"), repo)
    assert caught.value.command == "clang-format -i src/core/scheduler.cpp"


def test_pre_commit_is_comment_only_with_the_failed_hooks(tmp_path: Path, matcher: Matcher) -> None:
    repo = make_repo(tmp_path, {"a.txt": "x \n"})
    log = write_log(
        tmp_path,
        "trim trailing whitespace.................................................Failed",
        "- hook id: trailing-whitespace",
        "- exit code: 1",
        "- files were modified by this hook",
    )
    with pytest.raises(FixUnavailable) as caught:
        apply_fix(formatters, "pre-commit", diagnose(log, matcher, "pre-commit"), repo)
    assert caught.value.command == "pre-commit run trailing-whitespace --all-files"


def test_resolve_log_path_maps_ci_paths_to_tracked_files(tmp_path: Path) -> None:
    tracked = ["src/lib.rs", "web/src/a.js", "a.py"]
    resolve = format_logs.resolve_log_path
    assert resolve("/builds/group/app/src/lib.rs", tmp_path, tracked) == "src/lib.rs"
    assert resolve("\\\\?\\D:\\a\\app\\app\\src\\lib.rs", tmp_path, tracked) == "src/lib.rs"
    assert resolve(str(tmp_path / "a.py"), tmp_path, tracked) == "a.py"
    assert resolve("src/a.js", tmp_path, tracked) == "web/src/a.js"  # check ran in web/
    assert resolve("../a.py", tmp_path, tracked) is None
    assert resolve("/elsewhere/b.py", tmp_path, tracked) is None


def test_python_pins_from_lockfiles_poetry_and_frozen_pre_commit(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        "[tool.poetry.group.dev.dependencies]\nblack = '23.12.1'\nisort = '^5.12'\n"
    )
    assert format_pins.python_pin(tmp_path, "black") == ("23.12.1", "pyproject.toml")
    assert format_pins.python_pin(tmp_path, "isort") is None  # a range is not a pin
    sha = "a" * 40
    (tmp_path / ".pre-commit-config.yaml").write_text(
        f"repos:\n- repo: https://github.com/psf/black-pre-commit-mirror\n"
        f"  rev: {sha}  # frozen: 24.1.0\n  hooks: [{{id: black}}]\n"
    )
    assert format_pins.python_pin(tmp_path, "black", {"black"}) == (
        "24.1.0",
        ".pre-commit-config.yaml",
    )
    (tmp_path / "uv.lock").write_text('[[package]]\nname = "black"\nversion = "24.3.0"\n')
    assert format_pins.python_pin(tmp_path, "black") == ("24.3.0", "uv.lock")


def test_changed_files_and_check_owned(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, {"a.py": "x = 1\n", "old.py": "y = 1\n"})
    (repo / "a.py").write_text("x = 2\n")
    (repo / "new dir").mkdir()
    (repo / "new dir/n.py").write_text("z = 1\n")
    git(repo, "mv", "old.py", "renamed.py")
    assert changed_files(repo) == ["a.py", "new dir/n.py", "old.py", "renamed.py"]
    check_owned(changed_files(repo), formatters.owned_files("black"))
    with pytest.raises(FixError, match=r"\.github/workflows/ci\.yml"):
        check_owned(["a.py", ".github/workflows/ci.yml"], formatters.owned_files("black"))


def test_registry_covers_every_bundled_fix_id_it_claims() -> None:
    fix_ids = set()
    for rule in load_rule_dir(bundled_rules_dir()):
        if rule.fix:
            fix_ids.add(rule.fix)
    handled = {fix_id for fix_id in fix_ids if all_fixers.fixer_for(fix_id) is not None}
    assert {"black", "ruff-format", "isort", "prettier", "gofmt", "rustfmt"} <= handled
    assert {"clang-format", "dotnet-format", "mix-format", "pre-commit"} <= handled
    assert "action-versions" in handled
    if "lockfiles" in all_fixers.fixers:
        assert handled == fix_ids, sorted(fix_ids - handled)
    assert all_fixers.fixer_for("no-such-fix") is None
    assert os.sep == "/"  # paths in results are POSIX; the action runs on Linux runners


def test_a_file_the_tool_cannot_format_is_an_error(tmp_path: Path, matcher: Matcher) -> None:
    repo = make_repo(tmp_path, {"requirements.txt": f"black=={BLACK}\n", "a.py": "def (:\n"})
    log = write_log(tmp_path, f"would reformat {RUNNER}/a.py", "Oh no! 💥 💔 💥")
    with pytest.raises(FixError, match=r"^`black a\.py` failed \(exit 123\)"):
        apply_fix(formatters, "black", diagnose(log, matcher, "black"), repo)


def test_a_fix_that_changes_nothing_is_an_error(tmp_path: Path, matcher: Matcher) -> None:
    checkout = {"requirements.txt": f"black=={BLACK}\n", "a.py": "x = 1\n"}
    repo = make_repo(reachable(tmp_path), checkout)
    log = write_log(tmp_path, f"would reformat {RUNNER}/a.py", "Oh no! 💥 💔 💥")
    with pytest.raises(FixError, match="changed nothing"):
        through_guard(diagnose(log, matcher, "black"), repo)

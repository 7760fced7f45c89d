"""The action-versions fixer on small git repositories: byte-exact rewrites, refusals."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from fixer_sites import apply_fix
from pipeline_guard.engine.analysis import analyze_source
from pipeline_guard.engine.diagnosis import Diagnosis
from pipeline_guard.engine.matcher import Matcher
from pipeline_guard.engine.rule import bundled_rules_dir, load_rule_dir
from pipeline_guard.errors import FixError, FixUnavailable
from pipeline_guard.fixers import action_versions, all_fixers
from pipeline_guard.fixers.base import check_owned
from pipeline_guard.fixers.git import changed_files

STAMP = "2024-05-14T09:21:33.4817263Z "
SHA = "a5ac7e51b41094c92402da3b24376905380afc29"

WORKFLOW = (
    "name: ci  # keep me\r\n"
    "on: [push]\r\n"
    "jobs:\r\n"
    "  build:\r\n"
    "    runs-on: ubuntu-latest\r\n"
    "    steps:\r\n"
    "      - uses: actions/checkout@v2   # node12, old\r\n"
    "      - uses: 'actions/cache@v2.1.7'\r\n"
    "        with: {path: ~/.cache, key: k}\r\n"
    "      - name: upload\r\n"
    '        uses: "actions/upload-artifact@v3"\r\n'
    "      - uses: actions/cache/restore@v3  # v3 tag is fine\r\n"
    "      - uses: actions/setup-python@" + SHA + " # v4.7.1\r\n"
    "      - uses: github/codeql-action/init@v2\r\n"
    "      - uses: actions/checkout@main\r\n"
    "      - uses: someone/else@v1\r\n"
    "      - uses: ./.github/actions/local\r\n"
)
FIXED = (
    WORKFLOW.replace("checkout@v2 ", "checkout@v4 ")
    .replace("cache@v2.1.7", "cache@v4")
    .replace("upload-artifact@v3", "upload-artifact@v4")
    .replace("codeql-action/init@v2", "codeql-action/init@v3")
)
COMPOSITE = (
    "name: local\nruns:\n  using: composite\n  steps:\n    - uses: actions/download-artifact@v1\n"
)


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, capture_output=True, check=True, timeout=30)


def make_repo(root: Path, files: dict[str, str]) -> Path:
    repo = root / "repo"
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_bytes(text.encode())
    git(repo, "init", "-q")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    return repo


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher(load_rule_dir(bundled_rules_dir()))


def diagnosis_for(tmp_path: Path, matcher: Matcher, named: str) -> Diagnosis:
    log = tmp_path / "job.log"
    log.write_text(
        f"{STAMP}Prepare all required actions\n"
        f"{STAMP}##[error]This request has been automatically failed because it uses a "
        f"deprecated version of `{named}`. Learn more: "
        "https://github.blog/changelog/2024-04-16-deprecation-notice-v3-of-the-artifact-actions/\n",
        encoding="utf-8",
    )
    diagnosis = analyze_source(str(log), matcher)
    assert diagnosis.fix == "action-versions"
    return diagnosis


def test_rewrites_retired_tags_byte_for_byte(tmp_path: Path, matcher: Matcher) -> None:
    repo = make_repo(
        tmp_path,
        {
            ".github/workflows/ci.yml": WORKFLOW,
            ".github/actions/local/action.yml": COMPOSITE,
            ".github/workflows/fine.yaml": "on: push\njobs: {}\n",
            "docs/example.yml": "uses: actions/checkout@v2\n",  # not a workflow: not touched
        },
    )
    diagnosis = diagnosis_for(tmp_path, matcher, "actions/upload-artifact: v3")
    result = apply_fix(action_versions, "action-versions", diagnosis, repo)
    assert (repo / ".github/workflows/ci.yml").read_bytes() == FIXED.encode()
    assert (repo / ".github/actions/local/action.yml").read_text() == COMPOSITE.replace(
        "@v1", "@v4"
    )
    assert tuple(changed_files(repo)) == (
        ".github/actions/local/action.yml",
        ".github/workflows/ci.yml",
    )
    check_owned(changed_files(repo), action_versions.owned_files("action-versions"))
    assert result.summary == (
        "Update retired GitHub Actions versions (actions/cache v2.1.7 -> v4, "
        "actions/checkout v2 -> v4, actions/download-artifact v1 -> v4, "
        "actions/upload-artifact v3 -> v4, github/codeql-action/init v2 -> v3); "
        "1 SHA-pinned use(s) of retired versions left for review; "
        "pushing it needs a token with the `workflows` permission (GITHUB_TOKEN cannot)"
    )
    assert result.verification.splitlines() == [
        ".github/actions/local/action.yml:5: actions/download-artifact@v1 -> "
        "actions/download-artifact@v4",
        ".github/workflows/ci.yml:7: actions/checkout@v2 -> actions/checkout@v4",
        ".github/workflows/ci.yml:8: actions/cache@v2.1.7 -> actions/cache@v4",
        ".github/workflows/ci.yml:11: actions/upload-artifact@v3 -> actions/upload-artifact@v4",
        ".github/workflows/ci.yml:14: github/codeql-action/init@v2 -> github/codeql-action/init@v3",
        "checked 3 workflow file(s): all changed files parse as YAML, "
        "no retired action version is left",
    ]
    assert (
        yaml.safe_load(FIXED)["jobs"]["build"]["steps"][2]["uses"] == "actions/upload-artifact@v4"
    )


def test_the_sed_command_makes_the_same_edit(tmp_path: Path, matcher: Matcher) -> None:
    repo = make_repo(tmp_path, {".github/workflows/ci.yml": WORKFLOW})
    diagnosis = diagnosis_for(tmp_path, matcher, "actions/cache: v2")
    result = apply_fix(action_versions, "action-versions", diagnosis, repo)
    git(repo, "checkout", "--", ".")
    subprocess.run(["sh", "-c", result.command], cwd=repo, check=True, timeout=30)
    assert (repo / ".github/workflows/ci.yml").read_bytes() == FIXED.encode()


def test_a_blamed_sha_pin_is_comment_only(tmp_path: Path, matcher: Matcher) -> None:
    repo = make_repo(tmp_path, {".github/workflows/ci.yml": WORKFLOW})
    diagnosis = diagnosis_for(tmp_path, matcher, f"actions/cache: {SHA}")
    with pytest.raises(FixUnavailable) as caught:
        apply_fix(action_versions, "action-versions", diagnosis, repo)
    assert caught.value.command == (
        "pin actions/cache to the commit SHA of its v4 release, keeping the comment"
    )
    assert changed_files(repo) == []


def test_a_version_the_table_does_not_know_is_comment_only(
    tmp_path: Path, matcher: Matcher
) -> None:
    repo = make_repo(tmp_path, {".github/workflows/ci.yml": WORKFLOW})
    diagnosis = diagnosis_for(tmp_path, matcher, "acme/deploy: v1")
    with pytest.raises(FixUnavailable) as caught:
        apply_fix(action_versions, "action-versions", diagnosis, repo)
    assert caught.value.command == (
        "update `uses: acme/deploy@v1` to a supported version in .github/workflows/"
    )


def test_nothing_to_rewrite_is_an_error(tmp_path: Path, matcher: Matcher) -> None:
    repo = make_repo(
        tmp_path, {".github/workflows/ci.yml": "jobs:\n  a:\n    steps:\n      - uses: x/y@v1\n"}
    )
    diagnosis = diagnosis_for(tmp_path, matcher, "actions/upload-artifact: v3")
    with pytest.raises(FixError, match="no retired action version"):
        apply_fix(action_versions, "action-versions", diagnosis, repo)


def test_owned_files_refuse_anything_but_workflows_and_actions() -> None:
    owned = action_versions.owned_files("action-versions")
    check_owned([".github/workflows/a/b.yaml", "action.yml", "sub/action.yaml"], owned)
    with pytest.raises(FixError, match=r"README\.md"):
        check_owned([".github/workflows/ci.yml", "README.md"], owned)


def test_table_entries_are_complete_and_sourced() -> None:
    table = action_versions.load_table()
    assert table["actions/upload-artifact"].retires("v3.1.2")
    assert table["actions/upload-artifact"].retires("v3-node20")
    assert not table["actions/upload-artifact"].retires("v4")
    assert table["actions/cache"].retires("v3.3.1")
    assert not table["actions/cache"].retires("v3")
    assert not table["actions/cache"].retires("v3.4.0")
    for entry in table.values():
        assert entry.source.startswith("https://"), entry.action
        assert not entry.retires(entry.replacement), entry.action
    assert all_fixers.fixer_for("action-versions") is action_versions

"""The command line as a user runs it: output contracts, exit codes, one-line errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import REPO, run_cli

RULES = """
rules:
  - id: demo-reset
    category: network
    title: npm lost its connection
    patterns: ['npm ERR! code (?:ECONNRESET|ETIMEDOUT)']
    explain: The registry connection was reset.
    advice: Re-run the job.
    examples: {match: ['npm ERR! code ECONNRESET'], no_match: ['npm ERR! code E404']}
  - id: demo-jest
    category: test-failure
    title: jest tests failed
    patterns: ['^\\s*● (?P<test>.+ › .+)$']
    explain: Tests failed.
    advice: Fix them.
    examples: {match: ['  ● Cart › adds item'], no_match: ['  ✓ Cart › adds item']}
"""

DIAGNOSIS_KEYS = {
    "source", "category", "confidence", "action", "rule", "title", "explain", "advice",
    "evidence", "step", "tests", "fix", "baseline",
}  # fmt: skip

WriteRules = Callable[..., Path]


@pytest.fixture
def rules_dir(write_rules: WriteRules) -> Path:
    return write_rules(RULES)


@pytest.fixture
def network_log(tmp_path: Path) -> Path:
    log = tmp_path / "network.log"
    log.write_text(
        "2026-01-01T00:00:00.0000000Z ##[group]Run npm ci\n"
        "2026-01-01T00:00:01.0000000Z \x1b[31mnpm ERR!\x1b[0m code ECONNRESET\n"
        "2026-01-01T00:00:02.0000000Z ##[error]Process completed with exit code 1.\n"
    )
    return log


def analyze_json(*args: str) -> tuple[int, dict[str, list[dict[str, object]]], str]:
    done = run_cli("analyze", "--format", "json", *args)
    return done.returncode, json.loads(done.stdout), done.stderr


def test_json_contract_one_entry_per_input_in_order(
    rules_dir: Path, network_log: Path, tmp_path: Path
) -> None:
    tests_log = tmp_path / "tests.log"
    tests_log.write_text("  ● Cart › adds item\n  ● Cart › removes item\n")
    code, report, stderr = analyze_json(
        str(tests_log), str(network_log), "--no-bundled", "--rules", str(rules_dir)
    )
    assert (code, stderr) == (0, "")
    first, second = report["diagnoses"]
    assert set(first) == set(second) == DIAGNOSIS_KEYS
    assert (first["source"], first["category"], first["tests"]) == (
        str(tests_log),
        "test-failure",
        ["Cart › adds item", "Cart › removes item"],
    )
    assert second == {
        "source": str(network_log),
        "category": "network",
        "confidence": 0.9,
        "action": "retry",
        "rule": "demo-reset",
        "title": "npm lost its connection",
        "explain": "The registry connection was reset.",
        "advice": "Re-run the job.",
        "evidence": [{"line": 2, "text": "npm ERR! code ECONNRESET"}],
        "step": "Run npm ci",
        "tests": [],
        "fix": None,
        "baseline": None,
    }


def test_bad_inputs_keep_their_place_get_one_line_each_and_exit_2(
    rules_dir: Path, network_log: Path, tmp_path: Path
) -> None:
    empty = tmp_path / "empty.log"
    empty.write_bytes(b"")
    binary = tmp_path / "core"
    binary.write_bytes(b"\x7fELF" + bytes(range(256)) * 4)
    missing = tmp_path / "missing.log"
    sources = [str(empty), str(network_log), str(binary), str(tmp_path), str(missing)]
    code, report, stderr = analyze_json(*sources, "--no-bundled", "--rules", str(rules_dir))
    assert code == 2
    assert [entry["source"] for entry in report["diagnoses"]] == sources
    assert report["diagnoses"][1]["category"] == "network"
    errors = [entry.get("error") for entry in report["diagnoses"]]
    assert errors == [
        f"{empty}: empty log, nothing to analyse",
        None,
        f"{binary}: binary file (an ELF executable), not a text log",
        f"{tmp_path}: is a directory, not a log file",
        f"{missing}: no such file",
    ]
    assert stderr.splitlines() == [f"pipeline-guard: error: {error}" for error in errors if error]


def test_standard_input(rules_dir: Path) -> None:
    done = run_cli(
        "analyze",
        "-",
        "--format",
        "json",
        "--no-bundled",
        "--rules",
        str(rules_dir),
        stdin=b"npm ERR! code ETIMEDOUT\n",
    )
    assert json.loads(done.stdout)["diagnoses"][0]["source"] == "-"
    assert json.loads(done.stdout)["diagnoses"][0]["category"] == "network"


def test_text_is_plain_when_piped_and_coloured_when_forced(
    rules_dir: Path, network_log: Path
) -> None:
    plain = run_cli("analyze", str(network_log), "--no-bundled", "--rules", str(rules_dir))
    assert plain.returncode == 0
    assert "\x1b[" not in plain.stdout
    assert "network" in plain.stdout
    assert "in step `Run npm ci`, line 2:" in plain.stdout
    assert "npm ERR! code ECONNRESET" in plain.stdout
    coloured = run_cli(
        "analyze",
        str(network_log),
        "--no-bundled",
        "--rules",
        str(rules_dir),
        env={"FORCE_COLOR": "1"},
    )
    assert "\x1b[" in coloured.stdout


def test_markdown_puts_evidence_in_a_fence_that_log_backticks_cannot_close(
    rules_dir: Path, tmp_path: Path
) -> None:
    log = tmp_path / "x.log"
    log.write_text("npm ERR! code ECONNRESET ```` injected\n")
    done = run_cli(
        "analyze", str(log), "--format", "markdown", "--no-bundled", "--rules", str(rules_dir)
    )
    assert "`````text\n     1 | npm ERR! code ECONNRESET ```` injected\n`````" in done.stdout
    assert "**What to do:** Re-run the job." in done.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["analyze", "--format", "yaml", "x.log"], "argument --format: invalid choice: 'yaml'"),
        (["frobnicate"], "argument COMMAND: invalid choice: 'frobnicate'"),
        (
            ["analyze", "x.log", "--rules", "/no/such/dir"],
            "/no/such/dir: rules directory not found",
        ),
        (["eval", "/no/such/corpus"], "/no/such/corpus: not a corpus (no labels.jsonl)"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(args: list[str], message: str) -> None:
    done = run_cli(*args)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_invalid_rule_file_is_a_config_error_without_traceback(
    write_rules: WriteRules, network_log: Path
) -> None:
    broken = write_rules(
        RULES.replace("'npm ERR! code (?:ECONNRESET|ETIMEDOUT)'", "'npm ERR! (unclosed'")
    )
    done = run_cli("analyze", str(network_log), "--rules", str(broken))
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"pipeline-guard: error: {broken / 'rules.yml'}: rule demo-reset: patterns: "
        "pattern 1 is not a valid RE2 regex: missing ): npm ERR! (unclosed"
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("    explain: The registry", "    explain: [unclosed\n    x: The registry"),
            "invalid YAML",
        ),
        (
            ("    advice: Re-run the job.", "    advice: Re-run the job.\n    colour: red"),
            "colour: unknown field",
        ),
    ],
)
def test_invalid_yaml_and_unknown_fields_exit_2_with_one_line(
    write_rules: WriteRules, network_log: Path, change: tuple[str, str], message: str
) -> None:
    broken = write_rules(RULES.replace(*change))
    done = run_cli("analyze", str(network_log), "--rules", str(broken))
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1
    assert done.stderr.startswith(f"pipeline-guard: error: {broken / 'rules.yml'}")
    assert message in done.stderr


def test_rules_test_reports_each_failing_example_and_exits_1(write_rules: WriteRules) -> None:
    directory = write_rules(
        RULES.replace("no_match: ['npm ERR! code E404']", "no_match: ['npm ERR! code ETIMEDOUT']")
    )
    done = run_cli("rules", "test", "--no-bundled", str(directory))
    assert done.returncode == 1
    failure = "rule demo-reset: matches its no_match example 'npm ERR! code ETIMEDOUT'"
    assert f"FAIL {directory / 'rules.yml'}: {failure}" in done.stdout
    assert "2 rules, 4 examples: 1 failures, failed" in done.stdout


def test_rules_list_shows_what_is_loaded(rules_dir: Path) -> None:
    done = run_cli("rules", "list", "--no-bundled", "--rules", str(rules_dir), "--format", "json")
    assert [(rule["id"], rule["category"]) for rule in json.loads(done.stdout)] == [
        ("demo-reset", "network"),
        ("demo-jest", "test-failure"),
    ]


def test_eval_scores_a_corpus(rules_dir: Path, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    (corpus / "cases").mkdir(parents=True)
    cases = {
        "a": ("network", "npm ERR! code ECONNRESET\n"),
        "b": ("test-failure", "  ● Cart › adds item\n"),
        "c": ("lint", "  12:5  error  'x' is unused  no-unused-vars\n"),
    }
    labels = []
    for case_id, (category, text) in cases.items():
        (corpus / "cases" / f"{case_id}.log").write_text(text)
        labels.append(
            json.dumps({"id": case_id, "category": category, "source": f"acme/{case_id}:x.log"})
        )
    (corpus / "labels.jsonl").write_text("\n".join(labels) + "\n")
    done = run_cli("eval", str(corpus), "--no-bundled", "--rules", str(rules_dir), "--no-model")
    assert done.returncode == 0, done.stderr
    assert "rules-only" in done.stdout
    assert "lint -> unknown: 1" in done.stdout
    as_json = run_cli(
        "eval",
        str(corpus),
        "--no-bundled",
        "--rules",
        str(rules_dir),
        "--no-model",
        "--format",
        "json",
    )
    scores = json.loads(as_json.stdout)["rules-only"]
    assert (scores["total"], round(scores["accuracy"], 3)) == (3, 0.667)
    assert scores["confusions"] == [["lint", "unknown", 1]]
    by_category = {item["category"]: item for item in scores["per_category"]}
    assert by_category["network"]["f1"] == 1.0
    assert by_category["lint"]["recall"] == 0.0


def test_version() -> None:
    done = run_cli("--version", cwd=REPO)
    assert done.stdout.startswith("pipeline-guard ")
    assert done.stdout.splitlines()[1] == "prefilter engine: re2"

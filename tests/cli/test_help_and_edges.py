"""What a new user meets first: the help, and the edge cases said plainly, each said once."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from conftest import REPO, run_cli
from pipeline_guard.cli.main import _parser

COMMANDS = [
    ["analyze"],
    ["run"],
    ["rules"],
    ["rules", "test"],
    ["rules", "list"],
    ["eval"],
    ["train"],
]
BLACK_LOG = """\
##[group]Run black --check .
would reformat src/app.py
1 file would be reformatted, 1 file would be left unchanged.
##[error]Process completed with exit code 1.
"""


def test_bare_command_prints_the_help() -> None:
    done = run_cli()
    assert done.returncode == 0
    assert done.stdout.startswith("usage: pipeline-guard")
    assert "examples:" in done.stdout
    assert done.stderr == ""


@pytest.mark.parametrize("command", COMMANDS, ids=[" ".join(c) for c in COMMANDS])
def test_every_help_has_descriptions_defaults_an_example_and_exit_codes(
    command: list[str],
) -> None:
    done = run_cli(*command, "--help")
    assert done.returncode == 0
    text = done.stdout
    assert "examples:" in text
    assert f"pipeline-guard {' '.join(command)}" in text.split("examples:", 1)[1]
    assert "exit codes:" in text
    assert "2  usage or configuration error" in text
    if "  --format" in text:  # the option itself, not an example using it
        assert "(default: text)" in text


def _parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    found = [parser]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found += _parsers(sub)
    return found


def test_every_option_and_argument_is_described() -> None:
    undescribed = [
        f"{parser.prog}: {action.dest}"
        for parser in _parsers(_parser())
        for action in parser._actions
        if not action.help and not isinstance(action, argparse._SubParsersAction)
    ]
    assert undescribed == []


def test_analyze_says_an_unreadable_input_once_on_stderr(tmp_path: Path) -> None:
    done = run_cli("analyze", str(tmp_path / "missing.log"))
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        f"pipeline-guard: error: {tmp_path / 'missing.log'}: no such file"
    ]


@pytest.mark.parametrize("spelling", ["missing.log", "logs/*.log"])
def test_a_log_file_that_matches_nothing_is_one_usage_error(tmp_path: Path, spelling: str) -> None:
    done = run_cli("run", "--platform", "local", "--log-file", spelling, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"pipeline-guard: error: log-file: {spelling!r} matches no file"
    ]


def test_local_run_without_logs_says_there_is_nothing_to_diagnose(tmp_path: Path) -> None:
    done = run_cli("run", "--platform", "local", cwd=tmp_path)
    assert done.returncode == 2
    assert "0 failed jobs" not in done.stdout
    assert "nothing to diagnose" in done.stderr
    assert "--log-file" in done.stderr


def test_local_mode_runs_no_fixer_and_says_so_once(tmp_path: Path) -> None:
    (tmp_path / "lint.log").write_text(BLACK_LOG, encoding="utf-8")
    cache = tmp_path / "cache"
    done = run_cli(
        "run",
        "--platform",
        "local",
        "--log-file",
        "lint.log",
        cwd=tmp_path,
        env={"PIPELINE_GUARD_CACHE_DIR": str(cache)},
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert "local mode cannot open pull requests" not in done.stdout
    assert done.stdout.count("local mode has no forge to open one on") == 1
    assert not (cache / "tools").exists(), "no fixer tool was installed"
    report = json.loads((tmp_path / "pipeline-guard-report.json").read_text())
    assert report["jobs"][0]["action"] == "none"
    assert report["fixes"] == []


def test_the_local_job_log_is_text_not_markdown(tmp_path: Path) -> None:
    log = REPO / "examples" / "npm-registry-outage.log"
    done = run_cli("run", "--platform", "local", "--log-file", str(log), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    for markdown in ("| Job |", "####", "<sub>", "```"):
        assert markdown not in done.stdout
    assert "95% sure" in done.stdout
    assert "::group::" not in done.stdout

"""What GitHub Actions really gives a step: the environment and the event file, for tests that
run ``pipeline-guard run`` as a subprocess against the fake GitHub API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fakes.github_api import FakeGitHub

REPO_NAME = "octo/app"
TOKEN = "ghs_test"
HEAD_SHA = "a" * 40


@dataclass
class GuardRun:
    """A finished ``pipeline-guard run``: what a user sees in the job log, summary, outputs."""

    returncode: int
    stdout: str
    stderr: str
    summary: str
    outputs: dict[str, str]
    report: dict[str, Any] | None


def workflow_run_event(
    run_id: int, *, attempt: int = 1, pulls: list[int] | None = None, fork: str | None = None
) -> dict[str, Any]:
    """The `workflow_run` payload (only the fields GitHub sends that matter here)."""
    return {
        "action": "completed",
        "workflow_run": {
            "id": run_id,
            "run_attempt": attempt,
            "head_sha": HEAD_SHA,
            "head_branch": "feature",
            "event": "pull_request",
            "status": "completed",
            "conclusion": "failure",
            "html_url": f"https://github.com/{REPO_NAME}/actions/runs/{run_id}",
            "pull_requests": [
                {"number": n, "head": {"ref": "feature", "sha": HEAD_SHA}} for n in pulls or []
            ],
            "head_repository": {"full_name": fork or REPO_NAME},
            "repository": {"full_name": REPO_NAME},
        },
        "repository": {"full_name": REPO_NAME, "default_branch": "main"},
    }


def pull_request_event(number: int, *, fork: str | None = None) -> dict[str, Any]:
    return {
        "action": "synchronize",
        "number": number,
        "pull_request": {
            "number": number,
            "head": {"ref": "feature", "sha": HEAD_SHA, "repo": {"full_name": fork or REPO_NAME}},
            "base": {"ref": "main", "repo": {"full_name": REPO_NAME}},
        },
        "repository": {"full_name": REPO_NAME, "default_branch": "main"},
    }


def github_env(
    fake: FakeGitHub,
    tmp_path: Path,
    event_name: str,
    event: dict[str, Any],
    *,
    run_id: int = 100,
    attempt: int = 1,
    inputs: dict[str, str] | None = None,
) -> dict[str, str]:
    """The variables a Docker action step gets (inputs as INPUT_<NAME>, dashes kept)."""
    event_path = tmp_path / "event.json"
    event_path.write_text(json.dumps(event), encoding="utf-8")
    (tmp_path / "summary.md").touch()
    (tmp_path / "output.txt").touch()
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", str(tmp_path)),
        "PIPELINE_GUARD_CACHE_DIR": os.environ.get("PIPELINE_GUARD_CACHE_DIR", "off"),
        "PIPELINE_GUARD_DEADLINE": "60",
        "CI": "true",
        "GITHUB_ACTIONS": "true",
        "GITHUB_API_URL": fake.url,
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_REPOSITORY": REPO_NAME,
        "GITHUB_EVENT_NAME": event_name,
        "GITHUB_EVENT_PATH": str(event_path),
        "GITHUB_RUN_ID": str(run_id),
        "GITHUB_RUN_ATTEMPT": str(attempt),
        "GITHUB_JOB": "guard",
        "GITHUB_SHA": HEAD_SHA,
        "GITHUB_REF_NAME": "feature",
        "GITHUB_WORKSPACE": str(tmp_path),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        "GITHUB_OUTPUT": str(tmp_path / "output.txt"),
        "INPUT_GITHUB-TOKEN": TOKEN,
        "INPUT_DRY-RUN": "false",
        "INPUT_COMMENT": "true",
    }
    for name, value in (inputs or {}).items():
        env[f"INPUT_{name.upper()}"] = value
    return env


def run_guard(env: dict[str, str], cwd: Path, *args: str) -> GuardRun:
    """``pipeline-guard run`` as the container's entrypoint runs it."""
    for name in ("GITHUB_STEP_SUMMARY", "GITHUB_OUTPUT"):
        if name in env:
            Path(env[name]).write_text("", encoding="utf-8")
    completed = subprocess.run(
        [sys.executable, "-m", "pipeline_guard", "run", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=120,
        check=False,
    )
    report_file = cwd / "pipeline-guard-report.json"
    return GuardRun(
        returncode=completed.returncode,
        stdout=completed.stdout,
        stderr=completed.stderr,
        summary=_read(env.get("GITHUB_STEP_SUMMARY")),
        outputs=parse_outputs(_read(env.get("GITHUB_OUTPUT"))),
        report=json.loads(report_file.read_text()) if report_file.is_file() else None,
    )


def _read(path: str | None) -> str:
    return Path(path).read_text(encoding="utf-8") if path and Path(path).is_file() else ""


def parse_outputs(text: str) -> dict[str, str]:
    """Parse the runner's ``name<<DELIMITER`` output file format."""
    outputs: dict[str, str] = {}
    lines = iter(text.splitlines())
    for line in lines:
        name, sep, delimiter = line.partition("<<")
        if not sep:
            key, _, value = line.partition("=")
            outputs[key] = value
            continue
        value_lines = []
        for value_line in lines:
            if value_line == delimiter:
                break
            value_lines.append(value_line)
        outputs[name] = "\n".join(value_lines)
    return outputs

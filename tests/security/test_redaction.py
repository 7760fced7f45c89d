"""Secrets in failing log lines never leave the runner (issue 15, "Redaction").

177 hand-written secret formats (:mod:`secret_cases`), each quoted in a pytest ``FAILED`` line
that the guard really uses as evidence, are looked for in everything a user or an attacker can
read: the PR comment, the job summary, the step outputs and the JSON report of a real
``pipeline-guard run`` against the fake GitHub API, and the text, JSON and Markdown output of
``pipeline-guard analyze``. The halves of each secret are looked for too (a cut line, a mask
that stopped early). Ordinary lines (digests, SHAs, UUIDs, ``password: field required``)
must come out unchanged.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from secret_cases import CASES, ORDINARY_LINES, SecretCase

from fakes.github_api import FakeGitHub
from github_env import HEAD_SHA, REPO_NAME, github_env, run_guard, workflow_run_event
from pipeline_guard.engine.log_reader import MAX_TEXT_CHARS, decoded_line
from pipeline_guard.redact import Redactor

PER_JOB = 5  # FAILED lines per job: all of them are evidence (at most 6) and shown
JOBS_PER_RUN = 12  # jobs per guard run: the comment keeps every evidence line


def failing_line(case: SecretCase) -> str:
    name = case.id.replace("-", "_")
    return f"FAILED tests/test_sec.py::test_{name} - AssertionError: {case.text}"


def job_log(cases: list[SecretCase]) -> str:
    lines = ["2026-11-20T09:14:02.0000000Z ##[group]Run pytest"]
    lines += [f"2026-11-20T09:14:03.0000000Z {failing_line(case)}" for case in cases]
    lines.append("2026-11-20T09:14:03.0000000Z ##[error]Process completed with exit code 1.")
    return "\n".join(lines) + "\n"


def leaks(text: str, cases: list[SecretCase]) -> list[str]:
    """The ids of the cases of which some piece appears in ``text``."""
    return [case.id for case in cases if any(piece in text for piece in case.pieces)]


def test_there_are_enough_formats() -> None:
    assert len(CASES) >= 130
    assert len({case.id for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_each_format_is_masked_in_a_failing_line(case: SecretCase) -> None:
    redactor = Redactor()
    out = redactor.redact(failing_line(case))
    assert leaks(out, [case]) == []
    assert out.startswith("FAILED tests/test_sec.py::test_")
    assert redactor.redact(out) == out  # stable: a second pass changes nothing


@pytest.mark.parametrize("line", ORDINARY_LINES)
def test_ordinary_lines_are_left_alone(line: str) -> None:
    assert Redactor().redact(line) == line


@pytest.mark.parametrize("case", CASES[::7], ids=lambda case: case.id)
def test_a_secret_across_the_line_cut_leaves_no_half(case: SecretCase) -> None:
    """Evidence lines are cut to MAX_TEXT_CHARS; the cut falls in the middle of the secret."""
    text = case.text
    at = text.index(case.secret) + len(case.secret) // 2
    padding = "x" * (MAX_TEXT_CHARS - at)
    line = decoded_line(f"{padding}{text} and more".encode(), 1, None)
    assert len(line.text) <= MAX_TEXT_CHARS + 1
    assert leaks(Redactor().redact(line.text), [case]) == []


def test_a_value_the_environment_holds_is_not_cut_in_half_either() -> None:
    secret = "Zq8" * 12
    padding = "y" * (MAX_TEXT_CHARS - 18)
    line = decoded_line(f"{padding} {secret} tail".encode(), 1, None)
    out = Redactor([secret]).redact(line.text)
    assert secret[:17] not in out


@pytest.mark.parametrize(
    "value",
    ['password = "', 'DB_PASSWORD="hunter2hunter2"', '"token": "abc\\"def"', "key=\\", "\\u0000"],
)
def test_redacted_values_always_serialise_to_valid_json(value: str) -> None:
    document = {"evidence": [{"line": 1, "text": value}], "name": value}
    text = json.dumps(Redactor(["hunter2hunter2"]).redact_values(document))
    assert json.loads(text)["evidence"][0]["line"] == 1
    assert "hunter2hunter2" not in text


def _chunks(cases: list[SecretCase], size: int) -> list[list[SecretCase]]:
    return [cases[i : i + size] for i in range(0, len(cases), size)]


RUNS = _chunks(CASES, PER_JOB * JOBS_PER_RUN)


@pytest.mark.parametrize("cases", RUNS, ids=lambda cases: f"{cases[0].id}..{cases[-1].id}")
def test_no_format_leaks_from_a_github_run(
    cases: list[SecretCase], fake_github: FakeGitHub, tmp_path: Path
) -> None:
    fake_github.add_repo(REPO_NAME)
    fake_github.add_pull(REPO_NAME, 7, head_sha=HEAD_SHA, head_ref="feature")
    fake_github.add_run(REPO_NAME, 100, head_sha=HEAD_SHA, head_branch="feature", pull_requests=[7])
    jobs = _chunks(cases, PER_JOB)
    for index, job_cases in enumerate(jobs):
        fake_github.add_job(
            REPO_NAME,
            100,
            job_id=500 + index,
            name=f"test ({index})",
            log=job_log(job_cases),
            steps=[("Run pytest", "failure")],
        )
    env = github_env(
        fake_github, tmp_path, "workflow_run", workflow_run_event(100, pulls=[7]), run_id=200
    )

    run = run_guard(env, tmp_path)

    assert run.returncode == 0, run.stderr
    assert run.report is not None  # valid JSON, or json.loads would have raised
    shown = [item["text"] for job in run.report["jobs"] for item in job["diagnosis"]["evidence"]]
    assert len(shown) >= len(cases)  # every quoted line is evidence: the test can fail
    (comment,) = fake_github.comments(REPO_NAME, 7)
    assert comment.body.count("FAILED tests/test_sec.py::") == len(cases)
    report_text = (tmp_path / "pipeline-guard-report.json").read_text(encoding="utf-8")
    for where, text in {
        "comment": comment.body,
        "summary": run.summary,
        "outputs": json.dumps(run.outputs),
        "report": report_text,
        "job log": run.stdout + run.stderr,
    }.items():
        assert leaks(text, cases) == [], where


def test_no_format_leaks_from_analyze(tmp_path: Path) -> None:
    files = []
    for index, job_cases in enumerate(_chunks(CASES, PER_JOB)):
        path = tmp_path / f"job-{index}.log"
        path.write_text(job_log(job_cases), encoding="utf-8")
        files.append(str(path))
    outputs = {}
    for fmt in ("text", "json", "markdown"):
        done = subprocess.run(
            [sys.executable, "-m", "pipeline_guard", "analyze", "--format", fmt, *files],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env={"PATH": "/usr/bin:/bin", "PIPELINE_GUARD_CACHE_DIR": "off", "NO_COLOR": "1"},
        )
        assert done.returncode == 0, done.stderr
        outputs[fmt] = done.stdout
    diagnoses = json.loads(outputs["json"])["diagnoses"]
    assert sum(len(d["evidence"]) for d in diagnoses) >= len(CASES)
    for fmt, text in outputs.items():
        assert leaks(text, CASES) == [], fmt


def test_analyze_no_redact_shows_the_line_as_it_is(tmp_path: Path) -> None:
    case = CASES[0]
    path = tmp_path / "job.log"
    path.write_text(job_log([case]), encoding="utf-8")
    shown = subprocess.run(
        [sys.executable, "-m", "pipeline_guard", "analyze", "--no-redact", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": "/usr/bin:/bin", "PIPELINE_GUARD_CACHE_DIR": "off", "NO_COLOR": "1"},
    )
    assert shown.returncode == 0, shown.stderr
    assert case.secret in shown.stdout


def test_a_private_key_across_evidence_lines_is_masked() -> None:
    """Each body line alone is bare base64; the header on the item before gives it away."""
    body = ["MIIEowIBAAKCAQEAx" + "Q" * 47, "k" * 64, "Proc-Type: 4,ENCRYPTED", "Zz9" * 10]
    evidence = [{"line": 10, "text": "Error: -----BEGIN RSA PRIVATE KEY-----"}]
    evidence += [{"line": 11 + i, "text": text} for i, text in enumerate(body)]
    evidence += [
        {"line": 15, "text": "-----END RSA PRIVATE KEY-----"},
        {"line": 16, "text": "FAILED tests/test_a.py::test_b"},
    ]
    out = Redactor().redact_values({"evidence": evidence})["evidence"]
    assert [item["text"] for item in out[1:5]] == ["***"] * 4
    assert out[0]["text"] == evidence[0]["text"]
    assert out[5:] == evidence[5:]
    as_lines = Redactor().redact_values([item["text"] for item in evidence])
    assert not any(line in as_lines for line in body)

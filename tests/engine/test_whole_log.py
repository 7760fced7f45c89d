"""Whole job logs: the cause is in the step that failed, terminal, specific, not in the baseline.

These run the bundled pack through ``analyze_source`` (the guard's and ``analyze``'s path) on
logs shaped like real GitHub, GitLab and Travis jobs.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import make_rule, run_cli, scan
from pipeline_guard.engine.analysis import analyze_source
from pipeline_guard.engine.baseline import normalise_block
from pipeline_guard.engine.diagnosis import diagnose, is_context_line
from pipeline_guard.engine.matcher import Matcher
from pipeline_guard.engine.rule import load_rules
from pipeline_guard.engine.step_tracker import JobStep

STAMP = "2026-01-01T00:00:00.0000000Z "
PIP_RETRY = (
    "WARNING: Retrying (Retry(total=4, connect=None, read=None, redirect=None, status=None)) "
    "after connection broken by 'ReadTimeoutError(\"HTTPSConnectionPool(host='pypi.org', "
    "port=443): Read timed out. (read timeout=15)\")': /simple/requests/"
)


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher(load_rules(bundled=True))


def write(tmp_path: Path, name: str, lines: list[str], stamp: str = STAMP) -> str:
    path = tmp_path / name
    path.write_text("".join(f"{stamp}{line}\n" for line in lines), encoding="utf-8")
    return str(path)


def github_job() -> list[str]:
    return [
        "##[group]Run pip install -r requirements.txt",
        PIP_RETRY,
        "Successfully installed requests-2.31.0",
        "##[group]Run black --check . || true",
        "would reformat src/app.py",
        "Oh no! 💥 💔 💥 1 file would be reformatted, 12 files would be left unchanged.",
        "##[group]Run pytest",
        "tests/test_net.py::test_timeout_is_retried PASSED                    [ 50%]",
        "tests/test_app.py::test_total FAILED                                 [100%]",
        "E       assert 3 == 4",
        "=========================== 1 failed, 1 passed in 0.12s ===========================",
        "##[error]Process completed with exit code 1.",
        "##[group]Post Run actions/checkout@v4",
    ]


def test_recovered_retry_and_a_passing_step_do_not_decide(tmp_path: Path, matcher: Matcher) -> None:
    verdict = analyze_source(write(tmp_path, "job.log", github_job()), matcher)
    assert (verdict.category, verdict.action) == ("test-failure", "comment")
    assert verdict.step == "Run pytest"
    assert verdict.evidence[0].line == 9


def test_the_jobs_api_steps_pick_the_failed_step(tmp_path: Path, matcher: Matcher) -> None:
    lines = github_job()
    lines.insert(6, "##[error]Process completed with exit code 1.")  # continue-on-error
    source = write(tmp_path, "job.log", lines)
    assert analyze_source(source, matcher).category == "format"
    api = (JobStep("black --check . || true", 3, "success"), JobStep("pytest", 4, "failure"))
    assert analyze_source(source, matcher, job_steps=api).category == "test-failure"


def test_a_wrapper_yields_to_the_specific_error_above_it(tmp_path: Path, matcher: Matcher) -> None:
    lines = [
        "$ npm test",
        "> demo@1.0.0 test",
        "> node check.js",
        "Error: config file settings.json is missing a closing brace",
        "npm ERR! Test failed.  See above for more details.",
        'The command "npm test" exited with 1.',
    ]
    verdict = analyze_source(write(tmp_path, "job.log", lines, stamp=""), matcher)
    assert verdict.rule == "npm-test-script-failed"
    assert verdict.evidence[0].text.startswith("Error: config file")
    assert verdict.evidence[1].text.startswith("npm ERR! Test failed")


def test_unknown_quotes_the_failing_steps_error_lines_not_boilerplate(
    tmp_path: Path, matcher: Matcher
) -> None:
    lines = [
        "travis_fold:start:system_info\x1b[0KBuild system information",
        "# give useful error messages",
        "travis_fold:end:system_info\x1b[0K",
        "$ ./check-links.sh",
        "+ export ERROR_LEVEL=1",
        "checked 120 links",
        "ERROR: link check found 2 dead links: https://example.invalid/a",
        'The command "./check-links.sh" exited with 1.',
    ]
    verdict = analyze_source(write(tmp_path, "job.log", lines, stamp=""), matcher)
    assert verdict.category == "unknown"
    assert [item.line for item in verdict.evidence] == [7]


def test_a_line_of_the_green_log_is_never_the_evidence(tmp_path: Path, matcher: Matcher) -> None:
    failed = [
        "##[group]Run ./run.sh",
        "curl: (6) Could not resolve host: fixtures.example.com",
        "ModuleNotFoundError: No module named 'fixtures'",
        "##[error]Process completed with exit code 1.",
    ]
    green = ["##[group]Run ./run.sh", "curl: (6) Could not resolve host: fixtures.example.com"]
    source = write(tmp_path, "failed.log", failed)
    without = analyze_source(source, matcher)
    assert without.category == "network"  # the failed download may be why the module is missing
    good = write(tmp_path, "green.log", green, stamp="2025-12-31T23:59:59.1234567Z ")
    verdict = analyze_source(source, matcher, baseline=good)
    assert (verdict.category, verdict.baseline) == ("dependency", good)
    assert all(item.line != 2 for item in verdict.evidence)


def test_recovered_when_makes_an_error_context(tmp_path: Path) -> None:
    rule = make_rule(
        id="rvm-binary-404",
        category="network",
        patterns=[r"curl: \(22\) .* 404"],
        recovered_when=["installing from source"],
        examples={"match": ["curl: (22) The requested URL returned error: 404"], "no_match": ["x"]},
    )
    # a dependency error (a download that failed may be its cause) does not outrank a network
    # error by itself: only the recovery line makes the 404 context
    missing = make_rule(id="d", category="dependency", patterns=["^Could not find gem "])
    log = (
        "curl: (22) The requested URL returned error: 404\n"
        "Binary not found, installing from source\nCould not find gem 'x'\n"
    )
    assert diagnose(scan([rule, missing], log), "job.log").category == "dependency"
    alone = "curl: (22) The requested URL returned error: 404\nCould not find gem 'x'\n"
    assert diagnose(scan([rule, missing], alone), "job.log").category == "network"


def test_context_lines() -> None:
    for text in (
        "W: Failed to fetch http://ppa.example/InRelease  Temporary failure resolving",
        PIP_RETRY,
        "tests/test_timeout.py::test_timeout_error PASSED   [ 10%]",
        "ok 3 - handles connection refused",
        "--- PASS: TestTimeout (0.00s)",
        "Tests run: 4, Failures: 0, Errors: 0, Skipped: 0",
        "DEBUG dial tcp: i/o timeout",
    ):
        assert is_context_line(text), text
    for text in ("E: Unable to locate package foo", "FAILED tests/a.py::test_b", "Failures: 2"):
        assert not is_context_line(text), text


def test_normalising_keeps_zero_counts_apart_from_failures() -> None:
    a = normalise_block(b"2024-01-01T10:00:00.1234567Z Tests run: 12, Failures: 0 (1.2s)\n")
    b = normalise_block(b"Tests run: 13, Failures: 0 (0.9s)\n")
    c = normalise_block(b"Tests run: 13, Failures: 2 (0.9s)\n")
    assert a == b != c
    assert normalise_block(b"/tmp/tmpx8a1/build.log abc1234f\n") == normalise_block(
        b"/tmp/tmpq77z/build.log 99ffee00\n"
    )


def test_analyze_baseline_flag_reports_the_baseline(tmp_path: Path) -> None:
    failed = write(tmp_path, "failed.log", github_job())
    green = write(tmp_path, "green.log", github_job()[:4])
    done = run_cli("analyze", failed, "--baseline", green, "--format", "json")
    assert done.returncode == 0, done.stderr
    diagnosis = json.loads(done.stdout)["diagnoses"][0]
    assert (diagnosis["category"], diagnosis["baseline"]) == ("test-failure", green)
    missing = run_cli("analyze", failed, "--baseline", str(tmp_path / "nope.log"))
    assert missing.returncode == 2
    assert "--baseline" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_network_errors_printed_by_failing_tests_are_a_test_failure(
    tmp_path: Path, matcher: Matcher
) -> None:
    lines = [
        "##[group]Run pytest",
        "tests/test_client.py::test_upload FAILED                             [ 50%]",
        "E       socket.gaierror: [Errno -2] Name or service not known",
        "FAILED tests/test_client.py::test_upload - socket.gaierror: [Errno -2] Name or service",
        "=========================== 1 failed, 1 passed in 0.12s ===========================",
        "##[error]Process completed with exit code 1.",
    ]
    verdict = analyze_source(write(tmp_path, "job.log", lines), matcher)
    assert verdict.category.value == "test-failure"
    assert verdict.action.value != "retry"


def test_a_network_error_followed_by_the_error_that_ended_the_step_yields(
    tmp_path: Path, matcher: Matcher
) -> None:
    lines = [
        "##[group]Run ./check.sh",
        "curl: (6) Could not resolve host: example.invalid",
        "src/app.py:3:1: F401 'os' imported but unused",
        "##[error]Process completed with exit code 1.",
    ]
    verdict = analyze_source(write(tmp_path, "job.log", lines), matcher)
    assert verdict.category.value == "lint"
    assert verdict.action.value != "retry"


def test_a_network_failure_that_broke_the_install_still_decides(
    tmp_path: Path, matcher: Matcher
) -> None:
    lines = [
        "##[group]Run npm ci",
        "npm ERR! code ECONNRESET",
        "npm ERR! network request to https://registry.npmjs.org/left-pad failed",
        "##[error]Process completed with exit code 1.",
    ]
    verdict = analyze_source(write(tmp_path, "job.log", lines), matcher)
    assert verdict.category.value == "network"
    assert verdict.action.value == "retry"


def test_a_link_checkers_report_of_dead_links_is_not_a_network_failure(
    tmp_path: Path, matcher: Matcher
) -> None:
    lines = [
        "$ awesome_bot README.md --allow-dupe",
        "Issues :-(",
        "> Links ",
        "  1. 301 https://old.example.org/ → https://new.example.org/",
        "  2. http://www.example.org/pattern Net::ReadTimeout",
        "  3. [L42]  https://example.com/ Failed to open TCP connection to example.com:443 "
        "(getaddrinfo: Temporary failure in name resolution)",
        'The command "awesome_bot README.md --allow-dupe" exited with 1.',
        "Done. Your build exited with 1.",
    ]
    verdict = analyze_source(write(tmp_path, "job.log", lines, stamp=""), matcher)
    assert verdict.category.value != "network"
    assert verdict.action.value != "retry"
    assert [evidence.line for evidence in verdict.evidence][:1] in ([4], [5], [6])


def test_debconfs_readline_fallback_is_survived(tmp_path: Path, matcher: Matcher) -> None:
    lines = [
        "##[group]Run ./ci/test.sh",
        "debconf: (Can't locate Term/ReadLine.pm in @INC (you may need to install the "
        "Term::ReadLine module) (@INC contains: /etc/perl) at /usr/share/perl5/Debconf/"
        "FrontEnd/Readline.pm line 7.)",
        "debconf: falling back to frontend: Teletype",
        "tests/test_app.py::test_total FAILED                                 [100%]",
        "E       assert 3 == 4",
        "##[error]Process completed with exit code 1.",
    ]
    verdict = analyze_source(write(tmp_path, "job.log", lines), matcher)
    assert verdict.category.value == "test-failure"


PYTEST_RUN = [
    "##[group]Run python -m pytest -v",
    "tests/test_api.py::test_list PASSED                                      [ 33%]",
    "tests/test_api.py::TestOrders::test_create FAILED                         [ 66%]",
    "tests/test_api.py::test_delete PASSED                                    [100%]",
    "",
    "=================================== FAILURES ===================================",
    "___________________________ TestOrders.test_create ____________________________",
    "",
    "    def test_create(client):",
    ">       assert client.post('/orders').status_code == 201",
    "E       assert 500 == 201",
    "E        +  where 500 = <Response [500]>.status_code",
    "",
    "tests/test_api.py:14: AssertionError",
    "=========================== short test summary info ============================",
    "========================= 1 failed, 2 passed in 0.31s ==========================",
    "##[error]Process completed with exit code 1.",
]


def test_a_pytest_progress_line_yields_to_its_tests_details_below(
    tmp_path: Path, matcher: Matcher
) -> None:
    """The progress line names the test; the error a reader needs is in the FAILURES section."""
    found = analyze_source(write(tmp_path, "job.log", PYTEST_RUN), matcher)
    assert found.category == "test-failure"
    assert found.rule == "pytest-failed-test"
    assert [line.text for line in found.evidence][:2] == [
        "E       assert 500 == 201",
        "tests/test_api.py::TestOrders::test_create FAILED                         [ 66%]",
    ]
    assert found.tests == ["tests/test_api.py::TestOrders::test_create"]


def test_without_details_below_the_progress_line_stays_first(
    tmp_path: Path, matcher: Matcher
) -> None:
    no_details = [line for line in PYTEST_RUN[:4] if line] + PYTEST_RUN[-2:]
    found = analyze_source(write(tmp_path, "job.log", no_details), matcher)
    assert found.evidence[0].text.startswith("tests/test_api.py::TestOrders::test_create FAILED")


def test_an_unknown_option_decides_only_where_no_test_failed(
    tmp_path: Path, matcher: Matcher
) -> None:
    """A CLI's tests print usage errors on purpose; the failing test is still the finding."""
    run = [
        "##[group]Run go test ./cmd/...",
        "=== RUN   TestFlags",
        "flag provided but not defined: -verbose",
        "Usage of trace:",
        "--- FAIL: TestFlags (0.00s)",
        "    flags_test.go:12: want exit 2, got 0",
        "FAIL",
        "##[error]Process completed with exit code 1.",
    ]
    assert analyze_source(write(tmp_path, "job.log", run), matcher).category == "test-failure"
    alone = [run[0], "flag provided but not defined: -trace2_event_file", run[-1]]
    verdict = analyze_source(write(tmp_path, "alone.log", alone), matcher)
    assert (verdict.category, verdict.rule, verdict.action) == (
        "config",
        "cli-unknown-option",
        "comment",
    )


def test_a_step_longer_than_its_snapshot_keeps_the_first_report_of_its_failure(
    tmp_path: Path, matcher: Matcher
) -> None:
    """A 1.3 MB test step (sbt under travis_retry): the first failing test, 20,000 lines up,
    is where to look; an error up there that the step's end does not repeat stays out."""
    filler = [f"[info] - passing test number {n} of the suite" for n in range(26_000)]
    lines = [
        "$ sbt test",
        "debconf: (Can't locate Term/ReadLine.pm in @INC (you may need to install the "
        "Term::ReadLine module) (@INC contains: /etc/perl) at Readline.pm line 7.)",
        "[info] - decodes a chunked body *** FAILED ***",
        "[info]   java.util.concurrent.TimeoutException: 30.seconds",
        *filler,
        "[info] - streams a large body *** FAILED ***",
        "[info] *** 2 TESTS FAILED ***",
        '\x1b[31;1mThe command "sbt test" exited with 1.\x1b[0m',
    ]
    log = write(tmp_path, "job.log", lines, stamp="")
    assert Path(log).stat().st_size > 1024 * 1024
    found = analyze_source(log, matcher)
    assert (found.category, found.rule) == ("test-failure", "scalatest-failed")
    assert (found.evidence[0].line, found.evidence[0].text) == (3, lines[2])

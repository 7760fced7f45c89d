"""The specific error a test runner prints below the line naming a failing test, or a wrapper
sums up above it, is shown first (rule fields ``details`` and ``wraps``).

Each log is the tool's real output shape inside a CI step; the bundled pack decides.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import run_cli
from pipeline_guard.engine.analysis import analyze_source
from pipeline_guard.engine.matcher import Matcher
from pipeline_guard.engine.rule import load_rules

GO_SUBTEST = [
    "$ go test ./...",
    "=== RUN   TestParse",
    "=== RUN   TestParse/empty",
    "=== RUN   TestParse/unicode",
    "--- FAIL: TestParse (0.00s)",
    "    --- PASS: TestParse/empty (0.00s)",
    "    --- FAIL: TestParse/unicode (0.00s)",
    '        parse_test.go:31: got "a", want "ä"',
    "FAIL",
    "FAIL\texample.com/parse\t0.004s",
    'The command "go test ./..." exited with 1.',
]
MOCHA = [
    "##[group]Run npm test",
    "  InvoiceService",
    "    ✓ lists invoices",
    "    1) adds VAT for EU customers",
    "",
    "  1 passing (12ms)",
    "  1 failing",
    "",
    "  1) InvoiceService adds VAT for EU customers:",
    "",
    "      AssertionError [ERR_ASSERTION]: Expected values to be strictly equal:",
    "      + actual - expected",
    "      at Context.<anonymous> (test/invoice.spec.js:31:12)",
    "##[error]Process completed with exit code 1.",
]
RUST = [
    "$ cargo test",
    "running 2 tests",
    "test parser::tests::accepts_empty ... ok",
    "test parser::tests::rejects_trailing_comma ... FAILED",
    "",
    "failures:",
    "",
    "---- parser::tests::rejects_trailing_comma stdout ----",
    "thread 'parser::tests::rejects_trailing_comma' panicked at src/parser.rs:88:9:",
    "assertion `left == right` failed",
    "",
    "test result: FAILED. 1 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out",
    'The command "cargo test" exited with 101.',
]
XCPRETTY = [
    "$ xcodebuild test -scheme App | xcpretty",
    "AppTests",
    "    ✓ testLoads (0.010 seconds)",
    '    ✗ testTotals, XCTAssertEqual failed: ("1") is not equal to ("2")',
    "",
    "",
    "AppTests",
    '  testTotals, XCTAssertEqual failed: ("1") is not equal to ("2")',
    "  /Users/runner/work/app/AppTests/AppTests.swift:12",
    "",
    "\t Executed 2 tests, with 1 failure (0 unexpected) in 0.020 (0.030) seconds",
    'The command "xcodebuild test -scheme App | xcpretty" exited with 65.',
]
PYTEST_SETUP_ERROR = [
    "##[group]Run pytest",
    "tests/test_db.py::test_migrations ERROR                                  [100%]",
    "",
    "==================================== ERRORS ====================================",
    "_______________________ ERROR at setup of test_migrations _______________________",
    "",
    "    @pytest.fixture",
    "    def database():",
    ">       url = os.environ['DATABASE_URL']",
    "E       KeyError: 'DATABASE_URL'",
    "",
    "tests/conftest.py:9: KeyError",
    "=========================== 1 error in 0.05s ===========================",
    "##[error]Process completed with exit code 1.",
]
GHC_WERROR = [
    "$ cabal build --ghc-options=-Werror",
    "[1 of 3] Compiling Types ( src/Types.hs, dist/build/Types.o )",
    "[2 of 3] Compiling Lib ( src/Lib.hs, dist/build/Lib.o )",
    "",
    "src/Lib.hs:38:1: warning: [-Wunused-imports]",
    "    The import of ‘Control.Monad’ is redundant",
    "",
    "<no location info>: error: ",
    "Failing due to -Werror.",
    'The command "cabal build --ghc-options=-Werror" exited with 1.',
]

PYTEST_QUIET = [
    "##[group]Run pytest -q",
    "..F.                                                                     [100%]",
    "=================================== FAILURES ===================================",
    "_ test_token_span[ok 2:30pm now-valid_spans10-sys_time] _",
    "    def test_token_span(x):",
    ">       helper(x)",
    "tests/test_core.py:9: ",
    "_ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _",
    "    def helper(x):",
    ">       assert x == 3",
    "E       assert 2 == 3",
    "tests/test_core.py:4: AssertionError",
    "=========================== short test summary info ============================",
    "FAILED tests/test_core.py::test_token_span[ok 2:30pm now-valid_spans10-sys_time] - assert 2",
    "1 failed, 3 passed in 0.12s",
    "##[error]Process completed with exit code 1.",
]
UNITTEST = [
    "$ python -m unittest",
    ".F",
    "======================================================================",
    "FAIL: test_total (tests.test_orders.OrderTests)",
    "----------------------------------------------------------------------",
    "Traceback (most recent call last):",
    '  File "/src/tests/test_orders.py", line 12, in test_total',
    "    self.assertEqual(total(), 107.5)",
    "AssertionError: 107.0 != 107.5",
    "",
    "----------------------------------------------------------------------",
    "Ran 2 tests in 0.001s",
    "",
    "FAILED (failures=1)",
    'The command "python -m unittest" exited with 1.',
]
JEST = [
    "##[group]Run npx jest",
    "FAIL test/main.test.js",
    "  Search",
    "    ✕ finds videos (12 ms)",
    "",
    "  ● Search › finds videos",
    "",
    "    ReferenceError: Constants is not defined",
    "",
    "Tests:       1 failed, 1 total",
    "##[error]Process completed with exit code 1.",
]

CASES = [
    pytest.param(PYTEST_QUIET, "pytest-failed-test", "E       assert 2 == 3", id="pytest-quiet"),
    pytest.param(UNITTEST, "unittest-failed-test", "AssertionError: 107.0 != 107.5", id="unittest"),
    pytest.param(JEST, "jest-failed-suite", "  ● Search › finds videos", id="jest"),
    pytest.param(
        GO_SUBTEST, "go-test-fail", '        parse_test.go:31: got "a", want "ä"', id="go"
    ),
    pytest.param(
        MOCHA,
        None,
        "      AssertionError [ERR_ASSERTION]: Expected values to be strictly equal:",
        id="mocha",
    ),
    pytest.param(
        RUST,
        "cargo-test-failed-test",
        "thread 'parser::tests::rejects_trailing_comma' panicked at src/parser.rs:88:9:",
        id="rust",
    ),
    pytest.param(
        XCPRETTY,
        "xcpretty-test-failed",
        '  testTotals, XCTAssertEqual failed: ("1") is not equal to ("2")',
        id="xcpretty",
    ),
    pytest.param(
        PYTEST_SETUP_ERROR, "pytest-error-test", "E       KeyError: 'DATABASE_URL'", id="pytest"
    ),
    pytest.param(
        GHC_WERROR, "ghc-werror", "src/Lib.hs:38:1: warning: [-Wunused-imports]", id="ghc"
    ),
]


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher(load_rules(bundled=True))


def write(tmp_path: Path, lines: list[str]) -> str:
    path = tmp_path / "job.log"
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return str(path)


@pytest.mark.parametrize(("lines", "rule", "first"), CASES)
def test_the_specific_error_is_shown_first(
    tmp_path: Path, matcher: Matcher, lines: list[str], rule: str | None, first: str
) -> None:
    found = analyze_source(write(tmp_path, lines), matcher)
    assert found.category == ("compile-error" if rule == "ghc-werror" else "test-failure")
    if rule is not None:
        assert found.rule == rule
    assert found.evidence[0].text == first
    assert found.evidence[0].line == lines.index(first) + 1
    assert len({line.line for line in found.evidence}) == len(found.evidence)


def test_the_decisive_line_stays_when_the_runner_printed_no_details(
    tmp_path: Path, matcher: Matcher
) -> None:
    """``go test`` without subtests: the parent line is the failure itself."""
    lines = [line for line in GO_SUBTEST if "TestParse/" not in line and "parse_test" not in line]
    found = analyze_source(write(tmp_path, lines), matcher)
    assert found.rule == "go-test-fail"
    assert found.evidence[0].text == "--- FAIL: TestParse (0.00s)"


def test_details_are_looked_for_below_the_match_only(tmp_path: Path, matcher: Matcher) -> None:
    """A header printed above the progress line (an earlier run's) is not this test's."""
    lines = [*XCPRETTY[5:8], *XCPRETTY[:5], *XCPRETTY[-1:]]
    found = analyze_source(write(tmp_path, lines), matcher)
    assert found.evidence[0].text.startswith("    ✗ testTotals")


def test_a_repository_rule_declares_where_its_runner_explains_a_failure(
    tmp_path: Path,
) -> None:
    """A rule author's own runner: ``details`` with ``{test}``, tested through the CLI."""
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "acme.yml").write_text(
        """
rules:
  - id: acme-check-failed
    category: test-failure
    title: acme check failed
    patterns: ['^CHECK (?P<test>[\\w.]+) \\.+ BAD$']
    details:
      header: '^== {test} ==$'
      error: '^  why: '
    explain: An acme check failed.
    advice: Read why below.
    examples: {match: ['CHECK totals.vat ... BAD'], no_match: ['CHECK totals.vat ... OK']}
""",
        encoding="utf-8",
    )
    log = tmp_path / "job.log"
    log.write_text(
        "$ acme check\nCHECK totals.vat ... BAD\nCHECK totals.sum ... OK\n\n"
        "== totals.sum ==\n  why: not this one\n== totals.vat ==\n  input: 3 rows\n"
        "  why: 19% expected, got 16%\n"
        'The command "acme check" exited with 1.\n',
        encoding="utf-8",
    )
    done = run_cli("analyze", str(log), "--rules", str(rules), "--no-bundled", "--format", "json")
    assert done.returncode == 0, done.stderr
    diagnosis = json.loads(done.stdout)["diagnoses"][0]
    assert diagnosis["rule"] == "acme-check-failed"
    assert [e["line"] for e in diagnosis["evidence"]][:2] == [9, 2]
    assert diagnosis["evidence"][0]["text"] == "  why: 19% expected, got 16%"

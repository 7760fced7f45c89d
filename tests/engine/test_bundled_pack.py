"""The bundled pack on the output of real tools: category, deciding rule and failing tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline_guard.engine.diagnosis import diagnose
from pipeline_guard.engine.matcher import Matcher
from pipeline_guard.engine.rule import load_rules
from pipeline_guard.engine.rule_checks import scan_text


@pytest.fixture(scope="module")
def pack() -> Matcher:
    return Matcher(load_rules(repo_root=Path("/nonexistent")))


TEST_RUNS = {
    "pytest": (
        "FAILED tests/test_api.py::test_get_user - AssertionError: assert 404 == 200\n",
        "tests/test_api.py::test_get_user",
    ),
    "unittest": (
        "FAIL: test_parse (tests.test_parser.ParserTest)\n"
        "-------------------------------------------------\n"
        "AssertionError: 1 != 2\n\nFAILED (failures=1)\n",
        "test_parse (tests.test_parser.ParserTest)",
    ),
    "jest": (
        "FAIL src/cart.test.js\n  ● Cart › adds an item\n\n    expect(received).toBe(expected)\n\n"
        "Tests:       1 failed, 12 passed, 13 total\n",
        "Cart › adds an item",
    ),
    "vitest": (
        " FAIL  src/lib/money.test.ts > formatMoney > rounds half cents up\n"
        " Test Files  1 failed | 27 passed (28)\n",
        "src/lib/money.test.ts > formatMoney > rounds half cents up",
    ),
    "go test": (
        "=== RUN   TestParseConfig\n    config_test.go:42: got 1, want 2\n"
        "--- FAIL: TestParseConfig (0.00s)\nFAIL\nFAIL\tgithub.com/acme/app/config\t0.012s\n",
        "TestParseConfig",
    ),
    "maven surefire": (
        "[ERROR] Tests run: 3, Failures: 1, Errors: 0, Skipped: 0, Time elapsed: 0.05 s"
        " <<< FAILURE! - in com.acme.UserServiceTest\n"
        "[ERROR] testCreate(com.acme.UserServiceTest)  Time elapsed: 0.01 s  <<< FAILURE!\n",
        "testCreate(com.acme.UserServiceTest)",
    ),
    "gradle": (
        "UserServiceTest > testCreate() FAILED\n"
        "    org.opentest4j.AssertionFailedError at UserServiceTest.java:42\n"
        "3 tests completed, 1 failed\n",
        "UserServiceTest > testCreate()",
    ),
    "cargo test": (
        "running 2 tests\ntest parser::tests::parses_empty ... FAILED\n"
        "test parser::tests::one ... ok\n"
        "\nfailures:\n\ntest result: FAILED. 1 passed; 1 failed; 0 ignored; 0 measured\n",
        "parser::tests::parses_empty",
    ),
    "rspec": (
        "Failures:\n\n  1) User validates email\n     Failure/Error: expect(user).to be_valid\n\n"
        "3 examples, 1 failure\n\nFailed examples:\n\n"
        "rspec ./spec/models/user_spec.rb:12 # User validates email\n",
        "User validates email",
    ),
    "dotnet test": (
        "  Failed Acme.Tests.UserTests.Create [12 ms]\n"
        "  Error Message:\n   Assert.Equal() Failure\n"
        "Failed!  - Failed:     1, Passed:    10, Skipped:     0, Total:    11\n",
        "Acme.Tests.UserTests.Create",
    ),
}


@pytest.mark.parametrize("framework", sorted(TEST_RUNS))
def test_failing_tests_are_named(pack: Matcher, framework: str) -> None:
    log, test = TEST_RUNS[framework]
    verdict = diagnose(scan_text(pack, log), "job.log")
    assert verdict.category == "test-failure"
    assert test in verdict.tests


ROOT_CAUSES = {
    # a registry outage during install explains the test failures after it
    "network before tests": (
        "npm ERR! code ECONNRESET\n"
        "npm ERR! network request to https://registry.npmjs.org/x failed\n"
        "FAIL src/cart.test.js\n  ● Cart › adds an item\n",
        "network",
    ),
    # an out-of-memory kill explains the broken build
    "oom during build": (
        "[ 40%] Building CXX object src/CMakeFiles/core.dir/big.cpp.o\n"
        "c++: fatal error: Killed signal terminated program cc1plus\n"
        "make[2]: *** [src/CMakeFiles/core.dir/big.cpp.o] Error 1\n",
        "out-of-memory",
    ),
    # a lockfile out of sync is the cause, not the install that then fails
    "stale lockfile": (
        "npm ERR! code EUSAGE\n"
        "npm ERR! `npm ci` can only install packages when your package.json and package-lock.json"
        " or npm-shrinkwrap.json are in sync. Please update your lock file with `npm install`"
        " before continuing.\n",
        "lockfile",
    ),
    "formatter check": ("would reformat src/app/models.py\nOh no! 💥 💔 💥\n", "format"),
    "disk full in docker build": (
        "#12 4.321 ERROR: failed to copy files: write /var/lib/x: no space left on device\n",
        "disk-full",
    ),
    "job timeout": (
        "##[error]The job running on runner GitHub Actions 12 has exceeded the maximum execution "
        "time of 360 minutes.\n",
        "timeout",
    ),
}


@pytest.mark.parametrize("case", sorted(ROOT_CAUSES))
def test_the_earliest_root_cause_is_named(pack: Matcher, case: str) -> None:
    log, category = ROOT_CAUSES[case]
    assert diagnose(scan_text(pack, log), "job.log").category == category

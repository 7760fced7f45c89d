"""The step that ended the job, found from each CI system's markers and exit lines."""

from __future__ import annotations

from conftest import make_rule, scan
from pipeline_guard.engine.step_tracker import FailingStep, JobStep, failing_step, parse_exit

STAMP = "2026-01-01T00:00:00.0000000Z "
RULES = [make_rule()]


def failing(text: str, job_steps: tuple[JobStep, ...] = ()) -> FailingStep:
    step = failing_step(scan(RULES, text).steps, job_steps)
    assert step is not None
    return step


def github_log(*steps: tuple[str, list[str], int | None]) -> str:
    lines = []
    for title, output, code in steps:
        lines.append(f"{STAMP}##[group]Run {title}")
        lines += [STAMP + line for line in output]
        if code is not None:
            lines.append(f"{STAMP}##[error]Process completed with exit code {code}.")
    return "\n".join(lines) + "\n"


def test_exit_lines_of_each_ci_system() -> None:
    cases = {
        "Process completed with exit code 2.": (2, None, False),
        'The command "bundle exec rake" exited with 1.': (1, "bundle exec rake", False),
        'The command "npm test" exited with 0.': (0, "npm test", False),
        "ERROR: Job failed: exit code 137": (137, None, True),
        "ERROR: script returned exit code 1": (1, None, False),
        "Bash exited with code '1'.": (1, None, False),
        "Done. Your build exited with 1.": (1, None, True),
    }
    for text, (code, command, job_level) in cases.items():
        found = parse_exit(text, 7, None)
        assert found is not None, text
        assert (found.code, found.command, found.job_level) == (code, command, job_level)
    assert parse_exit("it exited fine", 1, None) is None


def test_github_the_step_with_the_failing_exit_not_the_steps_around_it() -> None:
    log = github_log(
        ("pip install -r requirements.txt", ["Successfully installed requests"], None),
        ("pytest", ["FAILED tests/test_a.py::test_one"], 1),
        ("actions/upload-artifact@v4", ["Uploaded"], None),
    )
    step = failing(log)
    assert step.name == "Run pytest"
    assert (step.first_line, step.exit_line) == (3, 5)
    assert [line.text for line in step.lines()][1] == "FAILED tests/test_a.py::test_one"


def test_github_jobs_api_names_the_failed_step_when_an_earlier_one_continued_on_error() -> None:
    log = github_log(("flake8 src", ["src/a.py:1:1: F401 unused"], 1), ("pytest", ["boom"], 1))
    assert failing(log).name == "Run flake8 src"  # without the API: the first failure
    api = (JobStep("flake8 src", 2, "success"), JobStep("pytest", 3, "failure"))
    assert failing(log, api).name == "Run pytest"


def test_gitlab_job_failed_points_at_step_script_and_its_last_command() -> None:
    log = (
        "section_start:1:prepare_script\r\x1b[0KPreparing\n"
        "section_end:2:prepare_script\r\x1b[0K\n"
        "section_start:3:step_script\r\x1b[0KExecuting\n"
        "$ pip install .\n"
        "Successfully installed demo\n"
        "$ pytest\n"
        "E   assert 1 == 2\n"
        "section_end:4:step_script\r\x1b[0K\n"
        "section_start:5:after_script\r\x1b[0KRunning after_script\n"
        "$ cp logs/*.log out/\n"
        "cp: cannot stat 'logs/*.log': No such file or directory\n"
        "section_end:6:after_script\r\x1b[0K\n"
        "ERROR: Job failed: exit code 1\n"
    )
    step = failing(log)
    assert step.name == "step_script"
    assert (step.first_line, step.command_line, step.focus) == (3, 6, 6)
    assert all("cannot stat" not in line.text for line in step.lines())


def test_travis_the_first_failing_command_and_its_echo() -> None:
    log = (
        "travis_fold:start:install\x1b[0K$ npm ci\nadded 10 packages\ntravis_fold:end:install\n"
        "$ npm run lint\nlint ok\n"
        'The command "npm run lint" exited with 0.\n'
        "$ npm test\n  1 failing\n"
        'The command "npm test" exited with 1.\n'
        "$ npm run e2e\nTimeout\n"
        'The command "npm run e2e" exited with 1.\n'
        "Done. Your build exited with 1.\n"
    )
    step = failing(log)
    assert (step.command_line, step.exit_line) == (7, 9)


def test_a_plain_log_without_exit_line_ends_at_its_tail_from_the_last_echo() -> None:
    log = "+ make lint\nwarning: x\n+ ./run-tests.sh\nFAIL: test_x\n"
    step = failing(log)
    assert step.exit is None
    assert step.focus == 3

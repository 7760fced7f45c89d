"""The lab's reading of a whole log's failing step: what the line ranker learns from."""

from __future__ import annotations

from pathlib import Path

from pipeline_guard.lab.step_lines import step_lines


def test_github_step_that_failed_is_cut_from_its_group_to_its_exit(tmp_path: Path) -> None:
    log = tmp_path / "job.log"
    log.write_text(
        "2024-01-01T10:00:00.0000000Z ##[group]Run actions/checkout@v4\n"
        "2024-01-01T10:00:01.0000000Z error: a warning-looking line in a step that passed\n"
        "2024-01-01T10:00:02.0000000Z ##[group]Run npm test\n"
        "2024-01-01T10:00:03.0000000Z FAIL src/app.test.js\n"
        "2024-01-01T10:00:04.0000000Z ##[error]Process completed with exit code 1.\n"
        "2024-01-01T10:00:05.0000000Z ##[group]Run actions/upload-artifact@v4\n"
    )
    step = step_lines(log)
    assert step.first_line == 3
    assert step.texts == [
        "Run npm test",
        "FAIL src/app.test.js",
        "Process completed with exit code 1.",
    ]
    assert step.exit_index == 2


def test_travis_command_echo_starts_the_step_and_a_later_job_exit_does_not_win(
    tmp_path: Path,
) -> None:
    log = tmp_path / "job.log"
    log.write_text(
        "$ bundle install\n"
        "Fetching gems\n"
        "$ bundle exec rake\n"
        "Failure: expected 1, got 2\n"
        'The command "bundle exec\n'
        'rake" exited with 1.\n'
        "$ artifacts upload\n"
        "Done. Your build exited with 1.\n"
    )
    step = step_lines(log)
    assert step.texts[0] == "$ bundle exec rake"
    assert step.texts[step.exit_index] == 'rake" exited with 1.'


def test_a_log_without_an_exit_line_ends_at_its_last_line(tmp_path: Path) -> None:
    log = tmp_path / "job.log"
    log.write_text("$ make\ncc -c x.c\nx.c:3: error: expected ';'\n")
    step = step_lines(log)
    assert step.texts == ["$ make", "cc -c x.c", "x.c:3: error: expected ';'"]
    assert step.exit_index == len(step.lines)

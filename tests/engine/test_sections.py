"""Step tracking from the markers each CI system prints."""

from __future__ import annotations

from pipeline_guard.engine.step_tracker import StepTracker


def steps_after(lines: list[str]) -> list[str | None]:
    tracker = StepTracker()
    seen = []
    for line in lines:
        tracker.feed(line)
        seen.append(tracker.current)
    return seen


def test_github_steps_start_with_run_and_ignore_user_groups() -> None:
    assert steps_after(
        [
            "2026-01-01T00:00:00.0000000Z ##[group]Run actions/checkout@v4",
            "2026-01-01T00:00:00.0000000Z ##[group]Getting Git version info",
            "2026-01-01T00:00:00.0000000Z ##[group]Run npm ci",
            "2026-01-01T00:00:00.0000000Z ##[group]Post Run actions/checkout@v4",
        ]
    ) == [
        "Run actions/checkout@v4",
        "Run actions/checkout@v4",
        "Run npm ci",
        "Post Run actions/checkout@v4",
    ]


def test_gitlab_sections_nest_and_close() -> None:
    assert steps_after(
        [
            "section_start:1700000000:step_script\r\x1b[0KExecuting",
            "section_start:1700000001:npm_install[collapsed=true]\r\x1b[0KInstalling",
            "section_end:1700000002:npm_install\r\x1b[0K",
            "section_end:1700000003:step_script\r\x1b[0K",
        ]
    ) == ["step_script", "npm_install", "step_script", None]


def test_travis_azure_and_jenkins_markers() -> None:
    assert steps_after(
        [
            "travis_fold:start:install.1\r$ bundle install",
            "travis_fold:end:install.1\r",
            "##[section]Starting: Build solution",
            "[Pipeline] { (Unit tests)",
        ]
    ) == ["install.1", None, "Build solution", "Unit tests"]

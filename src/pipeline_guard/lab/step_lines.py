"""The failing step of a whole log, as the line ranker is trained and cross-validated on it.

In: a log file. Out: :class:`StepLines`, the cleaned lines of the step or command that ended
the job and the index of its exit line: exactly what
:meth:`~pipeline_guard.engine.prediction.LineScorer.score_lines` is given at inference.

This is the lab's own, self-contained reading (a whole log in memory, fine for corpora of a few
MB per log); the engine finds the failing step during its streaming scan. The two need not
agree line for line: the ranker learns which line of a step explains the failure, and both
readings give it the output of the failing command up to its exit.

Which exit: the last failing exit of a command or step (GitHub ``Process completed with exit
code N``, Travis ``The command "..." exited with N``, Azure ``Bash exited with code``, Jenkins
``script returned exit code`` / ``Build step ... marked build as failure``), else a job-level
one (GitLab ``ERROR: Job failed``, Travis ``Done. Your build exited with``, Jenkins
``Finished: FAILURE``), else the end of the log. Where the step begins: the last GitHub
``##[group]Run`` step, Jenkins stage or command echo (``$ cmd``, ``+ cmd``) before the exit,
at most :data:`MAX_STEP_LINES` lines back.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pipeline_guard.engine.log_reader import CleanLine, clean_block, clean_line

MAX_STEP_LINES = 20_000
"""Lines kept before the exit when no step start is found nearer (a freestyle Maven build)."""

_COMMAND_EXITS = re.compile(
    r"Process completed with exit code [1-9]"
    r"|\" (?:failed and )?exited with [1-9]"
    r"|(?:Bash|Cmd\.exe|PowerShell|pwsh|Script) (?:exited|failed) with (?:exit )?code:? '?[1-9]"
    r"|^ERROR: script returned exit code [1-9]"
    r"|^Build step '[^']*' marked build as failure"
)
_JOB_EXITS = re.compile(
    r"^ERROR: Job failed|^Done\. Your build exited with [1-9]|^Finished: FAILURE"
    r"|The operation was canceled|exceeded the maximum (?:execution )?time"
    r"|No output has been received in the last"
)
_STEP_START = re.compile(r"^##\[group\]Run |^\[Pipeline\] \{ \(|^(?:\$|\+{1,3}) \S")
_RAW_GROUP = re.compile(rb"##\[group\]Run ")
"""``clean_line`` drops the ``##[group]`` marker, so step starts are found on the raw line."""


@dataclass(frozen=True, slots=True)
class StepLines:
    """The failing step's cleaned lines, up to and including its exit line."""

    lines: list[CleanLine]
    exit_index: int
    """Index of the exit line in :attr:`lines` (``len(lines)`` for a log without one)."""

    @property
    def first_line(self) -> int:
        """1-based log line of ``lines[0]`` (the log's lines are numbered from 1)."""
        return self.lines[0].number if self.lines else 1

    @property
    def texts(self) -> list[str]:
        return [line.text for line in self.lines]


def read_log_lines(path: Path) -> tuple[list[CleanLine], list[bool]]:
    """Every line of a log, cleaned, and whether each one opens a GitHub step."""
    raws = clean_block(path.read_bytes()).split(b"\n")
    if raws and raws[-1] == b"":
        raws.pop()
    lines = [clean_line(raw, number) for number, raw in enumerate(raws, start=1)]
    return lines, [bool(_RAW_GROUP.search(raw[:200])) for raw in raws]


def step_lines(path: Path) -> StepLines:
    """The failing step of the log at ``path`` (see the module docstring)."""
    lines, groups = read_log_lines(path)
    return failing_step_of(lines, groups)


def failing_step_of(lines: Sequence[CleanLine], groups: Sequence[bool]) -> StepLines:
    """The failing step among a whole log's cleaned lines."""
    exit_at = _exit_index(lines)
    start = _step_start(lines, groups, exit_at)
    end = min(exit_at + 1, len(lines))
    return StepLines(list(lines[start:end]), exit_at - start)


def _exit_index(lines: Sequence[CleanLine]) -> int:
    commands = [i for i, line in enumerate(lines) if _COMMAND_EXITS.search(line.text)]
    if commands:
        return commands[-1]
    jobs = [i for i, line in enumerate(lines) if _JOB_EXITS.search(line.text)]
    return jobs[0] if jobs else len(lines)


def _step_start(lines: Sequence[CleanLine], groups: Sequence[bool], exit_at: int) -> int:
    floor = max(0, exit_at - MAX_STEP_LINES)
    for index in range(min(exit_at, len(lines)) - 1, floor - 1, -1):
        if groups[index] or _STEP_START.search(lines[index].text):
            return index
    return floor

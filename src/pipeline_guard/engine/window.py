"""The failure window: the few lines of a log that say why it failed.

The model pack never sees a whole log (a 100 MB log is mostly noise, and the noise differs
from project to project); it sees this window, made of what the scan already kept. Where the
step that ended the job is known (:mod:`pipeline_guard.engine.step_tracker`), the window is that
step's: the lines rules matched in it, its last lines before the exit and its error-looking
lines, so set-up output and steps that succeeded do not speak. Otherwise it is the log's: the
lines rules matched (where known failures are), the error-looking lines near the end, and the
last lines. Training and inference build it with this same function, so what the model learnt
from is exactly what it is shown.
"""

from __future__ import annotations

import re

from pipeline_guard.engine.log_reader import CleanLine
from pipeline_guard.engine.matcher import ERRORISH_KEYWORDS, ScanResult

MAX_WINDOW_LINES = 200
MAX_HIT_LINES = 60
LAST_LINES = 20

_ERRORISH = re.compile("|".join(re.escape(word) for word in ERRORISH_KEYWORDS), re.IGNORECASE)


def failure_window(scan: ScanResult) -> list[CleanLine]:
    """The lines around the decisive errors, in log order, at most ``MAX_WINDOW_LINES``."""
    if scan.failing is not None and scan.failing.exit is not None:
        return _step_window(scan)
    chosen: dict[int, CleanLine] = {}
    for hit in sorted(scan.hits, key=lambda hit: hit.line.number)[:MAX_HIT_LINES]:
        chosen[hit.line.number] = hit.line
    for line in scan.tail[-LAST_LINES:]:
        chosen.setdefault(line.number, line)
    for line in reversed(scan.errorish):
        if len(chosen) >= MAX_WINDOW_LINES:
            break
        chosen.setdefault(line.number, line)
    return [chosen[number] for number in sorted(chosen) if chosen[number].text.strip()]


def _step_window(scan: ScanResult) -> list[CleanLine]:
    """The failing command's window: its rule hits, last lines and error-looking lines."""
    step = scan.failing
    assert step is not None
    lines = [line for line in step.lines() if line.number >= step.focus]
    chosen: dict[int, CleanLine] = {}
    numbers = {line.number for line in lines}
    for hit in sorted(scan.step_hits, key=lambda hit: hit.line.number):
        if hit.line.number in numbers and len(chosen) < MAX_HIT_LINES:
            chosen[hit.line.number] = hit.line
    for line in lines[-LAST_LINES:]:
        chosen.setdefault(line.number, line)
    for line in reversed(lines):
        if len(chosen) >= MAX_WINDOW_LINES:
            break
        if _ERRORISH.search(line.text):
            chosen.setdefault(line.number, line)
    return [chosen[number] for number in sorted(chosen) if chosen[number].text.strip()]

"""The failure window: the few lines of a log that say why it failed.

The model pack never sees a whole log (a 100 MB log is mostly noise, and the noise differs
from project to project); it sees this window, made of what the scan already kept: the lines
rules matched (where known failures are), the error-looking lines near the end, and the last
lines of the log. Training and inference build it with this same function, so what the model
learnt from is exactly what it is shown.
"""

from __future__ import annotations

from pipeline_guard.engine.log_reader import CleanLine
from pipeline_guard.engine.matcher import ScanResult

MAX_WINDOW_LINES = 200
MAX_HIT_LINES = 60
LAST_LINES = 20


def failure_window(scan: ScanResult) -> list[CleanLine]:
    """The lines around the decisive errors, in log order, at most ``MAX_WINDOW_LINES``."""
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

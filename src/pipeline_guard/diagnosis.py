"""Turn what the matcher found in one log into one diagnosis: why the job failed.

When several rules fire, the *earliest root cause* wins, not the last or the loudest line: a
rule's rank (its ``priority``, by default its category's, see
:data:`~pipeline_guard.categories.DEFAULT_PRIORITY`) says which failures can cause which, and
among equal ranks the match that comes first in the log wins, since what broke first usually
broke what came after. When no rule fires the diagnosis is ``unknown`` and carries the most
relevant error lines, so the reader still sees where to look.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pydantic import BaseModel, Field

from pipeline_guard.categories import Action, Category, default_action
from pipeline_guard.clean import CleanLine
from pipeline_guard.matcher import Hit, ScanResult

MAX_EVIDENCE = 6

UNKNOWN_TITLE = "No known cause found"
UNKNOWN_EXPLAIN = (
    "No rule of the pack matched this log, so pipeline-guard cannot name the cause. "
    "The lines below are the ones that look most like the error."
)
UNKNOWN_ADVICE = (
    "Read the job log around the lines shown. If this failure comes back, write a rule for "
    "it in .pipeline-guard/rules/ (see `pipeline-guard rules test`) so it is recognised."
)

_BOILERPLATE = re.compile(
    r"Process completed with exit code|exited with (?:code|status)? ?\d|returned a non-zero code"
    r"|^ERROR: Job failed: exit (?:code|status)|^Error: Process completed|Build step .* failed"
    r"|^The command \".*\" exited with|^make(?:\[\d+\])?: \*\*\* |^Error: Command failed",
    re.IGNORECASE,
)
_STRONG = re.compile(
    r"\b(?:error|fatal|exception|panic|traceback|failed|failure)\b|✖|✗", re.IGNORECASE
)


class Evidence(BaseModel):
    """A log line that supports the diagnosis: its 1-based number in the raw log and text."""

    line: int
    text: str


class Diagnosis(BaseModel):
    """Why one job failed. The JSON form of this model is a public contract."""

    source: str
    category: Category
    confidence: float = Field(ge=0.0, le=1.0)
    action: Action
    rule: str | None
    title: str
    explain: str
    advice: str
    evidence: list[Evidence]
    step: str | None
    tests: list[str]


def diagnose(scan: ScanResult, source: str) -> Diagnosis:
    """The one diagnosis for a scanned log."""
    if not scan.hits:
        return _unknown(scan, source)
    decisive = min(scan.hits, key=_root_cause_order)
    rule = decisive.rule
    return Diagnosis(
        source=source,
        category=rule.category,
        confidence=rule.confidence,
        action=default_action(rule.category, rule.fix),
        rule=rule.id,
        title=rule.title,
        explain=rule.explain,
        advice=rule.advice,
        evidence=_evidence(decisive, scan.hits),
        step=decisive.line.step,
        tests=list(scan.tests),
    )


def _root_cause_order(hit: Hit) -> tuple[int, int]:
    return (-hit.rule.rank, hit.line.number)


def _evidence(decisive: Hit, hits: Sequence[Hit]) -> list[Evidence]:
    """The decisive line first, then other lines of the same category in log order."""
    same = sorted(
        {
            hit.line.number: hit.line
            for hit in hits
            if hit.rule.category == decisive.rule.category
            and hit.line.number != decisive.line.number
        }.values(),
        key=lambda line: line.number,
    )
    lines = [decisive.line, *same[: MAX_EVIDENCE - 1]]
    return [Evidence(line=line.number, text=line.text) for line in lines]


def _unknown(scan: ScanResult, source: str) -> Diagnosis:
    lines = relevant_error_lines(scan.errorish, scan.tail)
    return Diagnosis(
        source=source,
        category=Category.UNKNOWN,
        confidence=0.0,
        action=default_action(Category.UNKNOWN, None),
        rule=None,
        title=UNKNOWN_TITLE,
        explain=UNKNOWN_EXPLAIN,
        advice=UNKNOWN_ADVICE,
        evidence=[Evidence(line=line.number, text=line.text) for line in lines],
        step=lines[0].step if lines else None,
        tests=list(scan.tests),
    )


def relevant_error_lines(
    errorish: Sequence[CleanLine], tail: Sequence[CleanLine], limit: int = 5
) -> list[CleanLine]:
    """The lines most likely to say what went wrong, most telling first.

    Error-looking lines that are not mere "exited with code 1" boilerplate, preferring strong
    words (error, fatal, exception) and, among those, the earliest of the last few; the tail
    of the log when nothing looks like an error.
    """
    candidates = [
        line for line in errorish if line.text.strip() and not _BOILERPLATE.search(line.text)
    ]
    if not candidates:
        candidates = [line for line in errorish if line.text.strip()]
    if not candidates:
        return [line for line in tail if line.text.strip()][-limit:]
    strong = [line for line in candidates if _STRONG.search(line.text)]
    chosen = (strong or candidates)[-limit:]
    return sorted(chosen, key=lambda line: line.number)

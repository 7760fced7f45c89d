"""Turn what the matcher found in one log into one diagnosis: why the job failed.

Rules first: when several rules fire, the *earliest root cause* wins, not the last or the
loudest line. A rule's rank (its ``priority``, by default its category's, see
:data:`~pipeline_guard.categories.DEFAULT_PRIORITY`) says which failures can cause which, and
among equal ranks the match that comes first in the log wins, since what broke first usually
broke what came after.

Model second: a rule match with confidence of at least :data:`RULE_TRUST` decides alone. Where
rules are silent or only weakly sure, the model pack scores the failure window; its category
is used when its calibrated probability reaches the pack's threshold (and beats the weak
rule's confidence). Otherwise the weak rule stands, or the diagnosis is ``unknown`` with the
most relevant error lines, so the reader still sees where to look: a wrong category is worse
than an honest "don't know".
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pydantic import BaseModel, Field

from pipeline_guard.categories import CATEGORY_TEXT, Action, Category, default_action
from pipeline_guard.engine.log_reader import CleanLine
from pipeline_guard.engine.matcher import Hit, ScanResult
from pipeline_guard.engine.prediction import WEAK, Prediction, Scorer
from pipeline_guard.engine.window import failure_window

MAX_EVIDENCE = 6
RULE_TRUST = 0.8
MODEL_RULE = "model"

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
    fix: str | None = None  # the fixer id the rule names (its `fix:` field), if any


def diagnose(scan: ScanResult, source: str, model: Scorer | None = None) -> Diagnosis:
    """The one diagnosis for a scanned log, from its rule matches and the model pack."""
    decisive = root_cause(scan.hits)
    rule_confidence = decisive.rule.confidence if decisive is not None else None
    if (
        model is not None
        and not rule_decides_alone(rule_confidence)
        and model_may_speak(rule_confidence, model.scope)
    ):
        window = failure_window(scan)
        if window:
            prediction = model.predict([line.text for line in window])
            if model_overrules(rule_confidence, prediction, model.threshold, model.scope):
                return _from_model(prediction, window, scan, source)
    if decisive is not None:
        return _from_rule(decisive, scan, source)
    return _unknown(scan, source)


def rule_decides_alone(rule_confidence: float | None) -> bool:
    """A rule sure enough that the model is not even asked."""
    return rule_confidence is not None and rule_confidence >= RULE_TRUST


def model_overrules(
    rule_confidence: float | None, prediction: Prediction, threshold: float, scope: str
) -> bool:
    """Whether the model's category replaces the rules' verdict (or their silence)."""
    if not model_may_speak(rule_confidence, scope) or prediction.category == Category.UNKNOWN:
        return False
    return prediction.probability >= threshold and prediction.probability > (rule_confidence or 0.0)


def model_may_speak(rule_confidence: float | None, scope: str) -> bool:
    """Whether the rules leave room for the model, given where the pack may speak."""
    if rule_confidence is None:
        return True
    return scope == WEAK and not rule_decides_alone(rule_confidence)


def _from_rule(decisive: Hit, scan: ScanResult, source: str) -> Diagnosis:
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
        fix=rule.fix,
    )


def _from_model(
    prediction: Prediction, window: Sequence[CleanLine], scan: ScanResult, source: str
) -> Diagnosis:
    """A diagnosis the model made: its evidence is the lines that weighed most for it."""
    category = Category(prediction.category)
    title, explain, advice = CATEGORY_TEXT[category]
    best = max(prediction.line_scores)
    weighed = sorted(
        (pair for pair in zip(prediction.line_scores, window, strict=True) if pair[0] >= best / 2),
        key=lambda pair: -pair[0],
    )
    lines = [line for _, line in weighed[:MAX_EVIDENCE]]
    return Diagnosis(
        source=source,
        category=category,
        confidence=round(prediction.probability, 3),
        action=default_action(category, None),
        rule=MODEL_RULE,
        title=title,
        explain=explain + " (This is the model pack's judgement: no rule matched with confidence.)",
        advice=advice,
        evidence=[Evidence(line=line.number, text=line.text) for line in lines],
        step=lines[0].step,
        tests=list(scan.tests),
    )


def root_cause(hits: Sequence[Hit]) -> Hit | None:
    """The hit that names the earliest root cause: the highest rank, then the first line.

    Ranks order the categories by what can cause what (an environment failure breaks the
    install, which breaks the build, which breaks the tests), so the cause outranks its
    effects wherever it appears; weak signals (retry warnings, wrapper summaries) carry low
    ranks of their own and decide only when nothing stronger matched. Between equals, what
    broke first in the log wins.
    """
    return min(hits, key=lambda hit: (-hit.rule.rank, hit.line.number), default=None)


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

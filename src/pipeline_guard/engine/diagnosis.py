"""Turn what the matcher found in one log into one diagnosis: why the job failed.

Rules first: when several rules fire, the *earliest root cause* wins, not the last or the
loudest line. A rule's rank (its ``priority``, by default its category's, see
:data:`~pipeline_guard.categories.DEFAULT_PRIORITY`) says which failures can cause which, and
among equal ranks the match that comes first in the log wins, since what broke first usually
broke what came after.

Model second: a rule match with confidence of at least :data:`RULE_TRUST` decides alone. Where
rules are silent or only weakly sure, the model pack scores the failure window; its category
is used when its calibrated probability reaches the pack's threshold (and beats the weak
rule's confidence). Otherwise the weak rule stands; where no rule speaks at all, the pack's
step classifier may name the category from the failing command and its last error lines
(:func:`step_inputs`, above its cross-validated threshold); else the diagnosis is ``unknown``
with the most relevant error lines, so the reader still sees where to look: a wrong category
is worse than an honest "don't know". A model's judgement never makes a retry.

Inside the failing step, network and rate-limit errors yield to a test failure of the same
step and to a later error that a lost connection does not cause (:func:`transient_yields`),
and a link checker's report about a URL it checked is not a network failure of the job.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from pipeline_guard.categories import (
    CATEGORY_TEXT,
    RETRY_CATEGORIES,
    Action,
    Category,
    default_action,
)
from pipeline_guard.engine.log_reader import CleanLine
from pipeline_guard.engine.matcher import Hit, ScanResult
from pipeline_guard.engine.prediction import WEAK, LineScorer, Prediction, Scorer, StepVerdict
from pipeline_guard.engine.specific_error import details_below, wrapped_above
from pipeline_guard.engine.step_tracker import FailingStep, failing_step
from pipeline_guard.engine.window import failure_window

MAX_EVIDENCE = 6
WRAPPED_LOOKBACK = 40
CLUSTER_GAP = 3
"""Error-looking lines at most this far apart belong to one error report."""
CLUSTER_LINES = 30
"""Lines above a wrapper (``make: *** Error 2``) searched for the specific error it wraps."""
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
    r"|^The command \".*\" exited with|^make(?:\[\d+\])?: \*\*\* \[[^\]]*\] Error \d+$"
    r"|^Error: Command failed"
    r"|^\*\*\* Failed \*\*\*|^npm ERR! (?:Failed at the|Exit status"
    r"|This is probably|A complete log|Tell the author|not with npm)|^Done\. Your build exited",
    re.IGNORECASE,
)
_ERRORISH = re.compile(
    r"error|fail|fatal|exception|traceback|panic|killed|denied|refused|abort|timed out|timeout"
    r"|cannot|could not|unable to|not found|exit code|exited with|✖|✗|×",
    re.IGNORECASE,
)
_NOT_EVIDENCE = re.compile(
    r"^\s*(?:\$|\+{1,3}) \S"  # command echoes: `$ cmd`, `+ cmd` (set -x)
    r"|^\s*(?:export |declare -x )?[A-Za-z_][A-Za-z0-9_]*=\S"  # environment dumps
    r"|^\s*#"  # comments (Travis's sudoers file: "give useful error messages")
    r"|^\W{0,4}(?:W:|WARN(?:ING)?\b|(?i:warning):|DEPRECATION|DEBUG\b|\[(?:WARN(?:ING)?|DEBUG)\])"
    r"|^\s*(?:travis_|section_(?:start|end):)"
    r"|^checking (?:for |whether |if )",  # autoconf probes ("-Werror ... no")
)
_COUNTS = re.compile(
    r"(?i)\b(?:fail(?:ed|ures?)|errors?)\b:? ?=?(\d+)\b(?![.,]\d)"
    r"|\b(\d+) (?:failed|failures?|errors?)\b"
)
_CONTEXT = re.compile(
    r"^\s*(?:W:|Warn(?:ing)?:|WARN(?:ING)?\b|\[WARN(?:ING)?\]|npm WARN|DEPRECATION|DEBUG\b"
    r"|\[DEBUG\]|level=(?:debug|warn(?:ing)?)\b)"
    r"|\bRetrying \(Retry\(total=|\bretrying in\b|\bwill retry\b|\bRetrying\b.*\battempt\b"
    r"|^\s*(?:ok \d+\b|--- (?:PASS|SKIP):|\[ ?(?:PASS|OK|SKIP)\b|✓|✔|PASS\b)"
    r"|\s(?:PASSED|SKIPPED|XFAIL|ok)\s*(?:\[\s*\d+%\])?\s*$"
    r"|\.\.\. (?:ok|skipped\b)",
)
"""Lines that report what a job survived or what passed (as :func:`is_context_line` says)."""
_SAYS_ERROR = re.compile(
    r"^\W{0,8}(?i:error|fatal|panic|exception|traceback|fail(?:ed|ure)?|E)\b"
    r"|\b\w*(?:Error|Exception|Failure)\b:|(?i:\berror(?:\[\w+\])?:|\bfatal:)"
    r"|(?i:\bfail(?:ed|ure)?\b)\W*$|\bFAIL(?:ED)?\b|\bERROR\b|\bnot found\b|✖|✗",
)
"""A line that states an error (``error:``, ``FooError:``, ``FAILED``), not one that merely
contains the word (a file ``Error.pm``, a description "handles errors")."""
_STRONG = re.compile(
    r"\b(?:error|fatal|exception|panic|traceback|failed|failure)\b|✖|✗", re.IGNORECASE
)


@dataclass(frozen=True, slots=True)
class Evidence:
    """A log line that supports the diagnosis: its 1-based number in the raw log and text."""

    line: int
    text: str


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """Why one job failed. Its JSON form (:meth:`as_json`) is a public contract.

    A dataclass, not a pydantic model, so that ``analyze`` starts without importing pydantic;
    values are made here, by the engine, never parsed from input (see :meth:`from_json`).
    """

    source: str
    category: Category
    confidence: float
    action: Action
    rule: str | None
    title: str
    explain: str
    advice: str
    evidence: list[Evidence]
    step: str | None
    tests: list[str]
    fix: str | None = None  # the fixer id the rule names (its `fix:` field), if any
    baseline: str | None = None
    """The green log compared against (lines also found there were not taken as the cause)."""

    def as_json(self) -> dict[str, Any]:
        """The JSON form: plain values, categories and actions as their names."""
        data = asdict(self)
        data["category"] = self.category.value
        data["action"] = self.action.value
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Diagnosis:
        """A diagnosis from :meth:`as_json` output (after redaction rewrote its strings)."""
        fields = {
            **data,
            "category": Category(data["category"]),
            "action": Action(data["action"]),
            "evidence": [Evidence(**item) for item in data["evidence"]],
            "tests": list(data["tests"]),
        }
        return cls(**fields)


@dataclass(frozen=True, slots=True)
class Selection:
    """Which of the whole-log steps diagnosis takes; all of them unless an ablation says not."""

    failing_step: bool = True
    """Look for the cause inside the step that ended the job (and only there)."""
    terminal: bool = True
    """Leave out recovered, warning, debug and passing-test lines; wrappers yield."""


FULL = Selection()
RULES_ALONE = Selection(failing_step=False, terminal=False)


def diagnose(
    scan: ScanResult,
    source: str,
    model: Scorer | None = None,
    *,
    ranker: LineScorer | None = None,
    familiar: frozenset[int] = frozenset(),
    baseline: str | None = None,
    selection: Selection = FULL,
) -> Diagnosis:
    """The one diagnosis for a scanned log, from its rule matches and the model pack.

    ``familiar`` holds the numbers of lines also found in the ``baseline`` (a green log of the
    same job): they are never the cause and never the evidence.
    """
    found = _findings(scan, familiar, selection)
    decisive = found.decisive
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
                return _from_model(prediction, window, scan, source, baseline)
    if decisive is not None:
        return _from_rule(decisive, found, scan, source, baseline)
    return _unknown(scan, found, source, baseline, ranker)


@dataclass(frozen=True, slots=True)
class Findings:
    """The hits that may explain the failure, sorted by what they are worth."""

    decisive: Hit | None
    specific: list[CleanLine]
    """Shown first: where a wrapper decided, the error lines it wraps, above it; where a line
    naming a failing test decided, the line explaining that test's failure below it (see
    :mod:`.specific_error`)."""
    supporting: list[Hit]
    """Further terminal hits of the failing step, for the evidence."""
    step: FailingStep | None
    familiar: frozenset[int]


def _findings(scan: ScanResult, familiar: frozenset[int], selection: Selection) -> Findings:
    step = _failing(scan) if selection.failing_step else None
    if step is None:
        hits = [hit for hit in scan.hits if hit.line.number not in familiar]
        decisive = root_cause(hits)
        return Findings(decisive, [], hits, None, familiar)
    lines = step.lines() if selection.terminal else []
    pool = [hit for hit in _hits_in(scan, step) if hit.line.number not in familiar]
    if not selection.terminal:
        return Findings(root_cause(pool), [], pool, step, familiar)
    errors, wrappers, context = _sort_hits(pool, lines)
    if step.exit is not None:  # a step that ended: what it printed is its own output
        errors = transient_yields(errors, wrappers)
    if not errors and step.focus > step.first_line:
        errors = _causes_before(scan, step, familiar, lines)
    decisive = root_cause(errors)
    if decisive is not None:
        specific = details_below(step, decisive, familiar)
        return Findings(decisive, specific, errors, step, familiar)
    if wrappers:
        wrapper = root_cause(wrappers)
        assert wrapper is not None
        specific = (
            details_below(step, wrapper, familiar)
            or wrapped_above(step, wrapper, wrappers, familiar)
            or _wrapped(lines, wrapper, familiar)
        )
        return Findings(wrapper, specific, wrappers, step, familiar)
    if step.exit is None and context:
        return Findings(root_cause(context), [], context, step, familiar)
    return Findings(None, [], [], step, familiar)


def _causes_before(
    scan: ScanResult, step: FailingStep, familiar: frozenset[int], lines: Sequence[CleanLine]
) -> list[Hit]:
    """Terminal errors of the step before the failing command, when its own output has none.

    The causal chain back: a clone that failed earlier in the step explains why the failing
    command's script is missing. Only commands whose success the log never reported are
    searched (the step starts after the last exit line, see ``step_tracker``).
    """
    earlier = [
        hit
        for hit in [*scan.step_hits, *scan.hits]
        if step.first_line <= hit.line.number < step.focus and hit.line.number not in familiar
    ]
    return _sort_hits(earlier, lines)[0]


def _failing(scan: ScanResult) -> FailingStep | None:
    return scan.failing if scan.failing is not None else failing_step(scan.steps)


def _hits_in(scan: ScanResult, step: FailingStep) -> list[Hit]:
    """Every hit of the failing command's output (from its echo, or the step's start, to the
    exit), each (rule, line) once.

    A log without an exit line (an excerpt, a log cut short, a terminal capture) does not say
    which step failed: there the hits of its last step (after the last command echo) count,
    else all of them.
    """
    hits = [*scan.step_hits, *scan.hits]
    if step.exit_line is None:
        first = step.focus
        if not any(hit.line.number >= first for hit in hits):
            first = 0
        last = scan.lines
    else:
        first, last = step.focus, step.exit_line
    seen: dict[tuple[str, int], Hit] = {}
    for hit in hits:
        if first <= hit.line.number <= last:
            seen.setdefault((hit.rule.id, hit.line.number), hit)
    found = sorted(seen.values(), key=lambda hit: hit.line.number)
    return found if step.exit_line is None else _earlier_of_the_same(found, step)


def _earlier_of_the_same(hits: list[Hit], step: FailingStep) -> list[Hit]:
    """The hits, those above the step's snapshot (see ``FailingStep.started``) kept only where
    the snapshot shows the same rule: the first report of a failure the step's end repeats (a
    test run's first failing test, 20,000 lines up) is where to look, but a match up there
    cannot be checked for a recovery (the lines after it are not at hand), so it does not
    bring in a failure of its own."""
    shown = {hit.rule.id for hit in hits if hit.line.number >= step.first_line}
    return [hit for hit in hits if hit.line.number >= step.first_line or hit.rule.id in shown]


def _sort_hits(
    hits: Sequence[Hit], lines: Sequence[CleanLine]
) -> tuple[list[Hit], list[Hit], list[Hit]]:
    """Terminal errors, wrappers, and context (warnings, recovered errors, passing tests)."""
    errors: list[Hit] = []
    wrappers: list[Hit] = []
    context: list[Hit] = []
    first = lines[0].number if lines else 0
    for hit in hits:
        if (
            hit.rule.severity == "warning"
            or (hit.rule.window == 1 and is_context_line(hit.line.text))
            or (hit.rule.category in _TRANSIENT and is_checked_url_report(hit.line.text))
            or _recovered(hit, lines[max(0, hit.line.number - first + 1) :])
        ):
            context.append(hit)
        elif hit.rule.severity == "wrapper":
            wrappers.append(hit)
        else:
            errors.append(hit)
    return errors, wrappers, context


def transient_yields(errors: Sequence[Hit], wrappers: Sequence[Hit]) -> list[Hit]:
    """The failing step's terminal errors, network and rate-limit ones left out where the step
    shows they did not end the job (asked only of a step whose exit line the log shows: in an
    excerpt or a log cut short, the lines may belong to several commands).

    Such errors outrank everything by default (a registry outage breaks the install, which
    breaks the build and the tests). But inside the step that failed, a test failure means the
    network errors were printed by tests (a test that reaches a host, mocked or not, prints its
    ``socket.gaierror``), and the tests' failure is what to report; a later terminal error of a
    category a lost connection does not cause (lint, config, ...) ended the step after the
    network error was survived. A dependency or compile error after it may be its effect (the
    package never downloaded), so those do not take over. Re-running a real failure is the
    worst thing the guard can do: when in doubt, not a retry.
    """
    transient = [hit for hit in errors if hit.rule.category in _TRANSIENT]
    if not transient:
        return list(errors)
    others = [hit for hit in errors if hit.rule.category not in _TRANSIENT]
    tested = any(hit.rule.category == Category.TEST_FAILURE for hit in [*others, *wrappers])
    last = max(hit.line.number for hit in transient)
    later = any(
        hit.line.number > last and hit.rule.category not in _EFFECTS_OF_TRANSIENT for hit in others
    )
    return others if tested or later else list(errors)


_TRANSIENT = frozenset({Category.NETWORK, Category.RATE_LIMIT})
_EFFECTS_OF_TRANSIENT = frozenset({Category.DEPENDENCY, Category.COMPILE_ERROR})


def is_checked_url_report(text: str) -> bool:
    """A line of a link checker's report about one URL it checked (``  3. http://host/ Net::
    ReadTimeout``, ``- [L12] https://host Failed to open TCP connection``, ``✗ https://...``).

    The URL a line starts with is the thing reported on, not a download of the job's own: the
    checker found that link unreachable, and re-running the job does not fix a dead link."""
    return bool(_URL_REPORT.match(text))


_URL_REPORT = re.compile(
    r"^\s*(?:\d+[.)]|[-*•✗✖×]|\[[^\]]{1,12}\])?\s*(?:\[L\d+\]\s*)?(?:\d{3}\s+)?https?://\S+\s"
)


def is_context_line(text: str) -> bool:
    """A line that reports something the job survived or that passed: never the cause."""
    return bool(_CONTEXT.search(text)) or _nothing_failed(text)


def _nothing_failed(text: str) -> bool:
    """A count line whose failure and error counts are all zero (``Failed: 0, Errors: 0``)."""
    counts = [int(a or b) for a, b in _COUNTS.findall(text)]
    return bool(counts) and not any(counts)


def _recovered(hit: Hit, later: Sequence[CleanLine]) -> bool:
    """Whether a line after the hit, in the same step, says its error was recovered from."""
    if not hit.rule.recovered_when or not later:
        return False
    patterns = [re.compile(pattern) for pattern in hit.rule.recovered_when]
    return any(pattern.search(line.text) for line in later for pattern in patterns)


def _wrapped(lines: Sequence[CleanLine], wrapper: Hit, familiar: frozenset[int]) -> list[CleanLine]:
    """The error-looking lines just above a wrapper line: the specific error it sums up."""
    above = [line for line in lines if line.number < wrapper.line.number]
    return relevant_error_lines(above[-WRAPPED_LOOKBACK:], [], limit=3, familiar=familiar)


def rule_decides_alone(rule_confidence: float | None) -> bool:
    """A rule sure enough that the model is not even asked."""
    return rule_confidence is not None and rule_confidence >= RULE_TRUST


def model_overrules(
    rule_confidence: float | None, prediction: Prediction, threshold: float, scope: str
) -> bool:
    """Whether the model's category replaces the rules' verdict (or their silence)."""
    if not model_may_speak(rule_confidence, scope) or not model_may_name(prediction.category):
        return False
    return prediction.probability >= threshold and prediction.probability > (rule_confidence or 0.0)


def model_may_name(category: str) -> bool:
    """Whether a model's judgement may name this category: never ``unknown``, and never a
    category the guard re-runs (network, rate-limit, runner).

    Those failures print specific messages (``ECONNRESET``, a 429, a lost runner) that rules
    recognise; where no rule's match stands in the failing step, network-looking words are
    someone else's: a link checker's report of dead URLs, a test printing the errors it
    provokes. Measured with the bundled pack on the four labelled corpora: of 20 such model
    judgements, 2 were right (17 link-checker reports and 3 of their help texts were not).
    Blaming the network for a broken check is the error the guard must not make, so the model
    steps aside there and the diagnosis stays with the rules (or ``unknown``)."""
    return category != Category.UNKNOWN and Category(category) not in RETRY_CATEGORIES


def model_may_speak(rule_confidence: float | None, scope: str) -> bool:
    """Whether the rules leave room for the model, given where the pack may speak."""
    if rule_confidence is None:
        return True
    return scope == WEAK and not rule_decides_alone(rule_confidence)


def _from_rule(
    decisive: Hit, found: Findings, scan: ScanResult, source: str, baseline: str | None
) -> Diagnosis:
    rule = decisive.rule
    step = found.step.name if found.step is not None and found.step.name else decisive.line.step
    return Diagnosis(
        source=source,
        category=rule.category,
        confidence=rule.confidence,
        action=default_action(rule.category, rule.fix),
        rule=rule.id,
        title=rule.title,
        explain=rule.explain,
        advice=rule.advice,
        evidence=_evidence(decisive, found),
        step=step,
        tests=list(scan.tests),
        fix=rule.fix,
        baseline=baseline,
    )


def _from_model(
    prediction: Prediction,
    window: Sequence[CleanLine],
    scan: ScanResult,
    source: str,
    baseline: str | None,
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
        action=model_action(category),
        rule=MODEL_RULE,
        title=title,
        explain=explain + " (This is the model pack's judgement: no rule matched with confidence.)",
        advice=advice,
        evidence=[Evidence(line=line.number, text=line.text) for line in lines],
        step=lines[0].step,
        tests=list(scan.tests),
        baseline=baseline,
    )


def model_action(category: Category) -> Action:
    """The default action for a model's judgement: never a re-run. Re-running a real failure is
    the worst thing the guard can do, so a retry needs a rule's specific evidence (an
    ``ECONNRESET``, a 503 from a registry); a statistical guess of "network" is explained in the
    comment instead."""
    return Action.COMMENT if category in RETRY_CATEGORIES else default_action(category, None)


def root_cause(hits: Sequence[Hit]) -> Hit | None:
    """The hit that names the earliest root cause: the highest rank, then the first line.

    Ranks order the categories by what can cause what (an environment failure breaks the
    install, which breaks the build, which breaks the tests), so the cause outranks its
    effects wherever it appears; weak signals (retry warnings, wrapper summaries) carry low
    ranks of their own and decide only when nothing stronger matched. Between equals, what
    broke first in the log wins.
    """
    return min(hits, key=lambda hit: (-hit.rule.rank, hit.line.number), default=None)


def _evidence(decisive: Hit, found: Findings) -> list[Evidence]:
    """The specific error a wrapper sums up first, then the decisive line, then other lines of
    the same category (in the failing step, none found in the baseline) in log order."""
    shown = {line.number: line for line in found.specific}
    shown.setdefault(decisive.line.number, decisive.line)
    same = sorted(
        {
            hit.line.number: hit.line
            for hit in found.supporting
            if hit.rule.category == decisive.rule.category
            and hit.line.number not in shown
            and hit.line.number not in found.familiar
        }.values(),
        key=lambda line: line.number,
    )
    lines = [*shown.values(), *same][:MAX_EVIDENCE]
    return [Evidence(line=line.number, text=line.text) for line in lines]


def _unknown(
    scan: ScanResult,
    found: Findings,
    source: str,
    baseline: str | None,
    ranker: LineScorer | None,
) -> Diagnosis:
    lines = _unknown_lines(scan, found, ranker)
    step = found.step.name if found.step is not None else (lines[0].step if lines else None)
    verdict = _step_verdict(found, ranker)
    if verdict is not None and verdict.speaks and model_may_name(verdict.category):
        return _from_step_model(verdict, lines, scan, source, baseline, step)
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
        step=step,
        tests=list(scan.tests),
        baseline=baseline,
    )


def _step_verdict(found: Findings, ranker: LineScorer | None) -> StepVerdict | None:
    """What the pack's step classifier says of a failing step no rule explained."""
    if ranker is None or found.step is None:
        return None
    command, lines = step_inputs(found.step, found.familiar)
    return ranker.classify_step(command, [line.text for line in lines])


def step_inputs(
    step: FailingStep, familiar: frozenset[int] = frozenset()
) -> tuple[str | None, list[CleanLine]]:
    """What the step classifier reads: the failing command and its last error-looking lines
    (the same at training, :mod:`pipeline_guard.lab.step_training`, and here)."""
    body = _step_body(step, familiar)
    return failing_command(step, body), last_error_lines(body)


def failing_command(step: FailingStep, lines: Sequence[CleanLine]) -> str | None:
    """The command that failed: the one the exit line quotes (Travis), else its echo
    (``$ cmd``, ``+ cmd``), else the step's title (GitHub ``Run cmd``, a GitLab section)."""
    if step.exit is not None and step.exit.command:
        return step.exit.command
    if step.command_line is not None:
        echo = next((line.text for line in lines if line.number == step.command_line), None)
        if echo:
            return echo.strip().lstrip("$+ ")
    return step.name


def _from_step_model(  # noqa: PLR0917 - the parts of one diagnosis
    verdict: StepVerdict,
    lines: Sequence[CleanLine],
    scan: ScanResult,
    source: str,
    baseline: str | None,
    step: str | None,
) -> Diagnosis:
    """A diagnosis the step classifier made: a model's judgement, so never a re-run."""
    category = Category(verdict.category)
    title, explain, advice = CATEGORY_TEXT[category]
    return Diagnosis(
        source=source,
        category=category,
        confidence=round(verdict.probability, 3),
        action=model_action(category),
        rule=MODEL_RULE,
        title=title,
        explain=explain
        + " (This is the model pack's judgement from the failing command and its last error"
        " lines: no rule matched there.)",
        advice=advice,
        evidence=[Evidence(line=line.number, text=line.text) for line in lines],
        step=step,
        tests=list(scan.tests),
        baseline=baseline,
    )


def _step_body(step: FailingStep, familiar: frozenset[int]) -> list[CleanLine]:
    """The failing command's own output, up to (not including) its exit line."""
    end = step.exit_line
    return [
        line
        for line in step.lines()
        if line.number not in familiar
        and line.number >= step.focus
        and (end is None or line.number < end)
    ]


def _unknown_lines(scan: ScanResult, found: Findings, ranker: LineScorer | None) -> list[CleanLine]:
    """The failing step's last error-looking lines (or the ranker's choice); the log's when no
    step is known."""
    if found.step is None:
        return relevant_error_lines(scan.errorish, scan.tail, familiar=found.familiar)
    lines = _step_body(found.step, found.familiar)
    if ranker is not None and lines:
        return _ranked(lines, found.step, ranker)
    return last_error_lines(lines)


def last_error_lines(lines: Sequence[CleanLine], limit: int = 5) -> list[CleanLine]:
    """The last cluster of error-looking lines before the exit, from its first line.

    A failing command prints its error last, often over a few lines (a message and its
    details); earlier error-looking lines of the same step are more often things it survived.
    Set-up noise (echoes, environment dumps, comments, warnings, passing tests, "0 failed"
    counts) and "exited with code 1" boilerplate are never chosen. The step's last lines when
    nothing looks like an error.
    """
    usable = [
        line
        for line in lines
        if line.text.strip()
        and not _NOT_EVIDENCE.search(line.text)
        and not is_context_line(line.text)
    ]
    looking = [
        line
        for line in usable
        if _ERRORISH.search(line.text) and not _BOILERPLATE.search(line.text)
    ]
    if not looking:
        return usable[-limit:]
    looking = [line for line in looking if _SAYS_ERROR.search(line.text)] or looking
    cluster = [looking[-1]]
    for line in reversed(looking[:-1]):
        if cluster[0].number - line.number > CLUSTER_GAP or len(cluster) >= CLUSTER_LINES:
            break
        cluster.insert(0, line)
    return cluster[:limit]


_STEP_MARKER = re.compile(
    r"\s*(?:section_(?:start|end):|travis_(?:fold|time):|##\[(?:end)?group\]|::(?:end)?group::)"
)
"""A CI's own step markers: they say where a step starts or ends, never why it failed."""


def _ranked(lines: Sequence[CleanLine], step: FailingStep, ranker: LineScorer) -> list[CleanLine]:
    """The lines a learned ranker scores highest, decisive first."""
    exit_index = len(lines)
    if step.exit_line is not None:
        exit_index = next(
            (index for index, line in enumerate(lines) if line.number >= step.exit_line),
            len(lines),
        )
    scores = ranker.score_lines([line.text for line in lines], exit_index)
    order = sorted(range(len(lines)), key=lambda index: -scores[index])
    usable = (index for index in order if not _STEP_MARKER.match(lines[index].text))
    return [lines[index] for index in usable if lines[index].text.strip()][:MAX_EVIDENCE]


def relevant_error_lines(
    errorish: Sequence[CleanLine],
    tail: Sequence[CleanLine],
    limit: int = 5,
    familiar: frozenset[int] = frozenset(),
) -> list[CleanLine]:
    """The lines most likely to say what went wrong, most telling first.

    Error-looking lines that are not mere "exited with code 1" boilerplate, nor set-up noise
    (command echoes, environment dumps, comments, warnings, passing tests), preferring strong
    words (error, fatal, exception) and, among those, the earliest of the last few; the tail
    of the log when nothing looks like an error.
    """
    usable = [
        line
        for line in errorish
        if line.text.strip() and line.number not in familiar and not _NOT_EVIDENCE.search(line.text)
    ]
    looking = [line for line in usable if _ERRORISH.search(line.text)]
    candidates = [line for line in looking if not _BOILERPLATE.search(line.text)]
    if not candidates:
        candidates = looking
    if not candidates:
        rest = [line for line in tail if line.text.strip() and line.number not in familiar]
        return rest[-limit:]
    strong = [line for line in candidates if _STRONG.search(line.text)]
    chosen = (strong or candidates)[-limit:]
    return sorted(chosen, key=lambda line: line.number)

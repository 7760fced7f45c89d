"""Run every rule over a whole log in one pass, fast, with bounded work per line.

How (see ``benchmarks/`` for the numbers):

1. **Prefilter.** One RE2 regex, the case-blind alternation of every rule's keywords (see
   :mod:`pipeline_guard.keywords`), of the step markers and of a few generic error words, is
   run over each cleaned chunk of raw bytes. RE2 turns the alternation into one DFA, so the
   scan costs about the same for 10 rules or 1,000. Only lines with a hit go further.
2. **Verify.** A candidate line is cleaned (:func:`~pipeline_guard.clean.clean_line`) and
   matched against an RE2 *set* of every single-line pattern at once, which says which rules
   really match. Multi-line rules (``window > 1``) search the candidate line and the lines
   after it. Rules with a ``(?P<test>...)`` group are matched again to read the test name.

RE2 runs in time linear in the text, and a line is at most ``MAX_LINE_BYTES`` long, so a rule
cannot make the scan hang (no catastrophic backtracking). The result keeps, per rule, the
first :data:`MAX_HITS_PER_RULE` hits and a count of the rest; plus the last error-looking lines
and the last lines of the log, which diagnosis uses when no rule fires.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import re2

from pipeline_guard.clean import Chunk, CleanLine, clean_line
from pipeline_guard.keywords import derive_keywords
from pipeline_guard.rules import Rule, re2_options
from pipeline_guard.sections import MARKER_KEYWORDS, StepTracker

MAX_HITS_PER_RULE = 20
MAX_TESTS = 100
ERRORISH_KEPT = 300
TAIL_KEPT = 80
TAIL_BYTES = 256 * 1024

ERRORISH_KEYWORDS = (
    "error",
    "fail",
    "fatal",
    "exception",
    "traceback",
    "panic",
    "killed",
    "denied",
    "refused",
    "abort",
    "timed out",
    "timeout",
    "cannot",
    "could not",
    "unable to",
    "not found",
    "exit code",
    "exited with",
    "✖",
    "✗",
    "×",
)
"""Words that make a line worth keeping as context even when no rule matches it."""

_KIND_RULE, _KIND_MARKER = 1, 2


@dataclass(frozen=True, slots=True)
class Hit:
    """One rule matching one line."""

    rule: Rule
    line: CleanLine
    test: str | None = None


@dataclass(slots=True)
class ScanResult:
    """Everything diagnosis needs from one pass over a log."""

    hits: list[Hit] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    tests: list[str] = field(default_factory=list)
    errorish: list[CleanLine] = field(default_factory=list)
    tail: list[CleanLine] = field(default_factory=list)
    lines: int = 0


@dataclass(frozen=True, slots=True)
class _MultiLine:
    rule: Rule
    keywords: tuple[str, ...]
    patterns: tuple[Any, ...]


class Matcher:
    """A rule pack compiled for scanning: build once, scan many logs."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        self.rules = list(rules)
        options = re2_options()
        self._set = re2.Set.SearchSet(options)
        self._set_owner: list[Rule] = []
        self._compiled: dict[str, list[Any]] = {}
        self._multiline: list[_MultiLine] = []
        self._kinds: dict[bytes, int] = {}
        regex_parts: list[str] = []
        for rule in self.rules:
            compiled = [re2.compile(pattern, options) for pattern in rule.patterns]
            self._compiled[rule.id] = compiled
            keywords = self._keywords(rule, regex_parts)
            if rule.window > 1:
                self._multiline.append(_MultiLine(rule, tuple(keywords), tuple(compiled)))
                continue
            for pattern in rule.patterns:
                self._set.Add(pattern)
                self._set_owner.append(rule)
        if self._set_owner:
            self._set.Compile()
        for keyword in MARKER_KEYWORDS:
            self._add_keyword(keyword, _KIND_MARKER)
        self._prefilter = self._build_prefilter(regex_parts)
        self._find = _span_finder(self._prefilter)

    def _keywords(self, rule: Rule, regex_parts: list[str]) -> list[str]:
        keywords: list[str] = []
        if rule.keywords:
            keywords = [keyword.lower() for keyword in rule.keywords]
        else:
            for pattern in rule.patterns:
                derived = derive_keywords(pattern)
                if derived is None:
                    regex_parts.append(_unanchored(pattern))
                else:
                    keywords.extend(derived)
        for keyword in keywords:
            self._add_keyword(keyword, _KIND_RULE)
        return keywords

    def _add_keyword(self, keyword: str, kind: int) -> None:
        key = keyword.lower().encode()
        self._kinds[key] = self._kinds.get(key, 0) | kind

    def _build_prefilter(self, regex_parts: list[str]) -> Any:
        literals = sorted(self._kinds, key=lambda key: (-len(key), key))
        parts = [re.escape(key.decode()) for key in literals]
        parts += [f"(?:{part})" for part in regex_parts]
        options = re2_options()
        options.never_capture = True
        options.case_sensitive = False
        return re2.compile("|".join(parts).encode(), options)

    def scan(self, chunks: Iterable[Chunk]) -> ScanResult:
        """Match every rule against every line of a log given as cleaned chunks."""
        return _Scan(self).run(chunks)

    def patterns_of(self, rule: Rule) -> list[Any]:
        return self._compiled[rule.id]

    def matching_rules(self, line: CleanLine) -> list[Rule]:
        """Single-line rules whose pattern matches this cleaned line."""
        if not self._set_owner:
            return []
        found = self._set.Match(line.text)
        if not found:
            return []
        seen: dict[str, Rule] = {}
        for index in sorted(found):
            rule = self._set_owner[index]
            seen.setdefault(rule.id, rule)
        return list(seen.values())

    def test_name(self, rule: Rule, text: str) -> str | None:
        """The failing test a rule's ``(?P<test>...)`` group names in this line, if any."""
        for pattern in self._compiled[rule.id]:
            if "test" in pattern.groupindex:
                found = pattern.search(text)
                if found and found.group("test"):
                    return str(found.group("test")).strip()
        return None


def _span_finder(pattern: Any) -> Callable[[bytes, int, int], tuple[int, int] | None]:
    """A search returning just the span of the next match in ``data[pos:end]``, or None.

    This is the hot loop of a scan, so it calls RE2's match directly instead of going through
    the ``re``-like wrapper, which builds a match object and converts offsets on every call
    (about 3x the cost per candidate line on a noisy log).
    """
    regexp = pattern._regexp
    unanchored = re2._Anchor.UNANCHORED

    def find(data: bytes, pos: int, end: int) -> tuple[int, int] | None:
        span: tuple[int, int] = regexp.Match(unanchored, data, pos, end)[0]
        return None if span[0] < 0 else span

    return find


def _unanchored(pattern: str) -> str:
    """A pattern for the prefilter, which sees raw lines: drop top-level ``^``/``$`` anchors.

    The raw line may still carry a timestamp prefix or a ``\\r`` that cleaning removes; the
    prefilter only has to find a superset of the candidate lines.
    """
    stripped = pattern.removeprefix("^")
    if stripped.endswith("$") and not stripped.endswith("\\$"):
        stripped = stripped[:-1]
    return stripped


class _Scan:
    """The state of one scan; a class only so the per-chunk loop has short functions."""

    def __init__(self, matcher: Matcher) -> None:
        self.matcher = matcher
        self.result = ScanResult()
        self.steps = StepTracker()
        self.step_changes: list[tuple[int, str | None]] = [(0, None)]
        self.pending: list[tuple[_MultiLine, int, bytes, str | None]] = []
        self.tests_seen: set[str] = set()
        self.tail_data = b""
        self.tail_first = 1

    def run(self, chunks: Iterable[Chunk]) -> ScanResult:
        last_line = 0
        for chunk in chunks:
            self._complete_pending(chunk)
            self._scan_chunk(chunk)
            self._keep_tail(chunk)
            last_line = chunk.last_line
        self._complete_pending(None)
        self.result.lines = last_line
        self._read_tail()
        return self.result

    def _scan_chunk(self, chunk: Chunk) -> None:
        """Find candidate lines with the prefilter, one search per line at most."""
        data = chunk.data
        end = len(data)
        find = self.matcher._find
        kinds = self.matcher._kinds
        line_no = chunk.first_line
        counted_to = 0
        pos = 0
        while pos < end:
            span = find(data, pos, end)
            if span is None:
                break
            start, stop = span
            line_no += data.count(b"\n", counted_to, start)
            line_start = data.rfind(b"\n", 0, start) + 1
            line_end = data.find(b"\n", start)
            counted_to = line_end
            raw = data[line_start:line_end]
            if kinds.get(data[start:stop].lower(), _KIND_RULE) & _KIND_MARKER:
                self._feed_marker(line_no, raw)
            self._verify(chunk, line_start, line_no, raw)
            pos = line_end + 1

    def _feed_marker(self, line_no: int, raw: bytes) -> None:
        before = self.steps.current
        self.steps.feed(raw.decode("utf-8", "replace"))
        if self.steps.current != before:
            self.step_changes.append((line_no, self.steps.current))

    def step_at(self, line_no: int) -> str | None:
        index = bisect.bisect_right(self.step_changes, line_no, key=lambda change: change[0])
        return self.step_changes[index - 1][1]

    def _verify(self, chunk: Chunk, line_start: int, line_no: int, raw: bytes) -> None:
        line = clean_line(raw, line_no, self.steps.current)
        for rule in self.matcher.matching_rules(line):
            self._record(rule, line)
        if self.matcher._multiline:
            self._verify_multiline(chunk, line_start, line)

    def _verify_multiline(self, chunk: Chunk, line_start: int, line: CleanLine) -> None:
        lowered = line.text.lower()
        for multi in self.matcher._multiline:
            if not any(keyword in lowered for keyword in multi.keywords):
                continue
            raw_window = _lines_from(chunk.data, line_start, multi.rule.window)
            if raw_window.count(b"\n") < multi.rule.window:
                self.pending.append((multi, line.number, raw_window, line.step))
            else:
                self._match_window(multi, line.number, raw_window, line.step)

    def _complete_pending(self, chunk: Chunk | None) -> None:
        pending, self.pending = self.pending, []
        for multi, number, started, step in pending:
            window = started
            if chunk is not None:
                missing = multi.rule.window - started.count(b"\n")
                window += _lines_from(chunk.data, 0, missing)
            self._match_window(multi, number, window, step)

    def _match_window(
        self, multi: _MultiLine, number: int, raw_window: bytes, step: str | None
    ) -> None:
        lines = raw_window.rstrip(b"\n").split(b"\n")
        cleaned = [clean_line(raw, number + offset, step) for offset, raw in enumerate(lines)]
        text = "\n".join(line.text for line in cleaned)
        for pattern in multi.patterns:
            found = pattern.search(text)
            if found:
                first = text.count("\n", 0, found.start())
                self._record(multi.rule, cleaned[first], found)
                return

    def _record(self, rule: Rule, line: CleanLine, found: Any = None) -> None:
        counts = self.result.counts
        counts[rule.id] = counts.get(rule.id, 0) + 1
        test = None
        if rule.extracts_tests:
            if found is not None and "test" in found.re.groupindex:
                test = found.group("test")
            else:
                test = self.matcher.test_name(rule, line.text)
            if test and test not in self.tests_seen and len(self.result.tests) < MAX_TESTS:
                self.tests_seen.add(test)
                self.result.tests.append(test)
        if counts[rule.id] <= MAX_HITS_PER_RULE:
            self.result.hits.append(Hit(rule, line, test))

    def _keep_tail(self, chunk: Chunk) -> None:
        """Keep the last ``TAIL_BYTES`` of the log (whole lines) for the end-of-log context."""
        if len(chunk.data) >= TAIL_BYTES or not self.tail_data:
            data, first = chunk.data, chunk.first_line
        else:
            data, first = self.tail_data + chunk.data, self.tail_first
        if len(data) > TAIL_BYTES:
            cut = data.rfind(b"\n", 0, len(data) - TAIL_BYTES) + 1
            first += data.count(b"\n", 0, cut)
            data = data[cut:]
        self.tail_data, self.tail_first = data, first

    def _read_tail(self) -> None:
        """The last lines, and the error-looking lines among them, cleaned."""
        if not self.tail_data:
            return
        raws = self.tail_data[:-1].split(b"\n")
        numbered = list(enumerate(raws, start=self.tail_first))
        errorish = [(n, raw) for n, raw in numbered if _ERRORISH_BYTES.search(raw)][-ERRORISH_KEPT:]
        self.result.errorish = [clean_line(raw, n, self.step_at(n)) for n, raw in errorish]
        self.result.tail = [clean_line(raw, n, self.step_at(n)) for n, raw in numbered[-TAIL_KEPT:]]


_ERRORISH_BYTES = re.compile(
    "|".join(re.escape(word) for word in ERRORISH_KEYWORDS).encode(), re.IGNORECASE
)


def _lines_from(data: bytes, start: int, count: int) -> bytes:
    """Up to ``count`` whole lines of ``data`` from offset ``start``, each ending in ``\\n``."""
    end = start
    for _ in range(count):
        newline = data.find(b"\n", end)
        if newline < 0:
            return data[start:]
        end = newline + 1
    return data[start:end]

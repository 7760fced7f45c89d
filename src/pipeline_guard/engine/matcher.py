"""Run every rule over a whole log in one pass, fast, with bounded work per line.

How (see ``benchmarks/`` for the numbers):

1. **Prefilter.** One RE2 regex, the case-blind alternation of every rule's keywords (see
   :mod:`pipeline_guard.engine.needle`) and of the step markers, runs over each cleaned chunk of raw
   bytes. RE2 turns an alternation of literals into one DFA, so the scan costs about the same
   for 10 rules or 1,000. Only lines with a hit go further, and each such line once.
2. **Verify.** On a candidate line, every keyword present is looked up (including keywords
   hidden inside a longer one that matched at the same place), and only the rules owning those
   keywords run their regexes on the cleaned line
   (:func:`~pipeline_guard.engine.log_reader.clean_bytes`):
   all at once, as one RE2 *set* per keyword, built the first time a log hits that keyword, so
   start-up does not pay for the hundreds of rules a given log never gets near. Multi-line
   rules (``window > 1``) search the candidate line and the lines after it. A line is decoded
   only once a rule matched it.

RE2 runs in time linear in the text, and a cleaned line is at most ``MAX_LINE_BYTES`` long, so
a rule cannot make the scan hang (no catastrophic backtracking). The result keeps, per rule,
the first :data:`MAX_HITS_PER_RULE` hits and a count of the rest; plus the last lines of the
log and the error-looking ones among them, which diagnosis uses when no rule fires.
"""

from __future__ import annotations

import bisect
import dataclasses
import functools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import re2

from pipeline_guard.engine import rule_cache
from pipeline_guard.engine.log_reader import Chunk, CleanLine, clean_bytes, clean_line, decoded_line
from pipeline_guard.engine.needle import Needle, literal_needle
from pipeline_guard.engine.prefilter import (
    SMALL_CHUNK_BYTES,
    LiteralGate,
    Prefilter,
    Re2Prefilter,
    build_prefilter,
    engine_name,
)
from pipeline_guard.engine.rule import Rule, re2_options, rule_needles
from pipeline_guard.engine.step_tracker import (
    MARKER_KEYWORDS,
    FailingStep,
    Snapshot,
    StepRecord,
    StepRecorder,
)

MAX_HITS_PER_RULE = 20
MAX_TESTS = 100
ERRORISH_KEPT = 300
TAIL_KEPT = 80
TAIL_BYTES = 256 * 1024
PIECE_BYTES = 1 << 20
"""The prefilter runs over a chunk in pieces of about this size, so that a scan whose rules
are retiring can switch to a smaller prefilter soon (see ``LogScan._refresh_prefilter``)."""
MEMO_KEPT = 4096
"""Candidate lines remembered with their verification, and multi-line windows remembered as
not matching, at most (then forgotten, all at once)."""
MEMO_LINE_BYTES = 1024
"""Only lines up to this long are remembered: the memory stays bounded (4 MB)."""
MEMO_WINDOW_BYTES = 4 * MEMO_LINE_BYTES
"""Only windows up to this long are remembered (16 MB at most)."""
REBUILD_AFTER = 32
"""Needles retired since the prefilter was built that make it worth building again."""

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
"""Words that make a line near the end worth keeping as context even when no rule matches."""


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
    """Matches per rule, counted until the rule is retired (see ``LogScan._retire_if_done``):
    at least :data:`MAX_HITS_PER_RULE` means "this many or more"."""
    tests: list[str] = field(default_factory=list)
    errorish: list[CleanLine] = field(default_factory=list)
    tail: list[CleanLine] = field(default_factory=list)
    lines: int = 0
    steps: StepRecord = field(default_factory=StepRecord)
    """Step changes, exit lines and snapshots of the failing steps (see ``step_tracker``)."""
    failing: FailingStep | None = None
    """The step that ended the job, once :mod:`~pipeline_guard.engine.analysis` located it."""
    step_hits: list[Hit] = field(default_factory=list)
    """Every hit inside ``failing`` (the scan keeps only each rule's first hits in the log)."""


@dataclass(frozen=True, slots=True)
class PartEvent:
    """One rule matching in a part of a log, as :meth:`LogScan.absorb` replays it.

    ``line`` is set for the part's first :data:`MAX_HITS_PER_RULE` hits of a rule (a hit the
    whole log may keep); ``step_line``: the line whose step, by the whole log's markers, the
    hit's line takes (None when the line names its own step). Without ``line``: a later match
    that names a test new to the part (``test``), or ``times`` later matches that change
    nothing but the rule's count.
    """

    rule: int
    times: int = 1
    line: CleanLine | None = None
    test: str | None = None
    step_line: int | None = None


@dataclass(frozen=True, slots=True)
class PartScan:
    """What the scan of a later part of a log hands back (see ``engine/log_parts.py``).

    Its scan retired rules on its own counts, which is never sooner than the whole log's scan
    would (that one has counted the earlier parts' matches too, and its list of tests is at
    least as full), so the events hold every match the whole log's scan would still look at.
    """

    events: list[PartEvent]
    markers: list[tuple[int, bytes]]
    snapshots: list[Snapshot]
    tail_data: bytes
    tail_first: int
    last_line: int


@dataclass(frozen=True, slots=True)
class _Verifier:
    """The single-line patterns of the rules owning one keyword, as one RE2 set."""

    patterns: Any
    owners: tuple[Rule, ...]
    """The rule of each pattern, by the index the set reports."""
    windows: tuple[Rule, ...]
    """Multi-line rules owning the keyword: searched separately, over their window."""


class Matcher:
    """A rule pack compiled for scanning: build once, scan many logs.

    ``engine`` picks the prefilter (``"hyperscan"`` or ``"re2"``, see
    :mod:`pipeline_guard.engine.prefilter`); by default the best one installed. The prefilter
    is built on the first scan, so a matcher that is never used costs nothing to make.
    ``cache``: the rule cache's directory, where a Hyperscan database is kept (None: compiled
    in every process).
    """

    def __init__(
        self, rules: Sequence[Rule], engine: str | None = None, cache: Path | None = None
    ) -> None:
        self.rules = list(rules)
        self.engine = engine or engine_name()
        self.cache = cache
        self._compiled: dict[str, list[Any]] = {}
        self._verifiers: dict[int, _Verifier] = {}
        self._order = {rule.id: index for index, rule in enumerate(self.rules)}
        markers = {literal_needle(marker) for marker in MARKER_KEYWORDS}
        owners: dict[Needle, set[int]] = {marker: set() for marker in markers}
        for index, rule in enumerate(self.rules):
            for needle in rule_needles(rule):
                owners.setdefault(needle, set()).add(index)
        self._needles = sorted(owners)
        self._owners = [frozenset(owners[needle]) for needle in self._needles]
        self._is_marker = [needle in markers for needle in self._needles]
        self._needles_of: list[list[int]] = [[] for _ in self.rules]
        for position, rule_indexes in enumerate(self._owners):
            for index in rule_indexes:
                self._needles_of[index].append(position)
        self._prefilter: Prefilter | None = None
        self._gate: LiteralGate | None = None

    @property
    def prefilter(self) -> Prefilter:
        """The engine finding candidate lines, built (or loaded from the cache) on first use."""
        if self._prefilter is None:
            regexes = [needle.prefilter_regex for needle in self._needles]
            load = None
            if self.engine == "hyperscan":
                load = functools.partial(rule_cache.compiled_database, directory=self.cache)
            self._prefilter = build_prefilter(regexes, load)
        return self._prefilter

    def prefilter_for(self, data: bytes) -> tuple[Prefilter, list[int] | None]:
        """The prefilter for a chunk, and the needle of each index it reports (None: all).

        Once the pack's prefilter is built, or for a chunk beyond
        :data:`~pipeline_guard.engine.prefilter.SMALL_CHUNK_BYTES`, the pack's; else one of
        only the needles whose literal the chunk holds (the same lines, see
        :class:`~pipeline_guard.engine.prefilter.LiteralGate`), so ``analyze`` of a small log
        never pays for compiling the whole pack.
        """
        if self._prefilter is not None or self.engine != "re2" or len(data) > SMALL_CHUNK_BYTES:
            return self.prefilter, None
        if self._gate is None:
            self._gate = LiteralGate([needle.anchor for needle in self._needles])
        present = self._gate.present(data)
        if present is None:
            return self.prefilter, None
        return Re2Prefilter([self._needles[index].prefilter_regex for index in present]), present

    def scan(self, chunks: Iterable[Chunk]) -> ScanResult:
        """Match every rule against every line of a log given as cleaned chunks."""
        return LogScan(self).run(chunks)

    def patterns_of(self, rule: Rule) -> list[Any]:
        """A rule's compiled patterns, compiled on first use.

        A window rule's patterns are multi-line: ``^`` and ``$`` match at each line's start and
        end inside the window.
        """
        compiled = self._compiled.get(rule.id)
        if compiled is None:
            prefix = "(?m)" if rule.window > 1 else ""
            compiled = [re2.compile(prefix + pattern, re2_options()) for pattern in rule.patterns]
            self._compiled[rule.id] = compiled
        return compiled

    def needle_count(self) -> int:
        return len(self._needles)

    def needle(self, index: int) -> Needle:
        return self._needles[index]

    def owners(self, needle: int) -> frozenset[int]:
        """The rules (by index in :attr:`rules`) owning a needle."""
        return self._owners[needle]

    def needles_of(self, rule: int) -> list[int]:
        """The needles (by index) of the rule at this index of :attr:`rules`."""
        return self._needles_of[rule]

    def is_marker(self, needle: int) -> bool:
        return self._is_marker[needle]

    def order(self, rule: Rule) -> int:
        return self._order[rule.id]

    def verifier(self, needle: int) -> _Verifier:
        """The RE2 set for the rules owning a needle, compiled on first use."""
        verifier = self._verifiers.get(needle)
        if verifier is None:
            verifier = self._verifiers[needle] = self._build_verifier(needle)
        return verifier

    def _build_verifier(self, needle: int) -> _Verifier:
        rules = [self.rules[index] for index in sorted(self._owners[needle])]
        patterns = re2.Set.SearchSet(re2_options())
        owners: list[Rule] = []
        for rule in rules:
            if rule.window == 1:
                for pattern in rule.patterns:
                    patterns.Add(pattern.encode("utf-8"))
                    owners.append(rule)
        if owners:
            patterns.Compile()
        windows = tuple(rule for rule in rules if rule.window > 1)
        return _Verifier(patterns if owners else None, tuple(owners), windows)

    def test_name(self, rule: Rule, text: str) -> str | None:
        """The failing test a rule's ``(?P<test>...)`` group names in this line, if any."""
        for pattern in self.patterns_of(rule):
            if "test" in pattern.groupindex:
                found = pattern.search(text)
                if found and found.group("test"):
                    return str(found.group("test")).strip()
        return None


class LogScan:
    """The state of one scan, fed chunk by chunk in log order.

    A scan of a whole log is :meth:`feed` for every chunk, then :meth:`finish`. A log cut in
    parts (:mod:`~pipeline_guard.engine.log_parts`) is scanned with one scan per part: a later
    part's scan is made with ``part=True`` and the bytes before it (``before``), and hands
    back :meth:`part_result`; the first part's scan :meth:`absorb` those in order, which
    leaves it exactly as if it had been fed the whole log.
    """

    def __init__(self, matcher: Matcher, *, part: bool = False, before: bytes = b"") -> None:
        self.matcher = matcher
        self.result = ScanResult()
        self.steps = StepRecorder(before, keep_markers=part)
        self.step_changes = self.steps.record.changes
        self.pending: list[tuple[Rule, int, bytes, str | None, int | None]] = []
        self.events: list[PartEvent] | None = [] if part else None
        self._bulk: dict[int, int] = {}
        """Matches per rule not yet written to ``events`` (see :meth:`_log_event`)."""
        self.last_line = 0
        self._futile: set[tuple[str, bytes]] = set()
        self._lines: dict[bytes, tuple[bytes, bytes | None, dict[int, tuple[Rule, ...]]]] = {}
        """Candidate lines seen (see :meth:`_seen`)."""
        """Windows (rule, raw bytes) that did not match (see :meth:`_match_window`)."""
        self.tests_seen: set[str] = set()
        self.tail_data = b""
        self.tail_first = 1
        self.done_rules: set[int] = set()
        """Rules (by index) that have shown all that is kept of them: no longer verified."""
        self.done_needles: set[int] = set()
        """Needles all of whose rules are done (never a step marker): their lines are skipped."""
        self._prefilter: Prefilter | None = None
        """Chosen for the first chunk (see :meth:`Matcher.prefilter_for`)."""
        self._gated = False
        """Whether the prefilter knows only the needles of the last (small) chunk."""
        self.live_needles: list[int] | None = None
        """The needle of each index the current prefilter reports (None: all, in order)."""
        self.retired_at_build = 0

    @property
    def prefilter(self) -> Prefilter:
        if self._prefilter is None:
            self._prefilter = self.matcher.prefilter
            if isinstance(self._prefilter, Re2Prefilter):
                self._prefilter.dense = None  # the last log's density says nothing of this one
        return self._prefilter

    @prefilter.setter
    def prefilter(self, prefilter: Prefilter) -> None:
        self._prefilter = prefilter

    def run(self, chunks: Iterable[Chunk]) -> ScanResult:
        for chunk in chunks:
            self.feed(chunk)
        return self.finish()

    def feed(self, chunk: Chunk) -> None:
        """Scan the next chunk of the log."""
        self._complete_pending(chunk)
        self._scan_chunk(chunk)
        self._keep_tail(chunk)
        self.steps.chunk_done(chunk)
        self.last_line = chunk.last_line

    @property
    def waits_for_lines(self) -> bool:
        """Whether a multi-line rule's window reaches past the chunks fed so far."""
        return bool(self.pending)

    def end_part(self, following: Chunk | None) -> None:
        """The part fed so far ends here: match the windows that reach into ``following``
        (the next part's first chunk, None at the end of the log)."""
        self._complete_pending(following)

    def resume(self, before: bytes) -> None:
        """Go on feeding chunks after absorbed parts: ``before`` is the log's last
        :data:`~pipeline_guard.engine.step_tracker.SNAPSHOT_BYTES` before the next chunk."""
        self.steps.resume(before)

    def later_part(self, before: bytes) -> LogScan:
        """A scan of a later part of the log (``before``: the cleaned bytes before it) that
        starts with what this scan has retired, and with its prefilter.

        Every rule retired here is retired in the whole log's scan by the time it reaches that
        part (retiring only ever grows), so skipping them changes nothing; and a flood of
        failures costs its dear first megabytes once, not once per part.
        """
        part = LogScan(self.matcher, part=True, before=before)
        part.done_rules, part.done_needles = set(self.done_rules), set(self.done_needles)
        part.prefilter, part.live_needles = self.prefilter, self.live_needles
        part.retired_at_build = self.retired_at_build
        part._lines, part._futile = self._lines, self._futile
        return part

    def part_result(self) -> PartScan:
        """What this scan of a later part hands back to the first part's scan."""
        assert self.events is not None
        assert self.steps.markers is not None
        self._flush_bulk()
        return PartScan(
            self.events,
            self.steps.markers,
            self.steps.record.snapshots,
            self.tail_data,
            self.tail_first,
            self.last_line,
        )

    def absorb(self, part: PartScan) -> None:
        """Take in the scan of the part that follows what this scan has seen, as if this
        scan had been fed its chunks: its markers first (the steps of the whole log), then
        its matches, skipping the rules this scan had already retired."""
        self.steps.replay_part(part.markers, part.snapshots)
        rules = self.matcher.rules
        for event in part.events:
            if event.rule in self.done_rules:
                continue
            rule = rules[event.rule]
            line = event.line
            if line is not None and event.step_line is not None:
                line = dataclasses.replace(line, step=self.step_at(event.step_line))
            if line is not None or event.test is not None:
                self._count(rule, line, event.test)
            else:
                self._count_many(rule, event.times)
        self.tail_data, self.tail_first = part.tail_data, part.tail_first
        self.last_line = part.last_line

    def finish(self) -> ScanResult:
        """The result, once every chunk (or part) of the log is in."""
        self._complete_pending(None)
        self.result.lines = self.last_line
        self._read_tail()
        self.result.steps = self.steps.finish(self.tail_data, self.tail_first)
        return self.result

    def _scan_chunk(self, chunk: Chunk) -> None:
        """Find the candidate lines of each piece in one call, then look closely at those only.

        Line numbers come from counting the newlines between one candidate and the next.
        """
        data = chunk.data
        matcher = self.matcher
        if self._prefilter is None or self._gated:
            self._choose_prefilter(data)
        done = self.done_needles
        line_no = chunk.first_line
        counted_to = 0
        for piece_start, piece_end in _pieces(data, PIECE_BYTES):
            self._refresh_prefilter()
            piece = data if piece_end - piece_start == len(data) else data[piece_start:piece_end]
            live = self.live_needles
            for line_start, line_end, local in self.prefilter.candidates(piece):
                found = local if live is None else {live[needle] for needle in local}
                needles = found - done if done else found
                if not needles:
                    continue
                start = piece_start + line_start
                line_no += data.count(b"\n", counted_to, start)
                counted_to = start
                raw = data[start : piece_start + line_end]
                if any(matcher.is_marker(needle) for needle in needles):
                    self.steps.marker(chunk, line_no, start, piece_start + line_end)
                self._verify(chunk, start, line_no, raw, needles)

    def _choose_prefilter(self, data: bytes) -> None:
        """The first chunk's prefilter, or the next one's after a chunk small enough to be
        gated (whose prefilter knows only that chunk's needles)."""
        prefilter, live = self.matcher.prefilter_for(data)
        if live is not None and self.done_needles:
            live = [needle for needle in live if needle not in self.done_needles]
            prefilter = Re2Prefilter([self.matcher.needle(n).prefilter_regex for n in live])
        self._gated = live is not None
        self.prefilter, self.live_needles = prefilter, live
        self.retired_at_build = len(self.done_needles)
        if isinstance(prefilter, Re2Prefilter):
            prefilter.dense = None  # the last log's density says nothing of this one

    def _refresh_prefilter(self) -> None:
        """Once many needles are retired, scan the rest of the log for the others only.

        A log where most lines match (a flood of failures, or an attacker's) retires every
        rule within its first megabytes; a prefilter that still looked for their needles would
        make every later line a candidate. RE2 only: rebuilding is a fraction of a second
        there, seconds for Hyperscan.
        """
        retired = len(self.done_needles) - self.retired_at_build
        if self.matcher.engine != "re2" or retired < REBUILD_AFTER:
            return
        self.retired_at_build = len(self.done_needles)
        known = self.live_needles
        if known is None:
            known = list(range(self.matcher.needle_count()))
        live = [needle for needle in known if needle not in self.done_needles]
        regexes = [self.matcher.needle(needle).prefilter_regex for needle in live]
        dense = self.prefilter.dense if isinstance(self.prefilter, Re2Prefilter) else None
        self.prefilter, self.live_needles = Re2Prefilter(regexes, dense=dense), live

    def step_at(self, line_no: int) -> str | None:
        index = bisect.bisect_right(self.step_changes, line_no, key=lambda change: change[0])
        return self.step_changes[index - 1][1]

    def _verify(
        self, chunk: Chunk, line_start: int, line_no: int, raw: bytes, needles: set[int]
    ) -> None:
        """Run the rules owning the line's needles; decode the line only if one matches."""
        text, named_step, by_needle = self._seen(raw)
        matched: dict[str, Rule] = {}
        windows: dict[str, Rule] = {}
        for needle in needles:
            verifier = self.matcher.verifier(needle)
            found = by_needle.get(needle)
            if found is None:
                found = by_needle[needle] = self._matching(verifier, text)
            matched.update((rule.id, rule) for rule in found)
            windows.update((rule.id, rule) for rule in verifier.windows)
        if self.done_rules:
            matched = {key: rule for key, rule in matched.items() if not self._is_done(rule)}
            windows = {key: rule for key, rule in windows.items() if not self._is_done(rule)}
        if not matched and not windows:
            return
        step = named_step.decode("utf-8", "replace") if named_step else self.steps.current
        step_line = None if named_step else line_no
        if matched:
            line = decoded_line(text, line_no, step)
            for rule in sorted(matched.values(), key=self.matcher.order):
                self._record(rule, line, None, step_line)
        for rule in windows.values():
            self._start_window(chunk, line_start, (line_no, step, step_line), rule)

    def _seen(self, raw: bytes) -> tuple[bytes, bytes | None, dict[int, tuple[Rule, ...]]]:
        """A candidate line cleaned, and the rules each needle verified on it so far.

        Remembered for short lines (a bounded number): a flood of failures repeats the same
        lines, and the same bytes clean to the same text and match the same rules.
        """
        seen = self._lines.get(raw)
        if seen is None:
            text, named_step = clean_bytes(raw)
            seen = (text, named_step, {})
            if len(raw) <= MEMO_LINE_BYTES:
                if len(self._lines) >= MEMO_KEPT:
                    self._lines.clear()
                self._lines[raw] = seen
        return seen

    @staticmethod
    def _matching(verifier: _Verifier, text: bytes) -> tuple[Rule, ...]:
        """The single-line rules owning one needle that match this cleaned line."""
        if verifier.patterns is None:
            return ()
        return tuple(verifier.owners[index] for index in verifier.patterns.Match(text) or ())

    def _start_window(
        self,
        chunk: Chunk,
        line_start: int,
        where: tuple[int, str | None, int | None],
        rule: Rule,
    ) -> None:
        """Try a multi-line rule from the line at ``line_start``; ``where``: its number, its
        step and the line that step comes from (see :meth:`_match_window`)."""
        number, step, step_line = where
        raw_window = _lines_from(chunk.data, line_start, rule.window)
        if raw_window.count(b"\n") < rule.window:
            self.pending.append((rule, number, raw_window, step, step_line))
        else:
            self._match_window(rule, number, raw_window, step, step_line)

    def _complete_pending(self, chunk: Chunk | None) -> None:
        pending, self.pending = self.pending, []
        for rule, number, started, step, step_line in pending:
            window = started
            if chunk is not None:
                window += _lines_from(chunk.data, 0, rule.window - started.count(b"\n"))
            self._match_window(rule, number, window, step, step_line)

    def _match_window(
        self, rule: Rule, number: int, raw_window: bytes, step: str | None, step_line: int | None
    ) -> None:
        """``step``: the step of the window's first line (``step_line`` when the markers
        gave it), which every line of the window that names none of its own takes.

        A window that did not match is remembered (a bounded number of them): a flood of
        failures repeats the same lines, and the same bytes clean to the same text."""
        futile = (rule.id, raw_window)
        if futile in self._futile:
            return
        lines = raw_window.rstrip(b"\n").split(b"\n")
        cleaned = [clean_line(raw, number + offset, step) for offset, raw in enumerate(lines)]
        text = "\n".join(line.text for line in cleaned)
        for pattern in self.matcher.patterns_of(rule):
            found = pattern.search(text)
            if found:
                first = text.count("\n", 0, found.start())
                if step_line is not None and clean_bytes(lines[first])[1] is not None:
                    step_line = None
                self._record(rule, cleaned[first], found, step_line)
                return
        if len(raw_window) <= MEMO_WINDOW_BYTES:
            if len(self._futile) >= MEMO_KEPT:
                self._futile.clear()
            self._futile.add(futile)

    def _record(self, rule: Rule, line: CleanLine, found: Any, step_line: int | None) -> None:
        test = None
        if rule.extracts_tests:
            if found is not None and "test" in found.re.groupindex:
                test = found.group("test")
            test = test or self.matcher.test_name(rule, line.text)
        if self.events is not None:
            self._log_event(rule, line, test, step_line)
        self._count(rule, line, test)

    def _count(self, rule: Rule, line: CleanLine | None, test: str | None) -> None:
        """One match of ``rule``: counted, its test listed, its line kept if among the first."""
        counts = self.result.counts
        counts[rule.id] = counts.get(rule.id, 0) + 1
        if test and test not in self.tests_seen and len(self.result.tests) < MAX_TESTS:
            self.tests_seen.add(test)
            self.result.tests.append(test)
        if counts[rule.id] <= MAX_HITS_PER_RULE and line is not None:
            self.result.hits.append(Hit(rule, line, test))
        if counts[rule.id] >= MAX_HITS_PER_RULE:
            self._retire_if_done(rule)

    def _count_many(self, rule: Rule, times: int) -> None:
        """``times`` matches of ``rule`` that name no new test, as ``times`` calls of
        :meth:`_count` would count them (the rule retires as soon as it may)."""
        counts = self.result.counts
        count = counts.get(rule.id, 0)
        if rule.extracts_tests and len(self.result.tests) < MAX_TESTS:
            counts[rule.id] = count + times
            return
        if count < MAX_HITS_PER_RULE:
            counts[rule.id] = min(count + times, MAX_HITS_PER_RULE)
        else:
            counts[rule.id] = count + 1
        if counts[rule.id] >= MAX_HITS_PER_RULE:
            self._retire_if_done(rule)

    def _log_event(
        self, rule: Rule, line: CleanLine, test: str | None, step_line: int | None
    ) -> None:
        """Note a match of a part's scan for :meth:`absorb`, in bounded space: a match after
        the rule's first hits is only counted, unless it names a test new to the part."""
        assert self.events is not None
        index = self.matcher.order(rule)
        seen = self.result.counts.get(rule.id, 0)
        if seen < MAX_HITS_PER_RULE:
            self._flush_bulk()
            self.events.append(PartEvent(index, line=line, test=test, step_line=step_line))
        elif test and test not in self.tests_seen and len(self.result.tests) < MAX_TESTS:
            self._flush_bulk()
            self.events.append(PartEvent(index, test=test))
        else:
            self._bulk[index] = self._bulk.get(index, 0) + 1

    def _flush_bulk(self) -> None:
        """Write the counted matches out before an event that may change the list of tests
        (which decides when a rule naming tests retires)."""
        assert self.events is not None
        for index, times in self._bulk.items():
            self.events.append(PartEvent(index, times=times))
        self._bulk.clear()

    def _is_done(self, rule: Rule) -> bool:
        return self.matcher.order(rule) in self.done_rules

    def _retire_if_done(self, rule: Rule) -> None:
        """Stop verifying a rule once nothing more of it would be kept: its first hits are in,
        and it names no tests or the list of tests is full. A needle whose rules are all
        retired stops making candidates, so a log where every line matches (a flood of
        failures, or an attacker's) costs a bounded amount of verification.
        """
        tests_full = len(self.result.tests) >= MAX_TESTS
        if rule.extracts_tests and not tests_full:
            return
        retiring = [rule]
        if rule.extracts_tests:  # the tests just filled up: every capped rule is done now
            counts = self.result.counts
            retiring = [r for r in self.matcher.rules if counts.get(r.id, 0) >= MAX_HITS_PER_RULE]
        matcher = self.matcher
        for retired in retiring:
            index = matcher.order(retired)
            if index in self.done_rules:
                continue
            self.done_rules.add(index)
            for needle in matcher.needles_of(index):
                if not matcher.is_marker(needle) and matcher.owners(needle) <= self.done_rules:
                    self.done_needles.add(needle)

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
        kept = _errorish_lines(self.tail_data, self.tail_first)[-ERRORISH_KEPT:]
        self.result.errorish = [clean_line(raw, n, self.step_at(n)) for n, raw in kept]
        raws = self.tail_data[:-1].rsplit(b"\n", TAIL_KEPT)[-TAIL_KEPT:]
        first = self.tail_first + self.tail_data.count(b"\n") - len(raws)
        numbered = enumerate(raws, start=first)
        self.result.tail = [clean_line(raw, n, self.step_at(n)) for n, raw in numbered]


_ERRORISH = re2.compile(
    b"|".join(re2.escape(word.encode()) for word in ERRORISH_KEYWORDS), re2_options()
)
"""Any error-looking word, run over the ASCII-lowered tail: one linear RE2 pass over the
block (a case-blind Python ``re`` alternation cost 0.05-0.2 s on every log's last 256 KB,
and a test per line 20 ms)."""


def _errorish_lines(data: bytes, first: int) -> list[tuple[int, bytes]]:
    """The lines of ``data`` (whole lines from line ``first``) holding an error-looking word,
    ignoring ASCII case."""
    lowered = data.lower()
    found: list[tuple[int, bytes]] = []
    number, counted_to, pos = first, 0, 0
    while (hit := _ERRORISH.search(lowered, pos)) is not None:
        start = data.rfind(b"\n", 0, hit.start()) + 1
        end = data.find(b"\n", hit.start())
        end = len(data) if end < 0 else end
        number += data.count(b"\n", counted_to, start)
        counted_to = start
        found.append((number, data[start:end]))
        pos = end + 1
    return found


def _pieces(data: bytes, size: int) -> Iterator[tuple[int, int]]:
    """``data`` (whole lines) cut into pieces of about ``size`` bytes, at line ends."""
    start = 0
    while start < len(data):
        newline = data.find(b"\n", min(start + size, len(data)) - 1)
        end = len(data) if newline < 0 else newline + 1
        yield start, end
        start = end


def _lines_from(data: bytes, start: int, count: int) -> bytes:
    """Up to ``count`` whole lines of ``data`` from offset ``start``, each ending in ``\\n``."""
    end = start
    for _ in range(count):
        newline = data.find(b"\n", end)
        if newline < 0:
            return data[start:]
        end = newline + 1
    return data[start:end]

r"""The prefilter: which lines of a chunk hold which needles, found in one call per chunk.

The matcher looks closely only at lines where a needle of some rule occurs (see
:mod:`pipeline_guard.engine.needle`); finding those lines is the one part of a scan that reads
every byte, so it runs in a regex engine built for many patterns over bulk text, never in a
Python loop over lines. Two engines are built in:

- **Hyperscan** (PyPI ``hyperscan``; wheels for linux x86_64 and macOS): every needle compiled
  into one database that reports each needle's matches in one pass over the chunk, with SIMD
  literal search. Compiling 1,800 needles takes seconds, so the compiled database is serialised
  into the rule cache (:func:`pipeline_guard.engine.rule_cache.compiled_database`) and loaded
  in under a millisecond by later processes.
- **RE2** (always installed): the case-blind alternation of every needle as one DFA, searched
  from line to line; the needles present on a candidate line are read off an anchored RE2 set.
  The DFA of 1,800 alternatives outgrows RE2's default memory budget on logs where most lines
  match, and RE2 then falls back to a much slower engine, so it gets :data:`RE2_MAX_MEM`.

:func:`engine_name` says which one runs (``pipeline-guard --version`` prints it): RE2, chosen
by measurement (``benchmarks/bench_speed.py`` prints both). Hyperscan reads a typical 100 MB log
2-3x faster, but the build on PyPI (``hyperscan`` 0.9.1, which bundles Vectorscan 5.4.12)
*loses matches* in a multi-pattern database: with the bundled pack it misses the hadolint
needle on ``docker/api.Dockerfile:5 SC2086 info: ...`` whenever the needle
``(?:\([\d]+\)|:[\d]+):\ (?:fatal\ )?error:?\ in\ "`` is compiled alongside it (each alone
matches; upstream reports of the same kind: VectorCamp/vectorscan#358, gliwka/hyperscan-java#231).
A prefilter that misses a line loses a diagnosis, so Hyperscan is used only when asked for
(``Matcher(rules, engine="hyperscan")``: the benchmark and the engine tests), until a release
passes ``tests/engine/test_prefilter.py`` on the bundled pack. ``HS_FLAG_SOM_LEFTMOST`` avoids
that miss but makes the scan 20x slower than RE2.

One known difference, harmless for the bundled pack: RE2's case-blind matching also folds a few
non-ASCII letters (the Kelvin sign matches ``k``); Hyperscan folds ASCII letters only. No needle
of the bundled pack has a letter with a case outside ASCII.
"""

from __future__ import annotations

import importlib.util
import operator
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

import re2

RE2_MAX_MEM = 256 << 20
"""RE2's memory budget for the combined prefilter. The DFA of 1,800 needles outgrows 64 MB on a
log where most lines match, and RE2 then falls back to its slow engine (3 MB of rule examples:
10.8 s instead of 0.24 s, issue 17)."""

DENSE_SHARE = 0.25
"""A piece of a log whose candidate lines hold more than this share of its bytes (a flood of
failures, or an attacker's) makes the next piece be read line by line: one RE2 set per line
costs less there than the alternation's search and then the set, whose DFAs have to be built
over text where most needles match (issue 15: a third less time and memory)."""

DENSE_PROBE = 512 << 10
"""A first piece at least this large is probed before it is read: whether the log is dense
with candidates is not known yet, and reading a dense piece by search is what costs most."""
PROBE_BYTES = 8 << 10
"""The probe: the piece's first lines, read by search. Dense, the rest is read line by line;
sparse (nearly every log), by search. Reading a whole first piece line by line instead cost
every ordinary log 40 ms (a set match per line of its first megabyte), twice with the rescan
of its failing step; a 64 KB probe of a flood grew the search DFA by 60 MB."""

Candidate = tuple[int, int, set[int]]
"""A candidate line: its start and end offsets in the chunk (end at its ``\\n``), and the
indexes of the needles found on it."""


class Prefilter(Protocol):
    """Finds the candidate lines of a chunk of whole lines (ending in ``\\n``)."""

    name: str
    """Which engine runs, for ``--version`` and the benchmark."""

    def candidates(self, data: bytes) -> list[Candidate]:
        """Every line of ``data`` holding at least one needle, in order."""
        ...


ENGINES = ("re2", "hyperscan")


def engine_name() -> str:
    """The prefilter engine a matcher uses unless told otherwise (see the module docstring)."""
    return "re2"


def hyperscan_available() -> bool:
    return importlib.util.find_spec("hyperscan") is not None


def build_prefilter(
    regexes: Sequence[str], load_database: Callable[[Sequence[str]], Any] | None = None
) -> Prefilter:
    """The best prefilter for these needle regexes.

    ``load_database`` returns a ready Hyperscan database for the regexes (from the cache, or
    compiled and then cached); without it, or without Hyperscan, RE2 runs.
    """
    if load_database is not None and hyperscan_available():
        return HyperscanPrefilter(load_database(regexes))
    return Re2Prefilter(regexes)


def compile_hyperscan(regexes: Sequence[str]) -> Any:
    """A Hyperscan block-mode database of the needle regexes; needle ``i`` reports id ``i``."""
    import hyperscan  # noqa: PLC0415 - optional, and only a cache miss compiles

    database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    expressions = [bytewise(regex).encode("utf-8") for regex in regexes]
    database.compile(
        expressions=expressions,
        ids=list(range(len(expressions))),
        elements=len(expressions),
        flags=[0] * len(expressions),
    )
    return database


def bytewise(regex: str) -> str:
    """A needle regex that Hyperscan, reading bytes, matches wherever RE2 matches it.

    Hyperscan runs without its UTF-8 mode (whose results on invalid UTF-8, which logs do
    contain, are undefined), so a multi-byte character in a class (``[✗✖]``) would stand for
    single bytes. Such a class becomes the class of its ASCII members or a run of non-ASCII
    bytes: it may select a few more lines, never fewer, and the rules verify every candidate.
    Multi-byte characters outside classes are byte sequences and match as they are.
    """
    if regex.isascii():
        return regex
    out: list[str] = []
    index = 0
    while index < len(regex):
        char = regex[index]
        if char == "\\":
            out.append(regex[index : index + 2])
            index += 2
        elif char == "[":
            end = _class_end(regex, index)
            members = regex[index + 1 : end]
            if members.isascii():
                out.append(regex[index : end + 1])
            else:
                ascii_members = _ascii_members(members)
                either = f"[{ascii_members}]|" if ascii_members else ""
                out.append(f"(?:{either}[\\x80-\\xff]+)")
            index = end + 1
        else:
            out.append(char)
            index += 1
    return "".join(out)


def _class_end(regex: str, start: int) -> int:
    """The index of the ``]`` closing the class opened at ``start``."""
    index = start + 1
    while regex[index] != "]" or index == start + 1:
        index += 2 if regex[index] == "\\" else 1
    return index


def _ascii_members(members: str) -> str:
    """The members of a class body that are ASCII (single characters, escapes, ranges)."""
    kept: list[str] = []
    index = 0
    while index < len(members):
        size = 2 if members[index] == "\\" else 1
        item = members[index : index + size]
        if members[index + size : index + size + 1] == "-" and index + size + 1 < len(members):
            high = 2 if members[index + size + 1] == "\\" else 1
            item = members[index : index + size + 1 + high]
        if item.isascii():
            kept.append(item)
        elif item[0].isascii() and len(item) > size:  # a range from ASCII up: its ASCII part
            kept.append(f"{members[index : index + size]}-\\x7f")
        index += len(item)
    return "".join(kept)


def dump_hyperscan(database: Any) -> bytes:
    import hyperscan  # noqa: PLC0415 - see compile_hyperscan

    return bytes(hyperscan.dumpb(database))


def load_hyperscan(data: bytes) -> Any:
    """A serialised database, ready to scan (with its scratch space)."""
    import hyperscan  # noqa: PLC0415 - see compile_hyperscan

    database = hyperscan.loadb(bytearray(data), hyperscan.HS_MODE_BLOCK)
    database.scratch = hyperscan.Scratch(database)
    return database


class HyperscanPrefilter:
    """All needles in one Hyperscan database; matches grouped into lines in one pass."""

    name = "hyperscan"

    def __init__(self, database: Any) -> None:
        self._database = database

    def candidates(self, data: bytes) -> list[Candidate]:
        ends: list[int] = []
        ids: list[int] = []
        add_end, add_id = ends.append, ids.append

        def on_match(needle: int, _start: int, end: int, _flags: int, _context: Any) -> None:
            add_end(end)
            add_id(needle)

        self._database.scan(data, match_event_handler=on_match)
        return _group_by_line(data, ends, ids)


def _group_by_line(data: bytes, ends: list[int], ids: list[int]) -> list[Candidate]:
    """Matches (by end offset, in the order Hyperscan reports them) grouped per line."""
    found: list[Candidate] = []
    line_start = line_end = -1
    needles: set[int] = set()
    pairs: Iterable[tuple[int, int]] = zip(ends, ids, strict=True)
    if not all(map(operator.le, ends, ends[1:])):
        pairs = sorted(pairs)  # Hyperscan reports in end order in practice; never rely on it
    for end, needle in pairs:
        if end > line_end:
            if needles:
                found.append((line_start, line_end, needles))
            line_start = data.rfind(b"\n", 0, end - 1) + 1
            line_end = data.find(b"\n", end - 1)
            if line_end < 0:
                line_end = len(data)
            needles = set()
        needles.add(needle)
    if needles:
        found.append((line_start, line_end, needles))
    return found


class Re2Prefilter:
    """All needles as one RE2 alternation; the needles of a candidate line from an RE2 set."""

    name = "re2"

    def __init__(self, regexes: Sequence[str], *, dense: bool | None = None) -> None:
        """``dense``: how the next piece is read (None: not known yet, see :data:`DENSE_PROBE`);
        a prefilter rebuilt in the middle of a log goes on as the one it replaces."""
        options = re2.Options()
        options.log_errors = False
        options.max_mem = RE2_MAX_MEM
        options.never_capture = True
        encoded = [regex.encode("utf-8") for regex in regexes]
        self._options, self._encoded = options, encoded
        self._anywhere: Any = None
        self.dense = dense
        if not encoded:  # nothing to look for (a small log holding no needle's literal)
            return
        self._find = _span_finder(re2.compile(b"|".join(encoded), options))
        self._at_start = re2.Set.MatchSet(options)
        for regex in encoded:
            self._at_start.Add(regex)
        self._at_start.Compile()

    def candidates(self, data: bytes) -> list[Candidate]:
        """The candidate lines, found by searching the chunk, or line by line where the
        last piece was dense with them (see :data:`DENSE_SHARE`): the same lines either way."""
        if not self._encoded:
            return []
        if self.dense is None and len(data) >= DENSE_PROBE:
            return self._probed(data)
        found = self.line_by_line(data) if self.dense else self.by_search(data)
        self._measure(found, len(data))
        return found

    def _probed(self, data: bytes) -> list[Candidate]:
        """A first large piece: its first :data:`PROBE_BYTES` by search, which says how the
        rest is read."""
        cut = data.find(b"\n", PROBE_BYTES) + 1 or len(data)
        found = self.by_search(data[:cut])
        self._measure(found, cut)
        rest = data[cut:]
        later = self.line_by_line(rest) if self.dense else self.by_search(rest)
        found += [(start + cut, end + cut, needles) for start, end, needles in later]
        self._measure(found, len(data))
        return found

    def _measure(self, found: list[Candidate], size: int) -> None:
        """How the next piece is read: line by line after a dense one."""
        covered = sum(end - start + 1 for start, end, _ in found)
        self.dense = covered > DENSE_SHARE * size

    def line_by_line(self, data: bytes) -> list[Candidate]:
        """Every line holding a needle, each line asked of one unanchored RE2 set.

        Needles hold no anchors nor word boundaries (``engine/needle.py``), so a needle is in
        a line exactly when the search finds it there, and the set names the same needles
        as :meth:`by_search`. Built on first use: most logs never need it.
        """
        if self._anywhere is None:
            self._anywhere = re2.Set.SearchSet(self._options)
            for regex in self._encoded:
                self._anywhere.Add(regex)
            self._anywhere.Compile()
        match = self._anywhere.Match
        found: list[Candidate] = []
        start = 0
        for line in data.split(b"\n"):
            end = start + len(line)
            if line:
                needles = match(line)
                if needles:
                    found.append((start, end, set(needles)))
            start = end + 1
        return found

    def by_search(self, data: bytes) -> list[Candidate]:
        """Every line holding a needle, from searching the whole chunk with the alternation."""
        found: list[Candidate] = []
        end = len(data)
        pos = 0
        while pos < end:
            span = self._find(data, pos, end)
            if span is None:
                break
            start = span[0]
            line_start = data.rfind(b"\n", 0, start) + 1
            line_end = data.find(b"\n", start)
            if line_end < 0:
                line_end = end
            raw = data[line_start:line_end]
            found.append((line_start, line_end, self._needles_in(raw, start - line_start)))
            pos = line_end + 1
        return found

    def _needles_in(self, raw: bytes, first: int) -> set[int]:
        """Every needle found in this line, from the prefilter's first hit at ``first`` on.

        The set of needles matching at a position is read off the anchored RE2 set, and the
        search goes on from just after that position, so overlapping needles are not missed.
        """
        found: set[int] = set()
        position: int | None = first
        end = len(raw)
        while position is not None:
            found.update(self._at_start.Match(raw[position:]) or ())
            span = self._find(raw, position + 1, end)
            position = span[0] if span is not None else None
        return found


def _span_finder(pattern: Any) -> Callable[[bytes, int, int], tuple[int, int] | None]:
    """A search returning just the span of the next match in ``data[pos:end]``, or None.

    The hot loop of the RE2 engine, so it calls RE2's match directly instead of going through
    the ``re``-like wrapper, which builds a match object and converts offsets on every call.
    """
    regexp = pattern._regexp
    unanchored = re2._Anchor.UNANCHORED

    def find(data: bytes, pos: int, end: int) -> tuple[int, int] | None:
        span: tuple[int, int] = regexp.Match(unanchored, data, pos, end)[0]
        return None if span[0] < 0 else span

    return find


SMALL_CHUNK_BYTES = 32 << 10
"""Chunks up to this size are gated by :class:`LiteralGate` before any prefilter is built."""
_FOLDS_TO_ASCII = (b"\xe2\x84\xaa", b"\xc5\xbf")
"""The Kelvin sign and the long s: RE2's case-blind matching takes them for ``k`` and ``s``."""


class LiteralGate:
    """Which needles can occur in a small chunk, by plain substring tests of their anchors.

    Building the prefilter of the whole pack (one RE2 regex and set of 1,800 needles) costs
    about 50 ms, a quarter of the start of ``analyze`` on a small log, and a compiled RE2
    cannot be stored. A 10 KB log holds the anchor of a few dozen needles at most; every
    match of a needle contains its anchor (``Needle.anchor``), so a prefilter of just those
    needles finds exactly the same lines, and compiles in about a millisecond. Testing 1,800
    anchors costs a few milliseconds per 10 KB, so this pays for small chunks only.
    """

    def __init__(self, anchors: Sequence[str]) -> None:
        """``anchors``: each needle's anchor (lowercased; "" for none), in needle order."""
        self._tested = [
            (index, anchor.encode("utf-8"))
            for index, anchor in enumerate(anchors)
            if len(anchor) >= 2 and anchor.isascii()
        ]
        self._always = [
            index for index, anchor in enumerate(anchors) if len(anchor) < 2 or not anchor.isascii()
        ]
        """Needles without an ASCII anchor (``str.lower`` and ``bytes.lower`` agree on ASCII
        only): always asked of the prefilter."""

    def present(self, data: bytes) -> list[int] | None:
        """The needles whose anchor occurs in ``data`` (ASCII case ignored), in order; None
        when the test cannot be trusted for this text (a character RE2 folds into ASCII)."""
        if any(folding in data for folding in _FOLDS_TO_ASCII):
            return None
        lowered = data.lower()
        found = [index for index, anchor in self._tested if anchor in lowered]
        return sorted(found + self._always)

"""The specific error behind a decisive line, where the tool prints it away from that line.

Two shapes, both declared by the rule (see :class:`~pipeline_guard.engine.rule.Details` and
``Rule.wraps``), so that the bundled pack and a repository's own rules say it the same way:

- **Details below.** A test runner names a failing test as it runs (pytest's
  ``path::test_x FAILED``, Go's parent ``--- FAIL: TestX``, mocha's ``1 failing``, xcpretty's
  ``✗ test_x, ...``) and explains it further down (the FAILURES section's ``E   `` lines, the
  nested ``--- FAIL: TestX/case``, ``1) suite title:`` and its ``AssertionError``). The
  explanation is what the reader needs, and what people mark as the failure reason.
- **Lines above a wrapper.** A wrapper sums up errors printed before it (GHC's ``Failing due
  to -Werror`` after the warnings it promoted; SwiftLint's ``Found 3 violations``): the first
  of those lines since the previous such wrapper is the specific error.

Both search the failing step's bytes (at most ``SNAPSHOT_BYTES``) for the literal text the
pattern needs (its needles, as the matcher's prefilter derives them) and clean only the lines
holding it: cleaning every line of a step costs a 20,000-line step about 50 ms.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import lru_cache
from typing import Any

import re2

from pipeline_guard.engine.log_reader import CleanLine, clean_line
from pipeline_guard.engine.matcher import Hit
from pipeline_guard.engine.needle import derive_needles
from pipeline_guard.engine.rule import TEST_PLACEHOLDER, re2_options
from pipeline_guard.engine.step_tracker import FailingStep


def details_below(
    step: FailingStep, decisive: Hit, familiar: frozenset[int] = frozenset()
) -> list[CleanLine]:
    """The line that explains the decisive hit's failure below it, when its rule says where.

    The explanation's first ``error`` line (within ``lines`` of its header, before the next
    test's header), else the header itself; nothing where the runner printed no explanation
    (``pytest -q --tb=no``) or the rule needs a test name the match did not capture. A header
    naming the test (``{test}``) that is not below is looked for above, nearest first: pytest
    without ``-v`` names a failing test only in the short summary after its FAILURES section.
    """
    details = decisive.rule.details
    if details is None or decisive.line.number < step.data_first:
        return []  # (a match the whole-log scan kept from above the step's snapshot)
    pattern = details.header_for(decisive.test)
    if pattern is None:
        return []
    header = next(_matching(step, pattern, decisive.line.number + 1, None, familiar), None)
    if header is None and TEST_PLACEHOLDER in details.header:
        header = _last(_matching(step, pattern, step.focus, decisive.line.number - 1, familiar))
    if header is None:
        return []
    if details.error is None:
        return [header]
    error = _error_below(step, header, details.error, details.next_header(), details.lines)
    if error is not None and error.number not in familiar:
        return [error]
    return [header]


def wrapped_above(
    step: FailingStep,
    wrapper: Hit,
    wrappers: Sequence[Hit],
    familiar: frozenset[int] = frozenset(),
) -> list[CleanLine]:
    """The first line a wrapper sums up (its rule's ``wraps``), above it and after the previous
    match of the same wrapper (which closed another block), in the failing command's output."""
    if not wrapper.rule.wraps:
        return []
    earlier = [
        hit.line.number
        for hit in wrappers
        if hit.rule.id == wrapper.rule.id and hit.line.number < wrapper.line.number
    ]
    first = max(earlier) + 1 if earlier else step.focus
    pattern = "|".join(f"(?:{each})" for each in wrapper.rule.wraps)
    found = next(_matching(step, pattern, first, wrapper.line.number - 1, familiar), None)
    return [found] if found is not None else []


def _matching(
    step: FailingStep, pattern: str, first: int, last: int | None, familiar: frozenset[int]
) -> Iterator[CleanLine]:
    """The step's lines ``first..last`` that ``pattern`` matches once cleaned, in order."""
    data = step.data
    number = max(first, step.data_first)
    start = _skip_lines(data, 0, number - step.data_first)
    end = len(data) if last is None else _skip_lines(data, start, last + 1 - number)
    candidates, regex = _compiled(pattern)
    counted = start
    at = start
    while at < end:
        found = candidates.search(data, at, end)
        if found is None:
            return
        line_start = data.rfind(b"\n", 0, found.start()) + 1
        line_end = data.find(b"\n", found.start())
        line_end = len(data) if line_end < 0 else line_end
        number += data.count(b"\n", counted, line_start)
        counted = line_start
        line = clean_line(data[line_start:line_end], number, step.name)
        if number not in familiar and regex.search(line.text):
            yield line
        at = line_end + 1


def _last(lines: Iterator[CleanLine]) -> CleanLine | None:
    found = None
    for found in lines:  # noqa: B007 - the last one is wanted
        pass
    return found


def _error_below(
    step: FailingStep, header: CleanLine, error: str, next_header: str | None, limit: int
) -> CleanLine | None:
    """The first line matching ``error`` in the ``limit`` lines below ``header``, stopping at
    the next test's header."""
    data = step.data
    start = _skip_lines(data, 0, header.number + 1 - step.data_first)
    raws = data[start:].split(b"\n", limit)[:limit]
    wanted = _regex(error)
    stop = _regex(next_header) if next_header is not None else None
    for offset, raw in enumerate(raws):
        line = clean_line(raw, header.number + 1 + offset, step.name)
        if stop is not None and stop.search(line.text):
            return None
        if wanted.search(line.text):
            return line
    return None


def _skip_lines(data: bytes, at: int, count: int) -> int:
    """The byte offset ``count`` lines after offset ``at`` (a line start); the end of ``data``
    past its last line. (The end of a range is counted on from its start, not from 0.)"""
    for _ in range(max(0, count)):
        at = data.find(b"\n", at) + 1
        if at == 0:
            return len(data)
    return at


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> tuple[Any, Any]:
    """The bytes regex of the literal text every match of ``pattern`` holds, and ``pattern``.

    A pattern without such text (checked when a rule file is read) is looked for on every
    line."""
    needles = derive_needles(pattern)
    if needles:
        joined = "|".join(needle.prefilter_regex for needle in needles)
        candidates = re2.compile(joined.encode(), re2_options())
    else:
        candidates = re2.compile(rb"(?m)^", re2_options())
    return candidates, _regex(pattern)


@lru_cache(maxsize=256)
def _regex(pattern: str) -> Any:
    return re2.compile(pattern, re2_options())

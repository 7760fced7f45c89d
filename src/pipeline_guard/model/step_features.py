"""Features of the lines of a failing step, the same way at training and inference.

The line ranker (:mod:`pipeline_guard.model.ranker`) scores each line of the step that ended a
job by how likely it states why the job failed. What tells the cause from its surroundings is
partly the words of the line (``AssertionError``, ``cannot find symbol``, ``npm ERR! code``)
and partly where it sits: the first specific error before the exit, not the summary below it
(``Tests failed: 3``, ``make: *** Error 2``) nor an earlier line that merely looks like one.
So every line gets, as named binary features:

- ``t:`` its word unigrams and bigrams (:func:`~pipeline_guard.model.features.line_tokens`:
  lower-cased, numbers and hex ids dropped);
- ``n:`` the same words once more when the line is within :data:`NEAR_EXIT` lines of the exit,
  so a word can weigh differently next to the exit than far from it;
- ``d:`` its distance to the exit line, and ``r:`` its relative position in the step, in bins;
- ``s:`` its shape: indentation, a stack frame (``at ...``, ``File "...", line``), a
  ``path:line:col`` location, a log-level prefix, length, trailing colon;
- ``e:`` error and warning words, and whether it is the first or the last error-looking line of
  the step, and how many error-looking lines come before and after it;
- ``c:`` the shape of its neighbours (the line above blank, the line below a stack frame);
- ``x:`` in how many *other* projects' logs the same normalised line occurs (the pack's table of
  common lines): a line every project prints is boilerplate, not a cause.

Each feature name is hashed with CRC-32 to one of ``2 ** bits`` ids (no vocabulary to store).
:data:`RANKER_FEATURE_VERSION` is written into the pack; a change here must bump it, so an old
pack is refused instead of silently mis-scoring.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence

from pipeline_guard.model.features import line_tokens

RANKER_FEATURE_VERSION = 1
NEAR_EXIT = 12
MAX_RANKED_BEFORE = 2000
MAX_RANKED_AFTER = 50
MAX_FEATURE_CHARS = 300
"""Only the start of a long line is tokenised (the rest is usually a dump of values)."""

_ERROR = re.compile(
    r"\b(?:error|errors|fatal|exception|panic|traceback|fail|failed|failure|failures|assert\w*"
    r"|expected|cannot|could not|unable|undefined|not found|no such|denied|refused|missing"
    r"|invalid|unexpected|abort\w*|killed|segmentation|timed? ?out)\b|err!|✖|✗|×",
    re.IGNORECASE,
)
_WARNING = re.compile(r"\b(?:warn(?:ing)?|deprecat\w*|notice|debug|info)\b", re.IGNORECASE)
_FRAME = re.compile(r"^\s*(?:at |File \"|from |#\d+ |\d+: 0x|in <|\.\.\. \d+ more)")
_LOCATION = re.compile(r"(?<![\w./-])[\w./-]+\.\w{1,6}[:(]\d+(?:[:,]\d+)?")
_LEVEL = re.compile(r"^\s*(\[[A-Z]{3,8}\]|[A-Z]{4,8}:|E  |> |npm ERR!|--- FAIL|FAIL|ok |PASS)")
_SUMMARY = re.compile(
    r"\b(?:\d+ (?:failed|failing|failures?|errors?|passed|passing|tests?)|tests? run"
    r"|build failure|build failed|exit (?:code|status)|exited with|returned a non-zero)\b",
    re.IGNORECASE,
)
_ERROR_WORDS = (
    *("error", "fatal", "exception", "panic", "traceback", "fail", "assert", "expected"),
    *("cannot", "could not", "unable", "undefined", "not found", "no such", "denied"),
    *("refused", "missing", "invalid", "unexpected", "abort", "killed", "segmentation"),
    *("time", "err!", "✖", "✗", "×"),
)
_SUMMARY_WORDS = ("fail", "error", "pass", "test", "build", "exit", "returned")
_WARNING_WORDS = ("warn", "deprecat", "notice", "debug", "info")
"""Words one of which each pattern above needs: a cheap test before the regex (most lines
have none of them, and the patterns are long alternations)."""
_NUMBERS = re.compile(r"\d+")
_HEX = re.compile(r"\b[0-9a-f]{7,}\b")
_SPACES = re.compile(r"\s+")
_DISTANCE_BINS = (0, 1, 2, 3, 5, 8, 12, 20, 35, 60, 100, 200, 500, 1000)
_COUNT_BINS = (0, 1, 2, 4, 8, 16)


def normalised(text: str) -> str:
    """A line with what changes between runs and projects' builds removed: for the common-line
    table, where the same boilerplate must hash the same in every log."""
    lowered = _HEX.sub("h", text.strip().lower())
    return _SPACES.sub(" ", _NUMBERS.sub("0", lowered))[:MAX_FEATURE_CHARS]


def line_hash(text: str) -> int:
    """The 32-bit hash of a line's normalised form (the common-line table's key)."""
    return zlib.crc32(normalised(text).encode("utf-8"))


def ranked_range(count: int, exit_index: int) -> range:
    """The lines the ranker scores: at most MAX_RANKED_BEFORE before the exit and
    MAX_RANKED_AFTER after it (the cause is rarely farther; the cost stays bounded)."""
    return range(max(0, exit_index - MAX_RANKED_BEFORE), min(count, exit_index + MAX_RANKED_AFTER))


def step_feature_names(lines: Sequence[str], exit_index: int) -> list[list[str]]:
    """The feature names of every line, except the common-line one (see :func:`common_name`).

    ``lines`` are the lines to rank (already cut to :func:`ranked_range`), ``exit_index`` the
    exit's index among them."""
    facts = [_Facts(text) for text in lines]
    errorish = [fact.error and not fact.summary for fact in facts]
    positions = [index for index, flag in enumerate(errorish) if flag]
    first_error = positions[0] if positions else -1
    last_error = max((i for i in positions if i < exit_index), default=-1)
    before = 0
    total_before_exit = sum(1 for i in positions if i < exit_index)
    around = [_neighbour_names(fact) for fact in facts]
    names: list[list[str]] = []
    for index in range(len(lines)):
        names.append(
            _line_names(facts, index, exit_index, around)
            + _error_names(errorish[index], index, first_error, last_error)
            + [f"e:before:{_bin(before, _COUNT_BINS)}"]
            + [f"e:after:{_bin(max(0, total_before_exit - before - 1), _COUNT_BINS)}"]
        )
        before += errorish[index]
    return names


def common_name(projects: int) -> str:
    """The feature saying in how many other projects' logs a line occurs."""
    return f"x:{_bin(projects, _COUNT_BINS)}"


class _Facts:
    """What the patterns say about one line, each pattern run once (the full line for the
    error and summary tests, its first MAX_FEATURE_CHARS for its shape)."""

    __slots__ = ("error", "frame", "short", "summary", "text")

    def __init__(self, text: str) -> None:
        lowered = text.lower()
        self.text = text
        self.short = text[:MAX_FEATURE_CHARS]
        self.error = _found(_ERROR, text, lowered, _ERROR_WORDS)
        self.summary = _found(_SUMMARY, text, lowered, _SUMMARY_WORDS)
        self.frame = bool(_FRAME.match(text))

    def short_summary(self) -> bool:
        if len(self.text) <= MAX_FEATURE_CHARS:
            return self.summary
        return _found(_SUMMARY, self.short, self.short.lower(), _SUMMARY_WORDS)


def _found(pattern: re.Pattern[str], text: str, lowered: str, words: Sequence[str]) -> bool:
    return any(word in lowered for word in words) and bool(pattern.search(text))


def _line_names(
    facts: Sequence[_Facts], index: int, exit_index: int, around: Sequence[list[str]]
) -> list[str]:
    fact = facts[index]
    text = fact.short
    tokens = line_tokens(text)
    names = [f"t:{token}" for token in tokens]
    distance = exit_index - index
    if 0 <= distance <= NEAR_EXIT:
        names += [f"n:{token}" for token in tokens]
    names.append("d:after" if distance < 0 else f"d:{_bin(distance, _DISTANCE_BINS)}")
    names.append(f"r:{min(9, index * 10 // max(1, len(facts)))}")
    names += _shape_names(fact)
    above = around[index - 1] if index > 0 else ["blank"]
    below = around[index + 1] if index + 1 < len(facts) else ["blank"]
    names += [f"c:up:{name}" for name in above]
    names += [f"c:down:{name}" for name in below]
    return names


def _shape_names(fact: _Facts) -> list[str]:
    prefix, text = "s", fact.short
    stripped = text.lstrip()
    indent = len(text) - len(stripped)
    names = [f"{prefix}:indent:{_bin(indent, (0, 1, 2, 4, 8))}"]
    names.append(f"{prefix}:len:{_bin(len(stripped), (0, 1, 10, 30, 80, 160))}")
    if fact.frame and _FRAME.match(text):
        names.append(f"{prefix}:frame")
    if _LOCATION.search(text):
        names.append(f"{prefix}:location")
    level = _LEVEL.match(text)
    if level:
        names.append(f"{prefix}:level:{_NUMBERS.sub('0', level.group(1).strip().lower())}")
    if stripped.endswith(":"):
        names.append(f"{prefix}:colon")
    if fact.short_summary():
        names.append(f"{prefix}:summary")
    if _found(_WARNING, text, text.lower(), _WARNING_WORDS):
        names.append(f"{prefix}:warning")
    return names


def _neighbour_names(fact: _Facts) -> list[str]:
    if not fact.text.strip():
        return ["blank"]
    names = []
    if fact.frame:
        names.append("frame")
    if fact.error:
        names.append("error")
    if fact.summary:
        names.append("summary")
    return names or ["plain"]


def _error_names(errorish: bool, index: int, first_error: int, last_error: int) -> list[str]:
    if not errorish:
        return []
    names = ["e:error"]
    if index == first_error:
        names.append("e:first")
    if index == last_error:
        names.append("e:last")
    return names


def _bin(value: int, edges: Sequence[int]) -> int:
    """The largest edge not above ``value`` (edges ascending, the first one the floor)."""
    chosen = edges[0]
    for edge in edges:
        if value >= edge:
            chosen = edge
    return chosen


def hash_name(name: str, bits: int) -> int:
    return zlib.crc32(name.encode("utf-8")) & ((1 << bits) - 1)

"""Derive what the matcher's prefilter looks for on behalf of each rule pattern.

The matcher scans a whole log once for the *needles* of every rule and runs a rule's regexes
only on the lines where one of its needles occurs. A needle is a literal that every match of
the pattern contains (``npm ERR! code E(?:CONNRESET|TIMEDOUT)`` always contains
``econnreset`` or ``etimedout``), possibly followed by the narrow pieces of the pattern that
come right after it: ``\\S+\\.py:\\d+:\\d+: [EWFC]\\d{3}`` gives ``.py:`` extended to
``\\.py:\\d+:\\d+: [EWFC]\\d{3}``, which the many ``tests/x.py::test_y PASSED`` lines of a verbose
pytest run do not match. A rule author may instead list ``keywords`` by hand (plain literals).

Among the needles a pattern allows, the most *selective* is chosen: the one with the most
letters that are not everyday log words, plus its narrow pieces. ``\\S+\\.go:\\d+: error:``
yields ``.go:`` rather than ``: error:``, because nearly every log line with an error says
"error". Every needle hit costs a check of that line in Python, so selective needles keep the
scan of a noisy log fast.

Literals are lower case (the prefilter ignores case, which can only add candidates, never
lose one). A pattern that requires no literal of at least :data:`MIN_KEYWORD` bytes gets
``None``; its rule must then list ``keywords`` (the matcher says so).
"""

from __future__ import annotations

import re
import re._constants as sre_constants
import re._parser as sre_parse
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

MIN_KEYWORD = 3
MIN_SCORE = 4.0
KEYWORDS_VERSION = 5  # 5: needles carry an anchor
"""Bumped whenever derivation changes, so cached derivations (:mod:`rule_cache`) are redone."""
MAX_COUNT = 20

COMMON_WORDS = frozenset(
    """
    error errors warning warnings warn fail failed failure failures fatal test tests info
    debug note the and not for with from found to in of on at is are was be by it this that
    no ok done run running build line file files code exit status true false null none all
    any can cannot could would should will has have had been unable missing invalid required
    expected empty module exception
    """.split()
)
"""Words so frequent in CI logs that a keyword made only of them selects little."""

_WORD = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True, order=True)
class Needle:
    """A literal every match contains, and the regex the prefilter runs for it.

    ``regex`` is the escaped literal followed by narrow pieces only (literals, character
    classes, runs of digits): broad ones like ``.*`` would make the combined prefilter
    automaton explode.
    """

    literal: str
    regex: str
    score: float = field(default=0.0, compare=False)
    """How selective the needle is (see :func:`selectivity`); higher is rarer."""
    ignore_case: bool = True
    """False when the pattern is case-sensitive: ``ERROR`` then skips the many "error"s."""
    anchor: str = field(default="", compare=False)
    """Text (lowercased) that every match of ``regex`` contains, "" when there is none to
    rely on (``literal`` names the needle but may be one option of a branch). A small log
    without any needle's anchor needs no prefilter (:class:`~.prefilter.LiteralGate`)."""

    @property
    def prefilter_regex(self) -> str:
        """The needle's regex with its case rule, to join with other needles' in one regex."""
        return f"(?i:{self.regex})" if self.ignore_case else f"(?:{self.regex})"


_Options = frozenset[Needle]


_DERIVED: dict[str, tuple[Needle, ...] | None] = {}


def derive_needles(pattern: str) -> tuple[Needle, ...] | None:
    """Needles of which every match of ``pattern`` contains at least one, or None."""
    if pattern not in _DERIVED:
        _DERIVED[pattern] = _derive(pattern)
    return _DERIVED[pattern]


def remember_needles(derived: dict[str, tuple[Needle, ...] | None]) -> None:
    """Take derivations computed earlier (the rule cache) instead of redoing them."""
    _DERIVED.update(derived)


def _derive(pattern: str) -> tuple[Needle, ...] | None:
    try:
        parsed = sre_parse.parse(pattern)
    except re.error:  # RE2-only syntax: the rule must list its keywords
        return None
    options = _best_factor(list(parsed), stop_at_newline=True)
    if options is None:
        return None
    if _ignores_case(parsed):
        return tuple(sorted(options))
    return tuple(sorted(replace(needle, ignore_case=False) for needle in options))


def _ignores_case(parsed: Any) -> bool:
    """Whether ``(?i)`` applies to the pattern or any part of it."""
    if parsed.state.flags & sre_constants.SRE_FLAG_IGNORECASE:
        return True
    return _scoped_ignore_case(list(parsed))


def _scoped_ignore_case(items: list[tuple[Any, Any]]) -> bool:
    for op, av in items:
        if op is sre_constants.SUBPATTERN:
            if av[1] & sre_constants.SRE_FLAG_IGNORECASE or _scoped_ignore_case(list(av[-1])):
                return True
        elif op is sre_constants.BRANCH:
            if any(_scoped_ignore_case(list(branch)) for branch in av[1]):
                return True
        elif op in (
            sre_constants.MAX_REPEAT,
            sre_constants.MIN_REPEAT,
            sre_constants.POSSESSIVE_REPEAT,
        ):
            if _scoped_ignore_case(list(av[2])):
                return True
        elif op is sre_constants.ATOMIC_GROUP and _scoped_ignore_case(list(av)):
            return True
    return False


def derive_keywords(pattern: str) -> tuple[str, ...] | None:
    """The literals of :func:`derive_needles`: what every match of ``pattern`` contains."""
    needles = derive_needles(pattern)
    return None if needles is None else tuple(sorted({needle.literal for needle in needles}))


def literal_needle(keyword: str) -> Needle:
    """A hand-written keyword as a needle."""
    lowered = keyword.lower()
    return Needle(lowered, re.escape(lowered), selectivity(keyword), anchor=lowered)


def selectivity(keyword: str) -> float:
    r"""How much a keyword narrows a scan: letters outside everyday log words count most.

    A word that is part of an everyday word (``est`` of ``test``) is as common as that word.
    A symbol outside ASCII (``×``, ``✖``, ``›``) counts as two rare letters: test reporters
    print them only on the lines that matter, while ``\d+ms`` timings are on every other line
    of a verbose test run (issue 17: vitest's `` \d+ ?ms`` selected 1.6 % of all lines).
    """
    words = _WORD.findall(keyword.lower())
    rare = sum(len(word) for word in words if len(word) > 1 and not _part_of_common(word))
    symbols = sum(1 for char in keyword if not char.isascii() and not char.isalpha())
    return rare + 2.0 * symbols + 0.25 * max(0, len(keyword) - rare - symbols)


@lru_cache(maxsize=8192)
def _part_of_common(word: str) -> bool:
    return any(word in common for common in COMMON_WORDS)


def _best_factor(items: list[tuple[Any, Any]], stop_at_newline: bool = False) -> _Options | None:
    """The most selective set of needles that any match of this sequence must contain.

    Candidates are the *segments* of the sequence (maximal runs of narrow pieces, rendered
    whole as one needle) and the needles required by the broad pieces in between (one of a
    branch's alternatives, the body of a ``+`` repeat).
    """
    flat = _flatten(items)
    if stop_at_newline:
        flat = flat[
            : next((i for i, (op, av) in enumerate(flat) if _is_newline(op, av)), len(flat))
        ]
    factors: list[_Options] = []
    start = 0
    for position, (op, av) in enumerate([*flat, (None, None)]):
        if op is not None and _render(op, av) is not None:
            continue
        segment = _segment_needle(flat[start:position])
        if segment is not None:
            factors.append(frozenset({segment}))
        if op is not None:
            factor = _required(op, av)
            if factor is not None:
                factors.append(factor)
        start = position + 1
    usable = [factor for factor in factors if all(_usable(needle) for needle in factor)]
    return max(usable, key=_factor_score, default=None)


def _usable(needle: Needle) -> bool:
    """A literal of 3+ bytes, or narrow pieces that constrain as much (``\\d+\\) [A-Z]\\w*::``)."""
    return _size(needle.literal) >= MIN_KEYWORD or needle.score >= MIN_SCORE


def _is_newline(op: Any, av: Any) -> bool:
    return op is sre_constants.LITERAL and av == 10


def _segment_needle(segment: list[tuple[Any, Any]]) -> Needle | None:
    """One needle for a run of narrow pieces: its rendering, named by its best literal."""
    pieces = [(op, av) for op, av in segment if op is not sre_constants.AT]
    while pieces and _selects_nothing(*pieces[0]):
        pieces.pop(0)
    while pieces and _selects_nothing(*pieces[-1]):
        pieces.pop()
    literal = _segment_literal(pieces)
    if literal is None:
        return None if not pieces else _literal_free_needle(pieces)
    extra = sum(_information(op, av) for op, av in pieces) - len(literal)
    score = selectivity(literal) + 0.5 * max(0.0, extra)
    regex = "".join(_render(op, av) or "" for op, av in pieces)
    return Needle(literal, regex, score, anchor=_longest_run(pieces).lower())


def _literal_free_needle(pieces: list[tuple[Any, Any]]) -> Needle | None:
    """A segment with no long literal, named by its longest one; usable if narrow enough."""
    literals = ["".join(chr(av) for op, av in pieces if op is sre_constants.LITERAL)]
    score = 0.5 * sum(_information(op, av) for op, av in pieces)
    regex = "".join(_render(op, av) or "" for op, av in pieces)
    return Needle(literals[0].lower(), regex, score, anchor=_longest_run(pieces).lower())


def _information(op: Any, av: Any) -> float:
    """Roughly how many characters' worth of constraint a narrow piece adds."""
    if op is sre_constants.LITERAL:
        return 1.0 if chr(av).isalnum() else 0.5
    if op is sre_constants.IN:
        return 0.5
    if op is sre_constants.MAX_REPEAT:
        return float(min(av[0], 3) * sum(_information(o, a) for o, a in av[2]))
    if op is sre_constants.BRANCH:
        return min(sum(_information(o, a) for o, a in branch) for branch in av[1])
    if op is sre_constants.SUBPATTERN:
        return sum(_information(o, a) for o, a in av[-1])
    return 0.0


def _repeated_literal(op: Any, av: Any) -> str:
    """``x{3,}`` as "xxx" (at most 8), or "" for anything else."""
    if op is not sre_constants.MAX_REPEAT or av[0] < 2:
        return ""
    body = list(av[2])
    if len(body) != 1 or body[0][0] is not sre_constants.LITERAL:
        return ""
    return str(chr(body[0][1]) * min(av[0], 8))


def _selects_nothing(op: Any, av: Any) -> bool:
    """Optional pieces and whitespace at the edge of a segment."""
    if op is sre_constants.MAX_REPEAT and av[0] == 0:
        return True
    return (_render(op, av) or "").startswith(_SPACE)


def _longest_run(pieces: list[tuple[Any, Any]]) -> str:
    """The longest run of literal characters of a segment: text every match contains."""
    best = ""
    run: list[str] = []
    for op, av in [*pieces, (None, None)]:
        if op is sre_constants.LITERAL:
            run.append(chr(av))
            continue
        repeated = _repeated_literal(op, av)
        if repeated:
            run.append(repeated)  # `_{3,}` always contains "___"
            if av[1] == av[0]:
                continue  # an exact count keeps the run going
        if len("".join(run).encode()) > len(best.encode()):
            best = "".join(run)
        run = []
    return best


def _segment_literal(pieces: list[tuple[Any, Any]]) -> str | None:
    """The longest literal run of a segment, or the weakest option of a branch in it."""
    best = _longest_run(pieces)
    if _size(best) >= MIN_KEYWORD:
        return best.lower()
    for op, av in pieces:
        if op is sre_constants.BRANCH:
            options = _required(op, av)
            if options and min(_size(n.literal) for n in options) >= MIN_KEYWORD:
                return min((n.literal for n in options), key=lambda o: (selectivity(o), _size(o)))
    return None


def _size(keyword: str) -> int:
    """Length in bytes: ``✖`` alone (3 bytes) is a fine, rare keyword."""
    return len(keyword.encode("utf-8"))


def _flatten(items: list[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    """Inline plain groups, so ``(?:npm )ERR!`` is one literal run."""
    flat: list[tuple[Any, Any]] = []
    for op, av in items:
        if op is sre_constants.SUBPATTERN:
            flat.extend(_flatten(list(av[-1])))
        else:
            flat.append((op, av))
    return flat


def _required(op: Any, av: Any) -> _Options | None:
    if op is sre_constants.BRANCH:
        alternatives = [_best_factor(list(branch)) for branch in av[1]]
        if any(alternative is None for alternative in alternatives):
            return None
        return frozenset().union(*alternatives)  # type: ignore[arg-type]
    if op in (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT, sre_constants.POSSESSIVE_REPEAT):
        low, _high, body = av
        body = list(body)
        if low >= 2 and len(body) == 1 and body[0][0] is sre_constants.LITERAL:
            repeated = chr(body[0][1]).lower() * min(low, 8)  # `_{3,}` needs "___"
            needle = Needle(repeated, re.escape(repeated), selectivity(repeated), anchor=repeated)
            return frozenset({needle})
        return _best_factor(body) if low >= 1 else None
    if op is sre_constants.ATOMIC_GROUP:
        return _best_factor(list(av))
    return None


_SPACE = r"[\t\x0b\x0c\r ]"
_CATEGORIES = {
    sre_constants.CATEGORY_DIGIT: r"\d",
    sre_constants.CATEGORY_WORD: r"\w",
    sre_constants.CATEGORY_SPACE: r"\t\x0b\x0c\r ",  # \s within one line
}


def _render(op: Any, av: Any) -> str | None:
    r"""Regex text for a narrow piece, exactly as the pattern has it, else None.

    Narrow: literals, character classes, repeats and alternatives made of those. Not narrow:
    ``.``, negated classes, ``\S``/``\W`` and anything else that could cover a whole line.
    """
    renderer = _RENDERERS.get(op)
    return renderer(av) if renderer is not None else None


def _render_literal(code: int) -> str | None:
    return None if code == 10 else re.escape(chr(code))


def _render_branch(av: Any) -> str | None:
    alternatives = [_render_sequence(list(branch)) for branch in av[1]]
    if any(alternative is None for alternative in alternatives):
        return None
    return "(?:" + "|".join(alternatives) + ")"  # type: ignore[arg-type]


def _render_group(av: Any) -> str | None:
    inner = _render_sequence(list(av[-1]))
    return None if inner is None else f"(?:{inner})"


def _render_sequence(items: list[tuple[Any, Any]]) -> str | None:
    pieces = [_render(op, av) for op, av in items]
    if any(piece is None for piece in pieces):
        return None
    return "".join(pieces)  # type: ignore[arg-type]


def _render_repeat(low: int, high: int, body: Any) -> str | None:
    if high != sre_constants.MAXREPEAT and high > MAX_COUNT:
        return None
    inner = _render_sequence(list(body))
    if inner is None:
        return None
    if len(list(body)) != 1 or (len(inner) > 1 and not inner.startswith(("[", "(", "\\"))):
        inner = f"(?:{inner})"
    if high == sre_constants.MAXREPEAT:
        quantifier = {0: "*", 1: "+"}.get(low, f"{{{low},}}")
    elif (low, high) == (0, 1):
        quantifier = "?"
    else:
        quantifier = f"{{{low},{high}}}"
    return inner + quantifier


def _char_class(items: list[tuple[Any, Any]]) -> str | None:
    parts = []
    for op, av in items:
        if op is sre_constants.LITERAL and av != 10:
            parts.append(re.escape(chr(av)))
        elif op is sre_constants.RANGE:
            parts.append(f"{re.escape(chr(av[0]))}-{re.escape(chr(av[1]))}")
        elif op is sre_constants.CATEGORY and av in _CATEGORIES:
            parts.append(_CATEGORIES[av])
        else:
            return None  # negations, \S, \W: they could cover a whole line
    return f"[{''.join(parts)}]" if parts else None


def _factor_score(options: _Options) -> tuple[float, int, int]:
    """The weakest alternative decides; then fewer alternatives; then plain length."""
    return (min(n.score for n in options), -len(options), min(len(n.literal) for n in options))


_RENDERERS: dict[Any, Callable[[Any], str | None]] = {
    sre_constants.LITERAL: _render_literal,
    sre_constants.IN: _char_class,
    sre_constants.BRANCH: _render_branch,
    sre_constants.SUBPATTERN: _render_group,
    sre_constants.MAX_REPEAT: lambda av: _render_repeat(*av),
}

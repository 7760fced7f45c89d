"""Derive the literal keywords a regex cannot match without, for the matcher's prefilter.

The matcher scans a whole log once for the keywords of every rule and runs the rules' real
regexes only on the lines where a keyword occurs. A rule author may list ``keywords`` by
hand; when they do not, this module reads them off the pattern: every match of
``npm ERR! code E(?:CONNRESET|TIMEDOUT)`` contains ``npm err! code e``, and every match of
``(?:ECONNRESET|ETIMEDOUT)`` contains ``econnreset`` or ``etimedout``.

Keywords are lower case (the prefilter ignores case, which can only add candidates, never
lose one) and at least :data:`MIN_KEYWORD` characters long; a pattern with no such literal
gets ``None`` and is scanned for by itself.
"""

from __future__ import annotations

import re
import re._constants as sre_constants
import re._parser as sre_parse
from typing import Any

MIN_KEYWORD = 3

_Options = frozenset[str]


def derive_keywords(pattern: str) -> list[str] | None:
    """Literals of which every match of ``pattern`` contains at least one, or None."""
    try:
        parsed = sre_parse.parse(pattern)
    except re.error:  # RE2-only syntax: the rule is scanned for by its pattern instead
        return None
    options = _best_factor(list(parsed), stop_at_newline=True)
    if options is None or min(len(option) for option in options) < MIN_KEYWORD:
        return None
    return sorted(options)


def _best_factor(items: list[tuple[Any, Any]], stop_at_newline: bool = False) -> _Options | None:
    """The most selective set of literals that any match of this sequence must contain."""
    factors: list[_Options] = []
    run: list[str] = []

    def close_run() -> None:
        if run:
            factors.append(frozenset({"".join(run).lower()}))
            run.clear()

    for op, av in _flatten(items):
        if op is sre_constants.LITERAL:
            if stop_at_newline and av == 10:
                break
            run.append(chr(av))
        elif op is sre_constants.AT:
            continue
        else:
            close_run()
            factor = _required(op, av)
            if factor is not None:
                factors.append(factor)
    close_run()
    return max(factors, key=_selectivity, default=None)


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
        if low >= 1:
            return _best_factor(list(body))
        return None
    if op is sre_constants.ATOMIC_GROUP:
        return _best_factor(list(av))
    return None


def _selectivity(options: _Options) -> tuple[int, int]:
    """Longer shortest member first, then fewer alternatives."""
    return (min(len(option) for option in options), -len(options))

"""Markdown pieces shared by ``analyze --format markdown`` (the CLI) and the PR comment (the guard).

A leaf: it imports nothing of pipeline-guard, so both the CLI and the report can use it
without one reaching into the other.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol


class NumberedLine(Protocol):
    """A log line with its line number, as evidence carries it."""

    @property
    def line(self) -> int: ...

    @property
    def text(self) -> str: ...


def percent(confidence: float) -> str:
    """The one way confidence is shown to people, in every output: ``85%``."""
    return f"{confidence:.0%}"


def evidence_block(evidence: Sequence[NumberedLine], max_line: int | None = None) -> str:
    """Evidence lines with their line numbers, in a fenced block no log line can close."""
    body = "\n".join(f"{item.line:>6} | {item.text[:max_line]}" for item in evidence)
    fence = fence_for(body)
    return f"{fence}text\n{body}\n{fence}"


def fence_for(body: str) -> str:
    """A code fence longer than any run of backticks in the body, so it cannot be closed early."""
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    return "`" * max(3, longest + 1)


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+!|~&])")


def escape_inline(text: str) -> str:
    """``text`` (a job, step or workflow name: a fork controls it) shown as plain text in a
    heading or table cell: every character Markdown or HTML would act on is backslash-escaped
    (links, images, ``<img>``, emphasis), and ``@`` is followed by a zero-width space so that
    ``@org/team`` notifies no one (GitHub ignores a backslash before ``@``)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text).replace("@", "@\u200b")

"""Diagnoses as text for a terminal, as the JSON contract, and as Markdown.

The JSON form is read by other tools, so its shape is fixed::

    {"diagnoses": [{"source", "category", "confidence", "action", "rule", "title",
                    "explain", "advice", "evidence": [{"line", "text"}], "step", "tests"}]}

one entry per input, in input order. An input that could not be read keeps its place as
``{"source": ..., "error": "<one line>"}``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any, TextIO

from pipeline_guard.categories import Action
from pipeline_guard.engine.analysis import LogResult
from pipeline_guard.engine.diagnosis import Diagnosis
from pipeline_guard.markdown import evidence_block

FORMATS = ("text", "json", "markdown")


def use_colour(stream: TextIO) -> bool:
    """Colour for a terminal, unless NO_COLOR is set; FORCE_COLOR forces it."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return stream.isatty()


def render(outcomes: Sequence[LogResult], fmt: str, colour: bool = False) -> str:
    if fmt == "json":
        return render_json(outcomes)
    if fmt == "markdown":
        return render_markdown(outcomes)
    return render_text(outcomes, colour)


def outcome_dict(outcome: LogResult) -> dict[str, Any]:
    if outcome.diagnosis is None:
        return {"source": outcome.source, "error": outcome.error}
    return outcome.diagnosis.model_dump(mode="json")


def render_json(outcomes: Sequence[LogResult]) -> str:
    return (
        json.dumps({"diagnoses": [outcome_dict(o) for o in outcomes]}, indent=2, ensure_ascii=False)
        + "\n"
    )


class _Style:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __call__(self, text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.enabled else text


_ACTION_COLOUR = {Action.RETRY: "33", Action.FIX_PR: "32", Action.COMMENT: "31"}


def render_text(outcomes: Sequence[LogResult], colour: bool = False) -> str:
    style = _Style(colour)
    blocks = []
    for outcome in outcomes:
        if outcome.diagnosis is None:
            blocks.append(
                f"{style(outcome.source, '1')}\n  {style('error:', '31;1')} {outcome.error}\n"
            )
        else:
            blocks.append(_text_block(outcome.diagnosis, style))
    return "\n".join(blocks)


def _text_block(diagnosis: Diagnosis, style: _Style) -> str:
    colour = _ACTION_COLOUR[diagnosis.action]
    decided = f"rule {diagnosis.rule}" if diagnosis.rule else "no rule matched"
    facts = f"action: {diagnosis.action} · confidence {diagnosis.confidence:.2f} · {decided}"
    lines = [
        f"{style(diagnosis.source, '1')}  {style(str(diagnosis.category), colour + ';1')}"
        f"  {style(facts, '2')}",
        f"  {style(diagnosis.title, '1')}",
    ]
    if diagnosis.evidence:
        where = f"in step `{diagnosis.step}`, " if diagnosis.step else ""
        lines.append(f"  {style(where + f'line {diagnosis.evidence[0].line}:', '2')}")
        width = len(str(max(item.line for item in diagnosis.evidence)))
        for index, item in enumerate(diagnosis.evidence):
            marker = style("▶", colour) if index == 0 else " "
            lines.append(f"  {marker} {style(str(item.line).rjust(width), '2')} │ {item.text}")
    lines.append(f"  {style('why:', '1')} {diagnosis.explain}")
    lines.append(f"  {style('do: ', '1')} {diagnosis.advice}")
    if diagnosis.tests:
        shown = ", ".join(diagnosis.tests[:10])
        more = f" (+{len(diagnosis.tests) - 10} more)" if len(diagnosis.tests) > 10 else ""
        lines.append(f"  {style('failing tests:', '1')} {shown}{more}")
    if diagnosis.baseline:
        lines.append(f"  {style('compared with green log:', '2')} {diagnosis.baseline}")
    return "\n".join(lines) + "\n"


def render_markdown(outcomes: Sequence[LogResult]) -> str:
    return "\n".join(_markdown_block(outcome) for outcome in outcomes)


def _markdown_block(outcome: LogResult) -> str:
    diagnosis = outcome.diagnosis
    if diagnosis is None:
        return f"### `{outcome.source}`\n\n**Error:** {outcome.error}\n"
    decided = f"rule `{diagnosis.rule}`" if diagnosis.rule else "no rule matched"
    parts = [
        f"### {diagnosis.title}\n",
        f"**{diagnosis.category}** · action: {diagnosis.action} · confidence "
        f"{diagnosis.confidence:.0%} · {decided} · `{diagnosis.source}`"
        + (f" · step `{diagnosis.step}`" if diagnosis.step else "")
        + (" · compared with the last green log" if diagnosis.baseline else "")
        + "\n",
        f"{diagnosis.explain}\n",
    ]
    if diagnosis.evidence:
        parts.append(evidence_block(diagnosis.evidence) + "\n")
    parts.append(f"**What to do:** {diagnosis.advice}\n")
    if diagnosis.tests:
        parts.append(
            "**Failing tests:** " + ", ".join(f"`{test}`" for test in diagnosis.tests[:20]) + "\n"
        )
    return "\n".join(parts)

"""Diagnoses as text for a terminal, as the JSON contract, and as Markdown.

The JSON form is read by other tools, so its shape is fixed::

    {"diagnoses": [{"source", "category", "confidence", "action", "rule", "title",
                    "explain", "advice", "evidence": [{"line", "text"}], "step", "tests"}]}

one entry per input, in input order. An input that could not be read keeps its place as
``{"source": ..., "error": "<one line>"}``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from pipeline_guard.categories import Action
from pipeline_guard.engine.analysis import LogResult
from pipeline_guard.engine.diagnosis import Diagnosis
from pipeline_guard.markdown import evidence_block, percent

FORMATS = ("text", "json", "markdown")


def use_colour(stream: TextIO, env: Mapping[str, str], *, ci_log: bool = False) -> bool:
    """Colour for a terminal, unless NO_COLOR is set; FORCE_COLOR forces it. ``ci_log``: the
    stream is a GitHub/GitLab job log, which renders colours although it is not a TTY."""
    if env.get("NO_COLOR"):
        return False
    if env.get("FORCE_COLOR"):
        return True
    return ci_log or stream.isatty()


def render(outcomes: Sequence[LogResult], fmt: str, colour: bool = False) -> str:
    if fmt == "json":
        return render_json(outcomes)
    if fmt == "markdown":
        return render_markdown(outcomes)
    return render_text(outcomes, colour)


def outcome_dict(outcome: LogResult) -> dict[str, Any]:
    if outcome.diagnosis is None:
        return {"source": outcome.source, "error": outcome.error}
    return outcome.diagnosis.as_json()


def render_json(outcomes: Sequence[LogResult]) -> str:
    return (
        json.dumps({"diagnoses": [outcome_dict(o) for o in outcomes]}, indent=2, ensure_ascii=False)
        + "\n"
    )


class Style:
    """ANSI styling that is a no-op when colour is off."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __call__(self, text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.enabled else text


_ACTION_COLOUR = {Action.RETRY: "33", Action.FIX_PR: "32", Action.COMMENT: "31", Action.NONE: "2"}


def render_text(outcomes: Sequence[LogResult], colour: bool = False) -> str:
    """Diagnoses for a terminal. Inputs that could not be read are left out: their one-line
    error goes to stderr only, so it is said once."""
    style = Style(colour)
    return "\n".join(
        text_block(outcome.diagnosis, style) for outcome in outcomes if outcome.diagnosis
    )


def text_block(diagnosis: Diagnosis, style: Style, name: str | None = None) -> str:
    """One diagnosis as coloured text; ``name`` (a job's) replaces the source and the default
    action, since the guard then says what it really did."""
    colour = _ACTION_COLOUR[diagnosis.action]
    decided = f"rule {diagnosis.rule}" if diagnosis.rule else "no rule matched"
    facts = f"{percent(diagnosis.confidence)} sure · {decided}"
    if name is None:
        facts = f"action: {diagnosis.action} · {facts}"
    lines = [
        f"{style(name or diagnosis.source, '1')}  {style(str(diagnosis.category), colour + ';1')}"
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
    """Diagnoses as the PR comment shows them; unreadable inputs are said on stderr only."""
    return "\n".join(_markdown_block(o.diagnosis) for o in outcomes if o.diagnosis)


def _markdown_block(diagnosis: Diagnosis) -> str:
    decided = f"rule `{diagnosis.rule}`" if diagnosis.rule else "no rule matched"
    parts = [
        f"### {diagnosis.title}\n",
        f"**{diagnosis.category}** · action: {diagnosis.action} · "
        f"{percent(diagnosis.confidence)} sure · {decided} · `{diagnosis.source}`"
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

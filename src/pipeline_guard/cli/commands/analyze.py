"""``pipeline-guard analyze [FILE ...|-]``: diagnose logs and print the diagnoses."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from pipeline_guard.cli.error_handler import report_error
from pipeline_guard.cli.model_choice import choose_model, choose_ranker
from pipeline_guard.cli.render import render, use_colour
from pipeline_guard.engine.analysis import LogResult, iter_results
from pipeline_guard.engine.log_reader import open_log
from pipeline_guard.engine.matcher import Matcher
from pipeline_guard.engine.rule import load_rules
from pipeline_guard.errors import GuardError, InputError, UsageError


def run(
    *,
    sources: Sequence[str],
    fmt: str,
    rule_dirs: Sequence[Path],
    bundled: bool = True,
    model_path: Path | None = None,
    use_model: bool = True,
    baseline: str | None = None,
) -> int:
    """Diagnose every source; exit 2 if any could not be read (the others are still printed).

    ``baseline``: a log of a green run of the same job; lines also found there are not taken
    as the cause. An unreadable baseline is a usage error (exit 2): the user named it.
    """
    if not sources:
        if sys.stdin.isatty():
            raise UsageError("no log given: pass log files, or '-' to read one from standard input")
        sources = ["-"]
    if baseline is not None:
        _check_baseline(baseline)
    matcher = Matcher(load_rules(rule_dirs, bundled=bundled))
    model = choose_model(model_path, use_model)
    outcomes: list[LogResult] = []
    stopped: GuardError | None = None
    try:
        outcomes.extend(iter_results(sources, matcher, model, baseline, choose_ranker(model)))
    except GuardError as exc:  # e.g. a corrupt model pack: keep what was already diagnosed
        stopped = exc
    sys.stdout.write(render(outcomes, fmt, colour=use_colour(sys.stdout)))
    sys.stdout.flush()
    failed = [outcome for outcome in outcomes if outcome.error]
    for outcome in failed:
        report_error(outcome.error or "")
    if stopped is not None:
        report_error(str(stopped))
        return stopped.exit_code
    return 2 if failed else 0


def _check_baseline(baseline: str) -> None:
    """Refuse a baseline that cannot be a log before any work (missing, a directory, binary)."""
    if baseline == "-":
        raise UsageError("--baseline must be a file: standard input is for the failed log")
    try:
        open_log(baseline).close()
    except InputError as exc:
        raise UsageError(f"--baseline {exc}") from None

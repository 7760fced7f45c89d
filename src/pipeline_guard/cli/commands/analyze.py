"""``pipeline-guard analyze [FILE ...|-]``: diagnose logs and print the diagnoses."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from pipeline_guard.cache_dir import cache_dir
from pipeline_guard.cli.error_handler import report_error
from pipeline_guard.cli.model_choice import choose_model, choose_ranker
from pipeline_guard.cli.progress import counted
from pipeline_guard.cli.render import render, use_colour
from pipeline_guard.engine.analysis import LogResult, iter_results
from pipeline_guard.engine.diagnosis import Diagnosis
from pipeline_guard.engine.log_reader import open_log
from pipeline_guard.engine.matcher import Matcher
from pipeline_guard.engine.rule import load_rules
from pipeline_guard.errors import GuardError, InputError, UsageError
from pipeline_guard.redact import Redactor


def run(
    *,
    sources: Sequence[str],
    fmt: str,
    rule_dirs: Sequence[Path],
    bundled: bool = True,
    model_path: Path | None = None,
    use_model: bool = True,
    env: Mapping[str, str],
    redactor: Redactor | None = None,
    baseline: str | None = None,
) -> int:
    """Diagnose every source; exit 2 if any could not be read (the others are still printed).

    Output is redacted (``redactor``; None only for ``--no-redact``): ``analyze`` output is
    pasted into issues and chat, and CI systems keep job logs.

    ``baseline``: a log of a green run of the same job; lines also found there are not taken
    as the cause. An unreadable baseline is a usage error (exit 2): the user named it.
    """
    if not sources:
        if sys.stdin.isatty():
            raise UsageError("no log given: pass log files, or '-' to read one from standard input")
        sources = ["-"]
    if baseline is not None:
        _check_baseline(baseline)
    matcher = Matcher(load_rules(rule_dirs, bundled=bundled, cache=cache_dir(env)))
    model = choose_model(model_path, use_model)
    outcomes: list[LogResult] = []
    stopped: GuardError | None = None
    try:
        with counted(sources, "analyzing", sys.stderr) as inputs:
            outcomes.extend(iter_results(inputs, matcher, model, baseline, choose_ranker(model)))
    except GuardError as exc:  # e.g. a corrupt model pack: keep what was already diagnosed
        stopped = exc
    if redactor is not None:
        outcomes = [_redacted(outcome, redactor) for outcome in outcomes]
    sys.stdout.write(render(outcomes, fmt, colour=use_colour(sys.stdout, env)))
    sys.stdout.flush()
    failed = [outcome for outcome in outcomes if outcome.error]
    for outcome in failed:
        report_error(outcome.error or "")
    if stopped is not None:
        report_error(redactor.redact(str(stopped)) if redactor else str(stopped))
        return stopped.exit_code
    return 2 if failed else 0


def _redacted(outcome: LogResult, redactor: Redactor) -> LogResult:
    """The outcome with every text of its diagnosis (and its error) redacted."""
    diagnosis = outcome.diagnosis
    if diagnosis is not None:
        diagnosis = Diagnosis.from_json(redactor.redact_values(diagnosis.as_json()))
    error = redactor.redact(outcome.error) if outcome.error else outcome.error
    return replace(outcome, diagnosis=diagnosis, error=error)


def _check_baseline(baseline: str) -> None:
    """Refuse a baseline that cannot be a log before any work (missing, a directory, binary)."""
    if baseline == "-":
        raise UsageError("--baseline must be a file: standard input is for the failed log")
    try:
        open_log(baseline).close()
    except InputError as exc:
        raise UsageError(f"--baseline {exc}") from None

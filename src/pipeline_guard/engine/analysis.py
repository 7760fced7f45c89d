"""Diagnose log files: the library entry point behind ``pipeline-guard analyze``.

One log in, one :class:`~pipeline_guard.engine.diagnosis.Diagnosis` out. Logs are read as a stream
(see :mod:`pipeline_guard.engine.log_reader`), so memory stays flat whatever the size of the log.

A whole job log is read in three steps: one scan with every rule (which also records the steps
and how they ended, :mod:`pipeline_guard.engine.step_tracker`); the step that ended the job is
located and its lines scanned again, so every hit inside it is known (the first scan keeps only
the first hits of each rule, often in set-up output); and, given the log of a green run of the
same job, the lines found in both are marked familiar (:mod:`pipeline_guard.engine.baseline`).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from pipeline_guard.engine.baseline import familiar_lines
from pipeline_guard.engine.diagnosis import FULL, Diagnosis, Selection, diagnose
from pipeline_guard.engine.log_reader import Chunk, CleanLine, log_chunks
from pipeline_guard.engine.matcher import Hit, Matcher, ScanResult
from pipeline_guard.engine.prediction import LineScorer, Scorer
from pipeline_guard.engine.step_tracker import FailingStep, JobStep, failing_step
from pipeline_guard.errors import InputError


@dataclass(frozen=True, slots=True)
class LogResult:
    """What became of one log: a diagnosis, or the one-line reason there is none."""

    source: str
    diagnosis: Diagnosis | None = None
    error: str | None = None


def scan_source(source: str, matcher: Matcher, job_steps: Sequence[JobStep] = ()) -> ScanResult:
    """Scan one log (a path or ``-``) with every rule of ``matcher``, and locate the step that
    ended the job (``job_steps``: the forge's step conclusions, when known)."""
    scan = _scan_in_parts(source, matcher) if _large(source) else None
    if scan is None:
        with log_chunks(source) as chunks:
            scan = matcher.scan(chunks)
    return locate_failure(scan, matcher, job_steps)


PARTS_FROM_BYTES = 32 << 20
"""A log file this large may be scanned in parts by several processes (``engine/log_parts.py``,
imported only then: a small log does not pay for ``pickle`` and ``threading``)."""


def _large(source: str) -> bool:
    try:
        return source != "-" and os.stat(source).st_size >= PARTS_FROM_BYTES
    except OSError:
        return False  # the one-process reader says what is wrong, in one line


def _scan_in_parts(source: str, matcher: Matcher) -> ScanResult | None:
    from pipeline_guard.engine import log_parts  # noqa: PLC0415 - large logs only, see above

    return log_parts.scan_in_parts(source, matcher)


def locate_failure(
    scan: ScanResult, matcher: Matcher, job_steps: Sequence[JobStep] = ()
) -> ScanResult:
    """The scan with its failing step and every hit inside that step."""
    step = failing_step(scan.steps, job_steps)
    if step is None:
        return scan
    return dataclasses.replace(scan, failing=step, step_hits=_rescan(step, matcher))


def _rescan(step: FailingStep, matcher: Matcher) -> list[Hit]:
    lines = step.data.count(b"\n")
    again = matcher.scan([Chunk(step.data, step.data_first, lines)])
    return list(again.hits)


def analyze_source(
    source: str,
    matcher: Matcher,
    model: Scorer | None = None,
    *,
    baseline: str | None = None,
    ranker: LineScorer | None = None,
    job_steps: Sequence[JobStep] = (),
    selection: Selection = FULL,
) -> Diagnosis:
    """The diagnosis of one log; raises :class:`InputError` when it cannot be read.

    ``baseline``: a log of a green run of the same job (a path); lines found there are not
    taken as the cause. A baseline that cannot be read is left out (the diagnosis then does not
    name it), since the failed log alone still gives a diagnosis.
    """
    scan = scan_source(source, matcher, job_steps)
    familiar: frozenset[int] = frozenset()
    used: str | None = None
    if baseline is not None:
        try:
            familiar = familiar_lines(candidate_lines(scan), baseline)
            used = baseline
        except InputError:
            used = None
    return diagnose(
        scan,
        source,
        model,
        ranker=ranker,
        familiar=familiar,
        baseline=used,
        selection=selection,
    )


def candidate_lines(scan: ScanResult) -> list[CleanLine]:
    """The lines a baseline is asked about: every rule hit and the failing step's lines."""
    lines = [hit.line for hit in scan.hits] + [hit.line for hit in scan.step_hits]
    if scan.failing is not None:
        lines += scan.failing.lines()
    else:
        lines += scan.errorish
    return lines


def iter_results(
    sources: Sequence[str],
    matcher: Matcher,
    model: Scorer | None = None,
    baseline: str | None = None,
    ranker: LineScorer | None = None,
) -> Iterator[LogResult]:
    """Diagnose every input, in order; a bad input does not stop the others."""
    for source in sources:
        try:
            yield LogResult(
                source,
                diagnosis=analyze_source(source, matcher, model, baseline=baseline, ranker=ranker),
            )
        except InputError as exc:
            yield LogResult(source, error=str(exc))

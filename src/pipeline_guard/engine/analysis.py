"""Diagnose log files: the library entry point behind ``pipeline-guard analyze``.

One log in, one :class:`~pipeline_guard.engine.diagnosis.Diagnosis` out. Logs are read as a stream
(see :mod:`pipeline_guard.engine.log_reader`), so memory stays flat whatever the size of the log.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from pipeline_guard.engine.diagnosis import Diagnosis, diagnose
from pipeline_guard.engine.log_reader import log_chunks
from pipeline_guard.engine.matcher import Matcher, ScanResult
from pipeline_guard.engine.prediction import Scorer
from pipeline_guard.errors import InputError


@dataclass(frozen=True, slots=True)
class LogResult:
    """What became of one log: a diagnosis, or the one-line reason there is none."""

    source: str
    diagnosis: Diagnosis | None = None
    error: str | None = None


def scan_source(source: str, matcher: Matcher) -> ScanResult:
    """Scan one log (a path or ``-``) with every rule of ``matcher``."""
    with log_chunks(source) as chunks:
        return matcher.scan(chunks)


def analyze_source(source: str, matcher: Matcher, model: Scorer | None = None) -> Diagnosis:
    """The diagnosis of one log; raises :class:`InputError` when it cannot be read."""
    return diagnose(scan_source(source, matcher), source, model)


def iter_results(
    sources: Sequence[str], matcher: Matcher, model: Scorer | None = None
) -> Iterator[LogResult]:
    """Diagnose every input, in order; a bad input does not stop the others."""
    for source in sources:
        try:
            yield LogResult(source, diagnosis=analyze_source(source, matcher, model))
        except InputError as exc:
            yield LogResult(source, error=str(exc))

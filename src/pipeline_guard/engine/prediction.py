"""What diagnosis needs from a model pack, without importing one (numpy costs start-up time).

:class:`~pipeline_guard.model.pack.ModelPack` implements :class:`Scorer`; so does the lazy handle
that loads the bundled pack only when a log needs it, and the stand-in that cross-validation
uses to replay out-of-fold scores.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Prediction:
    """The model's verdict on one failure window."""

    category: str
    probability: float
    probabilities: dict[str, float]
    line_scores: list[float]
    """How much each window line pushed towards ``category`` (same order as the window)."""


SILENT = "silent"
"""Scope: the model speaks only where no rule matched at all."""
WEAK = "weak"
"""Scope: the model may also replace a rule that is not sure (confidence below the trust)."""
SCOPES = (SILENT, WEAK)


class Scorer(Protocol):
    @property
    def threshold(self) -> float:
        """The calibrated probability from which the model may speak."""
        ...

    @property
    def scope(self) -> str:
        """Where the model may speak: :data:`SILENT` or :data:`WEAK` rules."""
        ...

    def predict(self, lines: Sequence[str]) -> Prediction:
        """Score a failure window given as its lines' texts."""
        ...


class LineScorer(Protocol):
    """Ranks the lines of the failing step by how likely each one states why the job failed.

    The seam between the engine and a learned line ranker (:mod:`pipeline_guard.model`): the
    engine finds the failing step and its exit, the ranker says which line inside it is the
    cause where no rule speaks there.
    """

    def score_lines(self, lines: Sequence[str], exit_index: int) -> Sequence[float]:
        """One score per line (higher: more likely the cause). ``lines`` are the cleaned texts of
        the failing step in log order; ``exit_index`` is the index of the line that reports the
        step's exit (``len(lines)`` when the log has none)."""
        ...

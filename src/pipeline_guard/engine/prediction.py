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


@dataclass(frozen=True, slots=True)
class StepVerdict:
    """A learned judgement of a failing step's category (where no rule speaks there)."""

    category: str
    probability: float
    threshold: float
    """The probability from which the judgement may be used (chosen by cross-validation)."""

    @property
    def speaks(self) -> bool:
        return self.category != "unknown" and self.probability >= self.threshold


class LineScorer(Protocol):
    """Ranks the lines of the failing step by how likely each one states why the job failed,
    and may name the step's category.

    The seam between the engine and the pack's failing-step part (:mod:`pipeline_guard.model`):
    the engine finds the failing step and its exit, the ranker says which line inside it is the
    cause where no rule speaks there, and its step classifier (when the pack has one) which
    category the failing command and its last error lines suggest.
    """

    def score_lines(self, lines: Sequence[str], exit_index: int) -> Sequence[float]:
        """One score per line (higher: more likely the cause). ``lines`` are the cleaned texts of
        the failing step in log order; ``exit_index`` is the index of the line that reports the
        step's exit (``len(lines)`` when the log has none)."""
        ...

    def classify_step(self, command: str | None, lines: Sequence[str]) -> StepVerdict | None:
        """The category of a failing step from its command (``None`` when the log names none)
        and its last error-looking lines; ``None`` when the pack has no step classifier."""
        ...

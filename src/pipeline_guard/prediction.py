"""What diagnosis needs from a model pack, without importing one (numpy costs start-up time).

:class:`~pipeline_guard.model.ModelPack` implements :class:`Scorer`; so does the lazy handle
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


class Scorer(Protocol):
    @property
    def threshold(self) -> float:
        """The calibrated probability from which the model may overrule weak rules."""
        ...

    def predict(self, lines: Sequence[str]) -> Prediction:
        """Score a failure window given as its lines' texts."""
        ...

"""The failing step's category where no rule speaks: what the command and its last errors say.

In a whole log, the rules often find the failing step and its last error lines but none of
them names a category: a project's own lint script, a link checker, a test runner the pack
does not know. The command that failed (``flake8``, ``npm test``, ``make``) and the words of
its last error-looking lines still carry the category. This small linear classifier reads
them, the same way at training (:mod:`pipeline_guard.lab.step_training`) and inference:

- ``c:`` the first :data:`MAX_COMMAND_WORDS` words of the failing command (lower-cased,
  letters first: ``npm``, ``test``, ``flake8``, ``bundle``, ``exec``, ``rake``), and ``c0:``
  its first word alone;
- ``l:`` the word unigrams and bigrams of its last error-looking lines
  (:func:`~pipeline_guard.model.features.line_tokens`).

Each name is hashed (CRC-32) to one of ``2 ** bits`` ids; a class's score is its intercept
plus the weights of the ids present, probabilities are the softmax of the scores. It lives in
the pack's failing-step part, beside the line ranker (members ``step_*`` of
:mod:`pipeline_guard.model.pack_format`, settings under ``meta["ranker"]["step"]``).

Its judgement is a model's: it never makes a retry (see
:func:`pipeline_guard.engine.diagnosis.model_action`), and it speaks only from the probability
that a grouped cross-validation chose at training time (``threshold``).
"""

from __future__ import annotations

import bisect
import math
import re
import zlib
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from pipeline_guard.engine.prediction import StepVerdict
from pipeline_guard.model.features import line_tokens
from pipeline_guard.model.npy import Array

STEP_CLASSIFIER_VERSION = 1
STEP_KEY = "step"
"""The key of the step classifier's settings inside ``meta["ranker"]``."""
MAX_COMMAND_WORDS = 12
MAX_LINE_CHARS = 300
_WORD = re.compile(r"[a-z][a-z0-9_+-]*")


def command_words(command: str | None) -> list[str]:
    """The words of a command that say what it runs (``Run `` of a GitHub step title dropped)."""
    text = (command or "").strip().lower().removeprefix("run ")
    return _WORD.findall(text[:MAX_LINE_CHARS])[:MAX_COMMAND_WORDS]


def category_feature_names(command: str | None, lines: Sequence[str]) -> list[str]:
    """The feature names of a failing step (see the module docstring), each once."""
    words = command_words(command)
    names = [f"c:{word}" for word in words]
    if words:
        names.append(f"c0:{words[0]}")
    for text in lines:
        names += [f"l:{token}" for token in line_tokens(text[:MAX_LINE_CHARS])]
    return sorted(set(names))


def category_feature_ids(command: str | None, lines: Sequence[str], bits: int) -> list[int]:
    """The hashed ids of :func:`category_feature_names`, sorted and unique."""
    mask = (1 << bits) - 1
    return sorted(
        {zlib.crc32(name.encode("utf-8")) & mask for name in category_feature_names(command, lines)}
    )


@dataclass(frozen=True)
class StepClassifier:
    """A pack's step classifier (pure Python over :mod:`array` buffers)."""

    classes: list[str]
    feature_ids: array  # type: ignore[type-arg]
    """int64, sorted."""
    weights: array  # type: ignore[type-arg]
    """float32, ``len(feature_ids) × len(classes)`` flattened row by row."""
    intercept: list[float]
    bits: int
    threshold: float
    meta: dict[str, Any]

    def classify(self, command: str | None, lines: Sequence[str]) -> StepVerdict:
        """The most probable category of the step, with its probability."""
        return self.classify_ids(category_feature_ids(command, lines, self.bits))

    def classify_ids(self, features: Sequence[int]) -> StepVerdict:
        """The verdict on a step given as its hashed feature ids."""
        scores = list(self.intercept)
        width = len(self.classes)
        for feature in features:
            row = bisect.bisect_left(self.feature_ids, feature)
            if row < len(self.feature_ids) and self.feature_ids[row] == feature:
                base = row * width
                for column in range(width):
                    scores[column] += self.weights[base + column]
        top = max(scores)
        exps = [math.exp(score - top) for score in scores]
        best = max(range(width), key=lambda column: exps[column])
        return StepVerdict(self.classes[best], exps[best] / sum(exps), self.threshold)


def step_classifier_from(settings: dict[str, Any], arrays: dict[str, Array]) -> StepClassifier:
    """The step classifier of a pack's failing-step part; ``ValueError`` naming what is wrong."""
    problem = next(_problems(settings, arrays), None)
    if problem:
        raise ValueError(problem)
    return StepClassifier(
        classes=list(settings["classes"]),
        feature_ids=arrays["step_feature_ids"].data,
        weights=arrays["step_weights"].data,
        intercept=list(arrays["step_intercept"].data),
        bits=int(settings["bits"]),
        threshold=float(settings["threshold"]),
        meta=settings,
    )


def _problems(settings: dict[str, Any], arrays: dict[str, Array]) -> Iterator[str]:
    classes = settings.get("classes")
    if settings.get("version") != STEP_CLASSIFIER_VERSION:
        yield (
            f"step classifier version {settings.get('version')!r}, this pipeline-guard reads "
            f"version {STEP_CLASSIFIER_VERSION}; retrain it with `pipeline-guard train --ranker`"
        )
        return
    if not isinstance(classes, list) or not classes or not all(isinstance(c, str) for c in classes):
        yield "step classes must be a non-empty list of names"
        return
    ids, weights, intercept = (
        arrays["step_feature_ids"],
        arrays["step_weights"],
        arrays["step_intercept"],
    )
    bits, threshold = settings.get("bits"), settings.get("threshold")
    if not isinstance(bits, int) or not 8 <= bits <= 30:
        yield "step bits must be an integer between 8 and 30"
    if not isinstance(threshold, int | float) or not 0 <= threshold <= 1:
        yield "step threshold must be between 0 and 1"
    if ids.data.typecode != "q" or len(ids.shape) != 1:
        yield "step_feature_ids must be a vector of int64"
    elif any(later <= earlier for earlier, later in zip(ids.data, ids.data[1:], strict=False)):
        yield "step_feature_ids must be sorted and unique"
    if weights.data.typecode != "f" or weights.shape != (len(ids.data), len(classes)):
        yield f"step_weights shape {weights.shape} does not fit {len(ids.data)} × {len(classes)}"
    if intercept.data.typecode != "f" or intercept.shape != (len(classes),):
        yield f"step_intercept shape {intercept.shape} does not fit {len(classes)} classes"
    if not all(map(math.isfinite, weights.data)) or not all(map(math.isfinite, intercept.data)):
        yield "step weights are not all finite numbers"

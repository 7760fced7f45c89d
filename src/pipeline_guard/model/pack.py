"""The category model of a pack: a linear classifier of log lines, stored as plain data.

A model pack is **data, not code**: loading one never runs anything from the file (a pickle
from a repository would be code execution). Its file format (members, dtypes, the ``meta``
document, the optional line ranker beside this model) is defined once in
:mod:`pipeline_guard.model.pack_format`. The category model's part is:

``meta``
    a JSON document (stored as a 0-d unicode array)::

        {"format": "pipeline-guard-model", "version": 1,
         "features": {"kind": "hashed-tokens", "version": 1, "bits": 16, "input": "line-max"},
         "classes": ["auth", ..., "noise", ...], "temperature": 1.7, "threshold": 0.6,
         "scope": "silent",
         "trained": {...provenance: corpora, logs, seed, classifier...}}

``feature_ids``
    int64, sorted: the hashed feature ids that carry a weight (all others weigh zero);
``weights``
    float32, ``len(feature_ids) × len(classes)``;
``intercept``
    float32, ``len(classes)``.

The classifier scores **lines**, not whole logs: a failure is recognised by its most telling
line, however much noise surrounds it. Each line of the failure window is a feature set (see
:mod:`pipeline_guard.model.features`), each present feature valued ``1/sqrt(n)``; its score for
class
*c* is ``x · weights[:, c] + intercept[c]`` and its probabilities ``softmax(scores /
temperature)``. The class ``noise`` stands for lines that say nothing about a failure. The
window's probability for a category is the highest any of its lines gives it (``line-max``);
the most probable category is the verdict, and the lines that gave it most are the evidence.
``threshold`` is the probability from which the model may speak, and ``scope`` where: only
where no rule matched (``silent``) or also in place of a rule that is not sure (``weak``); both
are chosen by cross-validation at training time.

Any file that is not exactly this (corrupt, truncated, another format or version) is refused
with a one-line :class:`~pipeline_guard.errors.ModelError` naming the file.

Inference is plain Python over :mod:`array` buffers (:mod:`pipeline_guard.model.npy` reads the
file):
importing numpy alone would cost most of the 100 ms a model decision may add to ``analyze``.
Scoring a window of 200 lines takes about a millisecond. Packs are written by
:mod:`pipeline_guard.lab.training`, which has numpy and scikit-learn.
"""

from __future__ import annotations

import bisect
import math
import zipfile
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline_guard.engine.prediction import SCOPES, Prediction
from pipeline_guard.errors import ModelError
from pipeline_guard.limits import InputRefused
from pipeline_guard.model.features import FEATURE_VERSION, line_features
from pipeline_guard.model.npy import Array, NpyError, read_npz
from pipeline_guard.model.pack_format import CATEGORY_MEMBERS, pack_document

INPUTS = ("line-max",)
NOISE = "noise"
"""The class of lines that say nothing about a failure."""
_NUMERIC = tuple(CATEGORY_MEMBERS)


@dataclass(frozen=True)
class ModelPack:
    classes: list[str]
    feature_ids: array  # type: ignore[type-arg]
    """int64, sorted."""
    weights: array  # type: ignore[type-arg]
    """float32, ``len(feature_ids) × len(classes)`` flattened row by row."""
    intercept: list[float]
    bits: int
    temperature: float
    threshold: float
    scope: str
    meta: dict[str, Any]

    def predict(self, lines: Sequence[str]) -> Prediction:
        """Score a failure window given as its lines' texts."""
        return window_prediction(self.classes, [self.line_probabilities(text) for text in lines])

    def line_probabilities(self, text: str) -> list[float]:
        """Calibrated class probabilities of one line."""
        features = line_features(text, self.bits)
        scores = list(self.intercept)
        if features:
            weight = 1.0 / math.sqrt(len(features))
            width = len(self.classes)
            ids, weights = self.feature_ids, self.weights
            for feature in features:
                row = bisect.bisect_left(ids, feature)
                if row < len(ids) and ids[row] == feature:
                    base = row * width
                    for column in range(width):
                        scores[column] += weights[base + column] * weight
        return softmax([score / self.temperature for score in scores])


def window_prediction(
    classes: Sequence[str], probabilities: Sequence[Sequence[float]]
) -> Prediction:
    """The verdict on a window from its lines' probabilities (``line-max``, see above)."""
    categories = [index for index, name in enumerate(classes) if name != NOISE]
    rows = list(probabilities) or [[1.0 / len(classes)] * len(classes)]
    best_per_category = {index: max(row[index] for row in rows) for index in categories}
    best = max(categories, key=lambda index: best_per_category[index])
    return Prediction(
        category=classes[best],
        probability=best_per_category[best],
        probabilities={classes[index]: value for index, value in best_per_category.items()},
        line_scores=[row[best] for row in probabilities],
    )


def softmax(scores: Sequence[float]) -> list[float]:
    top = max(scores)
    exps = [math.exp(score - top) for score in scores]
    total = sum(exps)
    return [value / total for value in exps]


def load_model(path: Path) -> ModelPack:
    """Read and validate a pack's category model; a one-line :class:`ModelError` for anything
    wrong."""
    arrays, meta_text = read_pack(path, _NUMERIC, "category model")
    return _validated(path, meta_text, arrays)


def read_pack(path: Path, members: tuple[str, ...], part: str) -> tuple[dict[str, Array], str]:
    """The numeric ``members`` of a pack and its ``meta`` text; one-line errors naming the file.

    ``part`` names what is missing when the pack lacks those members (a pack may hold only the
    category model or only the line ranker)."""
    try:
        return read_npz(path, members)
    except FileNotFoundError:
        raise ModelError(f"{path}: model file not found") from None
    except IsADirectoryError:
        raise ModelError(f"{path}: is a directory, not a model file") from None
    except InputRefused as exc:
        raise ModelError(f"{path}: refused: it {exc}") from None
    except NpyError as exc:
        if str(exc).startswith("missing meta"):
            raise ModelError(f"{path}: not a pipeline-guard model pack ({exc})") from None
        if str(exc).startswith("missing"):
            raise ModelError(f"{path}: the pack holds no {part} ({exc})") from None
        raise ModelError(f"{path}: corrupt or truncated model file ({exc})") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, UnicodeDecodeError) as exc:
        raise ModelError(f"{path}: corrupt or truncated model file ({_reason(exc)})") from None


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:120]


def _validated(path: Path, meta_text: str, arrays: dict[str, Array]) -> ModelPack:
    meta = pack_document(path, meta_text)
    features = meta.get("features") or {}
    if features.get("kind") != "hashed-tokens" or features.get("version") != FEATURE_VERSION:
        raise ModelError(
            f"{path}: model was trained on features version {features.get('version')!r}, "
            f"this pipeline-guard computes version {FEATURE_VERSION}; retrain it"
        )
    problem = next(_problems(meta, arrays), None)
    if problem:
        raise ModelError(f"{path}: invalid model pack: {problem}")
    return ModelPack(
        classes=list(meta["classes"]),
        feature_ids=arrays["feature_ids"].data,
        weights=arrays["weights"].data,
        intercept=list(arrays["intercept"].data),
        bits=features["bits"],
        temperature=float(meta["temperature"]),
        threshold=float(meta["threshold"]),
        scope=meta["scope"],
        meta=meta,
    )


def _problems(meta: dict[str, Any], arrays: dict[str, Array]) -> Iterator[str]:
    """Everything wrong with a pack's contents, most basic first (stops at a broken shape)."""
    classes, features = meta.get("classes"), meta["features"]
    ids, weights, intercept = arrays["feature_ids"], arrays["weights"], arrays["intercept"]
    if not isinstance(classes, list) or not classes or not all(isinstance(c, str) for c in classes):
        yield "classes must be a non-empty list of names"
        return
    if ids.data.typecode != "q" or len(ids.shape) != 1:
        yield "feature_ids must be a vector of int64"
    if weights.data.typecode != "f" or weights.shape != (len(ids.data), len(classes)):
        yield f"weights shape {weights.shape} does not fit {len(ids.data)} × {len(classes)}"
    if intercept.data.typecode != "f" or intercept.shape != (len(classes),):
        yield f"intercept shape {intercept.shape} does not fit {len(classes)} classes"
    if any(later <= earlier for earlier, later in zip(ids.data, ids.data[1:], strict=False)):
        yield "feature_ids must be sorted and unique"
    if not isinstance(features.get("bits"), int) or not 8 <= features["bits"] <= 30:
        yield "features.bits must be an integer between 8 and 30"
    if features.get("input") not in INPUTS:
        yield f"features.input must be one of {', '.join(INPUTS)}"
    temperature, threshold = meta.get("temperature"), meta.get("threshold")
    if not isinstance(temperature, int | float) or temperature <= 0:
        yield "temperature must be a positive number"
    if not isinstance(threshold, int | float) or not 0 <= threshold <= 1:
        yield "threshold must be between 0 and 1"
    if meta.get("scope") not in SCOPES:
        yield f"scope must be one of {', '.join(SCOPES)}"
    if not all(map(math.isfinite, weights.data)) or not all(map(math.isfinite, intercept.data)):
        yield "weights are not all finite numbers"

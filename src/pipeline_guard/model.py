"""The model pack: a linear classifier over hashed tokens, stored as plain data, run with numpy.

A model pack is **data, not code**: loading one never runs anything from the file (a pickle
from a repository would be code execution). It is a zip file in NumPy's ``.npz`` layout,
read with ``allow_pickle=False``, holding:

``meta``
    a JSON document (stored as a 0-d unicode array)::

        {"format": "pipeline-guard-model", "version": 1,
         "features": {"kind": "hashed-tokens", "version": 1, "bits": 18, "input": "binary-l2"},
         "classes": ["auth", ...], "temperature": 1.7, "threshold": 0.6,
         "trained": {...provenance: corpora, samples, seed, classifier...}}

``feature_ids``
    int64, sorted: the hashed feature ids that carry a weight (all others weigh zero);
``weights``
    float32, ``len(feature_ids) × len(classes)``;
``intercept``
    float32, ``len(classes)``.

A window's score for class *c* is ``x · weights[:, c] + intercept[c]`` where ``x`` is its
feature set, each present feature valued ``1/sqrt(n)`` (``binary-l2``) or 1 (``binary``);
calibrated probabilities are ``softmax(scores / temperature)``. ``threshold`` is the
probability above which the model's category may be used when rules are silent (chosen by
cross-validation at training time).

Any file that is not exactly this (corrupt, truncated, another format or version) is refused
with a one-line :class:`~pipeline_guard.errors.ModelError` naming the file.
"""

from __future__ import annotations

import io
import json
import math
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from pipeline_guard.errors import ModelError
from pipeline_guard.features import FEATURE_VERSION, line_features
from pipeline_guard.prediction import Prediction

MODEL_FORMAT = "pipeline-guard-model"
MODEL_VERSION = 1
INPUTS = ("binary-l2", "binary")
_ARRAYS = ("meta", "feature_ids", "weights", "intercept")


@dataclass(frozen=True)
class ModelPack:
    classes: list[str]
    feature_ids: npt.NDArray[np.int64]
    weights: npt.NDArray[np.float32]
    intercept: npt.NDArray[np.float32]
    bits: int
    input: str
    temperature: float
    threshold: float
    meta: dict[str, Any]

    def predict(self, lines: Sequence[str]) -> Prediction:
        """Score a failure window given as its lines' texts."""
        per_line = [line_features(text, self.bits) for text in lines]
        present = sorted(set().union(*per_line)) if per_line else []
        rows = self._rows(present)
        value = self._value(len(present))
        scores = self.weights[list(rows.values())].sum(axis=0) * value + self.intercept
        probabilities = softmax(scores.astype(np.float64) / self.temperature)
        best = int(np.argmax(probabilities))
        column = self.weights[:, best]
        line_scores = [
            float(sum(column[rows[feature]] for feature in features if feature in rows) * value)
            for features in per_line
        ]
        return Prediction(
            category=self.classes[best],
            probability=float(probabilities[best]),
            probabilities={
                name: float(p) for name, p in zip(self.classes, probabilities, strict=True)
            },
            line_scores=line_scores,
        )

    def _rows(self, features: Sequence[int]) -> dict[int, int]:
        """Row of each known feature id in ``weights``."""
        if not features:
            return {}
        wanted = np.asarray(features, dtype=np.int64)
        rows = np.searchsorted(self.feature_ids, wanted)
        rows = np.minimum(rows, len(self.feature_ids) - 1)
        known = self.feature_ids[rows] == wanted
        return {int(f): int(r) for f, r in zip(wanted[known], rows[known], strict=True)}

    def _value(self, present: int) -> float:
        if self.input == "binary" or present == 0:
            return 1.0
        return 1.0 / math.sqrt(present)


def softmax(scores: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    shifted = np.exp(scores - scores.max())
    result: npt.NDArray[np.float64] = shifted / shifted.sum()
    return result


def load_model(path: Path) -> ModelPack:
    """Read and validate a model pack; a one-line :class:`ModelError` for anything wrong."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [name for name in _ARRAYS if name not in archive.files]
            if missing:
                raise ModelError(
                    f"{path}: not a pipeline-guard model pack (missing {', '.join(missing)})"
                )
            arrays = {name: archive[name] for name in _ARRAYS}
    except ModelError:
        raise
    except FileNotFoundError:
        raise ModelError(f"{path}: model file not found") from None
    except IsADirectoryError:
        raise ModelError(f"{path}: is a directory, not a model file") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as exc:
        raise ModelError(f"{path}: corrupt or truncated model file ({_reason(exc)})") from None
    return _validated(path, arrays)


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:120]


def _validated(path: Path, arrays: dict[str, Any]) -> ModelPack:
    try:
        meta = json.loads(str(arrays["meta"]))
    except (json.JSONDecodeError, TypeError):
        raise ModelError(f"{path}: corrupt model file (meta is not JSON)") from None
    if not isinstance(meta, dict) or meta.get("format") != MODEL_FORMAT:
        raise ModelError(f"{path}: not a pipeline-guard model pack")
    if meta.get("version") != MODEL_VERSION:
        raise ModelError(
            f"{path}: model format version {meta.get('version')!r} is not supported "
            f"(this pipeline-guard reads version {MODEL_VERSION}); "
            "retrain it with `pipeline-guard train`"
        )
    features = meta.get("features") or {}
    if features.get("kind") != "hashed-tokens" or features.get("version") != FEATURE_VERSION:
        raise ModelError(
            f"{path}: model was trained on features version {features.get('version')!r}, "
            f"this pipeline-guard computes version {FEATURE_VERSION}; retrain it"
        )
    return _pack(path, meta, arrays)


def _pack(path: Path, meta: dict[str, Any], arrays: dict[str, Any]) -> ModelPack:
    problem = next(_problems(meta, arrays), None)
    if problem:
        raise ModelError(f"{path}: invalid model pack: {problem}")
    return ModelPack(
        classes=list(meta["classes"]),
        feature_ids=arrays["feature_ids"].astype(np.int64),
        weights=arrays["weights"].astype(np.float32),
        intercept=arrays["intercept"].astype(np.float32),
        bits=meta["features"]["bits"],
        input=meta["features"]["input"],
        temperature=float(meta["temperature"]),
        threshold=float(meta["threshold"]),
        meta=meta,
    )


def _problems(meta: dict[str, Any], arrays: dict[str, Any]) -> Iterator[str]:
    """Everything wrong with a pack's contents, most basic first (stops at a broken shape)."""
    classes, features = meta.get("classes"), meta["features"]
    ids, weights, intercept = arrays["feature_ids"], arrays["weights"], arrays["intercept"]
    if not isinstance(classes, list) or not classes or not all(isinstance(c, str) for c in classes):
        yield "classes must be a non-empty list of names"
        return
    if weights.ndim != 2 or weights.shape != (len(ids), len(classes)):
        yield f"weights shape {weights.shape} does not fit {len(ids)} ids × {len(classes)} classes"
    if intercept.shape != (len(classes),):
        yield f"intercept shape {intercept.shape} does not fit {len(classes)} classes"
    if ids.ndim != 1 or (len(ids) > 1 and not bool(np.all(np.diff(ids) > 0))):
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
    if not (np.all(np.isfinite(weights)) and np.all(np.isfinite(intercept))):
        yield "weights are not all finite numbers"


def save_model(
    path: Path,
    meta: dict[str, Any],
    feature_ids: npt.NDArray[np.int64],
    weights: npt.NDArray[np.float32],
    intercept: npt.NDArray[np.float32],
) -> None:
    """Write a model pack byte-for-byte reproducibly (fixed zip timestamps, sorted JSON)."""
    document = {"format": MODEL_FORMAT, "version": MODEL_VERSION, **meta}
    members = {
        "meta": np.array(json.dumps(document, sort_keys=True)),
        "feature_ids": np.ascontiguousarray(feature_ids, dtype=np.int64),
        "weights": np.ascontiguousarray(weights, dtype=np.float32),
        "intercept": np.ascontiguousarray(intercept, dtype=np.float32),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, array in members.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, array, allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, buffer.getvalue())

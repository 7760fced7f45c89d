"""Train the failing step's category classifier, and choose where it may speak by grouped CV.

In: labelled logs (any corpus; a log whose failing step the engine finds). Out: the members
and settings of :mod:`pipeline_guard.model.step_classifier`, written with the line ranker by
:func:`pipeline_guard.lab.ranker_training.train_ranker`, or an in-memory classifier per fold
for ``eval --cv``.

Each log is scanned once with the rules (:func:`spool_categories`): its failing step's
command and last error-looking lines (:func:`~pipeline_guard.engine.diagnosis.step_inputs`,
exactly what inference reads), hashed, and whether the rules alone are silent on it (their
diagnosis is ``unknown``: the only place the classifier is ever asked). The model is
multinomial logistic regression (scikit-learn, ``lbfgs``, classes balanced; deterministic) over
the binary features; weights smaller than :data:`MIN_WEIGHT` are dropped from the pack.

Where it may speak: a grouped cross-validation over the training logs (no project on both
sides) scores each rules-silent log with a classifier that never saw its project, and the
threshold kept is the probability from which using its category gets the most of those logs
right, against leaving them ``unknown``; among equals the highest. When no threshold beats
silence it is 1.0 and the classifier never speaks: it earns its place or steps aside.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import sklearn
from scipy import sparse
from sklearn.linear_model import LogisticRegression

from pipeline_guard.categories import Category
from pipeline_guard.engine.analysis import scan_source
from pipeline_guard.engine.diagnosis import diagnose, step_inputs
from pipeline_guard.engine.matcher import Matcher
from pipeline_guard.lab.corpus import Case
from pipeline_guard.model.npy import Array
from pipeline_guard.model.step_classifier import (
    STEP_CLASSIFIER_VERSION,
    StepClassifier,
    category_feature_ids,
    step_classifier_from,
)

STEP_BITS = 16
MIN_WEIGHT = 0.02
THRESHOLDS = tuple(round(0.30 + 0.05 * step, 2) for step in range(14))  # 0.30 .. 0.95
NEVER = 1.0
"""The threshold of a classifier that cross-validation found no use for."""


@dataclass(frozen=True)
class StepSettings:
    bits: int = STEP_BITS
    c: float = 1.0
    folds: int = 5
    min_weight: float = MIN_WEIGHT


@dataclass(frozen=True)
class StepSample:
    """One labelled log as the classifier sees it."""

    key: str
    """The case's :attr:`~pipeline_guard.lab.corpus.Case.key` (ids repeat across corpora)."""
    group: str
    label: str
    ids: tuple[int, ...]
    silent: bool
    """Whether the rules alone leave this log ``unknown`` (the classifier's only ground)."""


def spool_categories(cases: Sequence[Case], matcher: Matcher, bits: int) -> list[StepSample]:
    """Every labelled log whose failing step is known, read once."""
    samples = []
    for case in cases:
        if case.category is None:
            continue
        scan = scan_source(str(case.path), matcher)
        if scan.failing is None:
            continue
        command, lines = step_inputs(scan.failing)
        texts = [line.text for line in lines]
        silent = diagnose(scan, str(case.path)).category == Category.UNKNOWN
        ids = tuple(category_feature_ids(command, texts, bits))
        samples.append(StepSample(case.key, case.group, case.label, ids, silent))
    return samples


def _matrix(samples: Sequence[StepSample], bits: int) -> sparse.csr_matrix:
    indptr = np.concatenate([[0], np.cumsum([len(s.ids) for s in samples])])
    indices = np.asarray([i for s in samples for i in s.ids], dtype=np.int64)
    data = np.ones(len(indices))
    return sparse.csr_matrix((data, indices, indptr), shape=(len(samples), 1 << bits))


def fit_step_classifier(
    samples: Sequence[StepSample], settings: StepSettings, threshold: float
) -> StepClassifier | None:
    """The classifier fitted on ``samples``, as inference runs it; ``None`` with under two
    classes to tell apart."""
    if len({sample.label for sample in samples}) < 2:
        return None
    meta, arrays = step_part(fit_step_model(samples, settings), settings, threshold, {})
    return step_classifier_from(meta, _as_arrays(arrays))


def fit_step_model(samples: Sequence[StepSample], settings: StepSettings) -> LogisticRegression:
    """Multinomial logistic regression over the samples' features, classes balanced."""
    model = LogisticRegression(C=settings.c, class_weight="balanced", max_iter=3000)
    model.fit(_matrix(samples, settings.bits), np.asarray([s.label for s in samples]))
    return model


def step_part(
    model: LogisticRegression, settings: StepSettings, threshold: float, trained: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, npt.NDArray[Any]]]:
    """The ``meta["ranker"]["step"]`` document and the ``step_*`` members of a fitted model."""
    coef = np.asarray(model.coef_, dtype=np.float32)
    intercept = np.asarray(model.intercept_, dtype=np.float32)
    if coef.shape[0] == 1:  # two classes: scikit-learn keeps one row, for the second
        coef = np.vstack([-coef / 2, coef / 2])
        intercept = np.asarray([-intercept[0] / 2, intercept[0] / 2], dtype=np.float32)
    coef = np.where(np.abs(coef) >= settings.min_weight, coef, np.float32(0.0))
    used = np.flatnonzero(np.any(coef != 0, axis=0)).astype(np.int64)
    meta: dict[str, Any] = {
        "version": STEP_CLASSIFIER_VERSION,
        "classes": [str(name) for name in model.classes_],
        "bits": settings.bits,
        "threshold": threshold,
        "trained": {
            **trained,
            "classifier": f"sklearn.linear_model.LogisticRegression(C={settings.c}, "
            "class_weight='balanced'), over the failing command and its last error lines",
            "sklearn": sklearn.__version__,
            "min_weight": settings.min_weight,
        },
    }
    arrays: dict[str, npt.NDArray[Any]] = {
        "step_feature_ids": used,
        "step_weights": np.ascontiguousarray(coef[:, used].T),
        "step_intercept": intercept,
    }
    return meta, arrays


def _as_arrays(arrays: dict[str, npt.NDArray[Any]]) -> dict[str, Array]:
    """Members as :mod:`~pipeline_guard.model.npy` reads them from a pack."""
    typecodes = {"step_feature_ids": "q"}
    return {
        name: Array(tuple(values.shape), array(typecodes.get(name, "f"), values.ravel().tolist()))
        for name, values in arrays.items()
    }


def choose_threshold(
    samples: Sequence[StepSample], settings: StepSettings, folds: list[tuple[list[int], list[int]]]
) -> float:
    """The probability from which the classifier may speak (see the module docstring)."""
    verdicts: list[tuple[str, float, str]] = []
    for train, test in folds:
        classifier = fit_step_classifier([samples[i] for i in train], settings, 0.0)
        if classifier is None:
            continue
        for index in test:
            sample = samples[index]
            if sample.silent:
                verdict = classifier.classify_ids(sample.ids)
                verdicts.append((verdict.category, verdict.probability, sample.label))
    silence = sum(label == Category.UNKNOWN.value for _, _, label in verdicts)

    def right(threshold: float) -> int:
        return sum(
            (category if category != "unknown" and p >= threshold else "unknown") == label
            for category, p, label in verdicts
        )

    best = max(THRESHOLDS, key=lambda threshold: (right(threshold), threshold))
    return best if right(best) > silence else NEVER

"""Train the model pack with scikit-learn, and cross-validate rules, model and both.

Only ``pipeline-guard train`` and ``eval --cv`` import this module (and scikit-learn); the
runtime path reads the exported pack with numpy alone (:mod:`pipeline_guard.model`).

Training streams: each log is scanned once, its failure window hashed to feature ids
(:mod:`pipeline_guard.features`) and appended to an on-disk spool, so memory does not grow
with the corpus. The classifier is scikit-learn's ``SGDClassifier`` with logistic loss
(averaged), fitted with ``partial_fit`` over shuffled mini-batches read back from the spool,
class-balanced through sample weights. The rules' own ``match`` examples join the training
data as tiny labelled windows. Probabilities are calibrated with one temperature fitted on the
out-of-fold scores of a grouped cross-validation (no project on both sides of a split), and
the same out-of-fold predictions choose the probability threshold above which the model may
overrule silent or weak rules. Everything is seeded: the same data and seed give the same
file, byte for byte.
"""

from __future__ import annotations

import math
import tempfile
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
import numpy.typing as npt
import sklearn
from scipy import sparse
from scipy.optimize import minimize_scalar
from sklearn.linear_model import SGDClassifier
from sklearn.model_selection import GroupKFold

from pipeline_guard.analyze import scan_source
from pipeline_guard.categories import Category
from pipeline_guard.corpus import Case
from pipeline_guard.diagnosis import diagnose, model_overrules
from pipeline_guard.features import DEFAULT_BITS, FEATURE_VERSION, window_features
from pipeline_guard.matcher import Matcher
from pipeline_guard.model import save_model, softmax
from pipeline_guard.prediction import Prediction
from pipeline_guard.rules import Rule
from pipeline_guard.window import failure_window

BATCH_SIZE = 1024
THRESHOLDS = tuple(round(0.30 + 0.05 * step, 2) for step in range(14))  # 0.30 .. 0.95
CLASSES = sorted(category.value for category in Category)
EXAMPLES_GROUP = "rule-examples"


@dataclass(frozen=True)
class TrainSettings:
    bits: int = DEFAULT_BITS
    epochs: int = 40
    alpha: float = 1e-4
    seed: int = 0
    folds: int = 5
    rule_examples: bool = True


@dataclass
class Spool:
    """Feature ids of many samples on disk; labels, groups and lengths in memory (small)."""

    directory: Path
    bits: int
    labels: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)
    _file: IO[bytes] | None = None

    def add(self, ids: Sequence[int], label: str, group: str) -> None:
        if self._file is None:
            self._file = (self.directory / "ids.bin").open("wb")
        self._file.write(np.asarray(ids, dtype=np.int32).tobytes())
        self.lengths.append(len(ids))
        self.labels.append(label)
        self.groups.append(group)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()

    def matrix(self, rows: Sequence[int]) -> sparse.csr_matrix:
        """Rows of binary features scaled to unit length (``binary-l2``), read from disk."""
        stored: npt.NDArray[np.int32] = (
            np.memmap(self.directory / "ids.bin", dtype=np.int32, mode="r")
            if sum(self.lengths)
            else np.zeros(0, np.int32)
        )
        starts = np.concatenate([[0], np.cumsum(self.lengths)])
        parts = [np.asarray(stored[starts[row] : starts[row + 1]]) for row in rows]
        values = [np.full(len(part), 1.0 / math.sqrt(len(part))) for part in parts if len(part)]
        indptr = np.concatenate([[0], np.cumsum([len(part) for part in parts])])
        return sparse.csr_matrix(
            (
                np.concatenate(values) if values else np.zeros(0),
                np.concatenate(parts) if parts else np.zeros(0, np.int32),
                indptr,
            ),
            shape=(len(rows), 1 << self.bits),
        )


@dataclass(frozen=True)
class RuleVerdict:
    """What the rules alone said about a log: category and the deciding rule's confidence."""

    category: str
    confidence: float | None


def spool_cases(spool: Spool, cases: Iterable[Case], matcher: Matcher) -> list[RuleVerdict]:
    """Scan each log once: spool its window's features, keep the rules-only verdict."""
    verdicts = []
    for case in cases:
        scan = scan_source(str(case.path), matcher)
        window = [line.text for line in failure_window(scan)]
        spool.add(window_features(window, spool.bits), case.category.value, case.group)
        diagnosis = diagnose(scan, str(case.path))
        confidence = diagnosis.confidence if diagnosis.rule else None
        verdicts.append(RuleVerdict(diagnosis.category.value, confidence))
    return verdicts


def spool_rule_examples(spool: Spool, rules: Iterable[Rule]) -> int:
    """Every rule's match examples, as tiny labelled windows."""
    count = 0
    for rule in rules:
        for example in rule.examples.match:
            spool.add(
                window_features(example.splitlines(), spool.bits),
                rule.category.value,
                EXAMPLES_GROUP,
            )
            count += 1
    return count


def fit(spool: Spool, rows: Sequence[int], settings: TrainSettings) -> SGDClassifier:
    """Class-balanced logistic regression by SGD over shuffled mini-batches."""
    classifier = SGDClassifier(
        loss="log_loss", alpha=settings.alpha, random_state=settings.seed, average=True
    )
    labels = np.asarray(spool.labels)
    counts = Counter(labels[list(rows)].tolist())
    weight_of = {label: len(rows) / (len(counts) * count) for label, count in counts.items()}
    rng = np.random.default_rng(settings.seed)
    order = np.asarray(rows)
    for _ in range(settings.epochs):
        order = rng.permutation(order)
        for start in range(0, len(order), BATCH_SIZE):
            batch = order[start : start + BATCH_SIZE]
            weights = np.asarray([weight_of[label] for label in labels[batch]])
            classifier.partial_fit(
                spool.matrix(batch.tolist()), labels[batch], classes=CLASSES, sample_weight=weights
            )
    return classifier


def export_arrays(
    classifier: SGDClassifier,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """Sparse export: only the feature ids seen in training carry a weight."""
    coef = np.asarray(classifier.coef_, dtype=np.float32)
    used = np.flatnonzero(np.any(coef != 0, axis=0)).astype(np.int64)
    intercept = np.asarray(classifier.intercept_, dtype=np.float32)
    return used, np.ascontiguousarray(coef[:, used].T), intercept


def fit_temperature(scores: npt.NDArray[np.float64], truth: Sequence[int]) -> float:
    """The temperature minimising the negative log-likelihood of out-of-fold scores."""
    picked = np.asarray(truth)

    def nll(temperature: float) -> float:
        scaled = scores / temperature
        scaled = scaled - scaled.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(scaled).sum(axis=1))
        return float(np.mean(log_norm - scaled[np.arange(len(picked)), picked]))

    result = minimize_scalar(nll, bounds=(0.01, 50.0), method="bounded", options={"xatol": 1e-4})
    return round(float(result.x), 4)


@dataclass(frozen=True)
class CaseResult:
    """What each approach said about one labelled log."""

    case: Case
    rules: str
    model: str
    combined: str


@dataclass(frozen=True)
class CrossValidation:
    results: list[CaseResult]
    temperature: float
    threshold: float
    folds: int


def cross_validate(
    cases: Sequence[Case], rules: Sequence[Rule], settings: TrainSettings
) -> CrossValidation:
    """Grouped K-fold: each fold's model never saw a log of the held-out projects."""
    with tempfile.TemporaryDirectory(prefix="pipeline-guard-cv-") as tmp:
        spool = Spool(Path(tmp), settings.bits)
        verdicts = spool_cases(spool, cases, Matcher(rules))
        if settings.rule_examples:
            spool_rule_examples(spool, rules)
        spool.close()
        n_cases = len(cases)
        folds = min(settings.folds, len(set(spool.groups[:n_cases])))
        extra = list(range(n_cases, len(spool.labels)))
        scores = np.zeros((n_cases, len(CLASSES)))
        splitter = GroupKFold(n_splits=folds)
        for train_rows, test_rows in splitter.split(
            np.zeros(n_cases), groups=spool.groups[:n_cases]
        ):
            classifier = fit(spool, [*train_rows.tolist(), *extra], settings)
            scores[test_rows] = classifier.decision_function(spool.matrix(test_rows.tolist()))
    temperature = fit_temperature(scores, [CLASSES.index(case.category.value) for case in cases])
    predictions = [_prediction(row, temperature) for row in scores]
    gold = [case.category.value for case in cases]

    def combined_at(threshold: float) -> list[str]:
        return [combine(v, p, threshold) for v, p in zip(verdicts, predictions, strict=True)]

    best = max(THRESHOLDS, key=lambda t: (_accuracy(gold, combined_at(t)), t))
    results = [
        CaseResult(case, verdict.category, prediction.category, combined)
        for case, verdict, prediction, combined in zip(
            cases, verdicts, predictions, combined_at(best), strict=True
        )
    ]
    return CrossValidation(results, temperature, best, folds)


def combine(verdict: RuleVerdict, prediction: Prediction, threshold: float) -> str:
    """The combined category, by the very rule :func:`~pipeline_guard.diagnosis.diagnose` uses."""
    if model_overrules(verdict.confidence, prediction, threshold):
        return prediction.category
    return verdict.category


def _prediction(scores: npt.NDArray[np.float64], temperature: float) -> Prediction:
    probabilities = softmax(scores / temperature)
    best = int(np.argmax(probabilities))
    return Prediction(
        category=CLASSES[best],
        probability=float(probabilities[best]),
        probabilities=dict(zip(CLASSES, map(float, probabilities), strict=True)),
        line_scores=[],
    )


def _accuracy(gold: Sequence[str], predicted: Sequence[str]) -> float:
    return sum(g == p for g, p in zip(gold, predicted, strict=True)) / max(1, len(gold))


def train(
    cases: Sequence[Case],
    rules: Sequence[Rule],
    out: Path,
    settings: TrainSettings,
    corpora: Sequence[str],
) -> CrossValidation:
    """Cross-validate (calibration and threshold), fit on everything, write the pack."""
    validation = cross_validate(cases, rules, settings)
    with tempfile.TemporaryDirectory(prefix="pipeline-guard-train-") as tmp:
        spool = Spool(Path(tmp), settings.bits)
        spool_cases(spool, cases, Matcher(rules))
        examples = spool_rule_examples(spool, rules) if settings.rule_examples else 0
        spool.close()
        classifier = fit(spool, range(len(spool.labels)), settings)
    used, weights, intercept = export_arrays(classifier)
    save_model(
        out, _meta(settings, validation, corpora, len(cases), examples), used, weights, intercept
    )
    return validation


def _meta(
    settings: TrainSettings,
    validation: CrossValidation,
    corpora: Sequence[str],
    logs: int,
    examples: int,
) -> dict[str, Any]:
    return {
        "features": {
            "kind": "hashed-tokens",
            "version": FEATURE_VERSION,
            "bits": settings.bits,
            "input": "binary-l2",
        },
        "classes": CLASSES,
        "temperature": validation.temperature,
        "threshold": validation.threshold,
        "trained": {
            "corpora": list(corpora),
            "logs": logs,
            "rule_examples": examples,
            "seed": settings.seed,
            "epochs": settings.epochs,
            "alpha": settings.alpha,
            "folds": validation.folds,
            "classifier": "sklearn.linear_model.SGDClassifier(loss='log_loss', average=True)",
            "sklearn": sklearn.__version__,
        },
    }

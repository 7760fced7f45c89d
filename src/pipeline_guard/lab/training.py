"""Train the model pack with scikit-learn, and cross-validate rules, model and both.

Only ``pipeline-guard train`` and ``eval --cv`` import this module (and scikit-learn); the
runtime path reads the exported pack with numpy alone (:mod:`pipeline_guard.model.pack`).

The model classifies **lines** (see :mod:`pipeline_guard.model.pack`): a log's failure is told by
its most telling line. Its training lines are, for every labelled log, the decisive lines the
labeller marked (``evidence``; without one, the line of the rule that agrees with the label,
else the most error-looking lines) labelled with the log's category, and a sample of the
other lines of its failure window labelled ``noise``; plus every rule's ``match`` examples,
labelled with the rule's category.

Training streams: each log is scanned once, its lines hashed to feature ids
(:mod:`pipeline_guard.model.features`) and appended to on-disk spools, so memory does not grow with
the corpus. The classifier is scikit-learn's ``SGDClassifier`` with logistic loss (averaged),
fitted with ``partial_fit`` over shuffled mini-batches read back from the spool, balanced
across classes by sample weights. The temperature that calibrates its probabilities, and the
probability threshold from which the model may overrule silent or weak rules, come from a
grouped cross-validation (no project on both sides of a split). Everything is seeded: the same
data and seed give the same file, byte for byte.
"""

from __future__ import annotations

import math
import tempfile
from collections import Counter
from collections.abc import Sequence
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

from pipeline_guard.categories import Category
from pipeline_guard.engine.analysis import scan_source
from pipeline_guard.engine.diagnosis import diagnose, model_overrules, relevant_error_lines
from pipeline_guard.engine.log_reader import CleanLine, clean_block, clean_line
from pipeline_guard.engine.matcher import Matcher
from pipeline_guard.engine.prediction import SILENT, WEAK, Prediction
from pipeline_guard.engine.rule import Rule
from pipeline_guard.engine.window import failure_window
from pipeline_guard.errors import UsageError
from pipeline_guard.lab.corpus import Case
from pipeline_guard.lab.pack_writer import write_category_part
from pipeline_guard.model.features import DEFAULT_BITS, FEATURE_VERSION, line_features
from pipeline_guard.model.pack import NOISE, window_prediction

BATCH_SIZE = 2048
NOISE_PER_LOG = 30
NEAR_EVIDENCE = 3
THRESHOLDS = tuple(round(0.30 + 0.05 * step, 2) for step in range(14))  # 0.30 .. 0.95
CLASSES = sorted([*(category.value for category in Category), NOISE])


@dataclass(frozen=True)
class TrainSettings:
    bits: int = DEFAULT_BITS
    epochs: int = 30
    alpha: float = 1e-4
    seed: int = 0
    folds: int = 5
    rule_examples: bool = True


@dataclass
class Spool:
    """Feature ids of many lines on disk; their labels in memory (small)."""

    directory: Path
    name: str
    bits: int
    labels: list[str] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)
    _file: IO[bytes] | None = None

    @property
    def path(self) -> Path:
        return self.directory / f"{self.name}.bin"

    def add(self, text: str, label: str = "") -> int:
        """Append one line; return its row."""
        if self._file is None:
            self._file = self.path.open("wb")
        ids = sorted(line_features(text, self.bits))
        self._file.write(np.asarray(ids, dtype=np.int32).tobytes())
        self.lengths.append(len(ids))
        self.labels.append(label)
        return len(self.lengths) - 1

    def close(self) -> None:
        if self._file is not None:
            self._file.close()

    def matrix(self, rows: Sequence[int]) -> sparse.csr_matrix:
        """Rows of binary features scaled to unit length, read back from disk."""
        stored: npt.NDArray[np.int32] = (
            np.memmap(self.path, dtype=np.int32, mode="r")
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


@dataclass(frozen=True)
class Log:
    """One labelled log as spooled: its rules verdict, training lines and window lines."""

    case: Case
    verdict: RuleVerdict
    labelled: list[int]
    window: list[int]


@dataclass
class Spooled:
    lines: Spool
    windows: Spool
    logs: list[Log]
    examples: list[int]


def spool_all(
    directory: Path, cases: Sequence[Case], rules: Sequence[Rule], settings: TrainSettings
) -> Spooled:
    """Scan every log once and every rule example; keep their lines' features on disk."""
    lines = Spool(directory, "lines", settings.bits)
    windows = Spool(directory, "windows", settings.bits)
    matcher = Matcher(rules)
    logs = [_spool_log(lines, windows, case, matcher) for case in cases]
    examples: list[int] = []
    if settings.rule_examples:
        for rule in rules:
            for example in rule.examples.match:
                for text in example.splitlines():
                    examples.append(lines.add(text, rule.category.value))
    lines.close()
    windows.close()
    return Spooled(lines, windows, logs, examples)


def _spool_log(lines: Spool, windows: Spool, case: Case, matcher: Matcher) -> Log:
    scan = scan_source(str(case.path), matcher)
    window = failure_window(scan)
    diagnosis = diagnose(scan, str(case.path))
    verdict = RuleVerdict(
        diagnosis.category.value, diagnosis.confidence if diagnosis.rule else None
    )
    decisive = _decisive_texts(case, window, diagnosis.category.value, diagnosis.evidence)
    labelled = [lines.add(text, case.label) for text in decisive]
    labelled += [lines.add(line.text, NOISE) for line in _noise_lines(window, decisive)]
    return Log(case, verdict, labelled, [windows.add(line.text) for line in window])


def _decisive_texts(
    case: Case, window: Sequence[CleanLine], rules_category: str, evidence: Sequence[Any]
) -> list[str]:
    """The lines that say why the log failed: the labeller's, the agreeing rule's, or a guess."""
    marked = [_clean_evidence(text) for text in case.evidence]
    if any(marked):
        return [text for text in marked if text]
    if rules_category == case.label and evidence:
        return [evidence[0].text]
    return [line.text for line in relevant_error_lines(window, window, limit=3)]


def _clean_evidence(text: str) -> str:
    """A label's evidence line cleaned like a log line (it was copied raw from the log)."""
    return clean_line(clean_block(text.encode("utf-8", "replace")), 0).text.strip()


def _noise_lines(window: Sequence[CleanLine], decisive: Sequence[str]) -> list[CleanLine]:
    """An even sample of the window's lines that are not the decisive ones or next to them."""
    wanted = {text.strip() for text in decisive}
    near = {
        number
        for line in window
        if line.text.strip() in wanted
        for number in range(line.number - NEAR_EVIDENCE, line.number + NEAR_EVIDENCE + 1)
    }
    others = [
        line for line in window if line.number not in near and line.text.strip() not in wanted
    ]
    step = max(1, len(others) // NOISE_PER_LOG)
    return others[::step][:NOISE_PER_LOG]


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
class Calibration:
    temperature: float
    threshold: float
    scope: str


@dataclass(frozen=True)
class CrossValidation:
    results: list[CaseResult]
    calibration: Calibration
    folds: int


def cross_validate(
    cases: Sequence[Case], rules: Sequence[Rule], settings: TrainSettings
) -> CrossValidation:
    """Nested grouped K-fold: an honest estimate of what ``train`` would give.

    Each outer fold holds out whole projects; the model scoring them is trained, calibrated and
    given its threshold on the other projects only (by an inner grouped cross-validation, the
    very procedure :func:`train` uses), so the held-out logs influence nothing about their own
    verdicts. The temperature and threshold reported are those of the whole corpus.
    """
    with tempfile.TemporaryDirectory(prefix="pipeline-guard-cv-") as tmp:
        data = spool_all(Path(tmp), cases, rules, settings)
        everything = list(range(len(cases)))
        folds = _folds(data, everything, settings.folds)
        results: list[CaseResult | None] = [None] * len(cases)
        for train_logs, test_logs in folds:
            calibration = calibrate(data, train_logs, settings)
            classifier = _fit_logs(data, train_logs, settings)
            for index in test_logs:
                log = data.logs[index]
                prediction = _predict(classifier, data, log, calibration.temperature)
                combined = combine(log.verdict, prediction, calibration)
                results[index] = CaseResult(
                    log.case, log.verdict.category, prediction.category, combined
                )
        overall = calibrate(data, everything, settings)
    return CrossValidation([r for r in results if r is not None], overall, len(folds))


def calibrate(data: Spooled, logs: Sequence[int], settings: TrainSettings) -> Calibration:
    """Temperature and threshold from out-of-fold scores over ``logs`` (grouped by project)."""
    line_scores: list[npt.NDArray[np.float64]] = []
    line_truth: list[int] = []
    window_scores: dict[int, npt.NDArray[np.float64]] = {}
    for train_logs, test_logs in _folds(data, logs, settings.folds):
        classifier = _fit_logs(data, train_logs, settings)
        for index in test_logs:
            log = data.logs[index]
            line_scores.append(classifier.decision_function(data.lines.matrix(log.labelled)))
            line_truth += [CLASSES.index(data.lines.labels[row]) for row in log.labelled]
            window_scores[index] = classifier.decision_function(data.windows.matrix(log.window))
    temperature = fit_temperature(np.vstack(line_scores), line_truth)
    predictions = {
        index: window_prediction(CLASSES, _probabilities(scores, temperature))
        for index, scores in window_scores.items()
    }
    gold = [data.logs[index].case.label for index in logs]

    def accuracy(candidate: Calibration) -> float:
        combined = [combine(data.logs[i].verdict, predictions[i], candidate) for i in logs]
        return sum(g == c for g, c in zip(gold, combined, strict=True)) / max(1, len(gold))

    candidates = [
        Calibration(temperature, t, scope) for scope in (SILENT, WEAK) for t in THRESHOLDS
    ]
    # the most accurate; among equals the most cautious: silent scope, then the higher threshold
    return max(candidates, key=lambda c: (accuracy(c), c.scope == SILENT, c.threshold))


def combine(verdict: RuleVerdict, prediction: Prediction, calibration: Calibration) -> str:
    """The combined category, by the very rule that
    :func:`~pipeline_guard.engine.diagnosis.diagnose` uses."""
    if model_overrules(verdict.confidence, prediction, calibration.threshold, calibration.scope):
        return prediction.category
    return verdict.category


def _fit_logs(data: Spooled, logs: Sequence[int], settings: TrainSettings) -> SGDClassifier:
    rows = [row for index in logs for row in data.logs[index].labelled]
    return fit(data.lines, [*rows, *data.examples], settings)


def _predict(classifier: SGDClassifier, data: Spooled, log: Log, temperature: float) -> Prediction:
    scores = classifier.decision_function(data.windows.matrix(log.window))
    return window_prediction(CLASSES, _probabilities(scores, temperature))


def _probabilities(scores: npt.NDArray[np.float64], temperature: float) -> list[list[float]]:
    """Per-line class probabilities, as :meth:`ModelPack.line_probabilities` computes them."""
    scaled = np.atleast_2d(scores) / temperature
    shifted = np.exp(scaled - scaled.max(axis=1, keepdims=True))
    result: list[list[float]] = (shifted / shifted.sum(axis=1, keepdims=True)).tolist()
    return result


def _folds(data: Spooled, logs: Sequence[int], wanted: int) -> list[tuple[list[int], list[int]]]:
    """Grouped folds over ``logs``: one project's logs are never on both sides."""
    groups = [data.logs[index].case.group for index in logs]
    count = min(wanted, len(set(groups)))
    if count < 2:
        raise UsageError("cross-validation needs logs from at least 2 projects")
    chosen = np.asarray(logs)
    return [
        (chosen[train].tolist(), chosen[test].tolist())
        for train, test in GroupKFold(n_splits=count).split(np.zeros(len(logs)), groups=groups)
    ]


def train(
    cases: Sequence[Case],
    rules: Sequence[Rule],
    out: Path,
    settings: TrainSettings,
    corpora: Sequence[str],
) -> Calibration:
    """Calibrate by grouped cross-validation, fit on everything, write the pack."""
    with tempfile.TemporaryDirectory(prefix="pipeline-guard-train-") as tmp:
        data = spool_all(Path(tmp), cases, rules, settings)
        everything = list(range(len(cases)))
        calibration = calibrate(data, everything, settings)
        classifier = _fit_logs(data, everything, settings)
    used, weights, intercept = export_arrays(classifier)
    meta = _meta(settings, calibration, corpora, len(cases), len(data.examples))
    save_model(out, meta, used, weights, intercept)
    return calibration


def _meta(
    settings: TrainSettings,
    calibration: Calibration,
    corpora: Sequence[str],
    logs: int,
    examples: int,
) -> dict[str, Any]:
    return {
        "features": {
            "kind": "hashed-tokens",
            "version": FEATURE_VERSION,
            "bits": settings.bits,
            "input": "line-max",
        },
        "classes": CLASSES,
        "temperature": calibration.temperature,
        "threshold": calibration.threshold,
        "scope": calibration.scope,
        "trained": {
            "corpora": list(corpora),
            "logs": logs,
            "rule_example_lines": examples,
            "seed": settings.seed,
            "epochs": settings.epochs,
            "alpha": settings.alpha,
            "folds": settings.folds,
            "classifier": "sklearn.linear_model.SGDClassifier(loss='log_loss', average=True)",
            "sklearn": sklearn.__version__,
        },
    }


def save_model(
    path: Path,
    meta: dict[str, Any],
    feature_ids: npt.NDArray[np.int64],
    weights: npt.NDArray[np.float32],
    intercept: npt.NDArray[np.float32],
) -> None:
    """Write the category model into the pack at ``path`` (its line ranker, if any, is kept)."""
    arrays: dict[str, npt.NDArray[Any]] = {
        "feature_ids": feature_ids,
        "weights": weights,
        "intercept": intercept,
    }
    write_category_part(path, meta, arrays)

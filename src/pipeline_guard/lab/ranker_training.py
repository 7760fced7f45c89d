"""Train the line ranker from labelled whole logs, and measure it by leave-projects-out CV.

In: whole-log corpora whose labels carry the failure span (``chunk_first``/``chunk_last``,
``also``). Out: the ranker's weights and common-line table (written into the pack by
:mod:`pipeline_guard.lab.training`), and out-of-fold hit@1 figures.

Spooling is separate from fitting: :func:`spool_steps` reads every log once (its failing step
by :mod:`pipeline_guard.lab.step_lines`, where the rules point inside that step, the set of its
normalised lines) into plain :class:`StepCase` values; fitting and cross-validation only ever
read those.

The model is pointwise logistic regression (scikit-learn, ``liblinear``: deterministic) over
the named binary features of :mod:`pipeline_guard.model.step_features`: a line inside the
labelled span is a positive, every other line of the step a negative. Each step weighs the
same (its positives share a weight of 1, its negatives another 1), so a 20,000-line test run
does not drown a 50-line compiler failure. Lines far from the exit are sampled
(:data:`FAR_SAMPLE` per step) to bound memory; lines near the exit are all kept.

The common-line table (in how many projects' logs a normalised line occurs) is built from the
training projects only, and for a training line its own project is not counted, so the
feature means at training what it means on a log from a project never seen.
"""

from __future__ import annotations

import dataclasses
import io
import random
from array import array
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import sklearn
from scipy import sparse
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold

from pipeline_guard.engine.diagnosis import root_cause
from pipeline_guard.engine.log_reader import iter_chunks
from pipeline_guard.engine.matcher import Matcher
from pipeline_guard.engine.prediction import LineScorer
from pipeline_guard.engine.rule import Rule
from pipeline_guard.errors import UsageError
from pipeline_guard.lab.corpus import Case
from pipeline_guard.lab.pack_writer import write_ranker_part
from pipeline_guard.lab.step_lines import failing_step_of, read_log_lines
from pipeline_guard.lab.step_training import (
    STEP_BITS,
    StepSample,
    StepSettings,
    choose_threshold,
    fit_step_classifier,
    fit_step_model,
    spool_categories,
    step_part,
)
from pipeline_guard.model.pack_format import RANKER_FEATURES
from pipeline_guard.model.ranker import LineRanker
from pipeline_guard.model.step_classifier import STEP_KEY, StepClassifier
from pipeline_guard.model.step_features import (
    RANKER_FEATURE_VERSION,
    common_name,
    hash_name,
    line_hash,
    ranked_range,
    step_feature_names,
)

HIT_MARGIN = 2
"""A line within this many lines of a labelled span counts as a hit (the corpora's measure)."""
NEAR_KEPT = 60
"""Lines this near the exit are all kept for training; farther ones are sampled."""
FAR_SAMPLE = 150
MIN_PROJECTS = 2
"""A line enters the common-line table when it occurs in at least this many projects."""


DEFAULT_RANKER_BITS = 18
GROUPS = "tndrsecx"
"""The feature groups of :mod:`~pipeline_guard.model.step_features`, by their names' prefix."""


@dataclass(frozen=True)
class RankerSettings:
    bits: int = DEFAULT_RANKER_BITS
    c: float = 0.1
    seed: int = 0
    folds: int = 5
    min_weight: float = 0.003
    """Weights smaller than this are dropped from the pack (see :func:`pruned_weights`)."""
    drop: str = ""
    """Feature groups left out (letters of :data:`GROUPS`): for the ablation only."""


@dataclass(frozen=True)
class StepCase:
    """One labelled log, reduced to what the ranker needs: the ranked lines of its failing step
    (see :func:`~pipeline_guard.model.step_features.ranked_range`) as feature ids."""

    id: str
    group: str
    corpus: str
    first_line: int
    """1-based log line of the first ranked line."""
    exit_index: int
    spans: tuple[tuple[int, int], ...]
    rule_line: int | None
    """The log line the rules choose inside the failing step (root cause of its hits), if any."""
    ids: npt.NDArray[np.int32]
    kinds: npt.NDArray[np.int8]
    """The feature group of each id (its name's first letter, see :data:`GROUPS`), for
    ablations."""
    """Feature ids of every ranked line but the common-line one, concatenated."""
    indptr: npt.NDArray[np.int64]
    hashes: list[int]
    """Each ranked line's normalised hash (:func:`~.step_features.line_hash`)."""
    log_hashes: frozenset[int]
    """Normalised hashes of every line of the whole log (for the common-line table)."""

    @property
    def size(self) -> int:
        return len(self.hashes)

    def positives(self) -> set[int]:
        """Ranked-line indices inside a labelled span (exact, for training)."""
        return {
            index
            for first, last in self.spans
            for index in range(first - self.first_line, last - self.first_line + 1)
            if 0 <= index < self.size
        }

    def hit(self, line: int | None) -> bool:
        """Whether log line ``line`` lies within a span, give or take HIT_MARGIN."""
        if line is None:
            return False
        return any(first - HIT_MARGIN <= line <= last + HIT_MARGIN for first, last in self.spans)


def spool_steps(
    cases: Iterable[Case], matcher: Matcher, corpus: str, bits: int = DEFAULT_RANKER_BITS
) -> list[StepCase]:
    """Read each case with spans once: its failing step, the rules' pick there, its features."""
    return [_spool(case, matcher, corpus, bits) for case in cases if case.spans]


def _spool(case: Case, matcher: Matcher, corpus: str, bits: int) -> StepCase:
    lines, groups = read_log_lines(case.path)
    step = failing_step_of(lines, groups)
    texts = step.texts
    ranked = ranked_range(len(texts), step.exit_index)
    kept = texts[ranked.start : ranked.stop]
    names = step_feature_names(kept, step.exit_index - ranked.start)
    per_line = [
        sorted({hash_name(name, bits): GROUPS.index(name[0]) for name in line}.items())
        for line in names
    ]
    picked = rules_pick(texts, matcher)
    return StepCase(
        id=case.id,
        group=case.group,
        corpus=corpus,
        first_line=step.first_line + ranked.start,
        exit_index=step.exit_index - ranked.start,
        spans=case.spans,
        rule_line=step.first_line + picked if picked is not None else None,
        ids=np.asarray([i for ids in per_line for i, _ in ids], dtype=np.int32),
        kinds=np.asarray([k for ids in per_line for _, k in ids], dtype=np.int8),
        indptr=np.concatenate([[0], np.cumsum([len(ids) for ids in per_line])]).astype(np.int64),
        hashes=[line_hash(text) for text in kept],
        log_hashes=frozenset(line_hash(line.text) for line in lines),
    )


def rules_pick(texts: Sequence[str], matcher: Matcher) -> int | None:
    """The index of the line the rules would choose within these lines alone, if any."""
    data = ("\n".join(texts) + "\n").encode("utf-8")
    scan = matcher.scan(iter_chunks(io.BytesIO(data)))
    decisive = root_cause(scan.hits)
    return decisive.line.number - 1 if decisive is not None else None


def common_lines(steps: Sequence[StepCase]) -> Counter[int]:
    """In how many projects each normalised line occurs (only lines in MIN_PROJECTS or more)."""
    by_project: dict[str, set[int]] = {}
    for step in steps:
        by_project.setdefault(step.group, set()).update(step.log_hashes)
    counts: Counter[int] = Counter()
    for hashes in by_project.values():
        counts.update(hashes)
    return Counter({key: count for key, count in counts.items() if count >= MIN_PROJECTS})


def other_projects(table: Counter[int], key: int, own: frozenset[int] | None) -> int:
    """Other projects holding a line; a training line's own project is not counted."""
    found = table.get(key, 0)
    if own is not None and key in own:
        found -= 1
    return found if found >= MIN_PROJECTS else 0


def step_matrix(  # noqa: PLR0917 - the matrix's inputs, all needed
    step: StepCase,
    rows: Sequence[int],
    table: Counter[int],
    bits: int,
    training: bool,
    drop: str = "",
) -> sparse.csr_matrix:
    """Binary features of the chosen rows of one step, the common-line one added."""
    own = step.log_hashes if training else None
    indices: list[npt.NDArray[np.int32]] = []
    indptr = [0]
    dropped = np.asarray([GROUPS.index(group) for group in drop], dtype=np.int8)
    for row in rows:
        base = step.ids[step.indptr[row] : step.indptr[row + 1]]
        if drop:
            base = base[~np.isin(step.kinds[step.indptr[row] : step.indptr[row + 1]], dropped)]
        common = hash_name(common_name(other_projects(table, step.hashes[row], own)), bits)
        extra = [] if "x" in drop else [common]
        ids = np.union1d(base, np.asarray(extra, dtype=np.int32))
        indices.append(ids)
        indptr.append(indptr[-1] + len(ids))
    flat = np.concatenate(indices) if indices else np.zeros(0, np.int32)
    data = np.ones(len(flat), dtype=np.float64)
    return sparse.csr_matrix((data, flat, indptr), shape=(len(rows), 1 << bits))


def training_rows(step: StepCase, rng: random.Random) -> tuple[list[int], list[int]]:
    """The rows a step contributes, and their labels (1 inside the span)."""
    positives = step.positives()
    near = {
        index
        for index in range(step.size)
        if abs(step.exit_index - index) <= NEAR_KEPT or index in positives
    }
    far = sorted(set(range(step.size)) - near)
    if len(far) > FAR_SAMPLE:
        far = sorted(rng.sample(far, FAR_SAMPLE))
    rows = sorted(near | set(far))
    return rows, [int(row in positives) for row in rows]


def fit_ranker(
    steps: Sequence[StepCase], settings: RankerSettings
) -> tuple[LogisticRegression, Counter[int]]:
    """The ranker and the common-line table it was trained with."""
    table = common_lines(steps)
    rng = random.Random(settings.seed)
    blocks, labels, weights = [], [], []
    for step in steps:
        rows, flags = training_rows(step, rng)
        if not any(flags) or all(flags):
            continue  # the span lies outside the step, or is all of it: nothing to learn here
        blocks.append(step_matrix(step, rows, table, settings.bits, True, settings.drop))
        positives = sum(flags)
        negatives = len(flags) - positives
        weights += [1.0 / (positives if flag else negatives) for flag in flags]
        labels += flags
    if not blocks:
        raise UsageError("no labelled span inside a failing step: nothing to train the ranker on")
    model = LogisticRegression(C=settings.c, solver="liblinear", random_state=settings.seed)
    model.fit(sparse.vstack(blocks).tocsr(), np.asarray(labels), sample_weight=np.asarray(weights))
    return model, table


def score_step(
    model: LogisticRegression, table: Counter[int], step: StepCase, settings: RankerSettings
) -> npt.NDArray[np.float64]:
    """The ranker's score of every ranked line of a held-out step."""
    if not step.size:
        return np.zeros(0)
    matrix = step_matrix(step, range(step.size), table, settings.bits, False, settings.drop)
    weights = pruned_weights(model, settings.min_weight).astype(np.float64)
    scores: npt.NDArray[np.float64] = matrix @ weights + _intercept(model)
    return scores


def _intercept(model: LogisticRegression) -> float:
    """The fitted intercept, as a plain float."""
    return float(np.ravel(np.asarray(model.intercept_, dtype=np.float64))[0])


def top_line(step: StepCase, scores: Sequence[float] | npt.NDArray[np.float64]) -> int | None:
    """The log line of the best-scored line (the earliest among equals), ``None`` if empty."""
    if len(scores) == 0:
        return None
    return step.first_line + int(np.argmax(np.asarray(scores)))


@dataclass(frozen=True)
class RankerResult:
    """Out-of-fold picks for one log: the ranker's, the rules', and rules-else-ranker."""

    step: StepCase
    ranker: int | None
    combined: int | None
    """Log lines; ``combined`` is the rules' line inside the failing step, else the ranker's."""

    @property
    def rules(self) -> int | None:
        return self.step.rule_line


def cross_validate_ranker(
    steps: Sequence[StepCase], settings: RankerSettings
) -> list[RankerResult]:
    """Each step scored by a ranker that never saw its project (grouped K-fold)."""
    results: dict[int, RankerResult] = {}
    for train, test in project_folds([step.group for step in steps], settings.folds):
        model, table = fit_ranker([steps[i] for i in train], settings)
        for index in test:
            step = steps[index]
            ranked = top_line(step, score_step(model, table, step, settings))
            combined = step.rule_line if step.rule_line is not None else ranked
            results[index] = RankerResult(step, ranked, combined)
    return [results[index] for index in range(len(steps))]


def project_folds(groups: Sequence[str], wanted: int) -> list[tuple[list[int], list[int]]]:
    """Grouped folds: one project's logs never on both sides of a split."""
    count = min(wanted, len(set(groups)))
    if count < 2:
        raise UsageError("cross-validation needs logs from at least 2 projects")
    splitter = GroupKFold(n_splits=count)
    return [
        (train.tolist(), test.tolist())
        for train, test in splitter.split(np.zeros(len(groups)), groups=list(groups))
    ]


def pruned_weights(model: LogisticRegression, min_weight: float) -> npt.NDArray[np.float32]:
    """The weights, those smaller than ``min_weight`` set to zero: most features occur in a
    line or two and weigh next to nothing; dropping them makes the pack small and fast to
    read, and cross-validation scores the pruned model, as shipped."""
    coef = np.asarray(model.coef_[0], dtype=np.float32)
    return np.where(np.abs(coef) >= min_weight, coef, np.float32(0.0))


def ranker_arrays(
    model: LogisticRegression, table: Counter[int], min_weight: float
) -> dict[str, npt.NDArray[Any]]:
    """The pack members of a fitted ranker (:data:`~.pack_format.RANKER_MEMBERS`)."""
    coef = pruned_weights(model, min_weight)
    used = np.flatnonzero(coef).astype(np.int64)
    common = np.asarray(sorted(table), dtype=np.int64)
    return {
        "ranker_feature_ids": used,
        "ranker_weights": coef[used],
        "ranker_common": common,
        "ranker_common_projects": np.asarray([table[key] for key in common], dtype=np.int64),
    }


def ranker_settings_meta(
    model: LogisticRegression, settings: RankerSettings, trained: dict[str, Any]
) -> dict[str, Any]:
    """The ranker's ``meta["ranker"]`` document."""
    return {
        "features": {
            "kind": RANKER_FEATURES,
            "version": RANKER_FEATURE_VERSION,
            "bits": settings.bits,
        },
        "intercept": round(_intercept(model), 6),
        "trained": {
            **trained,
            "classifier": f"sklearn.linear_model.LogisticRegression(C={settings.c}, "
            "solver='liblinear'), pointwise, each step weighted equally",
            "sklearn": sklearn.__version__,
            "seed": settings.seed,
            "min_weight": settings.min_weight,
        },
    }


def in_memory_ranker(
    model: LogisticRegression, table: Counter[int], settings: RankerSettings
) -> LineRanker:
    """The fitted ranker as inference runs it (pure Python), without writing a pack."""
    arrays = ranker_arrays(model, table, settings.min_weight)
    meta = ranker_settings_meta(model, settings, {})
    return LineRanker(
        weights=dict(
            zip(
                arrays["ranker_feature_ids"].tolist(),
                array("f", arrays["ranker_weights"].tolist()),
                strict=True,
            )
        ),
        intercept=float(meta["intercept"]),
        bits=settings.bits,
        common=array("q", arrays["ranker_common"].tolist()),
        common_projects=array("q", arrays["ranker_common_projects"].tolist()),
        meta=meta,
    )


def fold_rankers(
    cases: Sequence[Case],
    rules: Sequence[Rule],
    settings: RankerSettings,
    extra: Sequence[Case] = (),
) -> dict[str, LineScorer]:
    """For each case, the failing-step part (line ranker and step classifier) trained on the
    other projects' folds only.

    What ``eval --cv`` gives diagnosis for each log, so its hit@1 and the step classifier's
    categories are out-of-fold (the classifier's threshold by a nested CV inside the training
    folds). ``extra`` cases (further corpora) join every fold's training, except those of the
    projects held out in it. Cases are keyed by :attr:`~pipeline_guard.lab.corpus.Case.key`."""
    matcher = Matcher(rules)
    everything = [*cases, *extra]
    with_spans = [case for case in everything if case.spans]
    steps = dict(
        zip(
            [case.key for case in with_spans],
            spool_steps(with_spans, matcher, "eval", settings.bits),
            strict=True,
        )
    )
    samples = {sample.key: sample for sample in spool_categories(everything, matcher, STEP_BITS)}
    rankers: dict[str, LineScorer] = {}
    for train, test in project_folds([case.group for case in cases], settings.folds):
        held_out = {cases[index].group for index in test}
        trained = [cases[index].key for index in train]
        trained += [case.key for case in extra if case.group not in held_out]
        model, table = fit_ranker([steps[key] for key in trained if key in steps], settings)
        ranker = in_memory_ranker(model, table, settings)
        step_samples = [samples[key] for key in trained if key in samples]
        classifier = _step_classifier(step_samples, settings.folds)
        ranker = dataclasses.replace(ranker, step=classifier)
        for index in test:
            rankers[cases[index].key] = ranker
    return rankers


def _step_classifier(samples: Sequence[StepSample], folds: int) -> StepClassifier | None:
    """The step classifier fitted on ``samples``, its threshold by grouped CV among them."""
    settings = StepSettings(folds=folds)
    if len({sample.group for sample in samples}) < 2:
        return None
    inner = project_folds([sample.group for sample in samples], folds)
    threshold = choose_threshold(samples, settings, inner)
    return fit_step_classifier(samples, settings, threshold)


def train_ranker(
    cases: Sequence[Case],
    rules: Sequence[Rule],
    out: Path,
    settings: RankerSettings,
    corpora: Sequence[str],
) -> int:
    """Fit the ranker on every case with a span, and the step classifier on every labelled
    case, and write both into the pack at ``out``; returns how many logs the ranker learnt
    from."""
    matcher = Matcher(rules)
    steps = spool_steps(cases, matcher, "train", settings.bits)
    model, table = fit_ranker(steps, settings)
    trained = {
        "corpora": list(corpora),
        "logs": len(steps),
        "projects": len({s.group for s in steps}),
    }
    meta = ranker_settings_meta(model, settings, trained)
    arrays = ranker_arrays(model, table, settings.min_weight)
    step = _step_part(spool_categories(cases, matcher, STEP_BITS), settings.folds, corpora)
    if step is not None:
        meta[STEP_KEY], step_arrays = step
        arrays |= step_arrays
    write_ranker_part(out, meta, arrays)
    return len(steps)


def _step_part(
    samples: Sequence[StepSample], folds: int, corpora: Sequence[str]
) -> tuple[dict[str, Any], dict[str, npt.NDArray[Any]]] | None:
    """The step classifier's settings and members, or ``None`` without the data to train it."""
    settings = StepSettings(folds=folds)
    labels = {sample.label for sample in samples}
    if len({sample.group for sample in samples}) < 2 or len(labels) < 2:
        return None
    threshold = choose_threshold(
        samples, settings, project_folds([s.group for s in samples], folds)
    )
    model = fit_step_model(samples, settings)
    trained = {
        "corpora": list(corpora),
        "logs": len(samples),
        "projects": len({s.group for s in samples}),
    }
    return step_part(model, settings, threshold, trained)

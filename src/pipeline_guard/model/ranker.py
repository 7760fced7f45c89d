"""The line ranker of a pack: which line of the failing step says why the job failed.

In: the cleaned lines of the step that ended a job and the index of its exit line. Out: one
score per line (higher: more likely the cause), the engine's
:class:`~pipeline_guard.engine.prediction.LineScorer` seam. The engine asks it only where no rule
speaks inside the failing step.

A linear model over the binary features of :mod:`pipeline_guard.model.step_features`: a line's
score is the ranker's intercept plus the weights of the features it has. Its part of the pack
(format in :mod:`pipeline_guard.model.pack_format`) holds the sorted feature ids that carry a
weight, their weights, and the common-line table (normalised line hashes and in how many
projects' logs each occurs). Plain Python over :mod:`array` buffers, like the category model:
reading the part takes a few milliseconds and scoring a step of a few hundred lines about as
much. Lines outside :func:`~pipeline_guard.model.step_features.ranked_range` (far above the exit)
get a score below every ranked line. Trained by :mod:`pipeline_guard.lab.ranker_training`.
"""

from __future__ import annotations

import bisect
import itertools
import math
import operator
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline_guard.engine.prediction import StepVerdict
from pipeline_guard.errors import ModelError
from pipeline_guard.model.npy import Array
from pipeline_guard.model.pack import read_pack
from pipeline_guard.model.pack_format import (
    RANKER_FEATURES,
    RANKER_KEY,
    RANKER_MEMBERS,
    STEP_MEMBERS,
    pack_document,
)
from pipeline_guard.model.step_classifier import STEP_KEY, StepClassifier, step_classifier_from
from pipeline_guard.model.step_features import (
    RANKER_FEATURE_VERSION,
    common_name,
    hash_name,
    line_hash,
    ranked_range,
    step_feature_names,
)

MAX_MEMO = 200_000
"""Feature names whose id is remembered between lines (then the memo starts afresh)."""


@dataclass(frozen=True)
class LineRanker:
    """A pack's line ranker; a :class:`~pipeline_guard.engine.prediction.LineScorer`."""

    weights: dict[int, float]
    """Feature id to weight (ids not here weigh zero)."""
    intercept: float
    bits: int
    common: array  # type: ignore[type-arg]
    """int64, sorted: hashes of normalised lines seen in several projects' logs."""
    common_projects: array  # type: ignore[type-arg]
    """int64: in how many projects each line of ``common`` occurs."""
    meta: dict[str, Any]
    step: StepClassifier | None = None
    """The failing step's category classifier, when the pack holds one."""
    _ids: dict[str, int] = field(default_factory=dict, compare=False, repr=False)
    """Feature name to id, memoised: most names (positions, shapes, common words) recur on every
    line."""

    def score_lines(self, lines: Sequence[str], exit_index: int) -> list[float]:
        """One score per line of the failing step (see the module docstring)."""
        ranked = ranked_range(len(lines), exit_index)
        kept = [lines[index] for index in ranked]
        names = step_feature_names(kept, exit_index - ranked.start)
        scored = [
            self._score(line_names, self.projects(text))
            for line_names, text in zip(names, kept, strict=True)
        ]
        floor = min(scored, default=0.0) - 1.0
        scores = [floor] * len(lines)
        scores[ranked.start : ranked.stop] = scored
        return scores

    def classify_step(self, command: str | None, lines: Sequence[str]) -> StepVerdict | None:
        """The step classifier's verdict, ``None`` when the pack has none."""
        return self.step.classify(command, lines) if self.step is not None else None

    def projects(self, text: str) -> int:
        """In how many projects' logs (of the training data) this line occurs."""
        key = line_hash(text)
        row = bisect.bisect_left(self.common, key)
        if row < len(self.common) and self.common[row] == key:
            return int(self.common_projects[row])
        return 0

    def _score(self, names: Sequence[str], projects: int) -> float:
        ids = {self._id(name) for name in names}
        ids.add(self._id(common_name(projects)))
        weight = self.weights.get
        return self.intercept + sum(weight(feature, 0.0) for feature in ids)

    def _id(self, name: str) -> int:
        found = self._ids.get(name)
        if found is None:
            if len(self._ids) > MAX_MEMO:
                self._ids.clear()
            found = self._ids[name] = hash_name(name, self.bits)
        return found


def load_ranker(path: Path) -> LineRanker:
    """Read and validate a pack's line ranker; a one-line :class:`ModelError` if wrong."""
    arrays, meta_text = read_pack(path, tuple(RANKER_MEMBERS), "line ranker")
    meta = pack_document(path, meta_text)
    settings = meta.get(RANKER_KEY)
    if not isinstance(settings, dict):
        raise ModelError(f"{path}: the pack holds no line ranker (no meta.{RANKER_KEY})")
    features = settings.get("features") or {}
    if features.get("kind") != RANKER_FEATURES or features.get("version") != RANKER_FEATURE_VERSION:
        raise ModelError(
            f"{path}: line ranker was trained on features {features.get('kind')!r} version "
            f"{features.get('version')!r}, this pipeline-guard computes {RANKER_FEATURES!r} "
            f"version {RANKER_FEATURE_VERSION}; retrain it with `pipeline-guard train --ranker`"
        )
    problem = next(_problems(settings, arrays), None)
    if problem:
        raise ModelError(f"{path}: invalid line ranker: {problem}")
    return LineRanker(
        weights=dict(
            zip(arrays["ranker_feature_ids"].data, arrays["ranker_weights"].data, strict=True)
        ),
        intercept=float(settings["intercept"]),
        bits=int(features["bits"]),
        common=arrays["ranker_common"].data,
        common_projects=arrays["ranker_common_projects"].data,
        meta=settings,
        step=_step_classifier(path, settings),
    )


def _step_classifier(path: Path, settings: dict[str, Any]) -> StepClassifier | None:
    """The pack's step classifier, if its failing-step part has one."""
    step = settings.get(STEP_KEY)
    if step is None:
        return None
    if not isinstance(step, dict):
        raise ModelError(f"{path}: invalid step classifier: meta.{RANKER_KEY}.{STEP_KEY}")
    arrays, _ = read_pack(path, tuple(STEP_MEMBERS), "step classifier")
    try:
        return step_classifier_from(step, arrays)
    except ValueError as exc:
        raise ModelError(f"{path}: invalid step classifier: {exc}") from None


def _problems(settings: dict[str, Any], arrays: dict[str, Array]) -> Iterator[str]:
    """Everything wrong with the ranker's part, most basic first."""
    ids, weights = arrays["ranker_feature_ids"], arrays["ranker_weights"]
    common, projects = arrays["ranker_common"], arrays["ranker_common_projects"]
    bits = settings["features"].get("bits")
    if not isinstance(bits, int) or not 8 <= bits <= 30:
        yield "features.bits must be an integer between 8 and 30"
    for name, member in (("ranker_feature_ids", ids), ("ranker_common", common)):
        if member.data.typecode != "q" or len(member.shape) != 1:
            yield f"{name} must be a vector of int64"
        elif not all(map(operator.lt, member.data, itertools.islice(member.data, 1, None))):
            yield f"{name} must be sorted and unique"
    if weights.data.typecode != "f" or weights.shape != (len(ids.data),):
        yield f"ranker_weights shape {weights.shape} does not fit {len(ids.data)} ids"
    if projects.data.typecode != "q" or projects.shape != (len(common.data),):
        yield f"ranker_common_projects shape {projects.shape} does not fit {len(common.data)}"
    intercept = settings.get("intercept")
    if not isinstance(intercept, int | float) or not math.isfinite(intercept):
        yield "intercept must be a finite number"
    if not all(map(math.isfinite, weights.data)):
        yield "ranker_weights are not all finite numbers"

"""``pipeline-guard eval CORPUS_DIR``: score rules-only, model-only and combined diagnosis.

Without ``--cv`` the loaded model pack is scored as it is; if it was trained on this very
corpus that score is in-sample (optimistic), which the header says. ``--cv K`` trains a fresh
model per fold of a grouped K-fold split (one project's logs never on both sides) and scores
each log with the model that did not see its project: the honest number.

Whole-log corpora (labels with ``chunk_first``/``chunk_last``) are also scored on *where* the
evidence points: hit@1 (the first evidence line lies in the labelled span), hit@any, the
``unknown`` rate and the false-retry rate, per gold category and overall. Categories are scored
over the cases whose label decides one. A case with a ``green`` log (``corpus-pairs``) is
diagnosed with it as baseline unless ``--no-baseline``. ``--ablation`` adds the rules-only
figures of each whole-log step taken alone: rules alone (the category rank over the whole log),
+ the failing step, + terminal/recovered, + the baseline.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from pipeline_guard.categories import Category
from pipeline_guard.cli.model_choice import LazyModel, choose_model, choose_ranker
from pipeline_guard.cli.progress import bar, counted
from pipeline_guard.engine.analysis import candidate_lines, scan_source
from pipeline_guard.engine.baseline import familiar_lines
from pipeline_guard.engine.diagnosis import (
    FULL,
    MODEL_RULE,
    RULES_ALONE,
    Diagnosis,
    Selection,
    diagnose,
    model_action,
)
from pipeline_guard.engine.matcher import Matcher
from pipeline_guard.engine.prediction import LineScorer
from pipeline_guard.engine.rule import Rule, load_rules
from pipeline_guard.engine.window import failure_window
from pipeline_guard.errors import UsageError
from pipeline_guard.lab.corpus import Case, read_corpus
from pipeline_guard.lab.metrics import (
    Located,
    LocationRow,
    format_comparison,
    format_locations,
    locate_score,
    score,
)

ABLATION: dict[str, tuple[Selection, bool]] = {
    "rules alone": (RULES_ALONE, False),
    "+ failing step": (Selection(failing_step=True, terminal=False), False),
    "+ terminal/recovered": (FULL, False),
    "+ baseline": (FULL, True),
}
"""Each ablation row: what diagnosis takes, and whether a green log is used as baseline."""


@dataclass
class Verdicts:
    """Per approach, each case's category; plus the final diagnosis of each case."""

    categories: dict[str, list[str]]
    final: list[Diagnosis]
    ablation: dict[str, list[Diagnosis]]
    details: list[str]


def run(
    *,
    corpus_dir: Path,
    rule_dirs: Sequence[Path],
    fmt: str,
    show_misses: bool,
    bundled: bool = True,
    model_path: Path | None = None,
    use_model: bool = True,
    folds: int = 0,
    use_baseline: bool = True,
    ablation: bool = False,
    cache: Path | None = None,
    train_also: Sequence[Path] = (),
) -> int:
    cases = read_corpus(corpus_dir)
    if train_also and not folds:
        raise UsageError("--train-also needs --cv K")
    extra = [case for directory in train_also for case in read_corpus(directory)]
    rules = load_rules(rule_dirs, bundled=bundled, cache=cache)
    model = None if folds else choose_model(model_path, use_model)
    rankers = _fold_rankers(cases, rules, folds, extra) if folds and use_model else {}
    verdicts = _diagnose_all(cases, rules, model, use_baseline, ablation, rankers=rankers)
    header = _header(model)
    if folds:
        header, cv_categories = _cross_validated(cases, rules, folds)
        verdicts.categories = _with_cv(cases, verdicts, cv_categories)
    decided = [index for index, case in enumerate(cases) if case.category is not None]
    gold = [cases[index].label for index in decided]
    columns = {
        name: score(gold, [predicted[index] for index in decided])
        for name, predicted in verdicts.categories.items()
    }
    last = list(verdicts.categories)[-1]
    whole = any(case.spans for case in cases)
    locations = (
        locate_score(_located(cases, verdicts.final, verdicts.categories[last])) if whole else []
    )
    ablated = {
        name: _ablation_row(cases, decided, diagnoses)
        for name, diagnoses in verdicts.ablation.items()
    }
    if ablated and last == "combined":
        row = "+ model (CV)" if folds else "+ model (pack)"
        ablated[row] = _ablation_row(cases, decided, verdicts.final, verdicts.categories[last])
    if fmt == "json":
        document: dict[str, object] = {name: asdict(s) for name, s in columns.items()}
        if whole:
            document["locations"] = [asdict(row) for row in locations]
        if ablated:
            document["ablation"] = ablated
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
        return 0
    print(f"{header}\n{len(cases)} logs in {corpus_dir} ({len(decided)} with a category)\n")
    print(format_comparison(columns))
    if whole:
        print(f"where the evidence points ({last}; span +-2 lines or an `also` range)")
        print(format_locations(locations))
    if ablated:
        print(_format_ablation(ablated))
    if show_misses:
        _print_misses(cases, verdicts, last)
    return 0


def _diagnose_all(
    cases: Sequence[Case],
    rules: Sequence[Rule],
    model: LazyModel | None,
    use_baseline: bool,
    ablation: bool,
    *,
    rankers: Mapping[str, LineScorer],
) -> Verdicts:
    """Every case diagnosed once per approach (one scan per case).

    ``rankers``: with ``--cv``, each log's line ranker trained without its project; else the
    loaded pack's ranker serves the ``combined`` column."""
    matcher = Matcher(rules)
    verdicts = Verdicts({"rules-only": []}, [], {}, [])
    if model is not None:
        verdicts.categories["model-only"], verdicts.categories["combined"] = [], []
    if ablation:
        verdicts.ablation = {name: [] for name in ABLATION}
    for case in bar(cases, "scoring logs", sys.stderr):
        source = str(case.path)
        scan = scan_source(source, matcher)
        green = str(case.green) if use_baseline and case.green is not None else None
        familiar = familiar_lines(candidate_lines(scan), green) if green else frozenset()
        ranker = rankers.get(case.key)
        diagnosis = diagnose(scan, source, familiar=familiar, baseline=green, ranker=ranker)
        verdicts.categories["rules-only"].append(_rules_category(diagnosis))
        if model is not None:
            window = [line.text for line in failure_window(scan)]
            verdicts.categories["model-only"].append(
                model.predict(window).category if window else "unknown"
            )
            ranker = choose_ranker(model)
            diagnosis = diagnose(
                scan, source, model, familiar=familiar, baseline=green, ranker=ranker
            )
            verdicts.categories["combined"].append(diagnosis.category.value)
        verdicts.final.append(diagnosis)
        for name, (selection, with_green) in ABLATION.items() if ablation else ():
            seen = familiar if with_green else frozenset()
            verdicts.ablation[name].append(
                diagnose(scan, source, familiar=seen, selection=selection)
            )
        decisive = diagnosis.evidence[0] if diagnosis.evidence else None
        where = f"line {decisive.line}: {decisive.text[:120]}" if decisive else "no evidence"
        verdicts.details.append(f"[{diagnosis.rule}] {where}")
    return verdicts


def _rules_category(diagnosis: Diagnosis) -> str:
    """The rules' category: a model's judgement (the step classifier's) counts as unknown."""
    return "unknown" if diagnosis.rule == MODEL_RULE else diagnosis.category.value


def _fold_rankers(
    cases: Sequence[Case], rules: Sequence[Rule], folds: int, extra: Sequence[Case]
) -> Mapping[str, LineScorer]:
    """Out-of-fold line rankers (grouped by project), so ``--cv`` hit@1 is honest."""
    try:
        from pipeline_guard.lab.ranker_training import RankerSettings, fold_rankers
    except ImportError:
        raise UsageError(
            "eval --cv trains models and needs scikit-learn: pip install 'pipeline-guard[train]'"
        ) from None
    return fold_rankers(cases, rules, RankerSettings(folds=folds), extra)


def _header(model: LazyModel | None) -> str:
    if model is None:
        return "rules only (no model pack loaded)"
    meta = model.pack.meta
    ranker = meta.get("ranker", {})
    parts = [
        ("category model", meta.get("trained", {})),
        ("line ranker", ranker.get("trained", {})),
        ("step classifier", ranker.get("step", {}).get("trained", {})),
    ]
    trained = [
        f"{name} on {', '.join(info.get('corpora', [])) or 'unknown data'} "
        f"({info.get('logs', '?')} logs)"
        for name, info in parts
        if info
    ]
    return (
        f"model pack: {'; '.join(trained)}; where that includes this corpus, model scores "
        "are in-sample (--cv for honest ones)"
    )


def _located(
    cases: Sequence[Case], diagnoses: Sequence[Diagnosis], categories: Sequence[str]
) -> list[Located]:
    """Each case's evidence lines, with the category (and its action) of the scored column."""
    located = []
    for case, diagnosis, category in zip(cases, diagnoses, categories, strict=True):
        action = diagnosis.action.value
        if category != diagnosis.category.value:  # the cross-validated category model's
            action = model_action(Category(category)).value
        located.append(
            Located(
                gold=case.category.value if case.category is not None else None,
                spans=case.spans,
                evidence=tuple(evidence.line for evidence in diagnosis.evidence),
                category=category,
                action=action,
            )
        )
    return located


def _ablation_row(
    cases: Sequence[Case],
    decided: Sequence[int],
    diagnoses: Sequence[Diagnosis],
    categories: Sequence[str] | None = None,
) -> dict[str, float]:
    """Accuracy and the whole-log figures of one approach (``categories``: when they are not
    the diagnoses' own, as for the cross-validated category model)."""
    if categories is None:
        categories = [diagnosis.category.value for diagnosis in diagnoses]
    scores = score([cases[i].label for i in decided], [categories[i] for i in decided])
    row = {"accuracy": scores.accuracy, "macro_f1": scores.macro_f1}
    if any(case.spans for case in cases):
        overall: LocationRow = locate_score(_located(cases, diagnoses, categories))[-1]
        row |= {
            "hit_at_1": overall.hit_at_1,
            "hit_at_any": overall.hit_at_any,
            "unknown": overall.unknown,
            "false_retry": overall.false_retry,
        }
    else:
        row["unknown"] = sum(c == "unknown" for c in categories) / max(1, len(categories))
        row["false_retry"] = sum(
            1
            for i in decided
            if diagnoses[i].action.value == "retry"
            and categories[i] == diagnoses[i].category.value
            and cases[i].label not in {"network", "rate-limit", "runner"}
        ) / max(1, len(decided))
    return row


def _format_ablation(rows: dict[str, dict[str, float]]) -> str:
    keys = list(next(iter(rows.values())))
    lines = [
        "ablation (each row adds one step; the model row is the scored column)",
        f"{'':<22}" + "".join(f"{key:>12}" for key in keys),
    ]
    for name, row in rows.items():
        lines.append(f"{name:<22}" + "".join(f"{row[key]:>12.3f}" for key in keys))
    return "\n".join(lines) + "\n"


def _cross_validated(
    cases: Sequence[Case], rules: Sequence[Rule], folds: int
) -> tuple[str, dict[str, dict[str, str]]]:
    """Out-of-fold categories of the decided cases, by case id, per approach."""
    try:
        from pipeline_guard.lab.training import TrainSettings, cross_validate
    except ImportError:
        raise UsageError(
            "eval --cv trains models and needs scikit-learn: pip install 'pipeline-guard[train]'"
        ) from None
    decided = [case for case in cases if case.category is not None]
    with counted(decided, "scanning logs", sys.stderr, then="cross-validating") as scanned:
        validation = cross_validate(scanned, rules, TrainSettings(folds=folds))
    by_id = {
        "model-only": {r.case.id: r.model for r in validation.results},
        "combined": {r.case.id: r.combined for r in validation.results},
    }
    header = (
        f"nested grouped {validation.folds}-fold cross-validation by project; on all logs: "
        f"temperature {validation.calibration.temperature}, model speaks where rules are "
        f"{validation.calibration.scope} from probability {validation.calibration.threshold}"
    )
    return header, by_id


def _with_cv(
    cases: Sequence[Case], verdicts: Verdicts, by_id: dict[str, dict[str, str]]
) -> dict[str, list[str]]:
    """The columns with the cross-validated approaches; an undecided case keeps the rules'.

    ``combined`` is the out-of-fold category model where it overrules the rules, else the
    diagnosis made with the out-of-fold failing-step part (its step classifier speaks where
    the rules are silent)."""
    rules_only = verdicts.categories["rules-only"]
    columns = {"rules-only": rules_only}
    for name, verdict in by_id.items():
        columns[name] = [
            verdict.get(case.id, rules_only[index]) for index, case in enumerate(cases)
        ]
    columns["combined"] = [
        category if category != rules_only[index] else verdicts.final[index].category.value
        for index, category in enumerate(columns["combined"])
    ]
    return columns


def _print_misses(cases: Sequence[Case], verdicts: Verdicts, last: str) -> None:
    print(f"wrong in {last} (category, or evidence outside the labelled span):")
    for index, case in enumerate(cases):
        predicted = verdicts.categories[last][index]
        wrong_category = case.category is not None and predicted != case.category.value
        diagnosis = verdicts.final[index]
        first = diagnosis.evidence[0].line if diagnosis.evidence else None
        missed = bool(case.spans) and (first is None or not _hit(first, case.spans))
        if wrong_category or missed:
            others = ", ".join(
                f"{name} {verdicts.categories[name][index]}"
                for name in verdicts.categories
                if name != last
            )
            span = f" span {case.spans[0][0]}-{case.spans[0][1]}" if case.spans else ""
            print(
                f"  {case.id}: {case.category} -> {predicted}{span}  ({others})  "
                f"{verdicts.details[index]}"
            )


def _hit(line: int, spans: Sequence[tuple[int, int]]) -> bool:
    from pipeline_guard.lab.metrics import in_span

    return in_span(line, spans)

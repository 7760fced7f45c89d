"""``pipeline-guard eval CORPUS_DIR``: score rules-only, model-only and combined diagnosis.

Without ``--cv`` the loaded model pack is scored as it is; if it was trained on this very
corpus that score is in-sample (optimistic), which the header says. ``--cv K`` trains a fresh
model per fold of a grouped K-fold split (one project's logs never on both sides) and scores
each log with the model that did not see its project: the honest number.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from pipeline_guard.cli.model_choice import LazyModel, choose_model
from pipeline_guard.engine.analysis import scan_source
from pipeline_guard.engine.diagnosis import diagnose
from pipeline_guard.engine.matcher import Matcher
from pipeline_guard.engine.rule import Rule, load_rules
from pipeline_guard.engine.window import failure_window
from pipeline_guard.errors import UsageError
from pipeline_guard.lab.corpus import Case, read_corpus
from pipeline_guard.lab.metrics import Scores, format_comparison, score


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
) -> int:
    cases = read_corpus(corpus_dir)
    rules = load_rules(rule_dirs, bundled=bundled)
    details: list[str] = []
    if folds:
        header, verdicts = _cross_validated(cases, rules, folds)
    else:
        model = choose_model(model_path, use_model)
        header, verdicts = _with_loaded_model(cases, rules, model, details)
    gold = [case.label for case in cases]
    columns = {name: score(gold, predicted) for name, predicted in verdicts.items()}
    if fmt == "json":
        sys.stdout.write(
            json.dumps({name: asdict(s) for name, s in columns.items()}, indent=2) + "\n"
        )
        return 0
    print(f"{header}\n{len(cases)} logs in {corpus_dir}\n")
    print(format_comparison(columns))
    if show_misses:
        _print_misses(cases, verdicts, columns, details)
    return 0


def _with_loaded_model(
    cases: Sequence[Case], rules: Sequence[Rule], model: LazyModel | None, details: list[str]
) -> tuple[str, dict[str, list[str]]]:
    """Verdicts of each approach; ``details`` gets the deciding rule and line per log."""
    matcher = Matcher(rules)
    verdicts: dict[str, list[str]] = {"rules-only": []}
    if model is not None:
        verdicts["model-only"], verdicts["combined"] = [], []
    for case in cases:
        scan = scan_source(str(case.path), matcher)
        diagnosis = diagnose(scan, str(case.path))
        verdicts["rules-only"].append(diagnosis.category.value)
        if model is not None:
            window = [line.text for line in failure_window(scan)]
            verdicts["model-only"].append(model.predict(window).category if window else "unknown")
            diagnosis = diagnose(scan, str(case.path), model)
            verdicts["combined"].append(diagnosis.category.value)
        decisive = diagnosis.evidence[0] if diagnosis.evidence else None
        where = f"line {decisive.line}: {decisive.text[:120]}" if decisive else "no evidence"
        details.append(f"[{diagnosis.rule}] {where}")
    if model is None:
        return "rules only (no model pack loaded)", verdicts
    trained = model.pack.meta.get("trained", {})
    source = ", ".join(trained.get("corpora", [])) or "unknown data"
    return (
        f"model pack trained on {source} ({trained.get('logs', '?')} logs); "
        "if that includes this corpus, model scores are in-sample",
        verdicts,
    )


def _cross_validated(
    cases: Sequence[Case], rules: Sequence[Rule], folds: int
) -> tuple[str, dict[str, list[str]]]:
    try:
        from pipeline_guard.lab.training import TrainSettings, cross_validate
    except ImportError:
        raise UsageError(
            "eval --cv trains models and needs scikit-learn: pip install 'pipeline-guard[train]'"
        ) from None
    validation = cross_validate(cases, rules, TrainSettings(folds=folds))
    verdicts = {
        "rules-only": [r.rules for r in validation.results],
        "model-only": [r.model for r in validation.results],
        "combined": [r.combined for r in validation.results],
    }
    header = (
        f"nested grouped {validation.folds}-fold cross-validation by project; on all logs: "
        f"temperature {validation.calibration.temperature}, model speaks where rules are "
        f"{validation.calibration.scope} from probability {validation.calibration.threshold}"
    )
    return header, verdicts


def _print_misses(
    cases: Sequence[Case],
    verdicts: dict[str, list[str]],
    columns: dict[str, Scores],
    details: Sequence[str],
) -> None:
    last = list(columns)[-1]
    print(f"wrong in {last}:")
    for index, case in enumerate(cases):
        predicted = verdicts[last][index]
        if predicted != case.label:
            others = ", ".join(
                f"{name} {verdicts[name][index]}" for name in verdicts if name != last
            )
            detail = f"  {details[index]}" if details else ""
            print(f"  {case.id}: {case.category} -> {predicted}  ({others}){detail}")

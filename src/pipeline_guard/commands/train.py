"""``pipeline-guard train CORPUS_DIR ... -o MODEL``: train and write a model pack."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from pipeline_guard.corpus import read_corpus
from pipeline_guard.errors import UsageError
from pipeline_guard.rules import load_rules
from pipeline_guard.scoring import format_comparison, score


def run(
    corpora: Sequence[Path],
    output: Path,
    rule_dirs: Sequence[Path],
    bundled: bool,
    args: argparse.Namespace,
) -> int:
    try:
        from pipeline_guard.training import TrainSettings, train
    except ImportError:
        raise UsageError("train needs scikit-learn: pip install 'pipeline-guard[train]'") from None
    cases = [case for corpus in corpora for case in read_corpus(corpus)]
    if not cases:
        raise UsageError("no labelled logs in the given corpora")
    settings = TrainSettings(
        seed=args.seed, epochs=args.epochs, folds=args.folds, rule_examples=args.rule_examples
    )
    rules = load_rules(rule_dirs, bundled=bundled)
    validation = train(cases, rules, output, settings, [str(corpus) for corpus in corpora])
    gold = [r.case.category.value for r in validation.results]
    columns = {
        "rules-only": score(gold, [r.rules for r in validation.results]),
        "model-only": score(gold, [r.model for r in validation.results]),
        "combined": score(gold, [r.combined for r in validation.results]),
    }
    print(
        f"wrote {output} ({output.stat().st_size // 1024} KiB); grouped {validation.folds}-fold "
        f"CV on {len(cases)} logs: temperature {validation.temperature}, "
        f"threshold {validation.threshold}\n"
    )
    print(format_comparison(columns))
    return 0

"""``pipeline-guard train CORPUS_DIR ... -o MODEL``: train and write a model pack."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from pipeline_guard.engine.matcher import Matcher
from pipeline_guard.engine.rule import load_rules
from pipeline_guard.engine.rule_checks import unselective_needles
from pipeline_guard.errors import RuleError, UsageError
from pipeline_guard.lab.corpus import read_corpus


def run(
    corpora: Sequence[Path],
    output: Path,
    rule_dirs: Sequence[Path],
    bundled: bool,
    args: argparse.Namespace,
) -> int:
    try:
        from pipeline_guard.lab.training import TrainSettings, train
    except ImportError:
        raise UsageError("train needs scikit-learn: pip install 'pipeline-guard[train]'") from None
    cases = [
        case for corpus in corpora for case in read_corpus(corpus) if case.category is not None
    ]
    if not cases:
        raise UsageError("no labelled logs in the given corpora")
    settings = TrainSettings(
        seed=args.seed, epochs=args.epochs, folds=args.folds, rule_examples=args.rule_examples
    )
    rules = load_rules(rule_dirs, bundled=bundled)
    unselective = unselective_needles(rules, Matcher(rules))
    if unselective:  # a pack built on such a rule would make every scan of every log dearer
        raise RuleError(str(unselective[0]))
    calibration = train(cases, rules, output, settings, [str(corpus) for corpus in corpora])
    print(
        f"wrote {output} ({output.stat().st_size // 1024} KiB) from {len(cases)} logs; "
        f"grouped {settings.folds}-fold calibration: temperature {calibration.temperature}, "
        f"model speaks where rules are {calibration.scope} from probability "
        f"{calibration.threshold}"
    )
    print(
        "score it honestly (nested cross-validation by project): "
        f"pipeline-guard eval {' '.join(str(c) for c in corpora)} --cv {settings.folds}"
    )
    return 0

"""``pipeline-guard train CORPUS_DIR ... -o PACK [--ranker]``: train one part of a model pack.

Without ``--ranker``: the category model, from every labelled log. With it: the line ranker,
from every log whose label marks the failure span. Either way the other part of a pack already
at ``PACK`` is kept (see :mod:`pipeline_guard.lab.pack_writer`), so the bundled pack is made by
running both, in either order.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from pipeline_guard.cli.progress import counted
from pipeline_guard.engine.matcher import Matcher
from pipeline_guard.engine.rule import Rule, load_rules
from pipeline_guard.engine.rule_checks import unselective_needles
from pipeline_guard.errors import RuleError, UsageError
from pipeline_guard.lab.corpus import Case, read_corpus


def run(
    corpora: Sequence[Path],
    output: Path,
    rule_dirs: Sequence[Path],
    bundled: bool,
    args: argparse.Namespace,
    *,
    cache: Path | None = None,
) -> int:
    cases = [case for corpus in corpora for case in read_corpus(corpus)]
    rules = load_rules(rule_dirs, bundled=bundled, cache=cache)
    unselective = unselective_needles(rules, Matcher(rules))
    if unselective:  # a pack built on such a rule would make every scan of every log dearer
        raise RuleError(str(unselective[0]))
    if args.ranker:
        return _ranker(cases, rules, output, corpora, args)
    return _category(cases, rules, output, corpora, args)


def _category(
    cases: Sequence[Case],
    rules: Sequence[Rule],
    output: Path,
    corpora: Sequence[Path],
    args: argparse.Namespace,
) -> int:
    try:
        from pipeline_guard.lab.training import TrainSettings, train
    except ImportError:
        raise UsageError("train needs scikit-learn: pip install 'pipeline-guard[train]'") from None
    decided = [case for case in cases if case.category is not None]
    if not decided:
        raise UsageError("no labelled logs in the given corpora")
    settings = TrainSettings(
        seed=args.seed, epochs=args.epochs, folds=args.folds, rule_examples=args.rule_examples
    )
    names = [str(corpus) for corpus in corpora]
    with counted(decided, "scanning logs", sys.stderr, then="fitting and calibrating") as scanned:
        calibration = train(scanned, rules, output, settings, names)
    print(
        f"wrote {output} ({output.stat().st_size // 1024} KiB) from {len(decided)} logs; "
        f"grouped {settings.folds}-fold calibration: temperature {calibration.temperature}, "
        f"model speaks where rules are {calibration.scope} from probability "
        f"{calibration.threshold}"
    )
    print(
        "score it honestly (nested cross-validation by project): "
        f"pipeline-guard eval {' '.join(str(c) for c in corpora)} --cv {settings.folds}"
    )
    return 0


def _ranker(
    cases: Sequence[Case],
    rules: Sequence[Rule],
    output: Path,
    corpora: Sequence[Path],
    args: argparse.Namespace,
) -> int:
    try:
        from pipeline_guard.lab.ranker_training import RankerSettings, train_ranker
    except ImportError:
        raise UsageError("train needs scikit-learn: pip install 'pipeline-guard[train]'") from None
    spanned = [case for case in cases if case.spans]
    if not spanned:
        raise UsageError("no log in the given corpora has a labelled failure span")
    started = time.monotonic()
    logs = train_ranker(
        spanned, rules, output, RankerSettings(seed=args.seed), [c.name for c in corpora]
    )
    print(
        f"wrote the line ranker into {output} ({output.stat().st_size // 1024} KiB) from "
        f"{logs} logs in {time.monotonic() - started:.0f} s"
    )
    return 0

"""Leave-projects-out figures of the line ranker: ``python -m pipeline_guard.lab.ranker_report``.

In: whole-log corpora with labelled spans. Out: per corpus, hit@1 (the chosen line within the
span, give or take two lines) of the ranker alone, of the rules inside the failing step alone,
and of both ("the rules' line inside the failing step, else the ranker's"), every log scored
by a ranker that never saw its project; with ``--ablation``, the ranker alone without each
feature group. The numbers the README quotes come from here::

    python -m pipeline_guard.lab.ranker_report ../shared/corpus-whole ../shared/corpus-gha \\
        ../shared/corpus-pairs --ablation
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from collections.abc import Sequence
from pathlib import Path

from pipeline_guard.engine.matcher import Matcher
from pipeline_guard.engine.rule import load_rules
from pipeline_guard.lab.corpus import read_corpus
from pipeline_guard.lab.ranker_training import (
    GROUPS,
    RankerResult,
    RankerSettings,
    StepCase,
    cross_validate_ranker,
    spool_steps,
)

GROUP_NAMES = {
    "t": "words",
    "n": "words near the exit",
    "d": "distance to the exit",
    "r": "relative position",
    "s": "shape",
    "e": "error words and order",
    "c": "neighbours",
    "x": "common in other projects",
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline_guard.lab.ranker_report")
    parser.add_argument("corpora", nargs="+", type=Path)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--ablation", action="store_true", help="also drop each feature group")
    args = parser.parse_args(argv)
    started = time.monotonic()
    matcher = Matcher(load_rules())
    steps = [
        step
        for corpus in args.corpora
        for step in spool_steps(read_corpus(corpus), matcher, corpus.name)
    ]
    print(f"spooled {len(steps)} logs in {time.monotonic() - started:.0f} s")
    settings = RankerSettings(folds=args.folds)
    started = time.monotonic()
    results = cross_validate_ranker(steps, settings)
    print(f"grouped {args.folds}-fold CV by project in {time.monotonic() - started:.0f} s\n")
    print(format_results(results))
    if args.ablation:
        print("\nranker alone, hit@1, without one feature group:")
        corpora = _corpora(steps)
        print(f"{'':<30}" + "".join(f"{name:>14}" for name in corpora))
        print(_row("all features", results, corpora))
        for group in GROUPS:
            ablated = cross_validate_ranker(steps, dataclasses.replace(settings, drop=group))
            print(_row(f"- {GROUP_NAMES[group]}", ablated, corpora))
    return 0


def format_results(results: Sequence[RankerResult]) -> str:
    """One row per corpus (and all): logs, span inside the failing step, the three hit@1."""
    head = f"{'corpus':<16}{'logs':>6}{'in step':>9}{'ranker':>9}{'rules':>9}{'combined':>10}"
    rows = [head]
    for corpus, chosen in _by_corpus(results).items():
        count = len(chosen)
        inside = sum(bool(result.step.positives()) for result in chosen) / count
        ranker = sum(result.step.hit(result.ranker) for result in chosen) / count
        rules = sum(result.step.hit(result.rules) for result in chosen) / count
        combined = sum(result.step.hit(result.combined) for result in chosen) / count
        rows.append(
            f"{corpus:<16}{count:>6}{inside:>9.3f}{ranker:>9.3f}{rules:>9.3f}{combined:>10.3f}"
        )
    return "\n".join(rows)


def _by_corpus(results: Sequence[RankerResult]) -> dict[str, list[RankerResult]]:
    grouped: dict[str, list[RankerResult]] = {}
    for result in results:
        grouped.setdefault(result.step.corpus, []).append(result)
    grouped["all"] = list(results)
    return grouped


def _corpora(steps: Sequence[StepCase]) -> list[str]:
    return [*dict.fromkeys(step.corpus for step in steps), "all"]


def _row(name: str, results: Sequence[RankerResult], corpora: Sequence[str]) -> str:
    grouped = _by_corpus(results)
    cells = "".join(
        f"{sum(r.step.hit(r.ranker) for r in grouped[c]) / len(grouped[c]):>14.3f}" for c in corpora
    )
    return f"{name:<30}{cells}"


if __name__ == "__main__":
    raise SystemExit(main())

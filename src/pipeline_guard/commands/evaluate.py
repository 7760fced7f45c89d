"""``pipeline-guard eval CORPUS_DIR``: score the diagnosis on a labelled corpus."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from pipeline_guard.analyze import analyze_source
from pipeline_guard.corpus import read_corpus
from pipeline_guard.matcher import Matcher
from pipeline_guard.rules import load_rules
from pipeline_guard.scoring import format_table, score


def run(
    corpus_dir: Path, rule_dirs: Sequence[Path], fmt: str, show_misses: bool, bundled: bool = True
) -> int:
    cases = read_corpus(corpus_dir)
    matcher = Matcher(load_rules(rule_dirs, bundled=bundled))
    predicted = []
    for case in cases:
        diagnosis = analyze_source(str(case.path), matcher)
        predicted.append(diagnosis)
    scores = score([c.category.value for c in cases], [d.category.value for d in predicted])
    if fmt == "json":
        sys.stdout.write(json.dumps(asdict(scores), indent=2) + "\n")
        return 0
    print(f"rules-only on {corpus_dir} ({len(cases)} logs)\n")
    print(format_table(scores))
    if show_misses:
        for case, diagnosis in zip(cases, predicted, strict=True):
            if diagnosis.category != case.category:
                first = diagnosis.evidence[0].text[:140] if diagnosis.evidence else ""
                print(
                    f"{case.id} {case.category} -> {diagnosis.category} [{diagnosis.rule}] {first}"
                )
    return 0

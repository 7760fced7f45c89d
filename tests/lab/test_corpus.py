"""The bundled pack on the labelled corpus in ../shared: the issue's targets as a regression test.

The corpus is a check, not the target (rules are written from the tools' real messages), but a
change that makes the pack worse on real logs should not land silently. Skipped, with a reason,
where the corpus is not next to the repository.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from conftest import SHARED, run_cli

CORPUS = Path(os.environ.get("PIPELINE_GUARD_CORPUS", SHARED / "corpus"))

pytestmark = pytest.mark.skipif(
    not (CORPUS / "labels.jsonl").is_file(), reason=f"no labelled corpus at {CORPUS}"
)


def test_rules_alone_reach_the_targets_on_the_shared_corpus() -> None:
    done = run_cli("eval", str(CORPUS), "--no-model", "--format", "json")
    assert done.returncode == 0, done.stderr
    scores = json.loads(done.stdout)["rules-only"]
    assert scores["total"] >= 200
    assert scores["accuracy"] >= 0.85
    assert scores["macro_f1"] >= 0.80


def test_the_bundled_model_does_not_make_the_rules_worse() -> None:
    done = run_cli("eval", str(CORPUS), "--format", "json")
    assert done.returncode == 0, done.stderr
    scores = json.loads(done.stdout)
    assert scores["combined"]["accuracy"] >= scores["rules-only"]["accuracy"]

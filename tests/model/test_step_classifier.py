"""The failing step's category classifier: the pack part, inference, training, never a retry."""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from test_model import tiny_pack
from test_ranker import tiny_ranker, write_span_corpus

from conftest import run_cli
from pipeline_guard.engine.matcher import Matcher
from pipeline_guard.engine.rule import load_rules
from pipeline_guard.errors import ModelError
from pipeline_guard.lab.corpus import read_corpus
from pipeline_guard.lab.pack_writer import write_ranker_part
from pipeline_guard.lab.ranker_training import RankerSettings, fold_rankers, train_ranker
from pipeline_guard.lab.step_training import NEVER, spool_categories
from pipeline_guard.model.ranker import load_ranker
from pipeline_guard.model.step_classifier import (
    STEP_CLASSIFIER_VERSION,
    category_feature_names,
    command_words,
)

BITS = 12
CLASSES = ["lint", "network", "test-failure", "unknown"]


def with_step_part(
    path: Path, votes: dict[str, str], threshold: float = 0.5, version: int = 1
) -> Path:
    """A ranker pack plus a hand-made step classifier: each feature name votes for a class."""
    tiny_ranker(path, {"t:squiggle": 5.0})
    meta = json.loads(str(np.load(path)["meta"]))["ranker"]
    ids = sorted({zlib.crc32(name.encode()) & ((1 << BITS) - 1) for name in votes})
    weights = np.zeros((len(ids), len(CLASSES)), dtype=np.float32)
    for name, category in votes.items():
        row = ids.index(zlib.crc32(name.encode()) & ((1 << BITS) - 1))
        weights[row, CLASSES.index(category)] = 10.0
    meta["step"] = {"version": version, "classes": CLASSES, "bits": BITS, "threshold": threshold}
    arrays: dict[str, npt.ArrayLike] = {
        **{name: values for name, values in np.load(path).items() if name != "meta"},
        "step_feature_ids": np.asarray(ids, dtype=np.int64),
        "step_weights": weights,
        "step_intercept": np.zeros(len(CLASSES), dtype=np.float32),
    }
    write_ranker_part(path, meta, arrays)
    return path


def test_features_are_the_commands_words_and_the_last_lines_words() -> None:
    assert command_words("Run flake8 --max-line-length=100 src/") == [
        "flake8",
        "max-line-length",
        "src",
    ]
    names = category_feature_names("npm test", ["Error: widget broke"])
    assert {"c:npm", "c:test", "c0:npm", "l:widget"} <= set(names)
    assert category_feature_names(None, []) == []


def failing_lint_log(tmp_path: Path, command: str = "mylint src/") -> Path:
    log = tmp_path / "job.log"
    log.write_text(
        "$ ./setup.sh\n"
        "set up\n"
        f"$ {command}\n"
        "src/a.c:3: squiggle placed badly\n"
        f'The command "{command}" exited with 1.\n'
    )
    return log


def analyze(log: Path, pack: Path) -> dict[str, object]:
    args = ("analyze", str(log), "--no-bundled", "--model", str(pack), "--format", "json")
    done = run_cli(*args)
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout)["diagnoses"][0]
    return result


def test_the_step_classifier_names_the_category_no_rule_gives(tmp_path: Path) -> None:
    pack = tiny_pack(tmp_path / "m.npz", {"frobnicator": "config"}, threshold=1.0)
    with_step_part(pack, {"c0:mylint": "lint"})
    verdict = analyze(failing_lint_log(tmp_path), pack)
    assert verdict["category"] == "lint"
    assert verdict["rule"] == "model"
    assert verdict["action"] == "comment"
    assert "failing command" in str(verdict["explain"])
    evidence = verdict["evidence"]
    assert isinstance(evidence, list)
    assert evidence[0]["line"] == 4


def test_the_step_classifier_never_names_a_category_the_guard_re_runs(tmp_path: Path) -> None:
    """Network, rate-limit and runner need a rule's specific match: the classifier steps aside
    (``engine.diagnosis.model_may_name``) and the step's own lines are shown as ``unknown``."""
    pack = tiny_pack(tmp_path / "m.npz", {"frobnicator": "config"}, threshold=1.0)
    with_step_part(pack, {"c0:mylint": "network"})
    verdict = analyze(failing_lint_log(tmp_path), pack)
    assert (verdict["category"], verdict["rule"], verdict["action"]) == ("unknown", None, "comment")
    with_step_part(pack, {"c0:mylint": "lint"})
    assert analyze(failing_lint_log(tmp_path), pack)["category"] == "lint"


def test_below_its_threshold_the_step_classifier_stays_silent(tmp_path: Path) -> None:
    pack = tiny_pack(tmp_path / "m.npz", {"frobnicator": "config"}, threshold=1.0)
    with_step_part(pack, {"c0:mylint": "lint"}, threshold=NEVER)
    verdict = analyze(failing_lint_log(tmp_path), pack)
    assert verdict["category"] == "unknown"
    assert verdict["rule"] is None


def test_a_pack_without_a_step_classifier_still_ranks(tmp_path: Path) -> None:
    pack = tiny_ranker(tmp_path / "r.npz", {"t:squiggle": 5.0})
    assert load_ranker(pack).classify_step("mylint", ["squiggle"]) is None


def test_a_step_classifier_of_another_version_is_refused_in_one_line(tmp_path: Path) -> None:
    pack = with_step_part(tmp_path / "r.npz", {"c0:mylint": "lint"}, version=99)
    with pytest.raises(ModelError, match=r"r\.npz: invalid step classifier: .*version 99"):
        load_ranker(pack)
    assert STEP_CLASSIFIER_VERSION != 99


def write_command_corpus(root: Path, projects: list[str]) -> Path:
    """Whole logs whose failing command says the category and no bundled rule speaks."""
    (root / "cases").mkdir(parents=True)
    labels = []
    for project in projects:
        for kind, command, line in (
            ("lint", "stylecheck src/", f"src/{project}.c:3: squiggle placed badly"),
            ("test-failure", "runtests --all", f"{project} widget spec broke"),
        ):
            for copy in range(2):
                case_id = f"{project}-{kind}-{copy}"
                lines = ["$ ./setup.sh", "set up", f"$ {command}", line, "", "1 problem"]
                lines.append(f'The command "{command}" exited with 1.')
                (root / "cases" / f"{case_id}.log").write_text("\n".join(lines) + "\n")
                labels.append(
                    json.dumps(
                        {
                            "id": case_id,
                            "project": f"acme/{project}",
                            "source": f"acme/{project}:ci.log@0",
                            "category": kind,
                            "chunk_first": 4,
                            "chunk_last": 4,
                        }
                    )
                )
    (root / "labels.jsonl").write_text("\n".join(labels) + "\n")
    return root


def test_training_learns_the_category_from_the_command_of_other_projects(tmp_path: Path) -> None:
    corpus = write_command_corpus(tmp_path / "c", ["alpha", "beta", "gamma", "delta", "eps"])
    cases = read_corpus(corpus)
    rules = load_rules()
    samples = spool_categories(cases, Matcher(rules), 16)
    assert len(samples) == len(cases)
    assert all(sample.silent for sample in samples)  # no rule speaks: the classifier's ground
    pack = tmp_path / "pack.npz"
    train_ranker(cases, rules, pack, RankerSettings(folds=3), ["c"])
    classifier = load_ranker(pack).step
    assert classifier is not None
    assert classifier.threshold < NEVER  # cross-validation found it useful
    verdict = classifier.classify("stylecheck lib/", ["lib/x.c:9: squiggle placed badly"])
    assert (verdict.category, verdict.speaks) == ("lint", True)


def test_fold_parts_carry_a_step_classifier_trained_without_the_project(tmp_path: Path) -> None:
    corpus = write_span_corpus(tmp_path / "corpus", ["alpha", "beta", "gamma"])
    cases = read_corpus(corpus)
    rankers = fold_rankers(cases, load_rules(), RankerSettings(folds=3))
    verdicts = {rankers[case.key].classify_step("./run-tests", ["FATAL"]) for case in cases}
    assert verdicts == {None}  # one category only in this corpus: nothing to tell apart


def test_eval_scores_the_step_classifier_and_never_counts_a_retry(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    (corpus / "cases").mkdir(parents=True)
    failing_lint_log(tmp_path).rename(corpus / "cases" / "a.log")
    label = {"id": "a", "project": "acme/a", "source": "acme/a:ci.log@0", "category": "lint"}
    (corpus / "labels.jsonl").write_text(json.dumps(label | {"chunk_first": 4, "chunk_last": 4}))
    pack = tiny_pack(tmp_path / "m.npz", {"frobnicator": "config"}, threshold=1.0)
    with_step_part(pack, {"c0:mylint": "lint"})
    args = ("eval", str(corpus), "--no-bundled", "--model", str(pack), "--ablation")
    document = json.loads(run_cli(*args, "--format", "json").stdout)
    model_row = document["ablation"]["+ model (pack)"]
    assert (model_row["unknown"], model_row["accuracy"]) == (0.0, 1.0)
    assert document["ablation"]["rules alone"]["unknown"] == 1.0
    text = run_cli(*args).stdout
    assert "+ model (pack)" in text
    with_step_part(pack, {"c0:mylint": "network"})
    document = json.loads(run_cli(*args, "--format", "json").stdout)
    model_row = document["ablation"]["+ model (pack)"]
    assert (model_row["unknown"], model_row["false_retry"]) == (1.0, 0.0)
    assert document["locations"][-1]["false_retry"] == 0.0


def test_train_also_needs_cross_validation(tmp_path: Path) -> None:
    corpus = write_command_corpus(tmp_path / "c", ["alpha", "beta"])
    done = run_cli("eval", str(corpus), "--train-also", str(corpus))
    assert done.returncode == 2
    assert done.stderr.strip() == "pipeline-guard: error: --train-also needs --cv K"

"""The line ranker: its part of the pack, pure-Python scoring, training and refusal of bad files."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from test_model import tiny_pack

from conftest import run_cli
from pipeline_guard.cli.model_choice import LazyModel, bundled_model_path, choose_ranker
from pipeline_guard.engine.rule import load_rules
from pipeline_guard.errors import ModelError
from pipeline_guard.lab.corpus import read_corpus
from pipeline_guard.lab.pack_writer import write_ranker_part
from pipeline_guard.lab.ranker_training import RankerSettings, fold_rankers
from pipeline_guard.model.pack import load_model
from pipeline_guard.model.pack_format import RANKER_FEATURES
from pipeline_guard.model.ranker import load_ranker
from pipeline_guard.model.step_features import (
    MAX_RANKED_BEFORE,
    RANKER_FEATURE_VERSION,
    hash_name,
    line_hash,
)

BITS = 12


def tiny_ranker(
    path: Path, weights: dict[str, float], common: dict[int, int] | None = None
) -> Path:
    """A hand-made ranker part: each named feature carries the given weight."""
    ids = sorted({hash_name(name, BITS) for name in weights})
    values = np.zeros(len(ids), dtype=np.float32)
    for name, weight in weights.items():
        values[ids.index(hash_name(name, BITS))] += weight
    table = dict(sorted((common or {}).items()))
    settings = {
        "features": {"kind": RANKER_FEATURES, "version": RANKER_FEATURE_VERSION, "bits": BITS},
        "intercept": 0.0,
        "trained": {"corpora": ["hand-made"]},
    }
    arrays: dict[str, npt.ArrayLike] = {
        "ranker_feature_ids": np.asarray(ids, dtype=np.int64),
        "ranker_weights": values,
        "ranker_common": np.asarray(list(table), dtype=np.int64),
        "ranker_common_projects": np.asarray(list(table.values()), dtype=np.int64),
    }
    write_ranker_part(path, settings, arrays)
    return path


def test_scores_follow_the_weights_of_each_lines_features(tmp_path: Path) -> None:
    ranker = load_ranker(tiny_ranker(tmp_path / "r.npz", {"t:quota": 3.0, "s:summary": -2.0}))
    lines = ["compiling", "FATAL: disk quota", "3 tests failed", "exit"]
    scores = ranker.score_lines(lines, exit_index=3)
    assert len(scores) == len(lines)
    assert max(range(len(lines)), key=lambda index: scores[index]) == 1
    assert scores[2] < scores[0]  # a summary line weighs less than a plain one


def test_lines_far_above_the_exit_rank_below_every_scored_line(tmp_path: Path) -> None:
    ranker = load_ranker(tiny_ranker(tmp_path / "r.npz", {"t:fatal:": 3.0}))
    lines = ["FATAL: long ago", *["filler"] * (MAX_RANKED_BEFORE + 5), "exit"]
    scores = ranker.score_lines(lines, exit_index=len(lines) - 1)
    assert scores[0] < min(scores[-MAX_RANKED_BEFORE:])


def test_lines_common_to_many_projects_weigh_what_the_table_says(tmp_path: Path) -> None:
    boiler = "Setting environment variables from repository settings"
    path = tiny_ranker(tmp_path / "r.npz", {"x:8": -4.0}, common={line_hash(boiler): 9})
    ranker = load_ranker(path)
    assert ranker.projects(boiler) == 9
    assert ranker.projects("something only this log says") == 0
    scores = ranker.score_lines([boiler, "something only this log says"], exit_index=2)
    assert scores[0] < scores[1]


def test_writing_one_part_keeps_the_other(tmp_path: Path) -> None:
    pack = tiny_pack(tmp_path / "m.npz", {"frobnicator": "config"})
    before = load_model(pack)
    tiny_ranker(pack, {"t:fatal:": 3.0})
    after = load_model(pack).meta
    assert after.pop("ranker")["features"]["kind"] == RANKER_FEATURES
    assert after == before.meta
    assert list(load_model(pack).weights) == list(before.weights)
    tiny_pack(pack, {"quota": "disk-full"})  # the category model retrained: the ranker stays
    assert load_ranker(pack).score_lines(["FATAL: x", "ok"], 2)[0] > 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"features": {"kind": RANKER_FEATURES, "version": 99, "bits": BITS}}, "version 99"),
        ({"intercept": "high"}, "invalid line ranker: intercept must be a finite number"),
    ],
)
def test_bad_ranker_parts_get_one_line_naming_the_file(
    tmp_path: Path, change: dict[str, object], message: str
) -> None:
    path = tiny_ranker(tmp_path / "r.npz", {"t:fatal:": 3.0})
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    with np.load(path, allow_pickle=False) as loaded:
        meta = json.loads(str(loaded["meta"]))
    meta["ranker"].update(change)
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.array(json.dumps(meta)), allow_pickle=False)
    members["meta.npy"] = buffer.getvalue()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    with pytest.raises(ModelError, match=message) as raised:
        load_ranker(path)
    assert str(raised.value).startswith(f"{path}: ")


def test_a_category_only_pack_has_no_ranker(tmp_path: Path) -> None:
    pack = tiny_pack(tmp_path / "m.npz", {"frobnicator": "config"})
    with pytest.raises(ModelError, match="the pack holds no line ranker"):
        load_ranker(pack)
    assert choose_ranker(LazyModel(pack, check_now=True)) is None
    assert choose_ranker(None) is None
    tiny_ranker(pack, {"t:fatal:": 3.0})
    assert choose_ranker(LazyModel(pack, check_now=True)) is not None


def test_the_bundled_pack_holds_a_ranker_read_only_when_asked() -> None:
    bundled = bundled_model_path()
    ranker = choose_ranker(LazyModel(bundled))
    assert ranker is not None
    assert ranker._ranker is None  # nothing read yet
    scores = ranker.score_lines(["Downloading", "Error: cannot find module 'x'", "exit 1"], 2)
    assert len(scores) == 3
    assert load_ranker(bundled).meta["trained"]["logs"] > 100


def write_span_corpus(root: Path, projects: list[str]) -> Path:
    """Whole logs whose labelled cause is a FATAL line above a summary, at varying depths."""
    (root / "cases").mkdir(parents=True)
    labels = []
    for number, project in enumerate(projects):
        for copy in range(2):
            lines = ["$ ./setup.sh", "Installing dependencies", f"Downloaded {project}-lib"]
            lines += ["$ ./run-tests", *[f"test_{i} ... ok" for i in range(3 + number + copy)]]
            cause = len(lines) + 1
            lines += [f"FATAL: {project} widget exploded", "  at widget.run (widget.js:10)"]
            lines += ["", "Summary: 1 tests failed", 'The command "./run-tests" exited with 1.']
            case_id = f"{project}-{copy}"
            (root / "cases" / f"{case_id}.log").write_text("\n".join(lines) + "\n")
            labels.append(
                json.dumps(
                    {
                        "id": case_id,
                        "project": f"acme/{project}",
                        "source": f"acme/{project}:ci.log@0",
                        "category": "test-failure",
                        "chunk_first": cause,
                        "chunk_last": cause,
                    }
                )
            )
    (root / "labels.jsonl").write_text("\n".join(labels) + "\n")
    return root


def test_train_ranker_learns_the_cause_over_the_summary_and_keeps_the_category_model(
    tmp_path: Path,
) -> None:
    corpus = write_span_corpus(tmp_path / "corpus", ["alpha", "beta", "gamma", "delta"])
    pack = tiny_pack(tmp_path / "pack.npz", {"frobnicator": "config"})
    category = load_model(pack).meta
    done = run_cli("train", "--ranker", str(corpus), "-o", str(pack))
    assert done.returncode == 0, done.stderr
    assert f"wrote the line ranker into {pack}" in done.stdout
    assert {k: v for k, v in load_model(pack).meta.items() if k != "ranker"} == category
    first = pack.read_bytes()
    again = run_cli("train", "--ranker", str(corpus), "-o", str(pack))
    assert again.returncode == 0, again.stderr
    assert pack.read_bytes() == first  # reproducible
    ranker = load_ranker(pack)
    unseen = [
        "$ ./run-tests",
        "test_a ... ok",
        "FATAL: omega gizmo melted",
        "  at gizmo.run (gizmo.js:3)",
        "",
        "Summary: 1 tests failed",
        'The command "./run-tests" exited with 1.',
    ]
    scores = ranker.score_lines(unseen, exit_index=6)
    assert max(range(len(unseen)), key=lambda index: scores[index]) == 2


def test_fold_rankers_never_score_a_log_with_its_own_project(tmp_path: Path) -> None:
    corpus = write_span_corpus(tmp_path / "corpus", ["alpha", "beta", "gamma"])
    cases = read_corpus(corpus)
    rankers = fold_rankers(cases, load_rules(), RankerSettings(folds=3))
    assert set(rankers) == {case.key for case in cases}
    by_project: dict[str, set[int]] = {}
    for case in cases:
        by_project.setdefault(case.group, set()).add(id(rankers[case.key]))
    assert all(len(ids) == 1 for ids in by_project.values())  # one fold per project
    assert len({next(iter(ids)) for ids in by_project.values()}) == 3  # three different models


def test_scoring_never_imports_numpy(tmp_path: Path) -> None:
    pack = tiny_ranker(tmp_path / "r.npz", {"t:fatal:": 3.0})
    code = (
        "import sys; from pipeline_guard.model.ranker import load_ranker; "
        f"r = load_ranker(__import__('pathlib').Path({str(pack)!r})); "
        "print(r.score_lines(['FATAL: x', 'ok'], 2)); "
        "assert not {'sklearn', 'scipy', 'numpy'} & set(sys.modules), 'imported'"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_analyze_takes_the_rankers_line_where_no_rule_speaks(tmp_path: Path) -> None:
    pack = tiny_pack(tmp_path / "m.npz", {"frobnicator": "config"}, threshold=1.0)
    log = tmp_path / "job.log"
    log.write_text(
        "$ ./run-checks\n"
        "quux overflowed the widget table\n"
        "later: error: something else went wrong\n"
        'The command "./run-checks" exited with 1.\n'
    )
    args = ("analyze", str(log), "--no-bundled", "--model", str(pack), "--format", "json")
    heuristic = json.loads(run_cli(*args).stdout)["diagnoses"][0]
    tiny_ranker(pack, {"t:quux": 5.0})
    ranked = json.loads(run_cli(*args).stdout)["diagnoses"][0]
    assert heuristic["category"] == ranked["category"] == "unknown"
    assert heuristic["evidence"][0]["line"] != 2
    assert ranked["evidence"][0]["line"] == 2

"""The model pack: plain-data format, numpy inference, refusal of bad files, training."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from conftest import make_rule, run_cli, scan
from pipeline_guard.categories import Category
from pipeline_guard.engine.diagnosis import diagnose
from pipeline_guard.errors import ModelError
from pipeline_guard.lab.corpus import read_corpus
from pipeline_guard.lab.training import TrainSettings, cross_validate, save_model, train
from pipeline_guard.model.features import FEATURE_VERSION, hash_token, line_features
from pipeline_guard.model.pack import NOISE, load_model
from pipeline_guard.model.pack_format import PACK_VERSION

BITS = 12
CLASSES = sorted([*(category.value for category in Category), NOISE])


def tiny_pack(
    path: Path, words: dict[str, str], threshold: float = 0.5, scope: str = "weak", **meta: object
) -> Path:
    """A hand-made pack: each word votes strongly for one category."""
    ids = sorted({hash_token(word, BITS) for word in words})
    weights = np.zeros((len(ids), len(CLASSES)), dtype=np.float32)
    for word, category in words.items():
        weights[ids.index(hash_token(word, BITS)), CLASSES.index(category)] = 30.0
    document = {
        "features": {
            "kind": "hashed-tokens",
            "version": FEATURE_VERSION,
            "bits": BITS,
            "input": "line-max",
        },
        "classes": CLASSES,
        "temperature": 1.0,
        "threshold": threshold,
        "scope": scope,
        "trained": {"corpora": ["hand-made"], "logs": 0},
        **meta,
    }
    save_model(
        path, document, np.asarray(ids, dtype=np.int64), weights, np.zeros(len(CLASSES), np.float32)
    )
    return path


def test_prediction_names_the_category_and_the_lines_that_weighed(tmp_path: Path) -> None:
    pack = load_model(
        tiny_pack(tmp_path / "m.npz", {"frobnicator": "config", "quota": "disk-full"})
    )
    prediction = pack.predict(["compiling 3 modules", "the frobnicator rejected key mode", "done"])
    assert prediction.category == "config"
    assert prediction.probability > 0.9
    # each line's probability for the verdict: the frobnicator line is the evidence
    assert prediction.line_scores[1] > 0.9
    assert max(prediction.line_scores[0], prediction.line_scores[2]) < 0.1
    assert prediction.probabilities["config"] == prediction.probability


def test_model_decides_where_rules_are_silent_and_says_so(tmp_path: Path) -> None:
    pack = load_model(tiny_pack(tmp_path / "m.npz", {"frobnicator": "config"}))
    log = "".join(f"step {n}\n" for n in range(30)) + "Error: the frobnicator rejected key mode\n"
    verdict = diagnose(scan([make_rule()], log), "job.log", pack)
    assert (verdict.category, verdict.rule, verdict.action) == ("config", "model", "comment")
    # only the line that favours the verdict, not the 30 neutral ones around it
    assert [(item.line, item.text) for item in verdict.evidence] == [
        (31, "Error: the frobnicator rejected key mode")
    ]
    assert "model pack" in verdict.explain


def test_a_sure_rule_is_not_second_guessed_by_the_model(tmp_path: Path) -> None:
    pack = load_model(tiny_pack(tmp_path / "m.npz", {"econnreset": "disk-full"}, threshold=0.0))
    verdict = diagnose(scan([make_rule(confidence=0.95)], "ECONNRESET\n"), "x", pack)
    assert (verdict.category, verdict.rule) == ("network", "test-rule")


def test_a_weak_rule_yields_to_a_confident_model(tmp_path: Path) -> None:
    pack = load_model(tiny_pack(tmp_path / "m.npz", {"econnreset": "disk-full"}))
    verdict = diagnose(scan([make_rule(confidence=0.5)], "ECONNRESET\n"), "x", pack)
    assert (verdict.category, verdict.rule) == ("disk-full", "model")


def test_a_silent_scope_pack_leaves_weak_rules_alone(tmp_path: Path) -> None:
    pack = load_model(tiny_pack(tmp_path / "m.npz", {"econnreset": "disk-full"}, scope="silent"))
    verdict = diagnose(scan([make_rule(confidence=0.5)], "ECONNRESET\n"), "x", pack)
    assert (verdict.category, verdict.rule) == ("network", "test-rule")
    silent = diagnose(scan([make_rule(patterns=["nothing-like-this"])], "ECONNRESET\n"), "x", pack)
    assert (silent.category, silent.rule) == ("disk-full", "model")


def test_the_model_never_names_a_category_the_guard_re_runs(tmp_path: Path) -> None:
    """A link checker's dead URLs read like network trouble to a model: it steps aside."""
    pack = load_model(tiny_pack(tmp_path / "m.npz", {"unreachable": "network"}))
    log = "  1. https://example.org/gone unreachable\n  2. https://example.org/old 404\nIssues\n"
    assert pack.predict(log.splitlines()).category == "network"
    verdict = diagnose(scan([make_rule(patterns=["nothing-like-this"])], log), "x", pack)
    assert (verdict.category, verdict.rule, verdict.action) == ("unknown", None, "comment")
    assert verdict.evidence, "unknown still points at the failure's lines"


def test_below_its_threshold_the_model_leaves_unknown_alone(tmp_path: Path) -> None:
    pack = load_model(tiny_pack(tmp_path / "m.npz", {"frobnicator": "config"}, threshold=1.0))
    verdict = diagnose(scan([make_rule()], "Error: frobnicator\n"), "x", pack)
    assert verdict.category == "unknown"


def _rewrite_meta(path: Path, change: dict[str, object]) -> None:
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    meta = json.loads(str(np.load(io.BytesIO(members["meta.npy"]), allow_pickle=False)))
    meta.update(change)
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.array(json.dumps(meta)), allow_pickle=False)
    members["meta.npy"] = buffer.getvalue()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (
            lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]),
            "corrupt or truncated model file",
        ),
        (lambda p: p.write_bytes(b"not a zip at all"), "corrupt or truncated model file"),
        (
            lambda p: _rewrite_meta(p, {"version": PACK_VERSION + 1}),
            "model format version 2 is not supported",
        ),
        (
            lambda p: _rewrite_meta(p, {"format": "something-else"}),
            "not a pipeline-guard model pack",
        ),
        (
            lambda p: _rewrite_meta(p, {"threshold": 7}),
            "invalid model pack: threshold must be between 0 and 1",
        ),
        (
            lambda p: _rewrite_meta(
                p,
                {
                    "features": {
                        "kind": "hashed-tokens",
                        "version": 99,
                        "bits": 12,
                        "input": "line-max",
                    }
                },
            ),
            "trained on features version 99",
        ),
    ],
)
def test_bad_model_files_get_one_line_naming_the_file(
    tmp_path: Path, damage: object, message: str
) -> None:
    path = tiny_pack(tmp_path / "m.npz", {"frobnicator": "config"})
    damage(path)  # type: ignore[operator]
    with pytest.raises(ModelError, match=message) as raised:
        load_model(path)
    assert str(raised.value).startswith(f"{path}: ")
    assert "\n" not in str(raised.value)


def test_cli_refuses_a_bad_model_with_exit_2(tmp_path: Path) -> None:
    model = tmp_path / "broken.npz"
    model.write_bytes(b"PK\x03\x04 truncated")
    log = tmp_path / "job.log"
    log.write_text("npm ERR! code ECONNRESET\n")
    done = run_cli("analyze", str(log), "--no-bundled", "--model", str(model))
    assert done.returncode == 2
    assert done.stderr.startswith(
        f"pipeline-guard: error: {model}: corrupt or truncated model file"
    )
    assert len(done.stderr.strip().splitlines()) == 1
    missing = run_cli("analyze", str(log), "--no-bundled", "--model", str(tmp_path / "nope.npz"))
    assert (
        missing.stderr.strip()
        == f"pipeline-guard: error: {tmp_path / 'nope.npz'}: model file not found"
    )


def test_analyze_never_imports_scikit_learn_or_numpy(tmp_path: Path) -> None:
    model = tiny_pack(tmp_path / "m.npz", {"frobnicator": "config"})
    log = tmp_path / "job.log"
    log.write_text("Error: the frobnicator rejected key mode\n")
    code = (
        "import sys; from pipeline_guard.cli.main import main; "
        f"main(['analyze', {str(log)!r}, '--no-bundled', '--model', {str(model)!r}]); "
        "assert not {'sklearn', 'scipy', 'numpy'} & set(sys.modules), 'imported'"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "config" in done.stdout


def write_corpus(root: Path) -> Path:
    cases = {
        "a1": ("network", "acme/a", "npm ERR! code ECONNRESET\nnpm ERR! network socket hang up\n"),
        "a2": ("test-failure", "acme/a", "FAILED tests/test_x.py::test_y - assert 1 == 2\n"),
        "b1": ("network", "acme/b", "curl: (7) Failed to connect to example.org port 443\n"),
        "b2": ("test-failure", "acme/b", "--- FAIL: TestParse (0.01s)\nFAIL\texample.com/x\n"),
        "c1": (
            "network",
            "acme/c",
            "fatal: unable to access 'https://x/': Could not resolve host\n",
        ),
        "c2": ("test-failure", "acme/c", "Tests run: 3, Failures: 1, Errors: 0, Skipped: 0\n"),
    }
    (root / "cases").mkdir(parents=True)
    labels = []
    for case_id, (category, repo, text) in cases.items():
        (root / "cases" / f"{case_id}.log").write_text(text)
        labels.append(
            json.dumps({"id": case_id, "category": category, "source": f"{repo}:ci.log@0"})
        )
    (root / "labels.jsonl").write_text("\n".join(labels) + "\n")
    return root


def test_training_is_reproducible_and_keeps_projects_apart(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus")
    cases = read_corpus(corpus)
    rules = [make_rule()]
    settings = TrainSettings(bits=BITS, epochs=3, folds=3, seed=7)
    train(cases, rules, tmp_path / "one.npz", settings, ["corpus"])
    train(cases, rules, tmp_path / "two.npz", settings, ["corpus"])
    assert (tmp_path / "one.npz").read_bytes() == (tmp_path / "two.npz").read_bytes()
    validation = cross_validate(cases, rules, settings)
    assert validation.folds == 3  # one fold per project: acme/a, acme/b, acme/c
    assert [result.case.id for result in validation.results] == [case.id for case in cases]
    pack = load_model(tmp_path / "one.npz")
    assert pack.meta["trained"]["logs"] == 6
    assert set(pack.classes) == set(CLASSES)
    assert line_features("npm ERR! code ECONNRESET", BITS)


def test_train_command_writes_a_pack_that_analyze_uses(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus")
    model = tmp_path / "model.npz"
    done = run_cli("train", str(corpus), "-o", str(model), "--epochs", "3", "--folds", "3")
    assert done.returncode == 0, done.stderr
    assert f"wrote {model}" in done.stdout
    assert "from probability" in done.stdout
    log = tmp_path / "job.log"
    log.write_text("npm ERR! code ECONNRESET\n")
    analysed = run_cli("analyze", str(log), "--model", str(model), "--format", "json")
    assert analysed.returncode == 0, analysed.stderr
    assert json.loads(analysed.stdout)["diagnoses"][0]["category"] == "network"

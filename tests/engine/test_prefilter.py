"""The prefilter engines: RE2 (the default) and Hyperscan must select the same lines."""

from __future__ import annotations

import glob
import io
from pathlib import Path

import pytest

from pipeline_guard.engine.analysis import scan_source
from pipeline_guard.engine.log_reader import iter_chunks, log_chunks
from pipeline_guard.engine.matcher import Matcher, ScanResult
from pipeline_guard.engine.prefilter import (
    Re2Prefilter,
    bytewise,
    engine_name,
    hyperscan_available,
)
from pipeline_guard.engine.rule import Rule, load_rules
from pipeline_guard.engine.rule_checks import scan_text

SHARED = Path(__file__).resolve().parents[4] / "shared"
CORPORA = [SHARED / name for name in ("corpus", "corpus-whole")]


@pytest.fixture(scope="module")
def pack() -> list[Rule]:
    return load_rules(repo_root=Path("/nonexistent"))


def summary(scan: ScanResult) -> list[tuple[str, int, str, str | None, str | None]]:
    return [(h.rule.id, h.line.number, h.line.text, h.line.step, h.test) for h in scan.hits]


def test_the_default_engine_is_re2() -> None:
    assert engine_name() == "re2"


def test_re2_survives_a_log_where_every_line_matches(pack: list[Rule]) -> None:
    # The combined DFA outgrows RE2's default budget here; without RE2_MAX_MEM the scan of
    # these 3 MB took 10 s (issue 17). A loose bound: the machine may be loaded.
    examples = [example for rule in pack for example in rule.examples.match if "\n" not in example]
    log = ("\n".join(examples) + "\n") * max(1, 3_000_000 // sum(map(len, examples)))
    matcher = Matcher(pack, "re2")
    result = matcher.scan(iter_chunks(io.BytesIO(log.encode())))
    assert len(result.hits) >= 500


def test_bytewise_classes_keep_their_ascii_members_and_take_any_multibyte_character() -> None:
    assert bytewise(r"[’']\ is") == r"(?:[']|[\x80-\xff]+)\ is"
    assert bytewise(r"\ {4,4}[✗✖]\ ") == r"\ {4,4}(?:[\x80-\xff]+)\ "
    assert bytewise(r"npm\ err!") == r"npm\ err!"


needs_hyperscan = pytest.mark.skipif(not hyperscan_available(), reason="hyperscan not installed")
known_miss = pytest.mark.xfail(
    strict=True,
    reason="hyperscan 0.9.1 (Vectorscan 5.4.12) loses a match in the multi-pattern database "
    "(see engine/prefilter.py); strict: a release that passes makes this fail, so we switch",
)


@needs_hyperscan
@known_miss
def test_both_engines_diagnose_every_rule_example_alike(pack: list[Rule]) -> None:
    re2_pack, hyperscan_pack = Matcher(pack, "re2"), Matcher(pack, "hyperscan")
    for rule in pack:
        for example in [*rule.examples.match, *rule.examples.no_match]:
            assert summary(scan_text(hyperscan_pack, example)) == summary(
                scan_text(re2_pack, example)
            ), (rule.id, example)


@needs_hyperscan
@pytest.mark.skipif(not all(c.is_dir() for c in CORPORA), reason="shared corpora not here")
def test_both_engines_diagnose_both_corpora_alike(pack: list[Rule]) -> None:
    re2_pack, hyperscan_pack = Matcher(pack, "re2"), Matcher(pack, "hyperscan")
    for corpus in CORPORA:
        for path in sorted(glob.glob(str(corpus / "cases" / "*.log"))):
            expected = summary(scan_source(path, re2_pack))
            assert summary(scan_source(path, hyperscan_pack)) == expected, path


def test_line_by_line_and_search_select_the_same_lines_and_needles(pack: list[Rule]) -> None:
    # A dense log is read line by line (one RE2 set per line), others by searching the chunk;
    # the scan must not depend on which. A search hit may run over a line end (a needle with
    # a class that holds \n) and leave a line with no needle of its own: the scan skips it.
    matcher = Matcher(pack)
    regexes = [matcher.needle(index).prefilter_regex for index in range(matcher.needle_count())]
    prefilter = Re2Prefilter(regexes)
    examples = [e for rule in pack for e in [*rule.examples.match, *rule.examples.no_match]]
    sources = [("\n".join(examples) + "\n").encode()]
    for corpus in CORPORA:
        for path in sorted(glob.glob(str(corpus / "cases" / "*.log"))):
            with log_chunks(path) as chunks:
                sources.extend(chunk.data for chunk in chunks)
    for data in sources:
        searched = [found for found in prefilter.by_search(data) if found[2]]
        assert prefilter.line_by_line(data) == searched

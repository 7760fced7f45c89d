"""The needle-selectivity rule check: a rule may not make every log's scan dearer."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from pathlib import Path

from conftest import make_rule, run_cli
from pipeline_guard.engine.matcher import Matcher
from pipeline_guard.engine.rule import load_rules
from pipeline_guard.engine.rule_checks import (
    MAX_SELECTED,
    REPRESENTATIVE_LOG,
    check_rules,
    unselective_needles,
)


def test_a_rule_whose_needle_selects_ordinary_lines_fails_naming_rule_and_needle() -> None:
    # " 123ms": the vitest needle that once selected 1.6 % of every log's lines.
    timings = make_rule(
        id="timings",
        category="test-failure",
        patterns=[r"^\s+x (?P<test>.+?) \d+ ?ms$"],
        examples={"match": ["   x adds up 12ms"], "no_match": ["   ok adds up 3ms"]},
    )
    failures = check_rules([timings])
    assert [(failure.rule, failure.message.split(" selects ")[0]) for failure in failures] == [
        ("timings", "needle '\\\\ [\\\\d]+\\\\ ?ms'")
    ]


def test_the_share_is_measured_on_the_given_log(tmp_path: Path) -> None:
    rule = make_rule(patterns=["connection pool"], keywords=["pool:"])
    log = tmp_path / "sample.log.gz"
    ordinary = [f"line {n}" for n in range(999)]
    log.write_bytes(gzip.compress(("\n".join([*ordinary, "pool: 5 idle"]) + "\n").encode()))
    assert unselective_needles([rule], Matcher([rule]), log) == []  # 0.1 %
    log.write_bytes(
        gzip.compress(("\n".join([*ordinary[:990], *["pool: 5"] * 10]) + "\n").encode())
    )
    assert [failure.rule for failure in unselective_needles([rule], Matcher([rule]), log)] == [
        "test-rule"
    ]  # 1 %
    assert MAX_SELECTED == 0.005


def test_the_bundled_pack_is_selective_and_the_log_is_shipped() -> None:
    pack = load_rules(repo_root=Path("/nonexistent"))
    assert REPRESENTATIVE_LOG.stat().st_size < 1_000_000
    assert gzip.decompress(REPRESENTATIVE_LOG.read_bytes()).count(b"\n") > 40_000
    assert unselective_needles(pack, Matcher(pack)) == []


TIMINGS_RULE = r"""
rules:
  - id: slow-timings
    category: test-failure
    title: timings
    patterns: ['^\s+x (?P<test>.+?) \d+ ?ms$']
    explain: e
    advice: a
    examples:
      match: ['   x adds up 12ms']
      no_match: ['   ok adds up 3ms']
"""


def test_rules_test_fails_an_unselective_rule_naming_it(
    write_rules: Callable[[str, str], Path],
) -> None:
    folder = write_rules(TIMINGS_RULE, "timings.yml")
    done = run_cli("rules", "test", str(folder))
    assert done.returncode == 1
    assert "rule slow-timings: needle '\\\\ [\\\\d]+\\\\ ?ms' selects" in done.stdout

"""Loading rules: validation errors name file, rule and field; local rules override by id."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import make_rule
from pipeline_guard.engine.rule import bundled_rules_dir, load_rule_dir, load_rules
from pipeline_guard.engine.rule_checks import check_rules
from pipeline_guard.errors import RuleError

GOOD = """
rules:
  - id: demo-reset
    category: network
    title: connection reset
    patterns: ['ECONNRESET']
    explain: e
    advice: a
    examples: {match: ['read ECONNRESET'], no_match: ['ok']}
"""

WriteRules = Callable[..., Path]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("rules: [\n  - id: x\n", r"invalid YAML"),
        (
            GOOD.replace("advice: a", "advice: a\n    colour: red"),
            r"rule demo-reset: colour: unknown field",
        ),
        (GOOD.replace("    advice: a\n", ""), r"rule demo-reset: advice: required field missing"),
        (
            GOOD.replace("'ECONNRESET'", "'(unclosed'"),
            r"rule demo-reset: patterns: pattern 1 is not a valid RE2 regex: missing \)",
        ),
        (
            GOOD.replace("'ECONNRESET'", r"'(?<=x)y'"),
            r"rule demo-reset: patterns: pattern 1 is not a valid RE2 regex",
        ),
        (
            GOOD.replace("category: network", "category: weather"),
            r"rule demo-reset: category: Input should be",
        ),
        (
            GOOD.replace("id: demo-reset", "id: Demo Reset"),
            r"rule Demo Reset: id: String should match pattern",
        ),
        ("hello: world\n", r"rules: required field missing"),
        (
            GOOD.replace("category: network", "category: unknown"),
            r"a rule cannot have category 'unknown'",
        ),
        (
            GOOD.replace("advice: a", "advice: a\n    wraps: ['warning:']"),
            r"rule demo-reset: wraps: only a rule with severity: wrapper",
        ),
        (
            GOOD.replace("advice: a", "advice: a\n    details: {header: '^\\s*\\d+$'}"),
            r"rule demo-reset: details.header: contains no literal text",
        ),
        (
            GOOD.replace("advice: a", "advice: a\n    details: {header: 'Failures:', error: '(x'}"),
            r"rule demo-reset: details.error: pattern 1 is not a valid RE2 regex",
        ),
    ],
)
def test_bad_rule_files_give_one_line_naming_the_file_rule_and_field(
    write_rules: WriteRules, content: str, message: str
) -> None:
    directory = write_rules(content)
    with pytest.raises(RuleError, match=message) as raised:
        load_rule_dir(directory)
    text = str(raised.value)
    assert text.startswith(str(directory / "rules.yml"))
    assert "\n" not in text


def test_duplicate_ids_inside_one_pack_are_refused(write_rules: WriteRules) -> None:
    write_rules(GOOD, name="a.yml")
    directory = write_rules(GOOD, name="b.yml")
    with pytest.raises(RuleError, match=r"b\.yml: rule demo-reset: id already used in .*a\.yml"):
        load_rule_dir(directory)


def test_repo_local_rules_extend_and_override_bundled_ones_by_id(
    write_rules: WriteRules, tmp_path: Path
) -> None:
    bundled = load_rules(repo_root=tmp_path / "nowhere")
    assert bundled, "the bundled pack must not be empty"
    victim = bundled[0]
    override = GOOD.replace("demo-reset", victim.id).replace(
        "title: connection reset", "title: overridden"
    )
    write_rules(override, folder=".pipeline-guard/rules")
    write_rules(
        GOOD.replace("demo-reset", "demo-extra"), name="extra.yml", folder=".pipeline-guard/rules"
    )
    loaded = {rule.id: rule for rule in load_rules(repo_root=tmp_path)}
    assert loaded[victim.id].title == "overridden"
    assert "demo-extra" in loaded
    assert len(loaded) == len(bundled) + 1


def test_bundled_pack_is_found_and_loads() -> None:
    assert bundled_rules_dir().is_dir()
    assert len(load_rules(bundled=True, repo_root=Path("/nonexistent"))) >= 300


def test_every_bundled_rule_passes_its_own_examples() -> None:
    failures = check_rules(load_rules(repo_root=Path("/nonexistent")))
    assert [str(failure) for failure in failures] == []


def test_rule_checks_catch_wrong_examples_dead_patterns_and_clashes() -> None:
    weak = make_rule(
        id="weak",
        patterns=["ECONNRESET", "never used"],
        examples={"match": ["ECONNRESET", "not matched"], "no_match": ["ECONNRESET again"]},
    )
    strong = make_rule(id="strong", category="runner", patterns=["ECONNRESET"])
    messages = [failure.message for failure in check_rules([weak], [weak, strong])]
    assert messages == [
        "example 'ECONNRESET' is diagnosed as runner by rule strong, not as network",
        "does not match its example 'not matched'",
        "matches its no_match example 'ECONNRESET again'",
        "pattern 2 matches none of the match examples",
    ]


def test_rule_checks_run_explained_examples_through_the_whole_pack() -> None:
    """An ``explained`` example: the rule decides and its evidence shows ``first`` first."""
    log = "CHECK vat ... BAD\n== vat ==\n  why: 19% expected\n"
    rule = make_rule(
        id="acme",
        category="test-failure",
        patterns=[r"^CHECK (?P<test>\w+) \.+ BAD$"],
        details={"header": "^== {test} ==$", "error": "^  why: "},
        examples={
            "match": ["CHECK vat ... BAD"],
            "no_match": ["CHECK vat ... OK"],
            "explained": [
                {"log": log, "first": "  why: 19% expected"},
                {"log": log, "first": "CHECK vat ... BAD"},
            ],
        },
    )
    assert [failure.message for failure in check_rules([rule])] == [
        "explained example shows '  why: 19% expected' first, not 'CHECK vat ... BAD'"
    ]
    stronger = make_rule(id="stronger", category="runner", patterns=["BAD"])
    messages = [failure.message for failure in check_rules([rule], [rule, stronger])]
    assert "explained example is diagnosed by rule stronger, not by this rule" in messages


def test_rules_from_the_cache_equal_freshly_validated_ones(
    write_rules: WriteRules, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    directory = write_rules(GOOD)
    fresh = load_rule_dir(directory, cache)
    assert list(cache.glob("*.json")), "the first load writes the cache"
    cached = load_rule_dir(directory, cache)
    assert cached == fresh
    assert type(cached[0].category) is type(fresh[0].category)
    (directory / "rules.yml").write_text(GOOD.replace("title: connection reset", "title: changed"))
    assert load_rule_dir(directory, cache)[0].title == "changed", "a changed file misses the cache"


def test_details_and_wraps_survive_the_rule_cache(write_rules: WriteRules, tmp_path: Path) -> None:
    content = GOOD.replace(
        "advice: a",
        "advice: a\n    details: {header: '^_+ {test} _+$', error: '^E +', lines: 9}",
    )
    cache = tmp_path / "cache"
    directory = write_rules(content)
    fresh = load_rule_dir(directory, cache)
    cached = load_rule_dir(directory, cache)
    assert cached == fresh
    assert cached[0].details is not None
    assert cached[0].details.header_for("tests/t.py::Cls::test_x[a b]") == r"^_+ test_x\[a\ b\] _+$"
    assert cached[0].details.lines == 9


def test_an_unwritable_cache_is_ignored(write_rules: WriteRules, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    assert [rule.id for rule in load_rule_dir(write_rules(GOOD), blocker / "cache")] == [
        "demo-reset"
    ]


def test_no_cache_directory_writes_nothing(write_rules: WriteRules, tmp_path: Path) -> None:
    directory = write_rules(GOOD)
    assert load_rule_dir(directory, None) == load_rule_dir(directory, None)
    assert not list(tmp_path.rglob("*.json"))

"""``pipeline-guard rules test``: every rule's examples, run through the real matcher.

Each example is scanned as a tiny log, exactly as a real log would be (cleaning, prefilter,
RE2 set), so a wrong hand-written keyword fails the test as surely as a wrong pattern. Checks:

- every ``match`` example is matched by its rule, and every ``no_match`` example is not;
- every pattern of a rule matches at least one of the rule's examples (no dead patterns);
- a rule that names failing tests (``(?P<test>...)``) reads a name off one example at least;
- with the whole pack loaded, every ``match`` example is diagnosed as the rule's category, so
  a rule of another category with a higher priority cannot silently swallow it;
- every ``explained`` example (a few lines of log) is diagnosed by the rule, and its evidence
  shows the example's ``first`` line first (a rule's ``details`` or ``wraps`` at work);
- the rule's needles (what the prefilter looks for on its behalf) select at most
  :data:`MAX_SELECTED` of the lines of a representative log: every line a needle selects is
  verified in Python in *every* log scanned, so one rule whose needle hits ``123ms`` timing
  lines once made every scan five times dearer (issue 17). The log, ``data/representative
  .log.gz``, is ordinary output of real public CI logs of many ecosystems away from their
  failures, plus the benchmark's generated noise (``benchmarks/build_sample_log.py``).
"""

from __future__ import annotations

import gzip
import io
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from pipeline_guard.engine.diagnosis import diagnose
from pipeline_guard.engine.log_reader import Chunk, clean_block, clean_line, iter_chunks
from pipeline_guard.engine.matcher import Matcher, ScanResult
from pipeline_guard.engine.rule import Explained, Rule

MAX_SELECTED = 0.005
"""The largest share of a representative log's lines a rule's needles may select."""

REPRESENTATIVE_LOG = Path(__file__).parent / "data" / "representative.log.gz"


@dataclass(frozen=True, slots=True)
class RuleCheckFailure:
    rule: str
    source: str
    message: str

    def __str__(self) -> str:
        return f"{self.source}: rule {self.rule}: {self.message}"


def text_chunks(text: str) -> Iterator[Chunk]:
    """A piece of log text as the chunks a log file of that content would give."""
    return iter_chunks(io.BytesIO(text.encode("utf-8")))


def scan_text(matcher: Matcher, text: str) -> ScanResult:
    return matcher.scan(text_chunks(text))


def check_rules(
    rules: Sequence[Rule], pack: Sequence[Rule] | None = None
) -> list[RuleCheckFailure]:
    """Run every check on ``rules`` within ``pack`` (default: themselves); [] means all passed."""
    whole = Matcher(pack if pack is not None else rules)
    failures: list[RuleCheckFailure] = []
    for rule in rules:
        failures.extend(_check_rule(rule, whole))
    failures.extend(unselective_needles(rules, whole))
    return failures


def unselective_needles(
    rules: Sequence[Rule], pack: Matcher, log: Path = REPRESENTATIVE_LOG
) -> list[RuleCheckFailure]:
    """A failure for each rule whose needles select more than :data:`MAX_SELECTED` of the
    lines of ``log``, naming the needle that selects most."""
    data = clean_block(gzip.decompress(log.read_bytes()))
    lines = data.count(b"\n") or 1
    per_needle: Counter[int] = Counter()
    per_rule: Counter[int] = Counter()
    for _start, _end, needles in pack.prefilter.candidates(data):
        per_needle.update(needles)
        per_rule.update(set().union(*(pack.owners(needle) for needle in needles)))
    wanted = {rule.id for rule in rules}
    failures = []
    for index, rule in enumerate(pack.rules):
        share = per_rule[index] / lines
        if rule.id not in wanted or share <= MAX_SELECTED:
            continue
        worst = max(pack.needles_of(index), key=lambda needle: per_needle[needle])
        failures.append(
            RuleCheckFailure(
                rule.id,
                rule.source,
                f"needle {pack.needle(worst).regex!r} selects {per_needle[worst] / lines:.2%} "
                f"of the lines of an ordinary log (the rule's needles: {share:.2%}, at most "
                f"{MAX_SELECTED:.1%}); give the rule `keywords:` or a more specific pattern",
            )
        )
    return failures


def _check_rule(rule: Rule, pack: Matcher) -> Iterator[RuleCheckFailure]:
    def fail(message: str) -> RuleCheckFailure:
        return RuleCheckFailure(rule.id, rule.source, message)

    alone = Matcher([rule])
    named_a_test = False
    for example in rule.examples.match:
        scan = scan_text(alone, example)
        if not scan.hits:
            yield fail(f"does not match its example {_quote(example)}")
            continue
        named_a_test = named_a_test or bool(scan.tests)
        verdict = diagnose(scan_text(pack, example), "example")
        if verdict.category != rule.category:
            yield fail(
                f"example {_quote(example)} is diagnosed as {verdict.category} "
                f"by rule {verdict.rule}, not as {rule.category}"
            )
    for example in rule.examples.no_match:
        if scan_text(alone, example).hits:
            yield fail(f"matches its no_match example {_quote(example)}")
    for explained in rule.examples.explained:
        yield from (fail(message) for message in _explained(rule, pack, explained))
    yield from (fail(message) for message in _dead_patterns(rule, alone))
    if rule.extracts_tests and not named_a_test:
        yield fail("has a (?P<test>...) group but names no test in any match example")


def _explained(rule: Rule, pack: Matcher, explained: Explained) -> Iterator[str]:
    """An ``explained`` example: the whole pack decides by this rule and shows ``first`` first."""
    verdict = diagnose(scan_text(pack, explained.log), "example")
    shown = verdict.evidence[0].text if verdict.evidence else None
    if verdict.rule != rule.id:
        yield f"explained example is diagnosed by rule {verdict.rule}, not by this rule"
    elif shown != clean_line(explained.first.encode(), 1).text:
        yield f"explained example shows {_quote(shown or '')} first, not {_quote(explained.first)}"


def _dead_patterns(rule: Rule, alone: Matcher) -> Iterator[str]:
    cleaned = [
        "\n".join(clean_line(raw.encode(), 1).text for raw in example.split("\n"))
        for example in rule.examples.match
    ]
    for index, pattern in enumerate(alone.patterns_of(rule)):
        if not any(pattern.search(text) for text in cleaned):
            yield f"pattern {index + 1} matches none of the match examples"


def _quote(example: str) -> str:
    shown = example if len(example) <= 100 else example[:97] + "..."
    return repr(shown)

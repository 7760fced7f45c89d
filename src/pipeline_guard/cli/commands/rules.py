"""``pipeline-guard rules test|list``: check rule examples, list the loaded rules."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

from pipeline_guard.cli.progress import counted
from pipeline_guard.engine.rule import load_rule_dir, load_rules
from pipeline_guard.engine.rule_checks import check_rules


def run_tests(dirs: Sequence[Path], bundled: bool = True, *, cache: Path | None = None) -> int:
    """Run the examples of every rule, or of the rules in ``dirs``; exit 1 when a check fails.

    The rules in ``dirs`` are checked against the whole pack (bundled, repo-local and ``dirs``)
    so a clash with a rule of another category shows up.
    """
    pack = load_rules(dirs, bundled=bundled, cache=cache)
    if dirs:
        wanted = {rule.id for directory in dirs for rule in load_rule_dir(directory, cache)}
        rules = [rule for rule in pack if rule.id in wanted]
    else:
        rules = pack
    with counted(rules, "checking rules", sys.stderr) as checked:
        failures = check_rules(checked, pack)
    for failure in failures:
        print(f"FAIL {failure}")
    examples = sum(
        len(r.examples.match) + len(r.examples.no_match) + len(r.examples.explained) for r in rules
    )
    verdict = "failed" if failures else "passed"
    print(f"{len(rules)} rules, {examples} examples: {len(failures)} failures, {verdict}")
    return 1 if failures else 0


def list_rules(
    dirs: Sequence[Path], fmt: str, bundled: bool = True, *, cache: Path | None = None
) -> int:
    """The loaded rules; loading them also fills the rule cache (the image warms it so)."""
    rules = sorted(
        load_rules(dirs, bundled=bundled, cache=cache), key=lambda rule: (rule.category, rule.id)
    )
    if fmt == "json":
        payload = [
            {
                "id": r.id,
                "category": r.category,
                "title": r.title,
                "priority": r.rank,
                "source": r.source,
            }
            for r in rules
        ]
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
        return 0
    width = max((len(rule.id) for rule in rules), default=2)
    for rule in rules:
        print(f"{rule.id:<{width}}  {rule.category:<13}  {rule.title}")
    print(f"{len(rules)} rules")
    return 0

"""List the prefilter needles that hit most lines of some logs, with the rules owning them.

A needle that hits many lines makes every scan of such logs slow (each hit is checked in
Python); this report shows which rules to give better ``keywords`` or more specific patterns.

    python benchmarks/needle_report.py LOG [LOG ...] [--top 30]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import re2

from pipeline_guard.engine.matcher import Matcher
from pipeline_guard.engine.rule import load_rules, re2_options


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("logs", nargs="+", type=Path)
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    matcher = Matcher(load_rules())
    texts = [path.read_bytes() for path in args.logs]
    lines = sum(text.count(b"\n") for text in texts) or 1
    options = re2_options()
    options.never_capture = True
    rows = []
    for index, needle in enumerate(matcher._needles):
        pattern = re2.compile(needle.prefilter_regex.encode(), options)
        hits = sum(1 for text in texts for _ in pattern.finditer(text))
        owners = sorted(matcher.rules[i].id for i in matcher._owners[index])
        rows.append((hits, needle.regex, owners))
    rows.sort(reverse=True)
    for hits, regex, owners in rows[: args.top]:
        print(f"{hits / lines:8.4f} {hits:7d}  {regex!r:50}  {', '.join(owners[:4])}")


if __name__ == "__main__":
    main()

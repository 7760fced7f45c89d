"""Save and compare ``analyze --format json`` over every corpus log and rule example.

    python benchmarks/compare_diagnoses.py save before.json [--big]
    python benchmarks/compare_diagnoses.py compare before.json [--big]

A change to the scan (how chunks are cleaned, read, split across processes) must not change a
single diagnosis. ``save`` writes the diagnoses of the current checkout; ``compare`` runs the
checkout again and lists every log whose diagnosis differs (exit 1 when any does).

Inputs: ``../shared/corpus`` and ``../shared/corpus-whole`` (next to the clone, when there),
every match and no-match example of every bundled rule as a log of its own, and with
``--big`` the benchmark logs of ``bench_speed.py`` (typical 100 MB, 30 and 100 MB of rule
examples; generated on first use).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
SHARED = HERE.parent.parent / "shared"
sys.path.insert(0, str(HERE))

BATCH = 200
"""Logs per ``analyze`` process (one process per log would take minutes)."""


def example_logs() -> list[Path]:
    """Every example of every bundled rule written as a log of its own (stable names)."""
    from pipeline_guard.engine.rule import load_rules

    folder = OUT / "rule-examples"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for rule in load_rules():
        for kind, examples in (("match", rule.examples.match), ("nomatch", rule.examples.no_match)):
            for index, example in enumerate(examples):
                path = folder / f"{rule.id}-{kind}-{index}.log"
                path.write_text(example + "\n", encoding="utf-8")
                paths.append(path)
    return paths


def big_logs() -> list[Path]:
    from bench_speed import examples_log, typical_log

    return [typical_log(100), examples_log(30), examples_log(100)]


def sources(big: bool) -> list[Path]:
    found: list[Path] = []
    for corpus in ("corpus", "corpus-whole"):
        found += sorted((SHARED / corpus / "cases").glob("*.log"))
    found += example_logs()
    if big:
        found += big_logs()
    return found


def diagnoses(paths: list[Path]) -> dict[str, object]:
    """``analyze --format json`` of every path, by path, run in batches of fresh processes."""
    out: dict[str, object] = {}
    for start in range(0, len(paths), BATCH):
        batch = [str(path) for path in paths[start : start + BATCH]]
        command = [sys.executable, "-m", "pipeline_guard", "analyze", "--format", "json", *batch]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        for diagnosis in json.loads(done.stdout)["diagnoses"]:
            out[diagnosis["source"]] = diagnosis
        print(f"{min(start + BATCH, len(paths))}/{len(paths)} logs", file=sys.stderr)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("save", "compare"))
    parser.add_argument("file", type=Path)
    parser.add_argument("--big", action="store_true", help="also the 30-100 MB benchmark logs")
    args = parser.parse_args()
    now = diagnoses(sources(args.big))
    if args.action == "save":
        args.file.write_text(json.dumps(now, indent=1, sort_keys=True))
        print(f"saved {len(now)} diagnoses to {args.file}")
        return 0
    before = json.loads(args.file.read_text())
    differ = [source for source in now if before.get(source) != now[source]]
    missing = [source for source in before if source not in now]
    for source in differ:
        print(f"DIFFERS: {source}")
    print(f"{len(now)} compared, {len(differ)} differ, {len(missing)} not run now")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())

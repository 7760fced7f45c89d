"""Assemble the representative log that the needle-selectivity rule check measures.

    python benchmarks/build_sample_log.py [--shared ../shared] [--per-log 120]

A rule's needles decide which lines of *every* log the matcher must look at closely, so a
needle that also hits ordinary lines (``123ms`` timings, ``tests/x.py::test_y PASSED``) makes
every scan dearer. To measure that, the check needs ordinary CI output of many ecosystems and
platforms, not failures. This script takes it from real public logs and from the benchmark
generator:

- ``corpus-whole`` (Travis CI, 40 projects, 10 languages) and ``corpus-gha`` (GitHub Actions,
  71 projects): up to ``--per-log`` lines per log, spread evenly over the log, never within
  :data:`MARGIN` lines of the labelled failure (so the sample is the noise around failures,
  not the failures rules exist for);
- ``generate_log.py``: the benchmark's GitHub-style noise, :data:`GENERATED_LINES` lines.

The result is deterministic, written gzip-compressed (a few hundred KB) to
``src/pipeline_guard/engine/data/representative.log.gz``, and shipped in the package.
"""

from __future__ import annotations

import argparse
import gzip
import json
import tempfile
from pathlib import Path

from generate_log import generate

HERE = Path(__file__).resolve().parent
OUT = HERE.parent / "src" / "pipeline_guard" / "engine" / "data" / "representative.log.gz"
MARGIN = 40
GENERATED_LINES = 12_000


def sampled_lines(corpus: Path, per_log: int) -> list[bytes]:
    """Evenly spread lines of every log of a whole-log corpus, away from its failure."""
    lines: list[bytes] = []
    for row in (corpus / "labels.jsonl").read_text(encoding="utf-8").splitlines():
        label = json.loads(row)
        raw = (corpus / "cases" / f"{label['id']}.log").read_bytes().split(b"\n")
        spans = [(label["chunk_first"], label["chunk_last"]), *label.get("also", [])]
        kept = [
            line
            for number, line in enumerate(raw, start=1)
            if line.strip()
            and all(not first - MARGIN <= number <= last + MARGIN for first, last in spans)
        ]
        step = max(1, len(kept) // per_log)
        lines.extend(kept[::step][:per_log])
    return lines


def generated_lines() -> list[bytes]:
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "noise.log"
        generate(path, 2)
        raw = path.read_bytes().split(b"\n")
    return [line for line in raw[3_000 : 3_000 + GENERATED_LINES] if line.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=HERE.parents[2] / "shared")
    parser.add_argument("--per-log", type=int, default=120)
    args = parser.parse_args()
    lines = generated_lines()
    for corpus in ("corpus-whole", "corpus-gha"):
        lines.extend(sampled_lines(args.shared / corpus, args.per_log))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_bytes(gzip.compress(b"\n".join(lines) + b"\n", mtime=0))
    print(f"{OUT}: {len(lines)} lines, {OUT.stat().st_size / 1e3:.0f} KB")


if __name__ == "__main__":
    main()

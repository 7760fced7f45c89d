"""The speed table of issue 17, with ripgrep timed in the same run.

    python benchmarks/bench_speed.py [--runs 3] [--skip-run]

Rows (each the minimum of ``--runs`` fresh processes, with the rule cache warm):

- **typical 100 MB**: ``generate_log.py``'s log (set-up, installs, test output, one failure),
  ``pipeline-guard analyze`` end to end, its peak RSS, and ``rg --count`` of five literals over
  the same file (the read floor);
- **30 MB of rule examples**: every line a rule's match example (a log full of failures, or an
  attacker's);
- **100 MB of matching lines**: the same, 100 MB;
- **1 process, 2 processes**: the typical log and the 100 MB of matching lines again, read by
  one and by two processes whatever the load (``analyze`` cuts a log of 32 MB or more in
  parts, one per core the load average leaves free: see
  ``src/pipeline_guard/engine/log_parts.py``), so the gain of the parts shows in one run;
- **100k sections**: 100k GitLab ``section_start`` lines and 100k unmatched ``section_end``
  lines (7 MB, issue 15's hostile input);
- **small log, cold start**: a 10 KB log, and ``--version`` alone;
- **guard run**: ``bench_workflow_run.py`` (20 failed jobs x 5 MB against the fake GitHub),
  unless ``--skip-run``.

Also prints the prefilter engines' time over the typical log in one process (RE2, the
default, and Hyperscan when installed; see ``src/pipeline_guard/engine/prefilter.py``).
ripgrep comes from PATH; where it is missing: ``apt-get install ripgrep`` (Debian), which this
script tries once. Timings on a shared machine are noisy: compare ratios taken in one run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
sys.path.insert(0, str(HERE))

from bench_analyze import guard, ripgrep, run_measured_isolated, warm_rule_cache  # noqa: E402
from generate_log import generate  # noqa: E402


def best(command: list[str], runs: int) -> tuple[float, int]:
    """Minimum wall seconds and the largest peak RSS (MB) over ``runs`` runs."""
    results = [run_measured_isolated(command)[:2] for _ in range(runs)]
    return min(r[0] for r in results), max(r[1] for r in results)


def typical_log(size_mb: int) -> Path:
    path = OUT / f"big-{size_mb}mb.log"
    if not path.exists():
        OUT.mkdir(exist_ok=True)
        generate(path, size_mb)
    return path


def examples_log(size_mb: int) -> Path:
    """A log where every line is a single-line match example of some bundled rule."""
    from pipeline_guard.engine.rule import load_rules

    path = OUT / f"examples-{size_mb}mb.log"
    if not path.exists():
        OUT.mkdir(exist_ok=True)
        lines = [e for r in load_rules() for e in r.examples.match if "\n" not in e]
        block = ("\n".join(lines) + "\n").encode()
        path.write_bytes(block * (size_mb * 1_000_000 // len(block) + 1))
    return path


PROCESSES = (
    "import sys; from pipeline_guard.engine import log_parts; "
    "log_parts.workers_available = lambda: {n}; "
    "from pipeline_guard.cli.main import main; sys.exit(main())"
)


def processes(count: int, *args: str) -> list[str]:
    """``analyze`` as :func:`guard` runs it, with a log of 32 MB or more read by ``count``
    processes whatever the load (by default: one per core the load average leaves free)."""
    return [sys.executable, "-c", PROCESSES.format(n=count), *args]


def sections_log() -> Path:
    path = OUT / "sections-100k.log"
    if not path.exists():
        OUT.mkdir(exist_ok=True)
        starts = "".join(f"section_start:1700000000:s{i}\r\x1b[0K\n" for i in range(100_000))
        ends = "".join(f"section_end:1700000000:x{i}\r\x1b[0K\n" for i in range(100_000))
        path.write_text(starts + ends + "ERROR: Job failed: exit code 1\n", encoding="utf-8")
    return path


def engines(log: Path) -> None:
    from pipeline_guard.cache_dir import cache_dir
    from pipeline_guard.engine.log_reader import clean_block
    from pipeline_guard.engine.matcher import Matcher
    from pipeline_guard.engine.prefilter import hyperscan_available
    from pipeline_guard.engine.rule import load_rules

    data = clean_block(log.read_bytes())
    rules = load_rules()
    for name in ("re2", "hyperscan"):
        if name == "hyperscan" and not hyperscan_available():
            print("| prefilter hyperscan | not installed (pip install hyperscan) |")
            continue
        prefilter = Matcher(rules, name, cache_dir(os.environ)).prefilter
        took = []
        for _ in range(3):
            started = time.perf_counter()
            found = len(prefilter.candidates(data))
            took.append(time.perf_counter() - started)
        print(f"| prefilter {name}, typical log in memory | {min(took):.2f} s, {found} lines |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skip-run", action="store_true")
    args = parser.parse_args()
    warm_rule_cache()
    typical = typical_log(100)
    rg = ripgrep()
    literals = ["econnreset", "npm err!", "failed ", "assertionerror", "##[error]"]
    rg_command = [rg, "--count", "--no-config", "-i", *[f"-e{x}" for x in literals], str(typical)]
    rg_time, _ = best(rg_command, args.runs)
    ours, rss = best(guard("analyze", str(typical), "--format", "json"), args.runs)
    load = os.getloadavg()[0]
    print(f"min of {args.runs} runs; ripgrep {rg_time:.2f} s in this run; load {load:.1f}\n")
    print("| | now |\n|---|---|")
    print(f"| typical 100 MB | {ours:.2f} s, {ours / rg_time:.0f}x ripgrep, {rss} MB peak RSS |")
    hostile, _ = best(guard("analyze", str(examples_log(30))), args.runs)
    print(
        f"| 30 MB, every line a rule example | {hostile:.2f} s, {hostile / rg_time:.0f}x ripgrep |"
    )
    flood, rss = best(guard("analyze", str(examples_log(100))), args.runs)
    print(f"| 100 MB of matching lines | {flood:.2f} s ({flood / ours:.1f}x typical), {rss} MB |")
    for count in (1, 2):
        alone, rss = best(processes(count, "analyze", str(typical), "--format", "json"), args.runs)
        many, many_rss = best(processes(count, "analyze", str(examples_log(100))), args.runs)
        print(
            f"| {count} process{'es' if count > 1 else ''}: typical 100 MB; 100 MB matching "
            f"| {alone:.2f} s, {alone / rg_time:.0f}x ripgrep, {rss} MB; "
            f"{many:.2f} s ({many / alone:.1f}x), {many_rss} MB |"
        )
    sections, rss = best(guard("analyze", str(sections_log())), args.runs)
    print(f"| 100k sections + 100k unmatched ends (7 MB) | {sections:.2f} s, {rss} MB |")
    small = OUT / "small.log"
    small.write_bytes(typical.read_bytes()[:10_000].rsplit(b"\n", 1)[0] + b"\n")
    cold, _ = best(guard("analyze", str(small)), args.runs)
    version, _ = best(guard("--version"), args.runs)
    print(f"| small log, cold start, cache warm | {cold:.2f} s (`--version` {version:.2f} s) |")
    if not args.skip_run:
        done = subprocess.run(
            [sys.executable, str(HERE / "bench_workflow_run.py")],
            capture_output=True,
            text=True,
            check=False,
        )
        print(f"| guard run, 20 failed jobs x 5 MB | {done.stdout.strip().splitlines()[-1]} |")
    engines(typical)


if __name__ == "__main__":
    main()

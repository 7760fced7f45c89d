"""Generate a large, realistic CI job log for the benchmarks.

The log looks like a GitHub Actions job that ran a long build and test suite: timestamped
lines, ``##[group]`` steps, ANSI colours, ``\\r`` progress bars, npm/pip/cargo/cmake/pytest/jest
/docker output, warnings, lines that merely *mention* errors ("0 errors", ``-Werror``,
``test_error_handling PASSED``), the odd minified-JSON line and invalid UTF-8 byte. Two
failures are planted: a registry connection reset near the start, in a step the job went on
from (context, not the cause), and failing tests in the last step, which ends the job. The output is deterministic for a given seed and size.

    python benchmarks/generate_log.py OUT.log --mb 100
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

WORDS = (
    "alpha beta gamma delta core util parser lexer http client server widget model view "
    "router cache store session auth billing invoice report export import schema queue"
).split()

TEMPLATES = (
    "\x1b[36m[INFO]\x1b[0m Downloading from central: https://repo.maven.apache.org/maven2/org/{w}/{w}-{n}.pom",
    "\x1b[36m[INFO]\x1b[0m Downloaded from central: "
    "https://repo.maven.apache.org/maven2/org/{w}/{w}-{n}.jar (12 kB at 301 kB/s)",
    "npm \x1b[33mwarn\x1b[39m deprecated {w}@{n}.0.1: this package is no longer supported",
    "tests/test_{w}.py::test_{w}_{n} \x1b[32mPASSED\x1b[0m                          [ {p}%]",
    "tests/test_{w}.py::test_error_handling_{n} \x1b[32mPASSED\x1b[0m               [ {p}%]",
    "   \x1b[32mCompiling\x1b[0m {w} v0.{n}.3",
    "[{n}/2400] Building CXX object src/CMakeFiles/{w}.dir/{w}.cpp.o",
    "/usr/bin/c++ -DNDEBUG -O2 -Wall -Werror=return-type -c src/{w}.cpp -o build/{w}.o",
    "Collecting {w}=={n}.1.0",
    "  Downloading {w}-{n}.1.0-py3-none-any.whl (123 kB)",
    "ok   \tgithub.com/acme/{w}\t0.{n}s",
    "    \x1b[32m✓\x1b[39m renders {w} correctly ({n} ms)",
    "  {w}.ts:{n}:7 - warning: '{w}' is declared but its value is never read.",
    "#{n} 0.{p} {w}: extracting sha256:9f{n}ab4c1d2e3f",
    "Compiled {n} files with 0 errors and 0 warnings",
    "  Retried fetching {w} in 0.{p}s (cache miss)",
    '{{"level":"info","msg":"request served","route":"/{w}","status":200,"ms":{n}}}',
    "DEBUG [{w}] connection pool: {n} idle, {p} in use",
)

ROOT_CAUSE = "\x1b[31mnpm ERR!\x1b[39m code ECONNRESET"
ROOT_CAUSE_DETAIL = (
    "\x1b[31mnpm ERR!\x1b[39m network request to https://registry.npmjs.org/left-pad failed, "
    "reason: read ECONNRESET"
)
LATE_FAILURES = (
    "FAILED tests/test_billing.py::test_invoice_totals - AssertionError: assert 10 == 12",
    "FAILED tests/test_export.py::test_csv_header - KeyError: 'name'",
    "===== 2 failed, 18734 passed in 611.20s (0:10:11) =====",
)


def _timestamp(index: int) -> str:
    seconds = index // 400
    hours, minutes, secs = 10 + seconds // 3600 % 10, seconds // 60 % 60, seconds % 60
    return f"2026-11-27T{hours:02d}:{minutes:02d}:{secs:02d}.{index % 10_000_000:07d}Z "


def generate(path: Path, size_mb: int, seed: int = 1) -> int:
    """Write the log; return its number of lines."""
    rng = random.Random(seed)
    target = size_mb * 1_000_000
    written = 0
    index = 0
    with path.open("wb") as out:

        def emit(text: str) -> None:
            nonlocal written, index
            line = (_timestamp(index) + text + "\n").encode("utf-8", "surrogateescape")
            out.write(line)
            written += len(line)
            index += 1

        while written < target - 1000:
            if index == 2_000:
                emit(ROOT_CAUSE)
                emit(ROOT_CAUSE_DETAIL)
            if index % 40_000 == 0:
                emit(f"##[group]Run make test-shard-{index // 40_000}")
                emit("##[endgroup]")
            roll = rng.random()
            if roll < 0.01:
                emit("".join(f"Progress: {k}%\r" for k in range(0, 100, 7)) + "Progress: 100%")
            elif roll < 0.0105:
                emit(
                    '{"bundle":"'
                    + "".join(rng.choice("abcdef0123456789") for _ in range(6000))
                    + '"}'
                )
            elif roll < 0.0106:
                emit("latin-1 leftover: caf\udce9 na\udcefve")
            else:
                template = rng.choice(TEMPLATES)
                emit(
                    template.format(
                        w=rng.choice(WORDS), n=rng.randint(1, 999), p=rng.randint(0, 100)
                    )
                )
        for line in LATE_FAILURES:
            emit(line)
        emit("##[error]Process completed with exit code 1.")
    return index


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--mb", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    lines = generate(args.out, args.mb, args.seed)
    print(f"{args.out}: {args.out.stat().st_size / 1e6:.1f} MB, {lines} lines")


if __name__ == "__main__":
    main()

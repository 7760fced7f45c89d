"""What redaction costs per megabyte, on ordinary logs and on text full of secrets.

Redaction runs on every text that leaves the runner (comments, summaries, the JSON report,
``analyze`` output: kilobytes), so its cost per megabyte matters for the worst inputs, not for
the usual ones. Measured here, in one process, best of ``--repeat`` runs:

- ``corpus``: the real logs of ``../shared/corpus-whole`` (or ``--corpus DIR``), whole;
- ``generated``: a log from ``generate_log.py`` (builds, tests, progress bars);
- ``secrets``: the hand-written secret formats of ``tests/security`` on every line;
- ``keywords``: lines dense with the gitleaks rules' keywords (``key``, ``token``, ``api``...)
  and no secret, the prefilter's worst case.

    .venv/bin/python benchmarks/bench_redact.py [--mb 20] [--repeat 3]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "security"))


def _corpus(directory: Path, limit: int) -> str:
    parts: list[str] = []
    size = 0
    for path in sorted(directory.rglob("*.log")):
        text = path.read_text(encoding="utf-8", errors="replace")
        parts.append(text)
        size += len(text)
        if size >= limit:
            break
    return "".join(parts)[:limit]


def _generated(limit: int) -> str:
    out = Path(tempfile.gettempdir()) / "pipeline-guard-bench-redact.log"
    script = ROOT / "benchmarks" / "generate_log.py"
    mb = str(max(1, limit >> 20))
    subprocess.run([sys.executable, str(script), str(out), "--mb", mb], check=True)
    return out.read_text(encoding="utf-8", errors="replace")[:limit]


def _secrets(limit: int) -> str:
    from secret_cases import CASES

    lines = [f"FAILED tests/test_x.py::test_y - AssertionError: {case.text}\n" for case in CASES]
    block = "".join(lines)
    return (block * (limit // len(block) + 1))[:limit]


def _keywords(limit: int) -> str:
    line = "api key token auth secret password ey sk curl key-id api-version tokenizer\n"
    return (line * (limit // len(line) + 1))[:limit]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=20, help="megabytes of each kind of text")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus-whole")
    args = parser.parse_args(argv)
    from pipeline_guard.redact import Redactor

    limit = args.mb << 20
    texts = {
        "corpus": _corpus(args.corpus, limit) if args.corpus.is_dir() else "",
        "generated": _generated(limit),
        "secrets": _secrets(limit),
        "keywords": _keywords(limit),
    }
    redactor = Redactor(["an-env-secret-value-1234567890"])
    redactor.redact("warm up the regexes")
    print(f"{'text':<10} {'MB':>6} {'ms/MB':>8} {'changed lines':>14}")
    for name, text in texts.items():
        if not text:
            continue
        best = float("inf")
        for _ in range(args.repeat):
            started = time.perf_counter()
            out = redactor.redact(text)
            best = min(best, time.perf_counter() - started)
        megabytes = len(text.encode("utf-8", "surrogatepass")) / 1e6
        changed = sum(a != b for a, b in zip(text.splitlines(), out.splitlines(), strict=False))
        print(f"{name:<10} {megabytes:>6.1f} {best / megabytes * 1000:>8.0f} {changed:>14}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

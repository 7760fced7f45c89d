"""Wrap every excerpt of a labelled corpus in realistic whole-log noise: a robustness check.

A guard never sees the short excerpts of ``shared/corpus``; it reads whole job logs, where the
failure sits among set-up output, installs that retried and recovered, warnings, passing tests
named after errors and errors printed by steps that succeeded. This script builds such a log
around each excerpt (the excerpt's lines untouched, in the step that fails, followed by that
CI system's exit line), in one of four dialects (GitHub Actions, GitLab, Travis CI, a plain
terminal), chosen per case from a seeded random generator. The output is a corpus of its own
(``labels.jsonl`` with ``chunk_first``/``chunk_last`` on the excerpt, ``cases/<id>.log``), so
``pipeline-guard eval`` scores it like any whole-log corpus:

    python benchmarks/whole_log_noise.py ../shared/corpus /tmp/noisy
    pipeline-guard eval /tmp/noisy --no-model      # compare with: eval ../shared/corpus

Every noise line is something the job survived: a diagnosis that changes because of the
noise (or re-runs a failure because a recovered network warning looks transient) is a defect
of the diagnosis, not of the data.
"""

from __future__ import annotations

import argparse
import json
import random
import re
from collections.abc import Callable
from pathlib import Path

from pipeline_guard.engine.step_tracker import parse_exit

SETUP = (
    "Runner image: ubuntu-22.04 (20240101.1)",
    "# This file MUST be edited with the 'visudo' command as root.",
    "# Please consider adding local content in /etc/sudoers.d/ instead of",
    "# directly modifying this file. See the man page for details on how to write a sudoers",
    "# file. Defaults env_reset, give useful error messages",
    "export CI=true",
    "export ERROR_REPORTING=verbose",
    "export TIMEOUT_SECONDS=600",
    "git clone --depth=50 https://github.com/example/project.git",
    "Cloning into 'project'...",
    "remote: Enumerating objects: 1523, done.",
    "Receiving objects: 100% (1523/1523), 2.01 MiB | 9.80 MiB/s, done.",
)
INSTALL = (
    "Collecting requests==2.31.0",
    "WARNING: Retrying (Retry(total=4, connect=None, read=None, redirect=None, status=None)) "
    "after connection broken by 'ReadTimeoutError(\"HTTPSConnectionPool(host='pypi.org', "
    "port=443): Read timed out. (read timeout=15)\")': /simple/requests/",
    "  Downloading requests-2.31.0-py3-none-any.whl (62 kB)",
    "Successfully installed requests-2.31.0 urllib3-2.1.0",
    "npm WARN retry will retry, error on last attempt: Error: getaddrinfo EAI_AGAIN "
    "registry.npmjs.org",
    "npm WARN deprecated request@2.88.2: request has been deprecated",
    "added 812 packages in 14s",
    "W: Failed to fetch http://ppa.launchpad.net/example/ppa/ubuntu/dists/jammy/InRelease  "
    "Temporary failure resolving 'ppa.launchpad.net'",
    "W: Some index files failed to download. They have been ignored, or old ones used instead.",
    "Reading package lists... Done",
    "curl: (22) The requested URL returned error: 404 Not Found",
    "Binary ruby not found, installing from source instead",
    "Gradle: Could not resolve org.example:lib:1.2. Retrying in 2 seconds (attempt 1 of 3)",
    "BUILD SUCCESSFUL in 12s",
)
WARNINGS = (
    "DeprecationWarning: the imp module is deprecated in favour of importlib",
    "warning: unused variable `timeout_error` [-Wunused-variable]",
    "WARN  [deprecation] Option --no-errors is deprecated",
    "DEBUG: dial tcp 10.0.0.1:5432: i/o timeout (will retry)",
    "[WARNING] Using platform encoding (UTF-8 actually) to copy filtered resources",
    "2 warnings, 0 errors",
)
PASSING = (
    "tests/test_network.py::test_connection_refused_is_retried PASSED          [ 12%]",
    "tests/test_timeout.py::test_timeout_raises_error PASSED                    [ 25%]",
    "tests/test_errors.py::test_out_of_memory_is_reported SKIPPED (needs 8 GB)  [ 37%]",
    "ok 12 - reports ECONNRESET as a network error",
    "--- PASS: TestRateLimitError (0.01s)",
    "  ✓ handles a 503 Service Unavailable from the registry (12 ms)",
    "Tests run: 48, Failures: 0, Errors: 0, Skipped: 0, Time elapsed: 1.2 s",
)
SURVIVED_STEP = (
    "would reformat src/example/module.py",
    "Oh no! 💥 💔 💥 1 file would be reformatted, 41 files would be left unchanged.",
    "src/example/util.py:12:1: F401 'os' imported but unused",
    "ERROR: Could not open requirements file: [Errno 2] No such file or directory: "
    "'requirements-optional.txt'",
)
"""Errors printed by a step that succeeded (``continue-on-error``, ``|| true``)."""

Writer = Callable[[list[str], random.Random], tuple[list[str], int, int]]


def _github(failing: list[str], rng: random.Random) -> tuple[list[str], int, int]:
    stamp = "2024-01-01T10:00:00.0000000Z "
    lines = [stamp + "##[group]Run actions/checkout@v4", *(stamp + s for s in SETUP)]
    lines += [stamp + "##[endgroup]", stamp + "##[group]Run pip install -r requirements.txt"]
    lines += [stamp + s for s in INSTALL]
    lines += [stamp + "##[group]Run black --check . || true"]
    lines += [stamp + s for s in SURVIVED_STEP[:2]]
    lines += [stamp + "##[group]Run flake8 src || true"]
    lines += [stamp + SURVIVED_STEP[2]]
    lines += [stamp + "##[group]Run pytest tests/unit", *(stamp + s for s in PASSING)]
    lines += [stamp + s for s in rng.sample(WARNINGS, 3)]
    lines.append(stamp + "##[group]Run ./ci/test.sh")
    first = len(lines) + 1
    lines += failing
    last = len(lines)
    lines.append(stamp + "##[error]Process completed with exit code 1.")
    lines += [
        stamp + "##[group]Post Run actions/checkout@v4",
        stamp + "Cleaning up orphan processes",
    ]
    return lines, first, last


def _gitlab(failing: list[str], rng: random.Random) -> tuple[list[str], int, int]:
    lines = ["section_start:1700000000:prepare_script\r\x1b[0KPreparing environment", *SETUP]
    lines += ["section_end:1700000001:prepare_script\r\x1b[0K"]
    lines += ['section_start:1700000002:step_script\r\x1b[0KExecuting "step_script" stage']
    lines += ["$ pip install -r requirements.txt", *INSTALL, "$ make lint || true", *SURVIVED_STEP]
    lines += ["$ pytest tests/unit", *PASSING, *rng.sample(WARNINGS, 3), "$ ./ci/test.sh"]
    first = len(lines) + 1
    lines += failing
    last = len(lines)
    lines += ["section_end:1700000100:step_script\r\x1b[0K"]
    lines += ["section_start:1700000101:after_script\r\x1b[0KRunning after_script"]
    lines += ["$ ./ci/collect-logs.sh", "cp: cannot stat 'logs/*.log': No such file or directory"]
    lines += ["section_end:1700000102:after_script\r\x1b[0K", "ERROR: Job failed: exit code 1"]
    return lines, first, last


def _travis(failing: list[str], rng: random.Random) -> tuple[list[str], int, int]:
    lines = ["travis_fold:start:system_info\x1b[0KBuild system information", *SETUP]
    lines += [
        "travis_fold:end:system_info\x1b[0K",
        "travis_fold:start:install\x1b[0K$ ./ci/install.sh",
    ]
    lines += [*INSTALL, "travis_fold:end:install\x1b[0K", "$ make lint || true", *SURVIVED_STEP]
    lines += ['The command "make lint || true" exited with 0.', "$ make unit", *PASSING]
    lines += [*rng.sample(WARNINGS, 3), 'The command "make unit" exited with 0.', "$ ./ci/test.sh"]
    first = len(lines) + 1
    lines += failing
    last = len(lines)
    lines += ['The command "./ci/test.sh" exited with 1.', "", "Done. Your build exited with 1."]
    return lines, first, last


def _plain(failing: list[str], rng: random.Random) -> tuple[list[str], int, int]:
    lines = [*SETUP, "+ pip install -r requirements.txt", *INSTALL, "+ make lint", *WARNINGS]
    lines += ["+ pytest tests/unit", *PASSING, "+ ./ci/test.sh"]
    first = len(lines) + 1
    lines += failing
    last = len(lines)
    return lines, first, last


DIALECTS: dict[str, Writer] = {
    "github": _github,
    "gitlab": _gitlab,
    "travis": _travis,
    "plain": _plain,
}


def _dialect_of(excerpt: list[str]) -> str | None:
    """The CI system an excerpt comes from, when it shows (its noise is then of that system)."""
    text = "\n".join(excerpt)
    if "##[" in text or re.search(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", text, re.MULTILINE):
        return "github"
    if "section_start:" in text or "ERROR: Job failed" in text:
        return "gitlab"
    if "travis_" in text or 'The command "' in text:
        return "travis"
    return None


def _ends_itself(excerpt: list[str]) -> bool:
    """Whether the excerpt already holds its job's failing exit line (none is added then)."""
    return any(
        (found := parse_exit(line, 0, None)) is not None and found.failed for line in excerpt
    )


def wrap_corpus(source: Path, out: Path, seed: int) -> int:
    """Write the noisy corpus; return how many cases it holds."""
    rng = random.Random(seed)
    (out / "cases").mkdir(parents=True, exist_ok=True)
    labels = []
    for line in (source / "labels.jsonl").read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        record = json.loads(line)
        excerpt = (source / "cases" / f"{record['id']}.log").read_bytes()
        failing = excerpt.decode("utf-8", "surrogateescape").rstrip("\n").split("\n")
        dialect = _dialect_of(failing) or rng.choice(sorted(DIALECTS))
        lines, first, last = DIALECTS[dialect](failing, rng)
        if _ends_itself(failing):
            lines = lines[:last]
        text = "\n".join(lines) + "\n"
        (out / "cases" / f"{record['id']}.log").write_bytes(text.encode("utf-8", "surrogateescape"))
        labels.append(
            {
                **record,
                "chunk_first": first,
                "chunk_last": last,
                "lines": len(lines),
                "noise": dialect,
            }
        )
    (out / "labels.jsonl").write_text(
        "".join(json.dumps(label) + "\n" for label in labels), encoding="utf-8"
    )
    return len(labels)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", type=Path, help="a corpus with labels.jsonl and cases/<id>.log")
    parser.add_argument("out", type=Path, help="where to write the noisy corpus")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    count = wrap_corpus(args.corpus, args.out, args.seed)
    print(f"wrote {count} noisy whole logs to {args.out}")


if __name__ == "__main__":
    main()

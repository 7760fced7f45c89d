"""Measure the container image: its size and how fast its entrypoint starts.

DESIGN.md: image <= 200 MB, entrypoint ready in <= 1 s. The image is built with
``../shared/tools/container-smoke.sh`` (podman, no registry), so its base is a local stand-in
for ``python:3.11-slim-bookworm``: Debian bookworm with Debian's python3, apt caches and docs
left in, much bigger than the official image. The figure that carries over to GitHub is what
the Dockerfile adds on top of its base; the estimate adds it to the official base's size
(``--official-base-mb``, about 130 MB uncompressed for linux/amd64, as ``docker images`` shows).

Start time, each the median of ``--runs`` runs:
- container: ``podman run --rm --entrypoint true`` (podman and runc alone, no Python);
- ``--version``: ``podman run --entrypoint pipeline-guard IMAGE --version``;
- run 10 KB: the real entrypoint, ``pipeline-guard run --platform local --log-file`` of a
  10 KB log (rules loaded, log diagnosed, report written), wall time of ``podman run``;
- in-container: the same command timed inside one running container, first run and median of
  the rest: the entrypoint's own time, without podman's.

    .venv/bin/python benchmarks/bench_container.py [--runs 7] [--no-build]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from generate_log import generate  # noqa: E402

SMOKE = ROOT.parent / "shared" / "tools" / "container-smoke.sh"
IMAGE = "localhost/pipeline-guard:bench"
BASE = "docker.io/library/python:3.11-slim-bookworm"  # the Dockerfile's FROM, a stand-in here
STATE_DIR = Path(os.environ.get("TMPDIR") or "/tmp") / "pg-tools" / "podman-state"
MB = 1_000_000
# Times the entrypoint inside the container: first run, then the others.
IN_CONTAINER = """
import subprocess, sys, time
times = []
for _ in range(int(sys.argv[1])):
    started = time.perf_counter()
    subprocess.run(sys.argv[2:], check=True, stdout=subprocess.DEVNULL)
    times.append(time.perf_counter() - started)
print(" ".join(f"{t:.4f}" for t in times))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--no-build", action="store_true", help="measure the image as it is")
    parser.add_argument("--official-base-mb", type=float, default=130.0)
    args = parser.parse_args()
    if not args.no_build:
        build()
    env = podman_env()
    sizes(env, args.official_base_mb)
    with tempfile.TemporaryDirectory(prefix="pg-bench-container-") as scratch:
        work = Path(scratch)
        small_log(work / "small.log")
        start_times(env, work, args.runs)


def build() -> None:
    env = {**os.environ, "IMAGE": IMAGE, "FROM_ALIASES": "python:3.11-slim-bookworm"}
    started = time.perf_counter()
    done = subprocess.run(
        [str(SMOKE), str(ROOT), "--help"], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        sys.exit(f"container-smoke.sh failed:\n{done.stderr[-3000:]}")
    print(f"build + smoke run (container-smoke.sh): {time.perf_counter() - started:.1f} s")


def podman_env() -> dict[str, str]:
    """podman on container-smoke.sh's storage: its env.sh, plus its TMPDIR."""
    env = dict(os.environ)
    for line in (STATE_DIR / "env.sh").read_text(encoding="utf-8").splitlines():
        if match := re.fullmatch(r"export (\w+)=(.*)", line.strip()):
            env[match[1]] = match[2]
    env["TMPDIR"] = str(STATE_DIR / "tmp")
    return env


def podman(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(["podman", *args], env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"podman {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout


def sizes(env: dict[str, str], official_base_mb: float) -> None:
    image = json.loads(podman(env, "image", "inspect", IMAGE))[0]["Size"] / MB
    base = json.loads(podman(env, "image", "inspect", BASE))[0]["Size"] / MB
    added = image - base
    print(f"image {IMAGE}: {image:.1f} MB on the local stand-in base ({base:.1f} MB)")
    print(f"  added by the Dockerfile: {added:.1f} MB")
    layers = podman(env, "history", "--format", "{{.Size}}\t{{.CreatedBy}}", IMAGE).splitlines()
    base_layers = len(podman(env, "history", "--quiet", BASE).splitlines())
    for line in layers[: len(layers) - base_layers]:  # newest first; the base's are last
        size, _, created = line.partition("\t")
        if size.strip() not in ("0B", "0 B"):
            print(f"    {size:>9}  {created.removeprefix('/bin/sh -c ')[:90]}")
    estimate = official_base_mb + added
    verdict = "ok" if estimate <= 200 else "OVER"
    print(
        f"  on the official base (~{official_base_mb:.0f} MB): ~{estimate:.0f} MB "
        f"[target 200 MB: {verdict}]"
    )


def small_log(path: Path) -> None:
    generate(path.with_suffix(".big"), 1)
    path.write_bytes(path.with_suffix(".big").read_bytes()[:10_000].rsplit(b"\n", 1)[0] + b"\n")
    path.with_suffix(".big").unlink()


def timed(env: dict[str, str], command: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        times.append(time.perf_counter() - started)
        if done.returncode != 0:
            sys.exit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return times


def start_times(env: dict[str, str], work: Path, runs: int) -> None:
    mount = ["-v", f"{work}:/github/workspace", "--workdir", "/github/workspace"]
    entry = ["--platform", "local", "--log-file", "small.log", "--report", "/tmp/report.json"]
    cases = {
        "container (entrypoint true)": ["--entrypoint", "true", IMAGE],
        "pipeline-guard --version": ["--entrypoint", "pipeline-guard", IMAGE, "--version"],
        "run --platform local, 10 KB log": [*mount, IMAGE, *entry],
    }
    medians = {}
    for name, args in cases.items():
        times = timed(env, ["podman", "run", "--rm", *args], runs)
        medians[name] = statistics.median(times)
        print(f"podman run, {name}: median {medians[name]:.3f} s ({_list(times)})")
    inside = podman(
        env,
        "run",
        "--rm",
        *mount,
        "--entrypoint",
        "python",
        IMAGE,
        "-c",
        IN_CONTAINER,
        str(runs + 1),
        "pipeline-guard",
        "run",
        *entry,
    )
    times = [float(value) for value in inside.split()]
    print(
        f"in the container, pipeline-guard run of the 10 KB log: first {times[0]:.3f} s, "
        f"then median {statistics.median(times[1:]):.3f} s ({_list(times[1:])}) [target 1 s]"
    )
    overhead = medians["run --platform local, 10 KB log"] - medians["container (entrypoint true)"]
    print(f"entrypoint's share of podman run (run minus container start): {overhead:.3f} s")


def _list(times: list[float]) -> str:
    return ", ".join(f"{t:.2f}" for t in times)


if __name__ == "__main__":
    main()

"""How long a user waits for the guard to start with the published image (pull excluded).

Target (docs/numbers.md): the guard's first output within 1 s of the container starting. A tagged release's
``action.yml`` starts ``docker://ghcr.io/...:X.Y.Z`` (no build), so what the user waits for is
the runner's ``docker run`` plus the guard's start-up until its first line. Measured here with
podman on the image built from this checkout (``container-smoke.sh``, the same image the
release pushes), run the way GitHub runs a Docker action: the workspace mounted at
``/github/workspace``, a log file the job wrote, against no API (``--platform
local``, so nothing waits on a network), the bundled example log of a registry outage. Each run is a fresh container.

- **container**: ``podman run --rm --entrypoint true IMAGE``: podman and runc alone, the floor;
- **first output**: from starting ``podman run`` to the first line the guard prints on stdout;
- **done**: until the container exits (diagnosis, report file written).

Medians of ``--runs`` runs, after one unmeasured warm-up run (the image's layers in the page
cache, as on a runner that just pulled it).

    .venv/bin/python benchmarks/bench_image_start.py [--runs 9] [--image NAME]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
EXAMPLE = ROOT / "examples" / "npm-registry-outage.log"  # a real job's log, about 10 KB

from image_env import built_image, podman_env  # noqa: E402


def first_output(command: list[str]) -> tuple[float, float]:
    """Seconds to the first stdout line and to the exit of ``command``."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command, env=podman_env(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    first = time.perf_counter() - started
    process.stdout.read()
    if process.wait() != 0 or not line:
        raise SystemExit(f"the guard failed: {' '.join(command)}")
    return first, time.perf_counter() - started


def wall(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=podman_env(), check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--image", help="an image already built (default: build this checkout)")
    args = parser.parse_args()
    image = args.image or built_image()
    with tempfile.TemporaryDirectory() as folder:
        workspace = Path(folder)
        (workspace / "job.log").write_bytes(EXAMPLE.read_bytes())
        podman = ["podman", "run", "--rm", "--network", "none"]
        mount = ["-v", f"{workspace}:/github/workspace", "--workdir", "/github/workspace"]
        guard = [*podman, *mount, "-e", "GITHUB_WORKSPACE=/github/workspace", image]
        guard += ["--platform", "local", "--log-file", "job.log"]
        bare = [*podman, "--entrypoint", "true", image]
        wall(bare)
        first_output(guard)
        container = [wall(bare) for _ in range(args.runs)]
        runs = [first_output(guard) for _ in range(args.runs)]
    print(f"image {image}, {args.runs} runs, medians (a loaded machine makes these noisy):")
    print(f"  container start alone      {statistics.median(container):.2f} s")
    print(f"  to the guard's first line  {statistics.median(r[0] for r in runs):.2f} s")
    print(f"  to the container's exit    {statistics.median(r[1] for r in runs):.2f} s")


if __name__ == "__main__":
    main()

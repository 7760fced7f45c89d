"""Rust's lockfile: ``Cargo.lock``, relocked with the ``cargo`` already on ``PATH``."""

from __future__ import annotations

from pathlib import Path

from pipeline_guard.engine.diagnosis import Diagnosis
from pipeline_guard.fixers.jail import Jail
from pipeline_guard.fixers.lockfiles.relock import Relock, Spec, Step, no_tool, owned

COMMAND = "cargo update --workspace"


def _cargo(project: Path, diagnosis: Diagnosis, jail: Jail) -> Relock:
    """``cargo update --workspace`` relocks only the workspace's own packages; other crates
    change only if they are new to the lockfile. ``--locked`` on the same command fails
    when the lockfile would still change, without compiling or downloading crates."""
    del project, diagnosis
    cargo = jail.which("cargo")
    if cargo is None:
        raise no_tool("cargo", COMMAND)
    return Relock(
        fix=Step((str(cargo), "update", "--workspace"), COMMAND),
        verify=Step((str(cargo), "update", "--workspace", "--locked"), f"{COMMAND} --locked"),
        tool="cargo",
    )


CARGO = Spec(("Cargo.lock",), owned("Cargo.lock"), COMMAND, _cargo)

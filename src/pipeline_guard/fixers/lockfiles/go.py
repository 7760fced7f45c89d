"""Go's module files: ``go.mod`` and ``go.sum``, tidied with the ``go`` already on ``PATH``."""

from __future__ import annotations

from pathlib import Path

from pipeline_guard.engine.diagnosis import Diagnosis
from pipeline_guard.fixers.jail import Jail
from pipeline_guard.fixers.lockfiles.relock import Relock, Spec, Step, no_tool, owned

COMMAND = "go mod tidy"


def _go(project: Path, diagnosis: Diagnosis, jail: Jail) -> Relock:
    """``go mod tidy`` adds the missing requirements and sums (minimal version selection never
    raises an existing one); the check is the read-only build list CI failed on."""
    del project, diagnosis
    go = jail.which("go")
    if go is None:
        raise no_tool("go", COMMAND)
    env = {"GOFLAGS": ""}
    check = ("list", "-mod=readonly", "-deps", "-test", "./...")
    return Relock(
        fix=Step((str(go), "mod", "tidy"), COMMAND, env),
        verify=Step((str(go), *check), "go " + " ".join(check), env),
        tool=COMMAND,
    )


GO_MOD = Spec(("go.mod",), owned("go.mod", "go.sum", "go.work.sum"), COMMAND, _go)

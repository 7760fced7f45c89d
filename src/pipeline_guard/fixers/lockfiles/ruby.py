"""Ruby's lockfile: ``Gemfile.lock`` (or ``gems.locked``), with the ``bundle`` on ``PATH``."""

from __future__ import annotations

import re
from pathlib import Path

from pipeline_guard.engine.diagnosis import Diagnosis
from pipeline_guard.fixers.jail import Jail
from pipeline_guard.fixers.lockfiles.relock import Relock, Spec, Step, no_tool, owned

COMMAND = "bundle lock"
_LOCAL_PLATFORM = re.compile(r"your local platform is ([\w.-]+?)\.?(?:\s|$)")


def _bundler(project: Path, diagnosis: Diagnosis, jail: Jail) -> Relock:
    """``bundle lock`` resolves only what the Gemfile changed; a missing platform is added
    with ``--add-platform``. Bundler's frozen mode only warns on some lockfile drift, so the
    check re-runs the fix and requires Gemfile.lock unchanged."""
    del project
    bundle = jail.which("bundle")
    if bundle is None:
        raise no_tool("bundle", COMMAND)
    platform = next(
        (m[1] for e in diagnosis.evidence if (m := _LOCAL_PLATFORM.search(e.text))), None
    )
    args = ("lock", "--add-platform", platform) if platform else ("lock",)
    env = {"BUNDLE_FROZEN": "false", "BUNDLE_DEPLOYMENT": "false"}
    return Relock(
        fix=Step((str(bundle), *args), "bundle " + " ".join(args), env), verify=None, tool="bundler"
    )


BUNDLER = Spec(
    ("Gemfile.lock", "gems.locked"),
    owned("Gemfile.lock", "gems.locked"),
    COMMAND,
    _bundler,
    from_scratch={
        "bundler-lockfile-unreadable": "a conflicted Gemfile.lock can only be regenerated from "
        "scratch, which upgrades every gem; resolve the conflict by hand",
    },
)

"""PHP's lockfile: ``composer.lock``, comment only (the command names what the log lists)."""

from __future__ import annotations

import re

from pipeline_guard.engine.diagnosis import Diagnosis
from pipeline_guard.fixers.lockfiles.relock import Spec, owned

_COMPOSER_PKG = re.compile(r'Required (?:\(in require-dev\) )?package "([^"]+)"')


def _manual(diagnosis: Diagnosis) -> str | None:
    """``composer update <the packages the log says are missing> ...``."""
    packages = sorted({m for e in diagnosis.evidence for m in _COMPOSER_PKG.findall(e.text)})
    if not packages:
        return None
    return f"composer update {' '.join(packages)} --no-install --no-scripts --no-plugins"


COMPOSER = Spec(
    ("composer.lock",),
    owned("composer.lock"),
    "composer update --lock --no-install --no-scripts --no-plugins",
    reason="which packages to update is a judgement call (the log may name them), composer "
    "plugins are code from the dependencies, and no PHP toolchain is installed here",
    manual_for=_manual,
)

"""The one cache directory of pipeline-guard, worked out from the environment the CLI read.

A leaf: the CLI reads the environment once and passes the directory down, to the rule cache
(:mod:`pipeline_guard.engine.rule_cache`) and to the fixers' tool environments
(:mod:`pipeline_guard.fixers.tools`), so nothing below the CLI reads ``os.environ`` for it.

``PIPELINE_GUARD_CACHE_DIR`` wins; ``off`` turns caching off (``None``); otherwise
``$XDG_CACHE_HOME/pipeline-guard``, else ``$HOME/.cache/pipeline-guard``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

OFF = "off"


def cache_dir(env: Mapping[str, str]) -> Path | None:
    """Where pipeline-guard keeps what it may rebuild; ``None`` when the user said ``off``."""
    configured = env.get("PIPELINE_GUARD_CACHE_DIR", "").strip()
    if configured:
        return None if configured.lower() == OFF else Path(configured)
    base = env.get("XDG_CACHE_HOME") or str(Path(env.get("HOME") or Path.home()) / ".cache")
    return Path(base) / "pipeline-guard"

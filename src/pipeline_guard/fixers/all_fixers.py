"""The fixer registry, like pre-commit's ``all_languages``: a literal dict of plain modules.

The guard asks :func:`fixer_for` for the module that handles a diagnosis' fix id (the rule's
``fix:`` field) and never imports a fixer module by name. Adding a fixer is one import and
one line here; :data:`fixers` is explicit, greppable and type-checked against
:class:`~pipeline_guard.fixers.base.Fixer`.
"""

from __future__ import annotations

from pipeline_guard.fixers import action_versions, formatters, lockfiles
from pipeline_guard.fixers.base import Fixer

fixers: dict[str, Fixer] = {
    "formatters": formatters,
    "lockfiles": lockfiles,
    "action_versions": action_versions,
}
fixer_names = sorted(fixers)


def fix_ids() -> frozenset[str]:
    """Every fix id some fixer handles: the policy opens fix PRs only for these."""
    return frozenset(fix_id for fixer in fixers.values() for fix_id in fixer.FIX_IDS)


def fixer_for(fix_id: str) -> Fixer | None:
    """The fixer module that handles ``fix_id``, or ``None`` when no fixer does (the guard
    then comments instead of opening a fix PR)."""
    for fixer in fixers.values():
        if fix_id in fixer.FIX_IDS:
            return fixer
    return None

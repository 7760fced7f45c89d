"""The forge registry: a literal mapping from platform name to module, like pre-commit's
``all_languages``. The guard asks here; it never imports a forge module by name."""

from __future__ import annotations

from collections.abc import Mapping

from pipeline_guard.errors import UsageError
from pipeline_guard.forges import github, gitlab, local
from pipeline_guard.forges.base import ForgeModule

forges: dict[str, ForgeModule] = {
    "github": github,
    "gitlab": gitlab,
    "local": local,
}
forge_names = sorted(forges)


def forge_for(env: Mapping[str, str], platform: str | None) -> ForgeModule:
    """The forge named by ``--platform``, else the one the environment belongs to, else local."""
    if platform:
        if platform not in forges:
            raise UsageError(f"--platform: {platform!r} is not one of {', '.join(forge_names)}")
        return forges[platform]
    for module in forges.values():
        if module.detect(env):
            return module
    return forges["local"]

"""``pipeline-guard digest``: the CI-health digest of the last N days from the history store,
printed (markdown or JSON) and, with ``--publish``, kept as one issue of the repository on the
forge (created once, then edited in place, like the PR comment).

Run it on a schedule (``examples/github/digest.yml``, ``examples/gitlab/digest.gitlab-ci.yml``)
with the same ``history.url`` the guard writes to. Settings come from the command line, else
``INPUT_<NAME>`` / ``PIPELINE_GUARD_<NAME>`` variables, else ``.pipeline-guard.yml``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pipeline_guard.errors import ForgeError, UsageError
from pipeline_guard.forges.all_forges import forge_for
from pipeline_guard.forges.base import IssueKeeper, RunOptions
from pipeline_guard.guard.config import load_config
from pipeline_guard.history.digest import (
    DIGEST_MARKER,
    build_digest,
    digest_json,
    digest_markdown,
    digest_title,
)

FORMATS = ("markdown", "json")


def run(
    *,
    history_url: str | None,
    days: int,
    fmt: str,
    repositories: Sequence[str],
    publish: bool,
    platform: str | None,
    config_path: Path | None,
    env: Mapping[str, str] | None = None,
) -> int:
    env = os.environ if env is None else env
    root = Path(env.get("GITHUB_WORKSPACE") or env.get("CI_PROJECT_DIR") or ".")
    url = (
        history_url
        or env.get("INPUT_HISTORY-URL")
        or env.get("PIPELINE_GUARD_HISTORY_URL")
        or load_config(root, config_path).history.url
    )
    if not url:
        raise UsageError(
            "digest needs a history store: --history-url, PIPELINE_GUARD_HISTORY_URL or "
            "`history.url` in .pipeline-guard.yml"
        )
    if days < 1:
        raise UsageError("--days must be at least 1")
    module = forge_for(env, platform) if publish else None
    context = module.read_context(env, RunOptions(workspace=root)) if module else None
    wanted = list(repositories) or ([context.repository] if context else [])
    from pipeline_guard.history.store import Store  # noqa: PLC0415 - the optional extra

    until = datetime.now(UTC)
    since = until - timedelta(days=days - 1)
    since = since.replace(hour=0, minute=0, second=0, microsecond=0)
    digest = build_digest(
        Store.open(url).records(since, wanted), since=since, until=until, repositories=wanted
    )
    body = digest_markdown(digest)
    print(digest_json(digest) if fmt == "json" else body, end="" if fmt != "json" else "\n")
    if module is not None and context is not None:
        forge = module.connect(context)
        if not isinstance(forge, IssueKeeper):
            raise UsageError(f"--publish: the {module.NAME} platform has no issues to keep")
        try:
            link = forge.upsert_issue(digest_title(digest), DIGEST_MARKER, body)
        except ForgeError as exc:
            print(f"pipeline-guard: error: {exc}", file=sys.stderr)
            return 1
        print(f"pipeline-guard: digest issue: {link}", file=sys.stderr)
    return 0

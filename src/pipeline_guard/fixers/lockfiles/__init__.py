"""Lockfile fixers: bring a stale lockfile back in line with its manifest, and nothing more.

A CI job that installs with a frozen lockfile (``npm ci``, ``pnpm install --frozen-lockfile``,
``uv sync --locked``, ``cargo build --locked``, ...) fails when someone edited the manifest and
forgot to commit the regenerated lockfile. The fix is mechanical, but only if it keeps three
promises, which every command below was chosen for:

* **No code runs.** Install scripts are disabled or never reached (lockfile-only modes), so a
  dependency cannot execute anything on the runner.
* **Nothing is upgraded** that the manifest does not ask for: each tool's *minimal* relock is
  used (npm/pnpm keep satisfying locked versions, ``poetry lock`` ≥ 2 / ``--no-update`` < 2,
  ``uv lock`` without ``--upgrade``, ``cargo update --workspace``), never "regenerate from
  scratch". Where a tool cannot promise that (pipenv re-resolves everything) or the repair is
  a judgement call (composer, a conflicted Gemfile.lock, a missing lockfile), the fixer stays a
  comment: :class:`FixUnavailable` carries the exact command for a person.
* **Only lockfiles change** (the guard checks that against git after the run, in
  :mod:`pipeline_guard.guard.fix_request`), and the frozen check that failed in CI is run
  again and must pass (or, where no read-only check exists, re-running the fix
  must leave the lockfile unchanged).

Where the log names the manifest or lockfile (pnpm, cargo), the tool runs in the folder that
owns that lockfile; otherwise every folder with the lockfile is checked and the stale ones are
fixed, which covers monorepos whose CI ran in a sub-folder.

The package is laid out like pre-commit's ``languages/``: :mod:`.relock` holds the flow every
ecosystem shares (find the projects, pre-check, relock, verify) and the :class:`.relock.Spec`
each fix id is described by; one module per ecosystem family (:mod:`.node`, :mod:`.python`,
:mod:`.rust`, :mod:`.go`, :mod:`.ruby`, :mod:`.php`) holds only what differs: its specs and
how to plan its commands. :data:`SPECS` is the literal registry.
"""

from __future__ import annotations

from pipeline_guard.engine.diagnosis import Diagnosis
from pipeline_guard.errors import FixError
from pipeline_guard.fixers.base import FixResult, FixSite
from pipeline_guard.fixers.lockfiles import go, node, php, python, ruby, rust
from pipeline_guard.fixers.lockfiles.relock import Spec, fix_stale

SPECS: dict[str, Spec] = {
    "npm-lockfile": node.NPM,
    "pnpm-lockfile": node.PNPM,
    "yarn-lockfile": node.YARN,
    "poetry-lock": python.POETRY,
    "uv-lock": python.UV,
    "pipenv-lock": python.PIPENV,
    "cargo-lock": rust.CARGO,
    "go-mod-tidy": go.GO_MOD,
    "bundler-lock": ruby.BUNDLER,
    "composer-lock": php.COMPOSER,
}
FIX_IDS: frozenset[str] = frozenset(SPECS)


def owned_files(fix_id: str) -> tuple[str, ...]:
    """Glob patterns (``**/`` for any folder) of the only files this fix may change."""
    return _spec(fix_id).owned


def apply(fix_id: str, diagnosis: Diagnosis, site: FixSite) -> FixResult:
    """Relock every stale project the diagnosis points at and prove the frozen check passes."""
    return fix_stale(fix_id, _spec(fix_id), diagnosis, site)


def _spec(fix_id: str) -> Spec:
    try:
        return SPECS[fix_id]
    except KeyError:
        raise FixError(f"lockfiles: unknown fix id {fix_id!r}") from None

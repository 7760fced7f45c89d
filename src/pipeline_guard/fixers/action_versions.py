"""The ``action-versions`` fixer: move retired GitHub Actions versions to their replacement.

GitHub fails a job outright when it uses a retired version of some actions ("This request
has been automatically failed because it uses a deprecated version of
`actions/upload-artifact: v3`"). Which versions are retired, and what replaces them, is data
that changes with GitHub's announcements, so it lives in the rule pack
(``rules/fixes/action-versions.json``, with a reason and a source per action), not in code.

The rewrite is textual: only the version after ``@`` on a ``uses:`` line changes, so comments,
quoting, indentation and line endings stay byte for byte. Workflows
(``.github/workflows/*.yml|yaml``) and composite actions (``action.yml|yaml``) are fixed, as a
retired action inside a local composite action fails the job just the same.

A ``uses:`` pinned to a commit SHA is never rewritten, even when its ``# v3.1.0`` comment names
a retired version: the new SHA must come from the action's repository (which this fixer does
not contact), and swapping a SHA pin for a moving tag would silently weaken the repo's
supply-chain policy. When the failing log names such a SHA, the fixer is comment-only
(:class:`FixUnavailable` saying which version to pin instead); other SHA pins with a retired
comment are counted in the summary for review.

Pushing the result needs a token with the ``workflows`` permission: GitHub refuses changes to
``.github/workflows/`` from ``GITHUB_TOKEN``.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from pipeline_guard.engine.diagnosis import Diagnosis
from pipeline_guard.engine.log_reader import lines_with
from pipeline_guard.engine.rule import bundled_rules_dir
from pipeline_guard.errors import ConfigError, FixError, FixUnavailable
from pipeline_guard.fixers.base import FixResult, FixSite, is_owned
from pipeline_guard.fixers.git import tracked_files
from pipeline_guard.fixers.repo_files import inside, read_text, write_text

FIX_IDS: frozenset[str] = frozenset({"action-versions"})
OWNED = (
    ".github/workflows/**",
    "action.yml",
    "action.yaml",
    "**/action.yml",
    "**/action.yaml",
)
TABLE = "fixes/action-versions.json"
WORKFLOWS_NOTE = "pushing it needs a token with the `workflows` permission (GITHUB_TOKEN cannot)"

# `uses: owner/repo[/path]@ref` with optional quotes, then the rest of the line (comments).
_USES = re.compile(
    r"""(?P<head>^[ \t]*(?:-[ \t]+)?uses:[ \t]*(?P<quote>['"]?))"""
    r"(?P<repo>[\w.-]+/[\w.-]+)(?P<path>/[^@\s'\"#]*)?@(?P<ref>[^\s'\"#]+)"
    r"(?P<tail>(?P=quote).*)$",
    re.MULTILINE,
)
_SHA = re.compile(r"[0-9a-f]{40}")
_COMMENT_VERSION = re.compile(r"#\s*(?:tag=|frozen:\s*)?(v\d[\w.-]*)")
_LOG_NAMED = re.compile(r"deprecated version of `(?P<action>[^`:]+): (?P<ref>[^`]+)`")


class Retirement(BaseModel):
    """One action's retired versions and the version that replaces them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    action: str  # owner/repo
    retired: tuple[str, ...]  # version prefixes: "v3" covers v3.1.2 and v3-node20
    replacement: str
    reason: str
    source: str

    def retires(self, ref: str) -> bool:
        """Whether a ref (``v3``, ``v3.1.2``, ``v3-node20``) is one of the retired versions."""
        return any(
            ref == prefix or ref.startswith((prefix + ".", prefix + "-")) for prefix in self.retired
        )


class RetirementTable(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    about: str = ""
    actions: tuple[Retirement, ...]


def load_table(path: Path | None = None) -> dict[str, Retirement]:
    """The retirement table of the rule pack, by lower-case ``owner/repo``."""
    path = path or bundled_rules_dir() / TABLE
    try:
        table = RetirementTable.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, ValidationError) as exc:
        raise ConfigError(f"{path}: invalid action-versions table: {exc}") from None
    return {entry.action.lower(): entry for entry in table.actions}


def owned_files(fix_id: str) -> tuple[str, ...]:
    """Workflows and composite action definitions."""
    return OWNED if fix_id in FIX_IDS else ()


@dataclass(frozen=True)
class Use:
    """One ``uses:`` of a retired version found in a file."""

    path: str
    line: int
    action: str  # owner/repo[/path] as written
    ref: str
    replacement: str
    pinned: bool  # a SHA pin whose comment names the retired version


def find_retired(text: str, path: str, table: dict[str, Retirement]) -> list[Use]:
    """Every ``uses:`` in a workflow text that names a retired version (tag or SHA comment)."""
    found: list[Use] = []
    for match in _USES.finditer(text):
        entry = table.get(match["repo"].lower())
        if entry is None:
            continue
        ref, pinned = match["ref"], False
        if _SHA.fullmatch(ref):
            comment = _COMMENT_VERSION.search(match["tail"])
            if comment is None:
                continue
            ref, pinned = comment.group(1), True
        if entry.retires(ref):
            line = text.count("\n", 0, match.start()) + 1
            action = match["repo"] + (match["path"] or "")
            found.append(Use(path, line, action, ref, entry.replacement, pinned))
    return found


def rewrite(text: str, table: dict[str, Retirement]) -> str:
    """The text with every retired tag replaced; nothing but the ref changes."""

    def replace(match: re.Match[str]) -> str:
        entry = table.get(match["repo"].lower())
        if entry is None or _SHA.fullmatch(match["ref"]) or not entry.retires(match["ref"]):
            return match[0]
        start, end = match.span("ref")
        offset = match.start()
        return match[0][: start - offset] + entry.replacement + match[0][end - offset :]

    return _USES.sub(replace, text)


def _read(workspace: Path, relative: str) -> str:
    """A workflow's text with its newline style kept (CRLF stays CRLF); a workflow that is a
    symlink, or lies under one, is refused: its content is not the checkout's to rewrite."""
    text = read_text(inside(workspace, relative))
    if text is None:
        raise FixError(f"cannot read {relative} as a regular UTF-8 file of the checkout")
    return text


def _workflow_files(workspace: Path) -> list[str]:
    return [path for path in tracked_files(workspace) if is_owned(path, OWNED)]


def named_in_log(log: Path | None) -> list[tuple[str, str]]:
    """The (action, version) pairs GitHub's "deprecated version of" errors name."""
    named: dict[tuple[str, str], None] = {}
    if log is None:
        return []
    for text in lines_with(str(log), (b"deprecated version of",)):
        for match in _LOG_NAMED.finditer(text):
            named[(match["action"].strip(), match["ref"].strip())] = None
    return list(named)


def _refuse_unfixable(named: list[tuple[str, str]], table: dict[str, Retirement]) -> None:
    """Comment-only when the log blames a SHA pin or a version the table does not know."""
    for action, ref in named:
        repo = "/".join(action.split("/")[:2]).lower()
        entry = table.get(repo)
        target = entry.replacement if entry else "a supported version"
        if _SHA.fullmatch(ref):
            raise FixUnavailable(
                f"the log blames {action} pinned to commit {ref[:12]}; pipeline-guard does not "
                "replace SHA pins",
                f"pin {action} to the commit SHA of its {target} release, keeping the comment",
            )
        if entry is None or not entry.retires(ref):
            raise FixUnavailable(
                f"{action} {ref} is not in the retired-versions table of the rule pack",
                f"update `uses: {action}@{ref}` to {target} in .github/workflows/",
            )


def apply(fix_id: str, diagnosis: Diagnosis, site: FixSite) -> FixResult:
    """Rewrite retired tags in the workspace's workflows, then prove it: every changed file
    still parses as YAML and no retired tag is left in any workflow."""
    if fix_id not in FIX_IDS:
        raise FixError(f"action_versions: unknown fix id {fix_id!r}")
    workspace = site.workspace
    table = load_table()
    _refuse_unfixable(named_in_log(site.log), table)
    files = _workflow_files(workspace)
    uses = [use for path in files for use in find_retired(_read(workspace, path), path, table)]
    tags = [use for use in uses if not use.pinned]
    if not tags:
        raise FixError("no retired action version to rewrite in the workflows of this checkout")
    changed = sorted({use.path for use in tags})
    for path in changed:
        write_text(workspace, path, rewrite(_read(workspace, path), table))
    verification = _verify(workspace, files, changed, table, tags)
    return FixResult(
        fixer=fix_id,
        summary=_summary(tags, [use for use in uses if use.pinned], changed),
        verification=verification,
        command=_command(tags),
    )


def _verify(
    workspace: Path,
    files: list[str],
    changed: list[str],
    table: dict[str, Retirement],
    tags: list[Use],
) -> str:
    for path in changed:
        try:
            yaml.safe_load(_read(workspace, path))
        except (yaml.YAMLError, RecursionError) as exc:
            raise FixError(f"{path} no longer parses as YAML after the rewrite: {exc}") from None
    left = [
        use
        for path in files
        for use in find_retired(_read(workspace, path), path, table)
        if not use.pinned
    ]
    if left:
        first = left[0]
        raise FixError(f"{first.path}:{first.line} still uses {first.action}@{first.ref}")
    lines = [
        f"{use.path}:{use.line}: {use.action}@{use.ref} -> {use.action}@{use.replacement}"
        for use in tags
    ]
    lines.append(
        f"checked {len(files)} workflow file(s): all changed files parse as YAML, "
        "no retired action version is left"
    )
    return "\n".join(lines)


def _summary(tags: list[Use], pinned: list[Use], changed: list[str]) -> str:
    moves = sorted({f"{use.action} {use.ref} -> {use.replacement}" for use in tags})
    text = f"Update retired GitHub Actions versions ({', '.join(moves)})"
    if pinned:
        text += f"; {len(pinned)} SHA-pinned use(s) of retired versions left for review"
    if any(path.startswith(".github/workflows/") for path in changed):
        text += f"; {WORKFLOWS_NOTE}"
    return text


def _command(tags: list[Use]) -> str:
    """The same edit as ``sed`` commands, for people who want to make it by hand."""
    by_file: dict[str, dict[str, str]] = {}
    for use in tags:
        old = f"{use.action}@{use.ref}"
        by_file.setdefault(use.path, {})[old] = f"{use.action}@{use.replacement}"
    commands = []
    for path, moves in by_file.items():
        script = "; ".join(
            f"s,{_sed_escape(old)}\\([^A-Za-z0-9._-]\\|$\\),{new}\\1,g"
            for old, new in moves.items()
        )
        commands.append(f"sed -i {shlex.quote(script)} {shlex.quote(path)}")
    return " && ".join(commands)


def _sed_escape(text: str) -> str:
    """``text`` as a literal in a sed basic regex delimited by ``,``."""
    return re.sub(r"([.\[\]*^$\\,])", r"\\\1", text)

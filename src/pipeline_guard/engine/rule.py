"""Rules: their schema, and loading the bundled pack plus repo-local rules.

A rule file is YAML with one top-level key, ``rules``, a list of rules (see the README for
the format). Files are validated with pydantic; any problem is reported as one line that
names the file, the rule id and the field, never as a traceback.

Patterns use RE2 syntax (the Python ``re`` syntax minus backreferences and lookaround) and are
matched by RE2, whose running time is linear in the length of the line: a rule cannot hang the
tool however it is written, which matters because rules come from files that repo owners
control.

The bundled pack lives in the top-level ``rules/`` folder of the source tree and inside the
installed package (``pipeline_guard/bundled/rules``). Repo-local rules in
``.pipeline-guard/rules/`` and any ``--rules DIR`` are loaded after it, in that order; a rule
whose id is already known replaces the earlier one.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

import re2
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from pipeline_guard.categories import DEFAULT_PRIORITY, Category
from pipeline_guard.engine import rule_cache
from pipeline_guard.engine.needle import (
    MIN_KEYWORD,
    Needle,
    derive_needles,
    literal_needle,
    remember_needles,
)
from pipeline_guard.errors import ConfigError, RuleError

REPO_RULES_DIR = Path(".pipeline-guard") / "rules"
MAX_WINDOW = 20

RuleId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]*$", max_length=80)]


def re2_options() -> Any:
    """RE2 options for every rule pattern: quiet on errors, bounded DFA memory."""
    options = re2.Options()
    options.log_errors = False
    options.max_mem = 64 << 20
    return options


class Examples(BaseModel):
    """Log lines the rule must match and lines it must not (``rules test`` runs them)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    match: list[str] = Field(min_length=1)
    no_match: list[str] = Field(min_length=1)


class Rule(BaseModel):
    """One way a CI job fails, how to recognise it, and what to tell the maintainer."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: RuleId
    category: Category
    title: str = Field(min_length=1, max_length=120)
    patterns: list[str] = Field(min_length=1)
    keywords: list[Annotated[str, Field(min_length=2)]] | None = None
    explain: str = Field(min_length=1)
    advice: str = Field(min_length=1)
    fix: str | None = None
    priority: int | None = Field(default=None, ge=0, le=100)
    confidence: float = Field(default=0.9, ge=0.0, le=1.0)
    window: int = Field(default=1, ge=1, le=MAX_WINDOW)
    severity: Literal["error", "wrapper", "warning"] = "error"
    recovered_when: list[str] = Field(default_factory=list)
    examples: Examples
    source: str = Field(default="", exclude=True, repr=False)

    @field_validator("patterns")
    @classmethod
    def _compile(cls, patterns: list[str]) -> list[str]:
        for index, pattern in enumerate(patterns):
            try:
                re2.compile(pattern, re2_options())
            except re2.error as exc:
                detail = (
                    exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc
                )
                raise ValueError(
                    f"pattern {index + 1} is not a valid RE2 regex: {detail}"
                ) from None
        return patterns

    @field_validator("recovered_when")
    @classmethod
    def _compile_recovery(cls, patterns: list[str]) -> list[str]:
        for index, pattern in enumerate(patterns):
            try:
                re2.compile(pattern, re2_options())
            except re2.error:
                raise ValueError(f"pattern {index + 1} is not a valid RE2 regex") from None
        return patterns

    @field_validator("category")
    @classmethod
    def _not_unknown(cls, category: Category) -> Category:
        if category is Category.UNKNOWN:
            raise ValueError("a rule cannot have category 'unknown'")
        return category

    @property
    def rank(self) -> int:
        """The rule's priority, or its category's default."""
        return self.priority if self.priority is not None else DEFAULT_PRIORITY[self.category]

    @cached_property
    def extracts_tests(self) -> bool:
        """Whether a pattern names failing tests with a ``(?P<test>...)`` group."""
        return any("(?P<test>" in pattern for pattern in self.patterns)


class RuleFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rules: list[dict[str, Any]]


def bundled_rules_dir() -> Path:
    """The bundled pack: inside the installed package, or ``rules/`` of a source checkout."""
    installed = Path(__file__).parents[1] / "bundled" / "rules"
    if installed.is_dir():
        return installed
    return Path(__file__).resolve().parents[3] / "rules"


def load_rules(
    extra_dirs: Sequence[Path] = (), *, bundled: bool = True, repo_root: Path | None = None
) -> list[Rule]:
    """The bundled pack, then repo-local rules, then ``extra_dirs``; later ids replace earlier."""
    dirs: list[Path] = []
    if bundled:
        dirs.append(bundled_rules_dir())
    local = (repo_root or Path.cwd()) / REPO_RULES_DIR
    if local.is_dir():
        dirs.append(local)
    for directory in extra_dirs:
        if not directory.exists():
            raise ConfigError(f"{directory}: rules directory not found")
        dirs.append(directory)
    by_id: dict[str, Rule] = {}
    for directory in dirs:
        for rule in load_rule_dir(directory):
            by_id[rule.id] = rule
    return list(by_id.values())


def load_rule_dir(directory: Path) -> list[Rule]:
    """Every rule of every ``*.yml``/``*.yaml`` file of a folder (or of one file), in order."""
    if directory.is_file():
        return load_rule_file(directory)
    files = sorted([*directory.rglob("*.yml"), *directory.rglob("*.yaml")])
    rules: list[Rule] = []
    seen: dict[str, Path] = {}
    for path in files:
        for rule in load_rule_file(path):
            if rule.id in seen:
                raise RuleError(f"{path}: rule {rule.id}: id already used in {seen[rule.id]}")
            seen[rule.id] = path
            rules.append(rule)
    return rules


def load_rule_file(path: Path) -> list[Rule]:
    """Parse and validate one rule file; any problem is one :class:`RuleError` line.

    A file loaded before with the same bytes comes from :mod:`pipeline_guard.engine.rule_cache`.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RuleError(f"{path}: cannot read: {exc.strerror or exc}") from None
    cached = rule_cache.read_entry(data)
    if cached is not None:
        remember_needles(rule_cache.needles_from(cached))
        return [_construct(path, raw) for raw in cached["rules"]]
    rules = _parse_rule_file(path, data)
    needles = {pattern: derive_needles(pattern) for rule in rules for pattern in rule.patterns}
    for rule in rules:
        rule_needles(rule)  # a pattern with nothing to scan for is a rule error
    rule_cache.write_entry(data, [rule.model_dump(mode="json") for rule in rules], needles)
    return rules


def _construct(path: Path, raw: dict[str, Any]) -> Rule:
    """A rule from the cache, validated when it was cached: no need to do it again."""
    fields = {
        **raw,
        "category": Category(raw["category"]),
        "examples": Examples.model_construct(**raw["examples"]),
        "source": str(path),
    }
    return Rule.model_construct(**fields)


def rule_needles(rule: Rule) -> list[Needle]:
    """What the prefilter looks for on behalf of a rule: its keywords, or derived needles.

    Raises :class:`RuleError` for a pattern with nothing to scan for, naming the rule.
    """
    if rule.keywords:
        return [literal_needle(keyword) for keyword in rule.keywords]
    needles: list[Needle] = []
    for index, pattern in enumerate(rule.patterns, start=1):
        derived = derive_needles(pattern)
        if derived is None:
            raise RuleError(
                f"{rule.source or '(rules)'}: rule {rule.id}: patterns: pattern {index} contains "
                f"no literal text of {MIN_KEYWORD}+ characters to scan for; add `keywords:`"
            )
        needles.extend(derived)
    return needles


def _parse_rule_file(path: Path, data: bytes) -> list[Rule]:
    import yaml  # noqa: PLC0415 - only a cache miss needs the parser (start-up time)

    try:
        document = yaml.load(data.decode("utf-8"), Loader=_yaml_loader())
    except UnicodeDecodeError:
        raise RuleError(f"{path}: not UTF-8 text") from None
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" line {where.line + 1}:" if where is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise RuleError(f"{path}:{line} invalid YAML: {problem}") from None
    if document is None:
        return []
    try:
        rule_file = RuleFile.model_validate(document)
    except ValidationError as exc:
        raise RuleError(f"{path}: {_first_error(exc)}") from None
    return [_validate_rule(path, index, raw) for index, raw in enumerate(rule_file.rules)]


def _validate_rule(path: Path, index: int, raw: dict[str, Any]) -> Rule:
    rule_id = raw.get("id") if isinstance(raw.get("id"), str) else f"#{index + 1}"
    try:
        rule = Rule.model_validate(raw)
    except ValidationError as exc:
        raise RuleError(f"{path}: rule {rule_id}: {_first_error(exc)}") from None
    return rule.model_copy(update={"source": str(path)})


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    field = ".".join(str(part) for part in error["loc"]) or "(top level)"
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown field"
    elif error["type"] == "missing":
        message = "required field missing"
    return f"{field}: {message}"


def _yaml_loader() -> Any:
    """libyaml's loader when PyYAML has it (several times faster), else the Python one."""
    import yaml  # noqa: PLC0415 - see _parse_rule_file

    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)

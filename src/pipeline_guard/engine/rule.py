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
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import re2

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
from pipeline_guard.limits import MAX_RULE_FILE_BYTES, InputRefused, check_depth, read_bounded

REPO_RULES_DIR = Path(".pipeline-guard") / "rules"
MAX_WINDOW = 20


def re2_options() -> Any:
    """RE2 options for every rule pattern: quiet on errors, bounded DFA memory."""
    options = re2.Options()
    options.log_errors = False
    options.max_mem = 64 << 20
    return options


Severity = Literal["error", "wrapper", "warning"]


@dataclass(frozen=True)
class Explained:
    """A few lines of log and the line the evidence must show first (a rule's ``details`` or
    ``wraps`` at work): ``rules test`` diagnoses ``log`` with the whole pack."""

    log: str
    first: str


@dataclass(frozen=True)
class Examples:
    """Log lines the rule must match and lines it must not (``rules test`` runs them)."""

    match: list[str]
    no_match: list[str]
    explained: list[Explained] = field(default_factory=list)


@dataclass(frozen=True)
class Details:
    """Where a test runner explains a failure further down the log than the line that named it.

    pytest names a failing test on its progress line and explains it in the FAILURES section
    (``____ test_x ____``, then ``E   `` lines); Go prints a parent ``--- FAIL: TestX`` before
    the nested ``--- FAIL: TestX/case`` that failed; mocha's ``1 failing`` precedes
    ``1) suite title:`` and the error. The explanation is what the reader needs (and what
    people mark as the reason), so diagnosis shows it first (see :mod:`.specific_error`).
    """

    header: str
    """RE2 pattern of the line below the match where the explanation begins; ``{test}`` stands
    for the failing test's own name (the last ``::`` part of what the rule captured)."""
    error: str | None = None
    """RE2 pattern of the line of the explanation to show first; None: the header itself."""
    lines: int = 400
    """How many lines below the header ``error`` is looked for."""

    def header_for(self, test: str | None) -> str | None:
        """The header pattern for one failing test (None: it needs a test the match lacks)."""
        if TEST_PLACEHOLDER not in self.header:
            return self.header
        if not test:
            return None
        return self.header.replace(TEST_PLACEHOLDER, re2.escape(test_leaf(test)))

    def next_header(self) -> str | None:
        """Where the next test's explanation begins, for a header naming the test; None for a
        header that does not (a repeated ``= note:`` continues the same explanation). A name
        holds something besides blanks and underscores (pytest separates the frames of one
        traceback with ``_ _ _ _``)."""
        if TEST_PLACEHOLDER not in self.header:
            return None
        return self.header.replace(TEST_PLACEHOLDER, r".*[^\s_].*")


TEST_PLACEHOLDER = "{test}"


def test_leaf(test: str) -> str:
    """A test's own name: ``tests/test_a.py::TestCls::test_x`` -> ``test_x``."""
    return test.rsplit("::", 1)[-1]


@dataclass(frozen=True)
class Rule:
    """One way a CI job fails, how to recognise it, and what to tell the maintainer.

    A plain dataclass, not a pydantic model: rule files are validated by
    :mod:`pipeline_guard.engine.rule_schema` when they are first read, and every later start
    builds rules from the rule cache, so ``analyze`` never pays pydantic's import (about
    0.1 s of a 0.3 s start).
    """

    id: str
    category: Category
    title: str
    patterns: list[str]
    explain: str
    advice: str
    examples: Examples
    keywords: list[str] | None = None
    fix: str | None = None
    priority: int | None = None
    confidence: float = 0.9
    window: int = 1
    severity: Severity = "error"
    recovered_when: list[str] = field(default_factory=list)
    details: Details | None = None
    wraps: list[str] = field(default_factory=list)
    """For a wrapper: RE2 patterns of the lines it sums up, printed above it (GHC's warnings
    above ``Failing due to -Werror``); the first of them is shown first."""
    source: str = field(default="", repr=False, compare=False)

    @property
    def rank(self) -> int:
        """The rule's priority, or its category's default."""
        return self.priority if self.priority is not None else DEFAULT_PRIORITY[self.category]

    @cached_property
    def extracts_tests(self) -> bool:
        """Whether a pattern names failing tests with a ``(?P<test>...)`` group."""
        return any("(?P<test>" in pattern for pattern in self.patterns)

    def as_json(self) -> dict[str, Any]:
        """The rule as the rule cache keeps it (every field but ``source``)."""
        data = asdict(self)
        data.pop("source")
        data["category"] = self.category.value
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any], source: str = "") -> Rule:
        """A rule from :meth:`as_json` output, which was validated when it was written."""
        fields = {
            **data,
            "category": Category(data["category"]),
            "examples": Examples(
                data["examples"]["match"],
                data["examples"]["no_match"],
                [Explained(**each) for each in data["examples"].get("explained", [])],
            ),
            "details": Details(**data["details"]) if data.get("details") else None,
            "source": source,
        }
        return cls(**fields)


def bundled_rules_dir() -> Path:
    """The bundled pack: inside the installed package, or ``rules/`` of a source checkout."""
    installed = Path(__file__).parents[1] / "bundled" / "rules"
    if installed.is_dir():
        return installed
    return Path(__file__).resolve().parents[3] / "rules"


def load_rules(
    extra_dirs: Sequence[Path] = (),
    *,
    bundled: bool = True,
    repo_root: Path | None = None,
    cache: Path | None = None,
) -> list[Rule]:
    """The bundled pack, then repo-local rules, then ``extra_dirs``; later ids replace earlier.
    ``cache``: the rule cache's directory (:mod:`.rule_cache`), None for no cache."""
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
        for rule in load_rule_dir(directory, cache):
            by_id[rule.id] = rule
    return list(by_id.values())


def load_rule_dir(directory: Path, cache: Path | None = None) -> list[Rule]:
    """Every rule of every ``*.yml``/``*.yaml`` file of a folder (or of one file), in order."""
    if directory.is_file():
        return load_rule_file(directory, cache)
    files = sorted([*directory.rglob("*.yml"), *directory.rglob("*.yaml")])
    rules: list[Rule] = []
    seen: dict[str, Path] = {}
    for path in files:
        for rule in load_rule_file(path, cache):
            if rule.id in seen:
                raise RuleError(f"{path}: rule {rule.id}: id already used in {seen[rule.id]}")
            seen[rule.id] = path
            rules.append(rule)
    return rules


def load_rule_file(path: Path, cache: Path | None = None) -> list[Rule]:
    """Parse and validate one rule file; any problem is one :class:`RuleError` line.

    A file loaded before with the same bytes comes from :mod:`pipeline_guard.engine.rule_cache`.
    """
    try:
        data = read_bounded(path, MAX_RULE_FILE_BYTES)
    except InputRefused as exc:
        raise RuleError(f"{path}: {exc}") from None
    except OSError as exc:
        raise RuleError(f"{path}: cannot read: {exc.strerror or exc}") from None
    cached = rule_cache.read_entry(data, cache)
    if cached is not None:
        remember_needles(rule_cache.needles_from(cached))
        return [Rule.from_json(raw, str(path)) for raw in cached["rules"]]
    rules = _parse_rule_file(path, data)
    needles = {pattern: derive_needles(pattern) for rule in rules for pattern in rule.patterns}
    for rule in rules:
        rule_needles(rule)  # a pattern with nothing to scan for is a rule error
    rule_cache.write_entry(data, [rule.as_json() for rule in rules], needles, cache)
    return rules


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
        check_depth(document)
    except UnicodeDecodeError:
        raise RuleError(f"{path}: not UTF-8 text") from None
    except InputRefused as exc:
        raise RuleError(f"{path}: {exc}") from None
    except RecursionError:
        raise RuleError(f"{path}: nested too deeply") from None
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" line {where.line + 1}:" if where is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise RuleError(f"{path}:{line} invalid YAML: {problem}") from None
    except ValueError as exc:  # a number with more digits than Python converts
        raise RuleError(f"{path}: invalid value ({str(exc).split(';')[0][:80]})") from None
    if document is None:
        return []
    # pydantic is imported on a cache miss only (start-up time, see Rule)
    from pipeline_guard.engine.rule_schema import validate_rule_file  # noqa: PLC0415

    return validate_rule_file(path, document)


def _yaml_loader() -> Any:
    """libyaml's loader when PyYAML has it (several times faster), else the Python one."""
    import yaml  # noqa: PLC0415 - see _parse_rule_file

    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)

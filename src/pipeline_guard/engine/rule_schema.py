"""The schema of a rule file, checked with pydantic when a file is read for the first time.

Kept apart from :mod:`pipeline_guard.engine.rule` so that only a rule-cache miss (a new or
edited rule file, ``rules test``, a first run after install) imports pydantic: ``analyze``
of a small log must start in a fraction of a second. Any problem is one :class:`RuleError`
line that names the file, the rule id and the field, never a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import re2
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from pipeline_guard.categories import Category
from pipeline_guard.engine.needle import derive_needles
from pipeline_guard.engine.rule import (
    MAX_WINDOW,
    TEST_PLACEHOLDER,
    Details,
    Examples,
    Explained,
    Rule,
    re2_options,
)
from pipeline_guard.errors import RuleError

RuleId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]*$", max_length=80)]


class ExplainedSpec(BaseModel):
    """A few lines of log, and the line its diagnosis must show first."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    log: str = Field(min_length=1)
    first: str = Field(min_length=1)


class ExamplesSpec(BaseModel):
    """Log lines the rule must match and lines it must not."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    match: list[str] = Field(min_length=1)
    no_match: list[str] = Field(min_length=1)
    explained: list[ExplainedSpec] = Field(default_factory=list)


def _check_re2(patterns: list[str]) -> list[str]:
    for index, pattern in enumerate(patterns):
        try:
            re2.compile(pattern, re2_options())
        except re2.error as exc:
            detail = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc
            raise ValueError(f"pattern {index + 1} is not a valid RE2 regex: {detail}") from None
    return patterns


class DetailsSpec(BaseModel):
    """Where the runner explains the failure below the matched line (see ``Details``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    header: str = Field(min_length=1)
    error: str | None = None
    lines: int = Field(default=400, ge=1, le=5000)

    @field_validator("header")
    @classmethod
    def _header(cls, header: str) -> str:
        example = header.replace(TEST_PLACEHOLDER, "test_name")
        _check_re2([example])
        if derive_needles(example) is None:
            raise ValueError("contains no literal text of 3+ characters to search the log for")
        return header

    @field_validator("error")
    @classmethod
    def _error(cls, error: str | None) -> str | None:
        return None if error is None else _check_re2([error])[0]


class RuleSpec(BaseModel):
    """One rule as written in a rule file (see the README for each field)."""

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
    details: DetailsSpec | None = None
    wraps: list[str] = Field(default_factory=list)
    examples: ExamplesSpec

    @field_validator("patterns", "recovered_when")
    @classmethod
    def _compile(cls, patterns: list[str]) -> list[str]:
        return _check_re2(patterns)

    @field_validator("wraps")
    @classmethod
    def _wraps_a_wrapper(cls, patterns: list[str], info: ValidationInfo) -> list[str]:
        if patterns and info.data.get("severity") != "wrapper":
            raise ValueError("only a rule with severity: wrapper sums up lines above it")
        return _check_re2(patterns)

    @field_validator("category")
    @classmethod
    def _not_unknown(cls, category: Category) -> Category:
        if category is Category.UNKNOWN:
            raise ValueError("a rule cannot have category 'unknown'")
        return category

    def rule(self, source: str) -> Rule:
        """The validated rule, as the engine uses it."""
        fields = self.model_dump(exclude={"examples", "details"})
        examples = Examples(
            list(self.examples.match),
            list(self.examples.no_match),
            [Explained(each.log, each.first) for each in self.examples.explained],
        )
        details = Details(**self.details.model_dump()) if self.details is not None else None
        return Rule(**fields, examples=examples, details=details, source=source)


class RuleFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rules: list[dict[str, Any]]


def validate_rule(raw: Any, source: str = "") -> Rule:
    """One rule from its parsed YAML; raises pydantic's ``ValidationError``."""
    return RuleSpec.model_validate(raw).rule(source)


def validate_rule_file(path: Path, document: Any) -> list[Rule]:
    """Every rule of a parsed rule file, or one :class:`RuleError` naming the first problem."""
    try:
        rule_file = RuleFile.model_validate(document)
    except ValidationError as exc:
        raise RuleError(f"{path}: {_first_error(exc)}") from None
    return [_validate(path, index, raw) for index, raw in enumerate(rule_file.rules)]


def _validate(path: Path, index: int, raw: dict[str, Any]) -> Rule:
    rule_id = raw.get("id") if isinstance(raw.get("id"), str) else f"#{index + 1}"
    try:
        return validate_rule(raw, str(path))
    except ValidationError as exc:
        raise RuleError(f"{path}: rule {rule_id}: {_first_error(exc)}") from None


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    field = ".".join(str(part) for part in error["loc"]) or "(top level)"
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown field"
    elif error["type"] == "missing":
        message = "required field missing"
    return f"{field}: {message}"

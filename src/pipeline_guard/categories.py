"""The failure categories (``../shared/TAXONOMY.md``) and what each one implies by default.

``DEFAULT_PRIORITY`` encodes "the earliest root cause wins" as an order between categories:
when rules of several categories fire in one log, the one that can *cause* the others
outranks them (a registry outage explains the failed install, which explains the failed
tests). A rule may set its own ``priority`` to say it is a stronger or weaker signal than the
rest of its category.
"""

from __future__ import annotations

from enum import StrEnum


class Category(StrEnum):
    NETWORK = "network"
    RATE_LIMIT = "rate-limit"
    RUNNER = "runner"
    OUT_OF_MEMORY = "out-of-memory"
    DISK_FULL = "disk-full"
    TIMEOUT = "timeout"
    TEST_FAILURE = "test-failure"
    COMPILE_ERROR = "compile-error"
    FORMAT = "format"
    LINT = "lint"
    LOCKFILE = "lockfile"
    DEPENDENCY = "dependency"
    CONFIG = "config"
    AUTH = "auth"
    UNKNOWN = "unknown"


class Action(StrEnum):
    RETRY = "retry"
    FIX_PR = "fix-pr"
    COMMENT = "comment"


DEFAULT_PRIORITY: dict[Category, int] = {
    Category.RUNNER: 90,
    Category.DISK_FULL: 88,
    Category.OUT_OF_MEMORY: 86,
    Category.RATE_LIMIT: 84,
    Category.NETWORK: 80,
    Category.AUTH: 78,
    Category.TIMEOUT: 76,
    Category.CONFIG: 70,
    Category.LOCKFILE: 68,
    Category.DEPENDENCY: 64,
    Category.COMPILE_ERROR: 60,
    Category.FORMAT: 56,
    Category.LINT: 54,
    Category.TEST_FAILURE: 50,
    Category.UNKNOWN: 0,
}

RETRY_CATEGORIES = frozenset({Category.NETWORK, Category.RATE_LIMIT, Category.RUNNER})
FIXABLE_CATEGORIES = frozenset({Category.FORMAT, Category.LOCKFILE, Category.CONFIG})


def default_action(category: Category, fixer: str | None) -> Action:
    """The product's default policy (DESIGN.md): retry transient, fix what a fixer owns."""
    if category in RETRY_CATEGORIES:
        return Action.RETRY
    if category in FIXABLE_CATEGORIES and fixer:
        return Action.FIX_PR
    return Action.COMMENT

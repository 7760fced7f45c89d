"""The failure categories (``docs/categories.md``) and what each one implies by default.

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
    """The product's default policy (docs/categories.md): retry transient, fix what a fixer owns."""
    if category in RETRY_CATEGORIES:
        return Action.RETRY
    if category in FIXABLE_CATEGORIES and fixer:
        return Action.FIX_PR
    return Action.COMMENT


CATEGORY_TEXT: dict[Category, tuple[str, str, str]] = {
    Category.NETWORK: (
        "Looks like a network failure",
        "A download or connection to a registry, mirror or git host seems to have failed.",
        "Network trouble is usually transient: re-run the job. If it keeps failing, check the "
        "service's status page and any proxy or mirror settings.",
    ),
    Category.RATE_LIMIT: (
        "Looks like a rate limit",
        "A service seems to have refused requests because too many were made.",
        "Wait and re-run; authenticate the requests (a token raises most limits) or cache "
        "what the job downloads.",
    ),
    Category.RUNNER: (
        "Looks like a CI runner failure",
        "The machine or agent running the job seems to have failed, not the code.",
        "Re-run the job. If it recurs on one runner, check that runner's health.",
    ),
    Category.OUT_OF_MEMORY: (
        "Looks like the job ran out of memory",
        "A process seems to have run out of memory or been killed for using too much.",
        "Reduce parallelism or memory use (heap limits, test workers), or use a larger runner.",
    ),
    Category.DISK_FULL: (
        "Looks like the disk filled up",
        "The job seems to have run out of disk space.",
        "Free space before the heavy step (remove unused toolchains, caches, docker images) or "
        "use a runner with a larger disk.",
    ),
    Category.TIMEOUT: (
        "Looks like a timeout",
        "The job or one of its steps seems to have run past its time limit or hung.",
        "Find the step that hung (the last lines before the cut-off); raise the limit only if "
        "the work really needs longer.",
    ),
    Category.TEST_FAILURE: (
        "Looks like failing tests",
        "The test suite seems to have run and some tests failed.",
        "Run the failing tests locally and fix the code or the tests.",
    ),
    Category.COMPILE_ERROR: (
        "Looks like a build or type-check error",
        "The code seems not to compile or type-check.",
        "Build the project locally and fix the first error reported; later ones often follow "
        "from it.",
    ),
    Category.FORMAT: (
        "Looks like unformatted code",
        "A formatter check seems to have found files that are not formatted.",
        "Run the project's formatter locally and commit the result.",
    ),
    Category.LINT: (
        "Looks like linter findings",
        "A linter seems to have reported rule violations.",
        "Run the linter locally and fix (or justify and silence) what it reports.",
    ),
    Category.LOCKFILE: (
        "Looks like an out-of-date lockfile",
        "A lockfile seems to be out of sync with its manifest.",
        "Regenerate the lockfile with the package manager and commit it.",
    ),
    Category.DEPENDENCY: (
        "Looks like a dependency problem",
        "A dependency seems impossible to resolve, find or install.",
        "Check the versions the manifest asks for and that they exist for this platform.",
    ),
    Category.CONFIG: (
        "Looks like a CI configuration problem",
        "The CI configuration itself seems wrong or to use something retired.",
        "Check the workflow/pipeline file, the runner image and required inputs or secrets.",
    ),
    Category.AUTH: (
        "Looks like an authentication failure",
        "Authentication or authorization seems to have failed.",
        "Check the token or credentials the job uses, their scopes and whether they expired.",
    ),
    Category.UNKNOWN: (
        "No known cause found",
        "pipeline-guard cannot tell why this job failed.",
        "Read the job log around the lines shown.",
    ),
}
"""Title, explanation and advice for a diagnosis the model made (no rule to quote)."""

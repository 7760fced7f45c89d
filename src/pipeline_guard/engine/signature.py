"""A failure's :class:`Signature`: what must be equal for two failures to be "the same one".

History labels ("also failing on `main`", "flaky") are only as good as the comparison behind
them. The lesson of the tools that label failures from history (Dr. CI, Trunk, Datadog) is
that a generic match makes wrong labels: two jobs that both end in ``Process completed with
exit code 1`` have nothing in common. So a signature is the rule that decided, the failing
tests, and the decisive line with what changes from run to run taken out (numbers, hashes,
temporary paths, timestamps, durations); and a failure that has only a wrapper line
(``make: *** [all] Error 2``, ``npm ERR! Test failed``) or an ``unknown`` without a specific
line has **no** signature: :func:`signature_of` returns ``None`` and nothing is ever matched
against it.

Pure: a :class:`~pipeline_guard.engine.diagnosis.Diagnosis` in, a signature (or ``None``) out.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from pipeline_guard.engine.diagnosis import Diagnosis

# Order matters: the wider patterns (timestamps, paths, hashes) go before bare numbers.
_VOLATILE: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d(?::\d\d)?(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?"),
        "<time>",
    ),
    (re.compile(r"\b\d\d:\d\d:\d\d(?:[.,]\d+)?\b"), "<time>"),
    (
        re.compile(
            r"(?:/tmp|/var/folders|/private/var|[A-Za-z]:\\Users\\[^\\\s]+\\AppData\\Local\\Temp"
            r"|/home/runner/work/_temp|/builds/[^\s/]+/[^\s/]+/\.tmp)[^\s'\":,;)]*"
        ),
        "<tmp>",
    ),
    (
        re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I),
        "<uuid>",
    ),
    (re.compile(r"\b(?:0x)?(?=[0-9a-fA-F]*\d)[0-9a-fA-F]{7,64}\b"), "<hash>"),
    (
        re.compile(r"\b\d+(?:\.\d+)?\s?(?:ms|s|sec|secs|seconds?|m|min|minutes?|h|µs|us|ns)\b"),
        "<dur>",
    ),
    (re.compile(r"\d+"), "<n>"),
)
_SPACE = re.compile(r"\s+")

# Lines that only say *that* something failed, never *what*: wrappers and summaries. They
# never make a signature on their own (the decisive line of a wrapper rule, or of `unknown`).
_WRAPPER = re.compile(
    r"Process completed with exit code|exited with (?:code|status)? ?<n>|returned a non-zero"
    r"|^ERROR: Job failed|^Error: Process completed|^The command \".*\" exited with"
    r"|^make(?:\[<n>\])?: \*\*\* |^npm (?:ERR!|error) (?:Test failed|code ELIFECYCLE|errno <n>"
    r"|Lifecycle script|command failed)|^\*\*\* Failed \*\*\*|Tests? failed:? <n>"
    r"|^Error: Command failed|^FAILURE: Build failed with an exception|^BUILD FAILED"
    r"|^Build step .* failed|^\[ERROR\] Failed to execute goal .*: There (?:are|were) test failures"
    r"|^error: Recipe `.*` failed|^Script .* exited with|^##\[error\]"
    # a CI's own step markers say where, never what
    r"|^section_(?:start|end):|^travis_(?:fold|time):|^##\[(?:end)?group\]|^::(?:end)?group::",
    re.IGNORECASE,
)
MIN_SPECIFIC = 12  # characters of normalised text a decisive line needs to say anything


@dataclass(frozen=True, slots=True)
class Signature:
    """The rule, the failing tests and the normalised decisive line of one failure."""

    rule: str
    tests: tuple[str, ...]
    line: str

    @property
    def key(self) -> str:
        """A short stable digest: equal keys, same failure (stored, compared, shown)."""
        text = "\n".join([self.rule, "\x1f".join(self.tests), self.line])
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def normalise(line: str) -> str:
    """``line`` without what changes between two runs of the same failure."""
    text = line.strip()
    for pattern, placeholder in _VOLATILE:
        text = pattern.sub(placeholder, text)
    return _SPACE.sub(" ", text)


def is_generic(normalised_line: str) -> bool:
    """A wrapper or summary line, or one too short to tell two failures apart."""
    letters = re.sub(r"<\w+>|[\W_]", "", normalised_line)
    return len(letters) < MIN_SPECIFIC or bool(_WRAPPER.search(normalised_line))


def signature_of(diagnosis: Diagnosis) -> Signature | None:
    """The failure's signature, or ``None`` when nothing specific enough identifies it.

    Failing tests alone are specific (``tests/test_app.py::test_add`` is not a wrapper);
    otherwise the decisive line must be, whatever rule chose it.
    """
    tests = tuple(sorted(set(diagnosis.tests)))
    line = normalise(diagnosis.evidence[0].text) if diagnosis.evidence else ""
    specific_line = bool(line) and not is_generic(line)
    if not tests and not specific_line:
        return None
    rule = diagnosis.rule or str(diagnosis.category)
    return Signature(rule=rule, tests=tests, line=line if specific_line else "")

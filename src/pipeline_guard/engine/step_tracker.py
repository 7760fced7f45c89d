"""Which step or section of a job each line belongs to, from the markers CI systems print.

Every CI system folds its log differently:

- GitHub Actions: each step opens with ``##[group]Run <command>``; groups a step's own output
  opens (``::group::``) look the same, so only titles starting with ``Run `` or ``Post Run ``
  start a new step.
- GitLab: ``section_start:<time>:<name>[options]`` / ``section_end:<time>:<name>``, nested;
  the innermost open section is the most specific place.
- Travis CI: ``travis_fold:start:<name>`` / ``travis_fold:end:<name>``.
- Azure Pipelines: ``##[section]Starting: <name>``.
- Jenkins pipelines: ``[Pipeline] { (<stage>)``.

The matcher finds marker lines with its prefilter (see :data:`MARKER_KEYWORDS`) and feeds them
to :class:`StepTracker` in log order, so tracking costs nothing on lines without markers.
"""

from __future__ import annotations

import re

MARKER_KEYWORDS = (
    "##[group]",
    "section_start:",
    "section_end:",
    "travis_fold:",
    "##[section]starting:",
    "[pipeline] { (",
)
"""Lower-case literals that can only occur on a marker line (the prefilter is case-blind)."""

_GITHUB_STEP = re.compile(r"##\[group\](?P<title>(?:Post )?Run .+)")
_GITLAB = re.compile(r"section_(?P<kind>start|end):\d+:(?P<name>[A-Za-z0-9_.-]+)")
_TRAVIS = re.compile(r"travis_fold:(?P<kind>start|end):(?P<name>[A-Za-z0-9_.-]+)")
_AZURE = re.compile(r"##\[section\]Starting: (?P<name>.+)")
_JENKINS = re.compile(r"\[Pipeline\] \{ \((?P<name>.+)\)")


class StepTracker:
    """Follows marker lines in log order and knows the current step at any point."""

    def __init__(self) -> None:
        self._stack: list[str] = []
        self._open: dict[str, int] = {}  # name -> how many times it is on the stack
        self._flat: str | None = None

    @property
    def current(self) -> str | None:
        """The innermost open section, or the last step started by a flat marker."""
        if self._stack:
            return self._stack[-1]
        return self._flat

    def feed(self, line: str) -> None:
        """Update the current step from one line that may hold a marker."""
        for match in _GITLAB.finditer(line):
            self._nest(match.group("kind"), match.group("name"))
        for match in _TRAVIS.finditer(line):
            self._nest(match.group("kind"), match.group("name"))
        for pattern in (_GITHUB_STEP, _AZURE, _JENKINS):
            found = pattern.search(line)
            if found:
                self._flat = (
                    found.group("title") if pattern is _GITHUB_STEP else found["name"]
                ).strip()
                self._stack.clear()
                self._open.clear()

    def _nest(self, kind: str, name: str) -> None:
        """Open a section, or close it and every section opened inside it. Linear in the log:
        an end whose name is not open costs a dict lookup (a hostile log of 100k starts and
        100k unmatched ends made the old list search quadratic), and each start is popped at
        most once."""
        if kind == "start":
            self._stack.append(name)
            self._open[name] = self._open.get(name, 0) + 1
            return
        if not self._open.get(name):
            return
        while True:  # pop up to and including the outermost open section of that name
            popped = self._stack.pop()
            self._open[popped] -= 1
            if popped == name and not self._open[name]:
                return

"""Which step of a job each line belongs to, and which step ended the job, from CI markers.

Every CI system folds its log differently:

- GitHub Actions: each step opens with ``##[group]Run <command>``; groups a step's own output
  opens (``::group::``) look the same, so only titles starting with ``Run `` or ``Post Run ``
  start a new step. A failed step ends with ``##[error]Process completed with exit code N``.
- GitLab: ``section_start:<time>:<name>[options]`` / ``section_end:<time>:<name>``, nested;
  the innermost open section is the most specific place. The job ends with
  ``ERROR: Job failed: exit code N``; the commands of ``step_script`` are echoed as ``$ cmd``.
- Travis CI: ``travis_fold:start:<name>`` / ``travis_fold:end:<name>`` around set-up; every
  command is echoed as ``$ cmd`` and ends with ``The command "cmd" exited with N.``
- Azure Pipelines: ``##[section]Starting: <name>``; ``##[error]Bash exited with code '1'.``
- Jenkins: pipeline stages ``[Pipeline] { (<stage>)``; ``ERROR: script returned exit code N``;
  a freestyle build step ``Build step '...' marked build as failure``.
- A plain terminal log: the last command echo (``$ cmd``, ``+ cmd``) before the end.

The matcher finds marker and exit lines with its prefilter (see :data:`MARKER_KEYWORDS`) and
feeds them to a :class:`StepRecorder` in log order, so tracking costs nothing on other lines.
The recorder keeps, at every failing exit, a bounded snapshot of the log bytes just before it
(:data:`SNAPSHOT_BYTES`): after the scan, :func:`failing_step` picks the exit that ended the job
and cuts its snapshot down to the failing step and command, whose lines diagnosis then reads
again (the scan keeps only the first hits of each rule, which in a whole log are often in set-up
output, far from the failure).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import overload

from pipeline_guard.engine.log_reader import Chunk, CleanLine, clean_line

STEP_KEYWORDS = (
    "##[group]",
    "section_start:",
    "section_end:",
    "travis_fold:",
    "##[section]starting:",
    "[pipeline] { (",
)
EXIT_KEYWORDS = (
    "process completed with exit code",
    "job failed",
    "exited with",
    "returned exit code",
    "marked build as failure",
    "failed with exit code",
    "the operation was canceled",
    "exceeded the maximum",
    "no output has been received",
)
MARKER_KEYWORDS = STEP_KEYWORDS + EXIT_KEYWORDS
"""Lower-case literals of marker and exit lines (the prefilter is case-blind)."""

SNAPSHOT_BYTES = 1024 * 1024
"""Log bytes kept before each failing exit: the failing step's output, bounded."""
MAX_SNAPSHOTS = 8
"""Failing exits kept with a snapshot (the first and the last ones: see :meth:`StepRecorder`)."""
MAX_STEP_LINES = 20_000
"""Lines of the failing step handed to diagnosis, the last ones (nearest the exit) kept."""

_GITHUB_STEP = re.compile(r"##\[group\](?P<title>(?:Post )?Run .+)")
_GITLAB = re.compile(r"section_(?P<kind>start|end):\d+:(?P<name>[A-Za-z0-9_.-]+)")
_TRAVIS = re.compile(r"travis_fold:(?P<kind>start|end):(?P<name>[a-z0-9_.-]+)")
"""Fold names are lower case (``install.1``); the title follows without a separator once the
ANSI escape between them is removed (``travis_fold:start:worker_info\x1b[0KWorker ...``)."""
_AZURE = re.compile(r"##\[section\]Starting: (?P<name>.+)")
_JENKINS = re.compile(r"\[Pipeline\] \{ \((?P<name>.+)\)")

_EXITS = (
    # (pattern, job-level): a job-level line closes the job, not one command.
    (re.compile(r"Process completed with exit code (?P<code>\d+)"), False),
    (
        re.compile(
            r"(?:The command \"(?P<command>.*)\"|^\") (?:failed and )?exited with (?P<code>\d+)"
        ),
        False,
    ),
    (
        re.compile(
            r"(?:Bash|Cmd\.exe|PowerShell|pwsh|Script) (?:exited|failed) with "
            r"(?:exit )?code:? '?(?P<code>\d+)"
        ),
        False,
    ),
    (re.compile(r"^ERROR: script returned exit code (?P<code>\d+)"), False),
    (re.compile(r"^Exited with code (?:exit status )?(?P<code>\d+)"), False),
    (re.compile(r"^Build step '(?P<command>[^']*)' marked build as failure"), False),
    (re.compile(r"^ERROR: Job failed(?:: exit (?:code|status) (?P<code>\d+))?"), True),
    (re.compile(r"^Done\. Your build exited with (?P<code>\d+)"), True),
    (re.compile(r"The operation was canceled|has exceeded the maximum execution time"), True),
    (re.compile(r"No output has been received in the last|exceeded the maximum time limit"), True),
)
_ECHO = re.compile(r"^(?:\$|\+{1,3}) \S")
"""A command echo: ``$ cmd`` (Travis, GitLab, a terminal) or ``+ cmd`` (``set -x``)."""


@dataclass(frozen=True, slots=True)
class JobStep:
    """A step as the forge's jobs API reports it (GitHub ``steps``), when the guard has it."""

    name: str
    number: int
    conclusion: str | None
    """``success``, ``failure``, ``skipped``, ``cancelled`` or ``None`` (still running)."""


@dataclass(frozen=True, slots=True)
class ExitLine:
    """A line reporting how a command, step or the whole job ended."""

    line: int
    code: int | None
    """The exit code, ``None`` where the line gives none (a cancellation, a timeout)."""
    command: str | None
    step: str | None
    job_level: bool

    @property
    def failed(self) -> bool:
        return self.code != 0


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The log bytes just before one failing exit (whole lines, ANSI removed)."""

    exit: ExitLine
    data: bytes
    first_line: int


@dataclass(slots=True)
class StepRecord:
    """What a scan learnt about steps: where each began, every exit, snapshots of failures."""

    changes: list[tuple[int, str | None]] = field(default_factory=lambda: [(0, None)])
    exits: list[ExitLine] = field(default_factory=list)
    snapshots: list[Snapshot] = field(default_factory=list)
    tail: bytes = b""
    tail_first: int = 1
    """The log's last bytes, for a log that ends without an exit line."""


@dataclass(frozen=True, slots=True)
class FailingStep:
    """The step that ended the job, and the lines it printed up to its exit."""

    name: str | None
    first_line: int
    """Where the step (or what is left of it within the snapshot) begins."""
    command_line: int | None
    """The echo of the command that failed inside the step, when the log echoes commands."""
    exit: ExitLine | None
    """``None`` for a log that ends without any exit line: its tail stands in."""
    data: bytes
    data_first: int
    """The step's raw lines (ANSI removed), from line ``data_first``, up to the exit."""
    started: int = 0
    """Where the step really began when that is above ``first_line``: a step that printed more
    than :data:`SNAPSHOT_BYTES` lost its start to the snapshot. Its lines there are not at
    hand, but the whole-log scan's first matches of each rule still count as the step's."""

    @property
    def exit_line(self) -> int | None:
        return self.exit.line if self.exit is not None else None

    @property
    def focus(self) -> int:
        """Where the failing command's own output begins: its echo, else the step's start.

        Commands before it in the same step succeeded (a shell script stops at the first
        failure, and Travis quotes the failing command), so what they printed is context.
        """
        if self.command_line is not None:
            return self.command_line
        return min(self.started or self.first_line, self.first_line)

    def lines(self) -> StepLines:
        """The step's lines, cleaned, the last :data:`MAX_STEP_LINES` of them."""
        raws = self.data.rstrip(b"\n").split(b"\n")
        start = max(0, len(raws) - MAX_STEP_LINES)
        return StepLines(raws[start:], self.data_first + start, self.name)


class StepLines(Sequence[CleanLine]):
    """A step's lines, each cleaned when it is first read.

    Diagnosis often needs a few of them only (the lines after a hit, to see whether its error
    was recovered; those above a wrapper): cleaning all 20,000 lines of a long test step
    up front cost more than scanning the 5 MB log they came from.
    """

    def __init__(self, raws: list[bytes], first: int, step: str | None) -> None:
        self._raws = raws
        self._first = first
        self._step = step
        self._cleaned: dict[int, CleanLine] = {}

    def __len__(self) -> int:
        return len(self._raws)

    @overload
    def __getitem__(self, index: int) -> CleanLine: ...

    @overload
    def __getitem__(self, index: slice) -> list[CleanLine]: ...

    def __getitem__(self, index: int | slice) -> CleanLine | list[CleanLine]:
        if isinstance(index, slice):
            return [self._line(at) for at in range(*index.indices(len(self._raws)))]
        if index < 0:
            index += len(self._raws)
        if not 0 <= index < len(self._raws):
            raise IndexError(index)
        return self._line(index)

    def __iter__(self) -> Iterator[CleanLine]:
        return (self._line(at) for at in range(len(self._raws)))

    def _line(self, at: int) -> CleanLine:
        line = self._cleaned.get(at)
        if line is None:
            line = self._cleaned[at] = clean_line(self._raws[at], self._first + at, self._step)
        return line


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


def parse_exit(text: str, line: int, step: str | None) -> ExitLine | None:
    """The exit a cleaned line reports, if it is an exit line."""
    for pattern, job_level in _EXITS:
        found = pattern.search(text)
        if found:
            groups = found.groupdict()
            code = int(groups["code"]) if groups.get("code") else None
            command = groups.get("command")
            return ExitLine(line, code, command, step, job_level)
    return None


class StepRecorder:
    """Fed by the matcher during its one pass: marker lines, exit lines, every chunk's end.

    Work stays bounded whatever the log: one slice per chunk (the rolling
    :data:`SNAPSHOT_BYTES` before the current chunk), nothing per ordinary line, and at most
    one snapshot per chunk beyond the first ``MAX_SNAPSHOTS - 1`` failing exits (the latest
    failing exit of a chunk is kept in the last slot; those in between are recorded without
    their bytes).
    """

    def __init__(self, before: bytes = b"", *, keep_markers: bool = False) -> None:
        self.record = StepRecord()
        self._tracker = StepTracker()
        self._before = before
        """The last :data:`SNAPSHOT_BYTES` before the current chunk, whole lines."""
        self._latest: tuple[ExitLine, int] | None = None
        self.markers: list[tuple[int, bytes]] | None = [] if keep_markers else None
        """Every marker line (number, raw bytes), kept for a scan of one part of a log: the
        steps it saw began without knowing what the earlier parts left open, so the whole
        log's steps come from replaying these after the earlier parts' (:meth:`replay`)."""
        self.marker_bytes = 0

    @property
    def current(self) -> str | None:
        return self._tracker.current

    def marker(self, chunk: Chunk, line_no: int, line_start: int, line_end: int) -> None:
        """One line holding a marker keyword, at ``chunk.data[line_start:line_end]``."""
        raw = chunk.data[line_start:line_end]
        if self.markers is not None:
            self.markers.append((line_no, raw))
            self.marker_bytes += len(raw)
        found = self.replay(line_no, raw)
        if found is None or not found.failed:
            return
        if len(self.record.snapshots) < MAX_SNAPSHOTS - 1:
            self.record.snapshots.append(self._snapshot(found, chunk, line_end))
        else:
            self._latest = (found, line_end)

    def replay(self, line_no: int, raw: bytes) -> ExitLine | None:
        """Follow one marker line: the step changes and the exit it reports, if any."""
        before = self._tracker.current
        self._tracker.feed(raw.decode("utf-8", "replace"))
        if self._tracker.current != before:
            self.record.changes.append((line_no, self._tracker.current))
        cleaned = clean_line(raw, line_no, self._tracker.current)
        found = parse_exit(cleaned.text, line_no, self._tracker.current)
        if found is not None:
            self.record.exits.append(found)
        return found

    def replay_part(
        self, markers: Sequence[tuple[int, bytes]], snapshots: Sequence[Snapshot]
    ) -> None:
        """Follow a later part's marker lines, given the snapshots its own scan cut.

        A failing exit is kept as :meth:`marker` keeps it (the first ones, then the latest);
        the part's scan kept the same ones of its own, with the same bytes, so its snapshot
        is taken with the exit as the whole log's steps read it.
        """
        cut = {snapshot.exit.line: snapshot for snapshot in snapshots}

        def taken(found: ExitLine) -> Snapshot:
            own = cut[found.line]
            return Snapshot(found, own.data, own.first_line)

        latest: ExitLine | None = None
        for line_no, raw in markers:
            found = self.replay(line_no, raw)
            if found is None or not found.failed:
                continue
            if len(self.record.snapshots) < MAX_SNAPSHOTS - 1:
                self.record.snapshots.append(taken(found))
            else:
                latest = found
        if latest is not None:
            del self.record.snapshots[MAX_SNAPSHOTS - 1 :]
            self.record.snapshots.append(taken(latest))

    def resume(self, before: bytes) -> None:
        """The next chunk follows parts whose markers were replayed: ``before`` is what the
        log holds just before it (the snapshots of its failing exits reach back into it)."""
        self._before = before

    def chunk_done(self, chunk: Chunk) -> None:
        """Keep the latest failing exit of the chunk, and roll the bytes kept before the next."""
        if self._latest is not None:
            found, line_end = self._latest
            snapshots = self.record.snapshots
            del snapshots[MAX_SNAPSHOTS - 1 :]
            snapshots.append(self._snapshot(found, chunk, line_end))
            self._latest = None
        if len(chunk.data) >= SNAPSHOT_BYTES:
            self._before = _last_lines(chunk.data[-SNAPSHOT_BYTES:])
        else:
            self._before = _last_lines((self._before + chunk.data)[-SNAPSHOT_BYTES:])

    def finish(self, tail: bytes, tail_first: int) -> StepRecord:
        """The record, with the log's tail for a log that ends without an exit line."""
        self.record.tail, self.record.tail_first = tail, tail_first
        return self.record

    def _snapshot(self, found: ExitLine, chunk: Chunk, line_end: int) -> Snapshot:
        """The SNAPSHOT_BYTES up to and including the exit line, whole lines."""
        piece = chunk.data[max(0, line_end + 1 - SNAPSHOT_BYTES) : line_end + 1]
        if len(piece) < SNAPSHOT_BYTES and line_end + 1 <= SNAPSHOT_BYTES:
            piece = self._before[len(piece) - SNAPSHOT_BYTES :] + piece
        data = _last_lines(piece) if len(piece) >= SNAPSHOT_BYTES else piece
        return Snapshot(found, data, found.line - data.count(b"\n") + 1)


def _last_lines(data: bytes) -> bytes:
    """``data`` from its first line start (a cut block begins mid-line)."""
    return data[data.find(b"\n") + 1 :]


def step_at(record: StepRecord, line: int) -> str | None:
    """The step a line belongs to, by the last step change at or before it."""
    current: str | None = None
    for start, name in record.changes:
        if start > line:
            break
        current = name
    return current


def failing_step(record: StepRecord, job_steps: Sequence[JobStep] = ()) -> FailingStep | None:
    """The step that ended the job, cut down to its own lines, or ``None`` for an empty log.

    Which exit: with the jobs API's steps, the exit inside the step the API says failed (the API
    tells a ``continue-on-error`` step, whose conclusion is ``success``, from the failed one);
    else the first failing exit of a command or step (not a ``Post`` step), since what broke
    first usually broke what came after (Travis runs every ``script:`` command after a
    failure; GitHub runs only ``if: always()`` steps, such as clean-up, after one); else a
    job-level exit; else the log's end. Checked on the real GitHub logs of corpus-gha and
    corpus-pairs: first and last give the same figures there, and first is right on Travis.
    """
    snapshot = _chosen_snapshot(record, job_steps)
    if snapshot is None:
        if not record.tail:
            return None
        name = step_at(record, record.tail_first + record.tail.count(b"\n"))
        return _cut(record, None, name, record.tail, record.tail_first)
    return _cut(record, snapshot.exit, snapshot.exit.step, snapshot.data, snapshot.first_line)


def _chosen_snapshot(record: StepRecord, job_steps: Sequence[JobStep]) -> Snapshot | None:
    snapshots = record.snapshots
    if not snapshots:
        return None
    failed_names = [step.name for step in job_steps if step.conclusion == "failure"]
    if failed_names:
        for snapshot in snapshots:
            if _same_step(snapshot.exit.step, failed_names):
                return snapshot
    commands = [
        snapshot
        for snapshot in snapshots
        if not snapshot.exit.job_level and not (snapshot.exit.step or "").startswith("Post ")
    ]
    if commands:
        return commands[0]
    return snapshots[-1]


def _same_step(logged: str | None, names: Sequence[str]) -> bool:
    """A step title in the log (``Run npm test``) against the API's names (``Run npm test`` or
    a step's own ``name:``, which the log does not print)."""
    if logged is None:
        return False
    title = logged.removeprefix("Run ").strip()
    return any(name.strip() in (logged, title) for name in names)


def _cut(
    record: StepRecord, exit_line: ExitLine | None, name: str | None, data: bytes, first: int
) -> FailingStep:
    """The part of a snapshot that belongs to the failing step, and its failing command."""
    end = exit_line.line if exit_line is not None else first + data.count(b"\n")
    start = _step_start(record, end, exit_line)
    if exit_line is not None and exit_line.job_level:
        end = _section_end(record, start, end)
        name = step_at(record, start)
    raws = data.rstrip(b"\n").split(b"\n")
    skip = max(0, start - first)
    if skip >= len(raws):
        skip = 0
    raws = raws[skip : max(skip + 1, end - first + 1)]
    kept = b"\n".join(raws) + b"\n"
    data_first = first + skip
    command = _command_echo(raws, data_first, exit_line)
    return FailingStep(name, data_first, command, exit_line, kept, data_first, started=start)


def _section_end(record: StepRecord, start: int, end: int) -> int:
    """Where the section opened at ``start`` closes (no section open any more), else ``end``."""
    for line, name in record.changes:
        if start < line <= end and name is None:
            return line
    return end


def _step_start(record: StepRecord, end: int, exit_line: ExitLine | None) -> int:
    """The first line of the step holding line ``end``: after the last step change or exit
    line before it (an earlier command's exit ends that command's output).

    A job-level exit (GitLab's ``ERROR: Job failed``) comes after the clean-up sections, so its
    step is the last ``step_script``/``build_script`` section, when there is one.
    """
    changes = [change for change in record.changes if change[0] <= end]
    if exit_line is not None and exit_line.job_level:
        scripts = [
            line
            for line, name in changes
            if name is not None and name.startswith(("step_", "build_script"))
        ]
        if scripts:
            return scripts[-1]
    start = changes[-1][0] if changes else 1
    earlier = [other.line for other in record.exits if other.line < end]
    if earlier and exit_line is not None and not exit_line.job_level:
        start = max(start, earlier[-1] + 1)
    return max(start, 1)


def _command_echo(raws: Sequence[bytes], first: int, exit_line: ExitLine | None) -> int | None:
    """The line echoing the failing command: the one the exit line quotes (Travis), else the
    last ``$ cmd`` / ``+ cmd`` echo before the exit."""
    quoted = exit_line.command if exit_line is not None else None
    if quoted:
        wanted = f"$ {quoted}".encode()
        for index in range(len(raws) - 1, -1, -1):
            if wanted in raws[index] and clean_line(raws[index], 0).text.endswith(f"$ {quoted}"):
                return first + index
        return None
    for index in range(len(raws) - 1, -1, -1):
        if raws[index][:1] in {b"$", b"+"} or b"$ " in raws[index][:80]:
            text = clean_line(raws[index], 0).text
            if _ECHO.match(text):
                return first + index
    return None

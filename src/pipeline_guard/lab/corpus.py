"""Read a labelled corpus: ``labels.jsonl`` plus ``cases/<id>.log`` (README, "Scoring on a corpus").

Used by ``eval`` and ``train``. Each label line is ``{"id", "category", "platform", "source",
"evidence"}``; ``source`` is ``owner/repo:path@commit`` and :attr:`Case.group` is the project
it came from, so cross-validation can keep one project's logs on one side of a split.

Whole-log corpora (``shared/corpus-whole``, ``corpus-gha``, ``corpus-pairs``) add the labelled
failure span (``chunk_first``/``chunk_last`` and optional ``also`` ranges), a ``project``, a
``category`` that may be ``null`` (the span does not decide it), and for ``corpus-pairs`` a
``green`` log of an earlier successful run (the case itself is then ``cases/<id>/failed.log``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pipeline_guard.categories import Category
from pipeline_guard.errors import UsageError


@dataclass(frozen=True, slots=True)
class Case:
    id: str
    category: Category | None
    """``None`` where the label does not decide a category (whole-log corpora only)."""
    path: Path
    source: str
    evidence: tuple[str, ...] = ()
    """The decisive line or lines, as the labeller copied them from the log (raw)."""
    spans: tuple[tuple[int, int], ...] = ()
    """The labelled failure ranges (1-based, inclusive ``\\n`` lines), the first one first."""
    project: str = ""
    green: Path | None = None
    """A log of an earlier successful run of the same job, usable as a baseline."""

    @property
    def key(self) -> str:
        """Names the case across corpora (ids repeat between corpora): its log's path."""
        return str(self.path)

    @property
    def label(self) -> str:
        """The category as a string, for code that only handles decided cases."""
        if self.category is None:
            raise ValueError(f"{self.id}: no category (an undecided whole-log label)")
        return self.category.value

    @property
    def group(self) -> str:
        """The project a log came from: the repository, or the project folder inside a data set."""
        if self.project:
            return self.project
        repo, _, path = self.source.partition(":")
        parts = path.split("@")[0].split("/")
        if "samples" in parts:  # LogChunks: tool/samples/<Language>/<owner@project>/failed/<n>.log
            index = parts.index("samples")
            return "/".join([repo, *parts[index + 1 : index + 3]])
        return repo


def read_corpus(directory: Path) -> list[Case]:
    """Every labelled case of a corpus directory, in file order; a one-line error if malformed."""
    labels = directory / "labels.jsonl"
    if not labels.is_file():
        raise UsageError(f"{directory}: not a corpus (no labels.jsonl)")
    return list(_cases(directory, labels))


def _cases(directory: Path, labels: Path) -> Iterator[Case]:
    valid = {category.value for category in Category}
    for number, line in enumerate(labels.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            case_id, category = str(record["id"]), record["category"]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise UsageError(f"{labels}:{number}: not a label record ({exc})") from None
        if category is not None and category not in valid:
            raise UsageError(f"{labels}:{number}: unknown category {category!r}")
        path = _case_path(directory, case_id)
        if not path.is_file():
            raise UsageError(f"{labels}:{number}: case file {path} is missing")
        evidence = tuple(part for part in str(record.get("evidence") or "").split(" || ") if part)
        green = directory / str(record["green"]) if record.get("green") else None
        yield Case(
            case_id,
            Category(category) if category is not None else None,
            path,
            str(record.get("source", "")),
            evidence,
            spans=_spans(record),
            project=str(record.get("project") or ""),
            green=green,
        )


def _case_path(directory: Path, case_id: str) -> Path:
    """``cases/<id>.log``, or ``cases/<id>/failed.log`` in a corpus of failed/green pairs."""
    flat = directory / "cases" / f"{case_id}.log"
    paired = directory / "cases" / case_id / "failed.log"
    return paired if not flat.is_file() and paired.is_file() else flat


def _spans(record: dict[str, object]) -> tuple[tuple[int, int], ...]:
    """The labelled failure ranges of a whole-log label: the chunk, then its ``also`` ranges."""
    first, last = record.get("chunk_first"), record.get("chunk_last")
    if not isinstance(first, int) or not isinstance(last, int):
        return ()
    also = record.get("also") or []
    extra = [(int(a), int(b)) for a, b in also] if isinstance(also, list) else []
    return ((first, last), *extra)

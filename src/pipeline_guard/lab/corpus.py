"""Read a labelled corpus: ``labels.jsonl`` plus ``cases/<id>.log`` (README, "Scoring on a corpus").

Used by ``eval`` and ``train``. Each label line is ``{"id", "category", "platform", "source",
"evidence"}``; ``source`` is ``owner/repo:path@commit`` and :attr:`Case.group` is the project
it came from, so cross-validation can keep one project's logs on one side of a split.
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
    category: Category
    path: Path
    source: str
    evidence: tuple[str, ...] = ()
    """The decisive line or lines, as the labeller copied them from the log (raw)."""

    @property
    def group(self) -> str:
        """The project a log came from: the repository, or the project folder inside a data set."""
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
            case_id, category = str(record["id"]), str(record["category"])
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise UsageError(f"{labels}:{number}: not a label record ({exc})") from None
        if category not in valid:
            raise UsageError(f"{labels}:{number}: unknown category {category!r}")
        path = directory / "cases" / f"{case_id}.log"
        if not path.is_file():
            raise UsageError(f"{labels}:{number}: case file {path} is missing")
        evidence = tuple(part for part in str(record.get("evidence") or "").split(" || ") if part)
        yield Case(case_id, Category(category), path, str(record.get("source", "")), evidence)

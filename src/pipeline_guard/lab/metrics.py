"""Score predicted categories against labels: per-category precision/recall/F1 and more.

Pure functions over (gold, predicted) pairs, so ``eval`` and the model's cross-validation
share one definition of every number they print. Macro-F1 averages over the categories present
in the gold labels (a category no log has cannot be scored fairly).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CategoryScore:
    category: str
    support: int
    predicted: int
    precision: float
    recall: float
    f1: float


@dataclass(frozen=True, slots=True)
class Scores:
    total: int
    accuracy: float
    macro_f1: float
    per_category: list[CategoryScore]
    confusions: list[tuple[str, str, int]]


def score(gold: Sequence[str], predicted: Sequence[str]) -> Scores:
    """Accuracy, macro-F1 over gold categories, per-category scores and top confusions."""
    if len(gold) != len(predicted):
        raise ValueError("gold and predicted differ in length")
    total = len(gold)
    correct = sum(1 for g, p in zip(gold, predicted, strict=True) if g == p)
    support = Counter(gold)
    guessed = Counter(predicted)
    hits = Counter(g for g, p in zip(gold, predicted, strict=True) if g == p)
    per_category = []
    for category in sorted(support):
        precision = hits[category] / guessed[category] if guessed[category] else 0.0
        recall = hits[category] / support[category]
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_category.append(
            CategoryScore(category, support[category], guessed[category], precision, recall, f1)
        )
    confusions = Counter((g, p) for g, p in zip(gold, predicted, strict=True) if g != p)
    return Scores(
        total=total,
        accuracy=correct / total if total else 0.0,
        macro_f1=sum(item.f1 for item in per_category) / len(per_category) if per_category else 0.0,
        per_category=per_category,
        confusions=[(g, p, n) for (g, p), n in confusions.most_common()],
    )


def format_comparison(columns: dict[str, Scores], top_confusions: int = 10) -> str:
    """Several approaches side by side: P/R/F1 per category, then accuracy and macro-F1."""
    names = list(columns)
    categories = [item.category for item in next(iter(columns.values())).per_category]
    head = f"{'category':<15} {'n':>4}" + "".join(f"  {name:^20}" for name in names)
    sub = f"{'':<15} {'':>4}" + "".join(f"  {'P':>6}{'R':>7}{'F1':>7}" for _ in names)
    rows = [head, sub]
    for index, category in enumerate(categories):
        first = columns[names[0]].per_category[index]
        cells = "".join(
            f"  {s.precision:>6.2f}{s.recall:>7.2f}{s.f1:>7.2f}"
            for s in (columns[name].per_category[index] for name in names)
        )
        rows.append(f"{category:<15} {first.support:>4}{cells}")
    rows.append("")
    rows.append(f"{'accuracy':<20}" + "".join(f"  {columns[n].accuracy:^20.3f}" for n in names))
    rows.append(f"{'macro-F1':<20}" + "".join(f"  {columns[n].macro_f1:^20.3f}" for n in names))
    last = names[-1]
    if columns[last].confusions:
        rows.append("")
        rows.append(f"top confusions, {last} (label -> predicted: count)")
        for gold, predicted, count in columns[last].confusions[:top_confusions]:
            rows.append(f"  {gold} -> {predicted}: {count}")
    return "\n".join(rows) + "\n"


SPAN_SLACK = 2
"""Lines of slack around a labelled chunk (corpus-whole README): a hit may land just beside it."""
RETRY_GOLD = frozenset({"network", "rate-limit", "runner"})
"""Gold categories for which re-running the job is right; a retry of anything else is false."""


@dataclass(frozen=True, slots=True)
class Located:
    """What a diagnosis said about one whole log with a labelled failure span."""

    gold: str | None
    """The labelled category, ``None`` where the label does not decide one."""
    spans: tuple[tuple[int, int], ...]
    """The labelled chunk first, then its ``also`` ranges (1-based, inclusive)."""
    evidence: tuple[int, ...]
    """The diagnosis' evidence line numbers, decisive first."""
    category: str
    action: str


@dataclass(frozen=True, slots=True)
class LocationRow:
    """Location scores over one group of logs (one gold category, or all of them)."""

    name: str
    total: int
    hit_at_1: float
    hit_at_any: float
    unknown: float
    false_retry: float


def in_span(line: int, spans: Sequence[tuple[int, int]]) -> bool:
    """Whether an evidence line points at the labelled failure: the chunk (with slack) or an
    ``also`` range."""
    if not spans:
        return False
    first, last = spans[0]
    if first - SPAN_SLACK <= line <= last + SPAN_SLACK:
        return True
    return any(start <= line <= end for start, end in spans[1:])


def locate_score(located: Sequence[Located]) -> list[LocationRow]:
    """hit@1, hit@any, unknown rate and false-retry rate, per gold category, over the logs
    labelled with a category (:data:`NAMED`), then overall (always the last row).

    The false-retry rate counts ``retry`` actions on logs whose gold category is decided and is
    not network, rate-limit or runner, over all logs with a decided category.
    """
    groups: dict[str, list[Located]] = {}
    for item in located:
        groups.setdefault(item.gold or "(undecided)", []).append(item)
    rows = [_location_row(name, groups[name]) for name in sorted(groups)]
    named = [item for item in located if item.gold not in {None, "unknown"}]
    rows.append(_location_row(NAMED, named))
    rows.append(_location_row("overall", located))
    return rows


NAMED = "(a category)"
"""The logs whose label names a category: there ``unknown`` is a miss, where over all logs it
is also the right answer for those labelled ``unknown`` (a dead-link report no category fits)."""


def _location_row(name: str, items: Sequence[Located]) -> LocationRow:
    total = len(items)
    decided = [item for item in items if item.gold is not None]
    false_retries = sum(
        1 for item in decided if item.action == "retry" and item.gold not in RETRY_GOLD
    )
    return LocationRow(
        name=name,
        total=total,
        hit_at_1=_share(
            items, lambda item: bool(item.evidence) and in_span(item.evidence[0], item.spans)
        ),
        hit_at_any=_share(items, lambda item: any(in_span(n, item.spans) for n in item.evidence)),
        unknown=_share(items, lambda item: item.category == "unknown"),
        false_retry=false_retries / len(decided) if decided else 0.0,
    )


def _share(items: Sequence[Located], test: Callable[[Located], bool]) -> float:
    return sum(1 for item in items if test(item)) / len(items) if items else 0.0


def format_locations(rows: Sequence[LocationRow]) -> str:
    """The location table: where the evidence points, per gold category and overall."""
    lines = [
        f"{'gold category':<15} {'n':>4} {'hit@1':>7} {'hit@any':>8} {'unknown':>8}"
        f" {'false retry':>12}"
    ]
    for row in rows:
        if row.name in {"overall", NAMED}:
            lines.append("")
        lines.append(
            f"{row.name:<15} {row.total:>4} {row.hit_at_1:>7.3f} {row.hit_at_any:>8.3f} "
            f"{row.unknown:>8.3f} {row.false_retry:>12.3f}"
        )
    return "\n".join(lines) + "\n"

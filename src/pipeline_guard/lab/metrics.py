"""Score predicted categories against labels: per-category precision/recall/F1 and more.

Pure functions over (gold, predicted) pairs, so ``eval`` and the model's cross-validation
share one definition of every number they print. Macro-F1 averages over the categories present
in the gold labels (a category no log has cannot be scored fairly).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
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

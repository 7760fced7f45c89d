"""Which model pack a command uses, loaded only when a log needs it.

``--no-model`` means none; ``--model PATH`` or ``model:`` in ``.pipeline-guard.yml`` names one
(``model: none`` turns it off); otherwise the bundled pack (``rules/model/default.npz``) when
it exists. The bundled pack is read on the first log whose rules are not sure enough on their
own, which most logs never reach. A pack the user named is read at once,
so a corrupt or outdated file is reported before any log is analysed.

A pack has two parts, read separately (see :mod:`pipeline_guard.model.pack_format`): the
category model (:class:`LazyModel`, a :class:`~.prediction.Scorer`) and the line ranker
(:class:`LazyRanker`, a :class:`~.prediction.LineScorer`), which is read only on the first log
where no rule speaks inside the failing step. A pack the user named without a ranker simply
has none (:func:`choose_ranker` gives ``None``).
"""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline_guard.engine.prediction import Prediction, StepVerdict
from pipeline_guard.engine.rule import bundled_rules_dir
from pipeline_guard.errors import ModelError
from pipeline_guard.guard import CONFIG_FILE
from pipeline_guard.model.pack import ModelPack, load_model
from pipeline_guard.model.pack_format import RANKER_MEMBERS
from pipeline_guard.model.ranker import LineRanker, load_ranker

if TYPE_CHECKING:
    from pipeline_guard.guard.config import RepoConfig


def bundled_model_path() -> Path:
    """The model pack shipped with the rules."""
    return bundled_rules_dir() / "model" / "default.npz"


class LazyModel:
    """A model pack read from ``path`` on first use; a :class:`~.prediction.Scorer`."""

    def __init__(self, path: Path, *, check_now: bool = False) -> None:
        if not path.is_file():
            raise ModelError(f"{path}: model file not found")
        self.path = path
        self._pack: ModelPack | None = None
        if check_now:
            _ = self.pack

    @property
    def pack(self) -> ModelPack:
        if self._pack is None:
            self._pack = load_model(self.path)
        return self._pack

    @property
    def threshold(self) -> float:
        return self.pack.threshold

    @property
    def scope(self) -> str:
        return self.pack.scope

    def predict(self, lines: Sequence[str]) -> Prediction:
        return self.pack.predict(lines)


def choose_model(
    path: Path | None, enabled: bool = True, config: RepoConfig | None = None
) -> LazyModel | None:
    """The model pack to use: ``--model``, else the config's ``model:``, else the bundled one."""
    if not enabled:
        return None
    if path is not None:
        return LazyModel(path, check_now=True)
    configured = _configured_model(config)
    if configured is not None:
        return None if configured.lower() == "none" else LazyModel(Path(configured), check_now=True)
    bundled = bundled_model_path()
    return LazyModel(bundled) if bundled.is_file() else None


def _configured_model(config: RepoConfig | None) -> str | None:
    """The config's ``model:``. Without a config given and without a config file (most
    repositories), the config schema is never imported: it pulls pydantic (start-up time)."""
    if config is None:
        path = Path.cwd() / CONFIG_FILE
        if not path.exists() and not path.is_symlink():
            return None
        from pipeline_guard.guard.config import load_config  # noqa: PLC0415

        config = load_config()
    return config.model


class LazyRanker:
    """A pack's line ranker read from ``path`` on first use; a :class:`~.prediction.LineScorer`."""

    def __init__(self, path: Path, *, check_now: bool = False) -> None:
        self.path = path
        self._ranker: LineRanker | None = None
        if check_now:
            _ = self.ranker

    @property
    def ranker(self) -> LineRanker:
        if self._ranker is None:
            self._ranker = load_ranker(self.path)
        return self._ranker

    def score_lines(self, lines: Sequence[str], exit_index: int) -> Sequence[float]:
        return self.ranker.score_lines(lines, exit_index)

    def classify_step(self, command: str | None, lines: Sequence[str]) -> StepVerdict | None:
        return self.ranker.classify_step(command, lines)


def choose_ranker(model: LazyModel | None) -> LazyRanker | None:
    """The line ranker of the chosen pack: none without a pack or in a pack that has none.

    The bundled pack ships one and is read lazily; a pack the user named is checked at once
    (the zip's member list, then the ranker itself), like its category model."""
    if model is None:
        return None
    if model.path == bundled_model_path():
        return LazyRanker(model.path)
    if not _has_ranker(model.path):
        return None
    return LazyRanker(model.path, check_now=True)


def _has_ranker(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except (OSError, zipfile.BadZipFile):
        return False  # the category model's own check has already said what is wrong
    return all(f"{name}.npy" in names for name in RANKER_MEMBERS)

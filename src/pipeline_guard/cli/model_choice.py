"""Which model pack a command uses, loaded only when a log needs it.

``--no-model`` means none; ``--model PATH`` or ``model:`` in ``.pipeline-guard.yml`` names one
(``model: none`` turns it off); otherwise the bundled pack (``rules/model/default.npz``) when
it exists. The bundled pack is read on the first log whose rules are not sure enough on their
own, which most logs never reach. A pack the user named is read at once,
so a corrupt or outdated file is reported before any log is analysed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pipeline_guard.engine.prediction import Prediction
from pipeline_guard.engine.rule import bundled_rules_dir
from pipeline_guard.errors import ModelError
from pipeline_guard.guard.config import RepoConfig, load_config
from pipeline_guard.model.pack import ModelPack, load_model


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
    configured = (config or load_config()).model
    if configured is not None:
        return None if configured.lower() == "none" else LazyModel(Path(configured), check_now=True)
    bundled = bundled_model_path()
    return LazyModel(bundled) if bundled.is_file() else None

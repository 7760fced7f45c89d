"""Write a model pack (format: :mod:`pipeline_guard.model.pack_format`), one part at a time.

``pipeline-guard train`` fits either the category model or the line ranker; writing one part
keeps the other part of the pack already at the output path, so the bundled pack holds both
and each can be retrained alone. Files are byte-for-byte reproducible: fixed zip timestamps,
sorted JSON, members in a fixed order, stored uncompressed (the pack loads faster, and git
compresses it anyway).
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from pipeline_guard.errors import UsageError
from pipeline_guard.model.pack_format import (
    CATEGORY_MEMBERS,
    META_MEMBER,
    PACK_FORMAT,
    PACK_VERSION,
    RANKER_KEY,
    RANKER_MEMBERS,
    STEP_MEMBERS,
)

_CATEGORY_META = ("features", "classes", "temperature", "threshold", "scope", "trained")


def write_category_part(
    path: Path, meta: Mapping[str, Any], arrays: Mapping[str, npt.ArrayLike]
) -> None:
    """Write the category model into the pack at ``path``, keeping its line ranker if any."""
    old_meta, old_arrays = _existing(path)
    kept_meta = {RANKER_KEY: old_meta[RANKER_KEY]} if RANKER_KEY in old_meta else {}
    failing_step = {**RANKER_MEMBERS, **STEP_MEMBERS}
    kept = {name: old_arrays[name] for name in failing_step if name in old_arrays}
    _write(path, {**kept_meta, **meta}, {**dict(arrays), **kept})


def write_ranker_part(
    path: Path, settings: Mapping[str, Any], arrays: Mapping[str, npt.ArrayLike]
) -> None:
    """Write the line ranker (and its step classifier, when ``arrays`` hold one) into the pack
    at ``path``, keeping its category model if any."""
    old_meta, old_arrays = _existing(path)
    kept_meta = {key: old_meta[key] for key in _CATEGORY_META if key in old_meta}
    kept = {name: old_arrays[name] for name in CATEGORY_MEMBERS if name in old_arrays}
    _write(path, {**kept_meta, RANKER_KEY: dict(settings)}, {**kept, **dict(arrays)})


def _existing(path: Path) -> tuple[dict[str, Any], dict[str, npt.NDArray[Any]]]:
    """The meta and members of the pack at ``path``; empty when there is none yet."""
    if not path.exists():
        return {}, {}
    try:
        with np.load(path, allow_pickle=False) as loaded:
            arrays = {name: loaded[name] for name in loaded.files}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise UsageError(f"{path}: exists and is not a model pack to update ({exc})") from None
    meta = json.loads(str(arrays.pop(META_MEMBER))) if META_MEMBER in arrays else {}
    if meta.get("format") != PACK_FORMAT or meta.get("version") != PACK_VERSION:
        raise UsageError(f"{path}: exists and is not a pack of this version; remove it first")
    return meta, arrays


def _write(path: Path, meta: Mapping[str, Any], arrays: Mapping[str, npt.ArrayLike]) -> None:
    document = {"format": PACK_FORMAT, "version": PACK_VERSION, **meta}
    dtypes = {**CATEGORY_MEMBERS, **RANKER_MEMBERS, **STEP_MEMBERS}
    members: dict[str, npt.NDArray[Any]] = {
        META_MEMBER: np.array(json.dumps(document, sort_keys=True))
    }
    for name, dtype in dtypes.items():
        if name in arrays:
            members[name] = np.ascontiguousarray(arrays[name], dtype=dtype)
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, values in members.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, values, allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(2020, 1, 1, 0, 0, 0))
            archive.writestr(info, buffer.getvalue())

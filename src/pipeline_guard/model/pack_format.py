"""The model pack's file format, defined once: what training writes and inference reads.

A pack is a zip file in NumPy's ``.npz`` layout (members ``<name>.npy``, no pickles) with two
parts, each optional on its own but at least one present:

- the **category model** (:mod:`pipeline_guard.model.pack`): members
  :data:`CATEGORY_MEMBERS`, and its settings at the top level of ``meta``;
- the **line ranker** (:mod:`pipeline_guard.model.ranker`): members :data:`RANKER_MEMBERS`,
  and its settings under ``meta["ranker"]``; with it, optionally, the failing step's category
  classifier (:mod:`pipeline_guard.model.step_classifier`): members :data:`STEP_MEMBERS`,
  settings under ``meta["ranker"]["step"]``.

``meta`` is a JSON document stored as a 0-d unicode array: ``{"format": PACK_FORMAT,
"version": PACK_VERSION, ...}``. Training (:mod:`pipeline_guard.lab.pack_writer`) writes every
member with the dtype given here; inference (:mod:`pipeline_guard.model.npy`) accepts exactly
these dtypes. ``pipeline-guard train`` writes one part and keeps the other part of an existing
pack, so the bundled ``rules/model/default.npz`` holds both.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pipeline_guard.errors import ModelError
from pipeline_guard.limits import check_depth

PACK_FORMAT = "pipeline-guard-model"
PACK_VERSION = 1
META_MEMBER = "meta"

CATEGORY_MEMBERS: dict[str, str] = {
    "feature_ids": "<i8",  # sorted hashed token ids that carry a weight
    "weights": "<f4",  # len(feature_ids) x len(classes), row-major
    "intercept": "<f4",  # len(classes)
}
RANKER_MEMBERS: dict[str, str] = {
    "ranker_feature_ids": "<i8",  # sorted hashed feature ids that carry a weight
    "ranker_weights": "<f4",  # one weight per id
    "ranker_common": "<i8",  # sorted normalised-line hashes seen in several projects
    "ranker_common_projects": "<i8",  # in how many projects each of those occurs
}
STEP_MEMBERS: dict[str, str] = {
    "step_feature_ids": "<i8",  # sorted hashed feature ids of the step classifier
    "step_weights": "<f4",  # len(step_feature_ids) x len(classes), row-major
    "step_intercept": "<f4",  # len(classes)
}
"""The optional step classifier of the failing-step part (:mod:`~.model.step_classifier`),
written with the line ranker; its settings are under ``meta["ranker"]["step"]``."""
RANKER_KEY = "ranker"
"""The key of the line ranker's settings in ``meta``."""
RANKER_FEATURES = "step-lines"
"""``meta["ranker"]["features"]["kind"]``: see :mod:`pipeline_guard.model.step_features`."""


def pack_document(path: Path, meta_text: str) -> dict[str, Any]:
    """The pack's ``meta`` document, or a one-line :class:`ModelError` if it is not one."""
    try:
        meta = json.loads(meta_text)
        check_depth(meta)
    except (ValueError, RecursionError):  # not JSON, a 100k-digit number, nested too deep
        raise ModelError(f"{path}: corrupt model file (meta is not valid JSON)") from None
    if not isinstance(meta, dict) or meta.get("format") != PACK_FORMAT:
        raise ModelError(f"{path}: not a pipeline-guard model pack")
    if meta.get("version") != PACK_VERSION:
        raise ModelError(
            f"{path}: model format version {meta.get('version')!r} is not supported "
            f"(this pipeline-guard reads version {PACK_VERSION}); "
            "retrain it with `pipeline-guard train`"
        )
    return meta

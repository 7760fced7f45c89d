"""Read the few NumPy ``.npz`` members a model pack holds, without importing numpy.

``analyze`` must start fast, and importing numpy alone costs about as much as the model pack's
whole budget (100 ms), so the pack is read with the standard library: a ``.npz`` file is a zip
of ``.npy`` members, each a small header (a Python literal, parsed with
:func:`ast.literal_eval`, never executed) followed by the raw array. Only what a model pack uses
is accepted: little-endian float32 and int64 vectors and matrices in C order, and one
unicode scalar; anything else is refused. Writing packs is training's job (it has numpy).
"""

from __future__ import annotations

import ast
import io
import sys
import zipfile
from array import array
from dataclasses import dataclass
from pathlib import Path

from pipeline_guard.limits import (
    MAX_MODEL_BYTES,
    MAX_MODEL_MEMBER_BYTES,
    InputRefused,
    read_bounded,
)

_MAGIC = b"\x93NUMPY"
_TYPECODES = {"<f4": "f", "<i8": "q"}


class NpyError(ValueError):
    """A member is not a ``.npy`` array of a supported kind."""


@dataclass(frozen=True)
class Array:
    """A numeric array (flat, row-major) with its shape."""

    shape: tuple[int, ...]
    data: array  # type: ignore[type-arg]


def read_npz(path: Path, names: tuple[str, ...]) -> tuple[dict[str, Array], str]:
    """The numeric members ``names`` of an ``.npz`` file, and its ``meta`` text member.

    The file must be a regular file of at most :data:`~pipeline_guard.limits.MAX_MODEL_BYTES`
    and each member at most :data:`~pipeline_guard.limits.MAX_MODEL_MEMBER_BYTES` once
    uncompressed, counted as it is inflated (a zip's declared sizes are the attacker's word);
    else :class:`~pipeline_guard.limits.InputRefused`."""
    if not path.exists():
        raise FileNotFoundError(path)
    if path.is_dir():
        raise IsADirectoryError(path)
    data = read_bounded(path, MAX_MODEL_BYTES)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        members = set(archive.namelist())
        missing = [name for name in ("meta", *names) if f"{name}.npy" not in members]
        if missing:
            raise NpyError(f"missing {', '.join(missing)}")
        meta = _read_text(_member(archive, "meta"))
        return {name: _read_numeric(_member(archive, name), name) for name in names}, meta


def _member(archive: zipfile.ZipFile, name: str) -> bytes:
    """One member, inflated up to the bound and refused beyond it."""
    too_large = InputRefused(
        f"has a member ({name}) larger than {MAX_MODEL_MEMBER_BYTES >> 20} MiB uncompressed"
    )
    if archive.getinfo(f"{name}.npy").file_size > MAX_MODEL_MEMBER_BYTES:
        raise too_large
    with archive.open(f"{name}.npy") as member:
        blob = member.read(MAX_MODEL_MEMBER_BYTES + 1)
    if len(blob) > MAX_MODEL_MEMBER_BYTES:
        raise too_large
    return blob


def _header(blob: bytes) -> tuple[dict[str, object], int]:
    if not blob.startswith(_MAGIC) or len(blob) < 10:
        raise NpyError("not a .npy array")
    major = blob[6]
    size_bytes = 2 if major == 1 else 4
    start = 8 + size_bytes
    length = int.from_bytes(blob[8:start], "little")
    try:
        header = ast.literal_eval(blob[start : start + length].decode("latin-1"))
    except (ValueError, SyntaxError):
        raise NpyError("unreadable .npy header") from None
    if not isinstance(header, dict) or header.get("fortran_order") is not False:
        raise NpyError("unsupported .npy layout")
    return header, start + length


def _read_numeric(blob: bytes, name: str) -> Array:
    header, offset = _header(blob)
    descr, shape = header.get("descr"), header.get("shape")
    if descr not in _TYPECODES or not isinstance(shape, tuple) or len(shape) not in (1, 2):
        raise NpyError(f"{name} has unsupported type {descr} or shape {shape}")
    values = array(_TYPECODES[str(descr)])
    count = 1
    for dimension in shape:
        count *= int(dimension)
    payload = blob[offset : offset + count * values.itemsize]
    if len(payload) != count * values.itemsize:
        raise NpyError(f"{name} is truncated")
    values.frombytes(payload)
    if sys.byteorder != "little":  # pragma: no cover - every CI runner is little-endian
        values.byteswap()
    return Array(tuple(int(dimension) for dimension in shape), values)


def _read_text(blob: bytes) -> str:
    header, offset = _header(blob)
    descr = str(header.get("descr"))
    if not descr.startswith("<U") or header.get("shape") != ():
        raise NpyError("meta is not a text scalar")
    return blob[offset : offset + 4 * int(descr[2:])].decode("utf-32-le").rstrip("\x00")

"""A cache of validated rule files, so a fresh process starts in a fraction of a second.

Loading a rule file means parsing YAML, validating every rule with pydantic, compiling every
pattern with RE2 (to report a broken one with its rule id) and deriving the prefilter needles
of every pattern (:mod:`pipeline_guard.engine.needle`). For the ~700 bundled rules that is most of
the start-up time of ``pipeline-guard analyze``, and it gives the same answer every time for
the same file. So the result is kept as JSON, keyed by a hash of the file's bytes and of the
versions of pipeline-guard and of the needle derivation: a changed file or a new release simply
misses the cache. Entries are written atomically; a cache that cannot be read or written is
ignored (the rules are then loaded the slow way), never an error.

Location: the directory the CLI passes down, from :func:`pipeline_guard.cache_dir.cache_dir`
(``$PIPELINE_GUARD_CACHE_DIR``, else ``$XDG_CACHE_HOME/pipeline-guard``, else
``~/.cache/pipeline-guard``); ``None`` (``PIPELINE_GUARD_CACHE_DIR=off``) disables it. Any command
that loads the rules fills it (``pipeline-guard rules list``), so a container image can warm it
at build time: the first run then starts as fast as the later ones. The same directory keeps
the compiled Hyperscan database of the pack's needles (:func:`compiled_database`), which a
process could not otherwise get without seconds of compiling.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from pipeline_guard import __version__
from pipeline_guard.engine.needle import KEYWORDS_VERSION, Needle
from pipeline_guard.engine.prefilter import (
    bytewise,
    compile_hyperscan,
    dump_hyperscan,
    load_hyperscan,
)

CACHE_FORMAT = 4  # 2: severity, recovered_when; 3: needle derivation 4; 4: details, wraps


def entry_key(data: bytes) -> str:
    digest = hashlib.sha256(f"{CACHE_FORMAT}/{__version__}/{KEYWORDS_VERSION}\n".encode())
    digest.update(data)
    return digest.hexdigest()


def read_entry(data: bytes, directory: Path | None) -> dict[str, Any] | None:
    """The cached load of a rule file with these bytes from ``directory``, or None."""
    if directory is None:
        return None
    try:
        entry = json.loads((directory / f"{entry_key(data)}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(entry, dict) or entry.get("format") != CACHE_FORMAT:
        return None
    return entry


def write_entry(
    data: bytes,
    rules: list[dict[str, Any]],
    needles: dict[str, tuple[Needle, ...] | None],
    directory: Path | None,
) -> None:
    """Remember a validated load; silently does nothing if the cache is not writable."""
    if directory is None:
        return
    entry = {
        "format": CACHE_FORMAT,
        "rules": rules,
        "needles": {
            pattern: None if found is None else [asdict(needle) for needle in found]
            for pattern, found in needles.items()
        },
    }
    import tempfile  # noqa: PLC0415 - only a cache miss writes (start-up time)

    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            "w", dir=directory, suffix=".tmp", delete=False, encoding="utf-8"
        ) as handle:
            json.dump(entry, handle)
        Path(handle.name).replace(directory / f"{entry_key(data)}.json")
    except OSError:
        return


def needles_from(entry: dict[str, Any]) -> dict[str, tuple[Needle, ...] | None]:
    return {
        pattern: None if found is None else tuple(Needle(**needle) for needle in found)
        for pattern, found in entry["needles"].items()
    }


def compiled_database(regexes: Sequence[str], directory: Path | None = None) -> Any:
    """The Hyperscan database of these needle regexes: loaded from the cache, else compiled
    (seconds for the bundled pack) and cached in ``directory`` (the rule cache's, which the
    matcher is given) for the next process.

    The key covers the regexes, the Hyperscan version and the machine architecture: a
    serialised database only loads on the platform and library that built it. A cache entry
    that does not load is compiled again, never an error.
    """
    import platform  # noqa: PLC0415 - only the Hyperscan engine gets here

    import hyperscan  # noqa: PLC0415 - optional; only the Hyperscan engine gets here

    release = getattr(hyperscan, "__version__", "")
    key = hashlib.sha256(f"{CACHE_FORMAT}/{release}/{platform.machine()}\n".encode())
    key.update("\n".join(bytewise(regex) for regex in regexes).encode("utf-8"))
    path = None if directory is None else directory / f"hyperscan-{key.hexdigest()}.db"
    if path is not None:
        try:
            return load_hyperscan(path.read_bytes())
        except Exception:  # missing, truncated or built elsewhere: compile it again
            pass
    database = compile_hyperscan(regexes)
    if path is not None:
        _write_atomically(path, dump_hyperscan(database))
    return database


def _write_atomically(path: Path, data: bytes) -> None:
    import tempfile  # noqa: PLC0415 - see write_entry

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as handle:
            handle.write(data)
        Path(handle.name).replace(path)
    except OSError:
        return

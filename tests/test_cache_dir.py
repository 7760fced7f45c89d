"""The one cache-directory function: the environment decides, nothing else is read."""

from __future__ import annotations

from pathlib import Path

from pipeline_guard.cache_dir import cache_dir


def test_the_variable_wins_and_off_turns_caching_off(tmp_path: Path) -> None:
    env = {"PIPELINE_GUARD_CACHE_DIR": str(tmp_path), "XDG_CACHE_HOME": "/elsewhere"}
    assert cache_dir(env) == tmp_path
    assert cache_dir({"PIPELINE_GUARD_CACHE_DIR": "OFF"}) is None


def test_xdg_then_home() -> None:
    assert cache_dir({"XDG_CACHE_HOME": "/x"}) == Path("/x/pipeline-guard")
    assert cache_dir({"HOME": "/home/u"}) == Path("/home/u/.cache/pipeline-guard")

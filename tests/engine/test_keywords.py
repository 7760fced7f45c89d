"""Needle derivation: what the prefilter looks for, and that every match is found by it."""

from __future__ import annotations

import re

import pytest
import re2

from pipeline_guard.engine.needle import derive_keywords, derive_needles, selectivity


@pytest.mark.parametrize(
    ("pattern", "keywords"),
    [
        (r"npm ERR! code E(?:CONNRESET|TIMEDOUT)", ("npm err! code e",)),
        (r"^\s*--- FAIL: (?P<test>\S+)", ("--- fail: ",)),
        (r"(?i)No space left on device", ("no space left on device",)),
        (r"first line\nsecond line that is longer", ("first line",)),
        (r"^_{3,} \S+ _{3,}$", (" ___",)),
    ],
)
def test_derived_keywords(pattern: str, keywords: tuple[str, ...]) -> None:
    assert derive_keywords(pattern) == keywords


@pytest.mark.parametrize(
    ("pattern", "needle"),
    [
        # the narrow pieces around a literal make the needle precise
        (r"^\S+\.py:\d+:\d+: [EWFC]\d{3} \w+", r"\.py:[\d]+:[\d]+:\ [EWFC][\d]{3,3}\ [\w]+"),
        (r"(?i)error\[E\d+\]", r"error\[E[\d]+\]"),
        (r"npm ERR! code E(?:CONNRESET|TIMEDOUT)", r"npm\ ERR!\ code\ E(?:CONNRESET|TIMEDOUT)"),
        (r"^# \S+\.(?:erl|src) \[FAIL\]", r"\.(?:erl|src)\ \[FAIL\]"),
        (r"^\s+\d+:\d+\s+error\s+.+$", r"[\d]+:[\d]+[\t\x0b\x0c\r ]+error"),
        (r"^={5,} FAILURES ={5,}$", r"={5,}\ FAILURES\ ={5,}"),
        # broad pieces (\S+, .*) end a needle; a rarer literal beats a longer everyday one
        (r"^Resolving \S+ \.\.\. failed: ", r"Resolving\ "),
        (r"(?:fatal|panic): \S+\.go:\d+", r"\.go:[\d]+"),
    ],
)
def test_needles_extend_literals_with_narrow_pieces(pattern: str, needle: str) -> None:
    assert [found.regex for found in derive_needles(pattern) or ()] == [needle]


def test_selectivity_prefers_rare_words_over_everyday_ones() -> None:
    assert selectivity("econnreset") > selectivity("error: ")
    assert selectivity("est") < selectivity("npm")


@pytest.mark.parametrize("pattern", [r"^\d+ \w+$", r"(?:ab|cd)e", r"\bok\b", r"a(?<=b)"])
def test_patterns_without_a_usable_literal_have_none(pattern: str) -> None:
    assert derive_keywords(pattern) is None


@pytest.mark.parametrize(
    ("pattern", "text"),
    [
        (r"npm ERR! code E(?:CONNRESET|TIMEDOUT)", "npm ERR! code ETIMEDOUT"),
        (
            r"Could not (?:resolve|find) (?:host|artifact) \S+",
            "Could not find artifact com.acme:x:1.0",
        ),
        (
            r"(?:fatal|error): unable to access '[^']+': "
            r"(?:Failed to connect|Could not resolve host)",
            "error: unable to access 'https://x/': Could not resolve host",
        ),
        (r"^\s+\d+:\d+\s+error\s+.+$", "   12:5  error  'x' is unused  no-unused-vars"),
        (r"(?i)^\w+ (?:failed|errored) in \d+(?:\.\d+)?s$", "Build FAILED in 12.5s"),
    ],
)
def test_every_match_is_found_by_a_needle(pattern: str, text: str) -> None:
    assert re.search(pattern, text) is not None
    needles = derive_needles(pattern)
    assert needles is not None
    options = re2.Options()
    options.case_sensitive = False
    assert any(re2.compile(needle.regex, options).search(text) for needle in needles)

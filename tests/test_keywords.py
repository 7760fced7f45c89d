"""Keyword derivation: every match of a pattern must contain one of its keywords."""

from __future__ import annotations

import re

import pytest

from pipeline_guard.keywords import derive_keywords


@pytest.mark.parametrize(
    ("pattern", "keywords"),
    [
        (r"npm ERR! code E(?:CONNRESET|TIMEDOUT)", ["npm err! code e"]),
        (r"(?:ECONNRESET|ETIMEDOUT)", ["connreset", "timedout"]),
        (r"^\s*--- FAIL: (?P<test>\S+)", ["--- fail: "]),
        (r"error\[E\d+\]: ", ["error[e"]),
        (r"(?i)No space left on device", ["no space left on device"]),
        (r"first line\nsecond line that is longer", ["first line"]),
        (
            r"(?:toomanyrequests|You have reached your pull rate limit)",
            ["toomanyrequests", "you have reached your pull rate limit"],
        ),
    ],
)
def test_derived_keywords(pattern: str, keywords: list[str]) -> None:
    assert derive_keywords(pattern) == keywords


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
    ],
)
def test_every_match_contains_a_keyword(pattern: str, text: str) -> None:
    found = re.search(pattern, text)
    assert found is not None
    keywords = derive_keywords(pattern)
    assert keywords is not None
    assert any(keyword in found.group().lower() for keyword in keywords)

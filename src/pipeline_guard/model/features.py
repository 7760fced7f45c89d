"""Turn a failure window into hashed token features, the same way at training and inference.

Each line is lower-cased and split into word tokens (``npm``, ``err!``, ``econnreset``,
``error:``) and adjacent-word bigrams; numbers, hex ids and very long tokens are dropped,
since they name a build, not a kind of failure. Each token is hashed with CRC-32 into one of
``2 ** bits`` feature ids (the hashing trick: no vocabulary to store or grow, so training can
stream any number of logs). A window's feature vector is the *set* of its ids: a failure
repeated 500 times should not weigh 500 times.

Version :data:`FEATURE_VERSION` is written into every model pack; a change to tokenising or
hashing must bump it, so an old pack is refused instead of silently mis-scoring.
"""

from __future__ import annotations

import itertools
import re
import zlib

FEATURE_VERSION = 1
DEFAULT_BITS = 16
MAX_TOKEN_CHARS = 40

_TOKEN = re.compile(r"[a-z][a-z0-9_.+-]*[a-z0-9](?:[!:]|\[e)?|[a-z][!:]?|[✖✗×●]")
_NOISE = re.compile(r"[0-9a-f]{7,}|.*\d{3,}")


def line_tokens(text: str) -> list[str]:
    """Unigrams and bigrams of one line, in order."""
    words = [
        word
        for word in _TOKEN.findall(text.lower())
        if len(word) <= MAX_TOKEN_CHARS and not _NOISE.fullmatch(word)
    ]
    return words + [f"{first} {second}" for first, second in itertools.pairwise(words)]


def hash_token(token: str, bits: int) -> int:
    return zlib.crc32(token.encode("utf-8")) & ((1 << bits) - 1)


def line_features(text: str, bits: int) -> set[int]:
    return {hash_token(token, bits) for token in line_tokens(text)}

"""Deterministic text embeddings shared by the fake model server and the harness.

A weighted, hashed bag of stemmed content words (two signed buckets per word, a per-word weight in
[0.5, 1.5) taken from the hash), L2-normalised. Sentences that share words are close; nothing is
learned, so the harness can compute the exact same vectors as the server for ground truth."""
import hashlib
import math
import re

DEFAULT_DIMS = 384
_TOKEN = re.compile(r"[a-z0-9]+")
STOPWORDS = frozenset(
    "a an the and or but of to in on at for with from by about as is am are was were be been being do does did "
    "i me my mine we our you your he she his her it its they them their this that these those there here "
    "what which who whom whose where when why how can could would should will shall may might must "
    "have has had not no so very really just also too than then usually every some any user users".split())


def stem(word: str) -> str:
    """A light suffix stripper so that inflections meet: lives/live/lived/living -> liv, likes -> lik,
    cities -> city, watches -> watch."""
    if len(word) <= 3:
        return word
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith(("sses", "xes", "zes", "ches", "shes")):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for suffix in ("ing", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "lsz":
                word = word[:-1]
            break
    if word.endswith("e") and len(word) > 3:
        word = word[:-1]
    return word


def tokens(text: str) -> list[str]:
    return [stem(t) for t in _TOKEN.findall(text.lower()) if t not in STOPWORDS]


def embed(text: str, dims: int = DEFAULT_DIMS) -> list[float]:
    v = [0.0] * dims
    for tok in tokens(text):
        h = hashlib.blake2b(tok.encode(), digest_size=12).digest()
        weight = 0.5 + int.from_bytes(h[8:12], "little") / 2**32
        sign = 1.0 if h[4] & 1 else -1.0
        v[int.from_bytes(h[:4], "little") % dims] += sign * weight
        v[int.from_bytes(h[5:8], "little") % dims] += 0.5 * sign * weight
    n = math.sqrt(sum(x * x for x in v))
    if n == 0.0:
        v[0] = 1.0
        return v
    return [x / n for x in v]

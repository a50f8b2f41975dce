"""A small TF-IDF index over each skill's trigger text: intent words ("plan", "review", "why") that a
general embedding blurs into topic. Pure Python and numpy, built from the catalog alone."""

from __future__ import annotations

import math
import re
from collections import Counter
from functools import lru_cache

import numpy as np

__all__ = ["LexicalIndex", "tokens"]

_WORD = re.compile(r"[a-z][a-z0-9']+")
_STOP = frozenset(
    "the a an and or to of in for on with is are be this that it as by from any when use user users not do "
    "does what how you your i we our".split())


@lru_cache(maxsize=1 << 16)
def _tokens(text: str) -> tuple[str, ...]:
    return tuple(w for w in _WORD.findall(text.lower()) if w not in _STOP)


def tokens(text: str) -> list[str]:
    """The words TF-IDF counts (lowercase, stop words out); remembered, as tuning re-reads the same prompts."""
    return list(_tokens(text))


class LexicalIndex:
    """Cosine between a request's TF-IDF vector and each skill's (an inverted index, so it scales)."""

    def __init__(self, documents: list[str]):
        docs = [tokens(d) for d in documents]
        n = len(docs)
        df = Counter(w for d in docs for w in set(d))
        self.idf = {w: math.log((n + 1) / (c + 0.5)) for w, c in df.items()}
        self.n = n
        postings: dict[str, list[tuple[int, float]]] = {}
        for k, d in enumerate(docs):
            for w, x in self._vector(d).items():
                postings.setdefault(w, []).append((k, x))
        self.postings = {w: (np.array([k for k, _ in p]), np.array([x for _, x in p])) for w, p in postings.items()}

    def _vector(self, words: list[str]) -> dict[str, float]:
        counts = Counter(w for w in words if w in self.idf)
        v = {w: c * self.idf[w] for w, c in counts.items()}
        norm = math.sqrt(sum(x * x for x in v.values())) or 1.0
        return {w: x / norm for w, x in v.items()}

    def score(self, text: str) -> np.ndarray:
        """The cosine of one request's TF-IDF vector with each skill's."""
        return self.score_many([text])[0]

    def score_many(self, texts: list[str]) -> np.ndarray:
        """Requests x skills: each request's cosine with each skill (only the words the skills use count)."""
        out = np.zeros((len(texts), self.n))
        for i, text in enumerate(texts):
            for w, x in self._vector(tokens(text)).items():
                ks, ws = self.postings[w]
                out[i, ks] += x * ws
        return out

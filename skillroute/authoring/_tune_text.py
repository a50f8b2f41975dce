"""The text side of tuning: phrases drawn from prompts that mark a skill's errors, and edits to a
description (a sentence inserted, a list item or quoted phrase removed)."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

import numpy as np

from ..core._rules import split_sentences

_PLAIN = re.compile(r"[A-Za-z][a-z]*(?:['’-][a-z]+)*")


_EDGE_STOP = frozenset(
    "the a an and or to of in for on with is are be this that it as by from at into about so but if then "
    "me my our your its it's i we you can could would please pls just also".split())


_DANGLING = frozenset("do does did is are was were has have had the when where which who why how what".split())


_NEG_SENTENCE = re.compile(r"^(?:do not|don't|never|not)\s+(?:use|trigger|activate|invoke|for|when)\b", re.IGNORECASE)


def _plain_words(text: str) -> list[str | None]:
    """The words of ``text`` in order, lowercased; None for a token that is code, a path, a number or camelCase."""
    out: list[str | None] = []
    for tok in text.split():
        w = tok.strip(",.!?;:\"'()“”‘’")
        out.append(w.lower() if _PLAIN.fullmatch(w) else None)
    return out


def _ngrams(text: str, longest: int = 3) -> set[str]:
    """The plain-word n-grams of ``text`` (never across a code token), not starting or ending on a stop word."""
    words = _plain_words(text)
    out = set()
    for n in range(1, longest + 1):
        for i in range(len(words) - n + 1):
            gram = words[i:i + n]
            if None in gram or gram[0] in _EDGE_STOP or gram[-1] in _EDGE_STOP:  # type: ignore[operator]
                continue
            if n == 1 and len(gram[0]) < 4:  # type: ignore[arg-type]
                continue
            out.add(" ".join(gram))  # type: ignore[arg-type]
    return out


def _plain_runs(text: str, shortest: int = 4, longest: int = 14) -> list[str]:
    """The runs of plain words in ``text`` between code tokens and sentence ends, as candidate phrases."""
    out = []
    for sentence in re.split(r"(?<=[.!?])\s+|\n+", text):
        run: list[str] = []
        for w in _plain_words(sentence) + [None]:
            if w:
                run.append(w)
                continue
            while run and run[0] in _EDGE_STOP:
                run.pop(0)
            while run and run[-1] in _EDGE_STOP | _DANGLING:
                run.pop()
            if len(run) >= shortest:
                out.append(" ".join(run[:longest]))
            run = []
    return out

_GAP, _RATIO = 0.05, 3.0  # how much more common in the positive prompts an n-gram must be


def _distinctive(grams: Sequence[set[str]], members: np.ndarray, positive: np.ndarray, negative: np.ndarray,
                 rows_of: dict[str, np.ndarray], description: str, top: int = 3) -> list[str]:
    """N-grams shared by the ``members`` rows that mark ``positive`` rows against ``negative`` ones (boolean
    masks): their rate among the positive minus among the negative, and a multiple of it; not yet described."""
    if len(members) < 2:
        return []
    floor = max(2, math.ceil(0.25 * len(members)))
    shared = [g for g, c in Counter(g for i in members for g in grams[i]).items() if c >= floor]
    n_pos, n_neg = max(int(positive.sum()), 1), max(int(negative.sum()), 1)
    have = description.lower()
    scored = []
    for g in shared:
        rows = rows_of[g]
        a, b = positive[rows].sum() / n_pos, negative[rows].sum() / n_neg
        if a > _RATIO * b and a - b > _GAP and g not in have:
            scored.append((a - b, len(g), g))
    out: list[str] = []
    for _, _, g in sorted(scored, reverse=True):
        if len(out) == top:
            break
        if not any(g in o or o in g for o in out):
            out.append(g)
    return out


def _insert_positive(description: str, sentence: str) -> str:
    """Add a positive sentence before the first "Do NOT" sentence (else at the end)."""
    parts = split_sentences(description)
    at = next((i for i, s in enumerate(parts) if _NEG_SENTENCE.match(s)), len(parts))
    return " ".join(parts[:at] + [sentence] + parts[at:])


def _remove_item(description: str, item: str) -> str | None:
    """The description without one sentence, or one list item or quoted phrase with its separator (inside the
    first sentence that holds it; a "Do NOT" sentence left with no item goes whole), or None."""
    sentences = split_sentences(description)
    for i, s in enumerate(sentences):
        if s.rstrip(".!") == item or s == item:
            return " ".join(sentences[:i] + sentences[i + 1:])
    esc = re.escape(item)
    quoted = rf"(?:\"{esc}\"|'{esc}'|“{esc}”|{esc}(?:\s*\((?:→|->)\s*[a-z0-9-]+\))?)"
    patterns = (rf",\s*(?:or\s+|and\s+)?{quoted}(?=[\s,.;:—–)]|$)", rf"(?<![\w'\"]){quoted},\s*",
                rf"\s+(?:or|and)\s+{quoted}(?=[\s,.;:—–)]|$)", rf"(?<![\w'\"]){quoted}\s+(?:or|and)\s+")
    for i, s in enumerate(sentences):
        if item not in s:
            continue
        for pattern in patterns:
            new, k = re.subn(pattern, "", s, count=1)
            if k:
                return " ".join(sentences[:i] + [" ".join(new.split())] + sentences[i + 1:])
        if _NEG_SENTENCE.match(s) and re.search(rf"(?<![\w'\"]){quoted}\s*[.!]?$", s):
            return " ".join(sentences[:i] + sentences[i + 1:])
    return None

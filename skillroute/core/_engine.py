"""The one scoring engine: a batch of requests against a catalog's trigger facets and rules, in array form.

``route``, ``route_many``, ``explain`` and ``tune`` all score through ``score`` and decide through
``choose``; the router only turns rows of their output into Decisions and reasons. Facets and rules are laid
out as (skill × slot) grids of row numbers, -1 where a skill has fewer, so a batch is scored against every
skill with a few matrix products, however large the catalog.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np

from ._lexical import LexicalIndex

__all__ = ["Scoring", "SkillSpec", "Index", "Batch", "Scored", "Choice", "build_index", "score", "choose",
           "combine_views", "lexical_document"]


@dataclass(frozen=True)
class Scoring:
    """The description router's parameters (see ``Router``'s docstring for each)."""

    floor: float = 0.15
    margin: float = 0.0
    rules: bool = True
    rule_margin: float = 0.05
    rule_penalty: float = 0.05
    redirect_boost: float = 0.02
    rule_scale: float = 10.0
    view_weights: tuple[float, ...] = (0.5, 0.25, 0.25)
    top_k: int = 5
    lexical_weight: float = 0.7
    none_margin: float = 0.0


@dataclass(frozen=True)
class SkillSpec:
    """What scoring reads of a skill: its name, kind, whether it routes, its facets and its rules."""

    name: str
    kind: str  # "exclusive" or "additive"
    routable: bool  # not disabled, and has at least one trigger facet
    triggers: tuple[str, ...]
    rules: tuple[tuple[str, str | None], ...]  # (phrase, redirect skill or None)

    @classmethod
    def of(cls, skill) -> SkillSpec:
        triggers = tuple(skill.triggers)
        rules = tuple((r.phrase, r.redirect) for r in skill.rules) if triggers else ()  # no trigger: no rules
        return cls(skill.name, skill.kind, bool(triggers) and not skill.disabled, triggers, rules)


def lexical_document(spec: SkillSpec) -> str:
    """A skill's TF-IDF text: its trigger facets and its name in words ("code-review" → "code review"),
    which in public catalogs often says what the skill is for (measured: +0 to +7 points of zero-shot top-1
    on the public catalogs of eval/catalogs, 0 on the shipped test split; as an embedded facet it lost points)."""
    return " ".join([*spec.triggers, spec.name.replace("-", " ")])


def _segments(counts: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """(start, count) of each skill's rows: a skill's facets (and its rules) are consecutive rows."""
    count = np.asarray(counts, dtype=np.int64)
    start = np.concatenate([[0], np.cumsum(count)[:-1]]).astype(np.int64) if len(count) else count
    return start, count


@dataclass
class Index:
    """Everything scoring needs of a catalog and an encoder, built once."""

    names: list[str]
    name_array: np.ndarray  # the names as an object array: a ranking of 10,000 skills is one take, not a loop
    exclusive: np.ndarray  # indices (into names) of the routable exclusive skills
    additive: np.ndarray  # indices of the routable additive skills
    facet_text: list[str]
    facets_t: np.ndarray  # facet vectors, transposed (dim x facets, contiguous: one matrix product a batch)
    facet_start: np.ndarray  # per skill: its first facet's row (its facets are consecutive)
    facet_count: np.ndarray  # per skill: how many facets
    rule_text: list[str]
    rules_t: np.ndarray  # rule vectors, transposed
    rule_start: np.ndarray
    rule_count: np.ndarray
    rule_redirect: np.ndarray  # per rule row: skill index of its redirect, -1 = none
    lexical: LexicalIndex  # over each skill's lexical_document
    anchors: np.ndarray  # the none anchors' vectors
    anchor_text: tuple[str, ...]


def build_index(specs: Sequence[SkillSpec], anchors: Sequence[str],
                embed: Callable[[list[str]], np.ndarray]) -> Index:
    """Lay a catalog out for scoring; ``embed`` turns texts into unit vectors (the embedding cache, or a memo)."""
    names = [s.name for s in specs]
    pos = {n: i for i, n in enumerate(names)}
    facet_text = [t for s in specs for t in s.triggers]
    rule_text = [p for s in specs for p, _ in s.rules]
    redirects = [pos.get(t, -1) if t else -1 for s in specs for _, t in s.rules]
    vecs = embed(facet_text + rule_text + list(anchors))
    nf, nr = len(facet_text), len(rule_text)
    fstart, fcount = _segments([len(s.triggers) for s in specs])
    rstart, rcount = _segments([len(s.rules) for s in specs])
    return Index(
        names=names, name_array=np.array(names, dtype=object),
        exclusive=np.array([i for i, s in enumerate(specs) if s.routable and s.kind == "exclusive"], dtype=np.int64),
        additive=np.array([i for i, s in enumerate(specs) if s.routable and s.kind == "additive"], dtype=np.int64),
        facet_text=facet_text, facets_t=np.ascontiguousarray(vecs[:nf].T), facet_start=fstart, facet_count=fcount,
        rule_text=rule_text, rules_t=np.ascontiguousarray(vecs[nf:nf + nr].T), rule_start=rstart,
        rule_count=rcount,
        rule_redirect=np.array(redirects, dtype=np.int64),
        lexical=LexicalIndex([lexical_document(s) for s in specs]), anchors=vecs[nf + nr:],
        anchor_text=tuple(anchors))


@dataclass
class Batch:
    """Requests as the router reads them: up to three views each (vectors), and the prose for TF-IDF."""

    views: np.ndarray  # all views' vectors, one zero row appended (where a request has fewer views)
    view_index: np.ndarray  # requests x 3: row numbers into views, -1 = the zero row
    view_weight: np.ndarray  # requests x 3: each request's view weights, summing to 1
    prose: list[str]

    @classmethod
    def of(cls, view_counts: Sequence[int], vectors: np.ndarray, prose: Sequence[str],
           view_weights: Sequence[float]) -> Batch:
        """``vectors`` holds the views of request 0, then of request 1, … (``view_counts`` of each)."""
        n = len(view_counts)
        index = np.full((n, 3), -1, dtype=np.int64)
        weight = np.zeros((n, 3))
        w = np.asarray(view_weights, dtype=np.float64)
        start = 0
        for i, k in enumerate(view_counts):
            used = min(k, 3)
            index[i, :used] = range(start, start + used)
            weight[i, :used] = 1.0 if used == 1 else w[:used] / w[:used].sum()
            start += k
        dim = vectors.shape[1] if vectors.ndim == 2 and vectors.shape[1] else 1
        views = np.vstack([vectors.reshape(-1, dim), np.zeros((1, dim), dtype=np.float32)])
        return cls(views, index, weight, list(prose))

    def rows(self, which: slice) -> Batch:
        """The sub-batch of some requests, with only the views they use."""
        index = self.view_index[which]
        used = np.unique(index[index >= 0])
        remap = np.full(len(self.views), -1, dtype=np.int64)
        remap[used] = np.arange(len(used))
        views = np.vstack([self.views[used], self.views[-1:]])
        return Batch(views, np.where(index >= 0, remap[np.maximum(index, 0)], -1), self.view_weight[which],
                     self.prose[which])

    def combine(self, per_view: np.ndarray) -> np.ndarray:
        """Each request's weighted mean over its views of per-view rows (views x …) → requests x …"""
        return combine_views(per_view, self.view_index, self.view_weight)


def combine_views(per_view: np.ndarray, view_index: np.ndarray, view_weight: np.ndarray) -> np.ndarray:
    g = per_view[view_index]  # requests x 3 x …
    return (g * view_weight.reshape(view_weight.shape + (1,) * (per_view.ndim - 1))).sum(1)


@dataclass
class Scored:
    """Per request and skill (requests x skills): what scoring found."""

    trigger: np.ndarray  # the trigger score: mean of the top_k facets over views, plus the TF-IDF part
    scores: np.ndarray  # the trigger score after the rules
    best: np.ndarray  # the best single facet's similarity (view-weighted)
    best_facet: np.ndarray  # its row in index.facet_text (-1: no facet)
    rule_best: np.ndarray  # the best-matching rule's similarity (-inf: no rule)
    fired_rule: np.ndarray  # the row in index.rule_text of the rule that fired, -1 none
    strength: np.ndarray  # how hard a fired rule pushed (0 where none fired)
    anchor_sims: np.ndarray  # requests x anchors


SMALL_BATCH = 8


class _OneBlasThread:
    """BLAS on one thread while a few requests are scored: its worker threads otherwise spin after the matrix
    product and slow the next encode on the same cores (``benchmarks/run.py --only scale`` times a 10,000-skill
    route with and without this hold). Counted, so concurrent routes (the server's threads) set the limit once and the last one out
    restores it; large batches keep every thread, as they are not interleaved with encodes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._controller = None
        self._restore = None

    def __enter__(self) -> None:
        with self._lock:
            if self._users == 0:
                if self._controller is None:
                    from threadpoolctl import ThreadpoolController  # scans the loaded libraries: once

                    self._controller = ThreadpoolController()
                self._restore = self._controller.limit(limits=1, user_api="blas")
            self._users += 1

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._users -= 1
            if self._users == 0 and self._restore is not None:
                self._restore.restore_original_limits()
                self._restore = None


_ONE_BLAS_THREAD = _OneBlasThread()


def score(index: Index, batch: Batch, p: Scoring, chunk_cells: int = 4_000_000) -> Scored:
    """Score every request of ``batch`` against every skill of ``index``.

    A skill's trigger score is the mean of its ``top_k`` best facets (one lucky short facet does not win
    alone), averaged over the request's views, plus ``lexical_weight`` times the TF-IDF cosine. A rule fires
    when it matches the request better than the skill's best facet (by ``rule_margin``); the further it
    out-matches, the harder it pushes its skill down and its redirect up. Large batches over large catalogs
    are scored in chunks of requests, so the views x facets arrays stay under ``chunk_cells``.
    """
    per_request = 3 * (len(index.facet_text) + len(index.rule_text)) + 1
    step = max(1, chunk_cells // per_request)
    with _ONE_BLAS_THREAD if len(batch.view_index) <= SMALL_BATCH else nullcontext():
        if len(batch.view_index) > step:
            parts = [_score(index, batch.rows(slice(i, i + step)), p)
                     for i in range(0, len(batch.view_index), step)]
            return Scored(*(np.concatenate([getattr(q, f) for q in parts]) for f in Scored.__dataclass_fields__))
        return _score(index, batch, p)


def _segment_best(values: np.ndarray, start: np.ndarray, count: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row and skill: the largest of the skill's consecutive columns of ``values`` (-inf where it has
    none) and that column's number (-1 where none; the first where several tie)."""
    rows, n = values.shape[0], len(count)
    best = np.full((rows, n), -np.inf)
    arg = np.full((rows, n), -1, dtype=np.int64)
    has = count > 0
    if values.shape[1] and has.any():
        starts = start[has]
        top = np.maximum.reduceat(values, starts, axis=1)
        owner = np.repeat(np.arange(len(starts)), count[has])
        cols = np.arange(values.shape[1])
        first = np.minimum.reduceat(np.where(values == top[:, owner], cols, values.shape[1]), starts, axis=1)
        best[:, has] = top
        arg[:, has] = first
    return best, arg


def _top_mean(sims: np.ndarray, start: np.ndarray, count: np.ndarray, k: int) -> np.ndarray:
    """Per view and skill: the mean of the skill's ``k`` best facets (-1 for a skill without facets). Skills
    with at most ``k`` facets are a segment sum; only those with more are sorted."""
    out = np.full((sims.shape[0], len(count)), -1.0)
    has = count > 0
    few = has & (count <= k)
    if few.any():  # a segment runs to the next non-empty skill's start, so sum over all of them, keep the few
        sums = np.add.reduceat(sims, start[has], axis=1)
        out[:, few] = sums[:, few[has]] / count[few]
    many = np.flatnonzero(count > k)
    if len(many):
        width = int(count[many].max())
        slots = start[many, None] + np.arange(width)
        valid = np.arange(width) < count[many, None]
        g = np.where(valid, sims[:, np.where(valid, slots, 0)], -np.inf)  # views x skills x slots
        out[:, many] = np.partition(g, width - k, axis=2)[:, :, -k:].mean(2)
    return out


def _score(index: Index, batch: Batch, p: Scoring) -> Scored:
    n, s = len(batch.view_index), len(index.names)
    sims = batch.views @ index.facets_t  # views x facets
    top_mean = _top_mean(sims, index.facet_start, index.facet_count, max(1, p.top_k))
    best, best_facet = _segment_best(batch.combine(sims), index.facet_start, index.facet_count)
    trigger = batch.combine(top_mean) + p.lexical_weight * index.lexical.score_many(batch.prose)
    scores = trigger.copy()
    rule_best = np.full((n, s), -np.inf)
    fired_rule = np.full((n, s), -1, dtype=np.int64)
    strength = np.zeros((n, s))
    if p.rules and len(index.rule_text):
        rule_best, rows = _segment_best(batch.combine(batch.views @ index.rules_t), index.rule_start,
                                        index.rule_count)
        with np.errstate(invalid="ignore"):  # no rule and no facet: -inf - -inf never fires
            excess = rule_best - best - p.rule_margin
        fired = excess > 0
        strength = np.where(fired, 1 + p.rule_scale * np.where(fired, excess, 0), 0.0)
        fired_rule = np.where(fired, rows, -1)
        scores -= p.rule_penalty * strength
        ri, si = np.nonzero(fired)
        targets = index.rule_redirect[rows[ri, si]]
        has = targets >= 0
        np.add.at(scores, (ri[has], targets[has]), p.redirect_boost * strength[ri[has], si[has]])
    anchor_sims = batch.combine(batch.views @ index.anchors.T) if len(index.anchors) else np.zeros((n, 0))
    return Scored(trigger, scores, best, best_facet, rule_best, fired_rule, strength, anchor_sims)


# why a request got no skill (or got one), per row of a Choice
CHOSEN, NO_EXCLUSIVE, ANCHOR, FLOOR, TIE = range(5)


@dataclass
class Choice:
    """The exclusive skill each request's scores pick, and why."""

    pick: np.ndarray  # skill index per request, -1 = none
    why: np.ndarray  # CHOSEN, NO_EXCLUSIVE, ANCHOR, FLOOR or TIE
    order: np.ndarray  # requests x exclusive skills, best first (stable)
    top: np.ndarray  # the best exclusive score
    gap: np.ndarray  # its lead over the runner-up (over -1 when alone)
    anchor: np.ndarray  # the closest none anchor, -1 when there are none


def choose(index: Index, scores: np.ndarray, anchor_sims: np.ndarray, p: Scoring) -> Choice:
    """One test for every request, with or without rules: the closest none anchor beats the best skill →
    none; the best under ``floor`` → none; the best leading by less than ``margin`` → none (a tie)."""
    n, ex = len(scores), index.exclusive
    if not len(ex):
        empty = np.zeros((n, 0), dtype=np.int64)
        return Choice(np.full(n, -1), np.full(n, NO_EXCLUSIVE), empty, np.full(n, -np.inf), np.zeros(n),
                      np.full(n, -1))
    order = ex[np.argsort(-scores[:, ex], axis=1, kind="stable")]
    top = np.take_along_axis(scores, order[:, :1], 1)[:, 0]
    second = np.take_along_axis(scores, order[:, 1:2], 1)[:, 0] if len(ex) > 1 else np.full(n, -1.0)
    gap = top - second
    anchor = np.argmax(anchor_sims, axis=1) if anchor_sims.shape[1] else np.full(n, -1)
    closest = anchor_sims[np.arange(n), anchor] if anchor_sims.shape[1] else np.full(n, -np.inf)
    why = np.select([closest > top + p.none_margin, top < p.floor, gap < p.margin], [ANCHOR, FLOOR, TIE], CHOSEN)
    return Choice(np.where(why == CHOSEN, order[:, 0], -1), why, order, top, gap, anchor)

"""The one scoring engine: a batch of requests against a catalog's trigger facets and rules, in array form.

``route``, ``route_many``, ``explain`` and ``tune`` all score through ``score`` and decide through
``choose``; the router only turns rows of their output into Decisions and reasons. Facets and rules are laid
out as (skill × slot) grids of row numbers, -1 where a skill has fewer, so a batch is scored against every
skill with a few matrix products, however large the catalog.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
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


def _grid(groups: list[list[int]]) -> np.ndarray:
    width = max((len(g) for g in groups), default=0)
    out = np.full((len(groups), max(width, 1)), -1, dtype=np.int64)
    for i, g in enumerate(groups):
        out[i, : len(g)] = g
    return out


@dataclass
class Index:
    """Everything scoring needs of a catalog and an encoder, built once."""

    names: list[str]
    exclusive: np.ndarray  # indices (into names) of the routable exclusive skills
    additive: np.ndarray  # indices of the routable additive skills
    facet_text: list[str]
    facets: np.ndarray  # facet vectors
    facet_grid: np.ndarray  # skills x max facets, row numbers into facets, -1 = empty
    rule_text: list[str]
    rules: np.ndarray
    rule_grid: np.ndarray  # skills x max rules, row numbers into rules, -1 = empty
    rule_redirect: np.ndarray  # per rule row: skill index of its redirect, -1 = none
    lexical: LexicalIndex  # over each skill's lexical_document
    anchors: np.ndarray  # the none anchors' vectors
    anchor_text: tuple[str, ...]


def build_index(specs: Sequence[SkillSpec], anchors: Sequence[str],
                embed: Callable[[list[str]], np.ndarray]) -> Index:
    """Lay a catalog out for scoring; ``embed`` turns texts into unit vectors (the embedding cache, or a memo)."""
    names = [s.name for s in specs]
    pos = {n: i for i, n in enumerate(names)}
    facet_text: list[str] = []
    rule_text: list[str] = []
    redirects: list[int] = []
    facet_groups: list[list[int]] = []
    rule_groups: list[list[int]] = []
    for s in specs:
        facet_groups.append(list(range(len(facet_text), len(facet_text) + len(s.triggers))))
        facet_text.extend(s.triggers)
        rule_groups.append(list(range(len(rule_text), len(rule_text) + len(s.rules))))
        rule_text.extend(p for p, _ in s.rules)
        redirects.extend(pos.get(t, -1) if t else -1 for _, t in s.rules)
    vecs = embed(facet_text + rule_text + list(anchors))
    nf, nr = len(facet_text), len(rule_text)
    return Index(
        names=names,
        exclusive=np.array([i for i, s in enumerate(specs) if s.routable and s.kind == "exclusive"], dtype=np.int64),
        additive=np.array([i for i, s in enumerate(specs) if s.routable and s.kind == "additive"], dtype=np.int64),
        facet_text=facet_text, facets=vecs[:nf], facet_grid=_grid(facet_groups),
        rule_text=rule_text, rules=vecs[nf:nf + nr], rule_grid=_grid(rule_groups),
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


def score(index: Index, batch: Batch, p: Scoring, chunk_cells: int = 4_000_000) -> Scored:
    """Score every request of ``batch`` against every skill of ``index``.

    A skill's trigger score is the mean of its ``top_k`` best facets (one lucky short facet does not win
    alone), averaged over the request's views, plus ``lexical_weight`` times the TF-IDF cosine. A rule fires
    when it matches the request better than the skill's best facet (by ``rule_margin``); the further it
    out-matches, the harder it pushes its skill down and its redirect up. Large batches over large catalogs
    are scored in chunks of requests, so the views x skills x slots array stays under ``chunk_cells``.
    """
    per_request = 3 * index.facet_grid.size + 1
    step = max(1, chunk_cells // per_request)
    if len(batch.view_index) > step:
        parts = [_score(index, batch.rows(slice(i, i + step)), p) for i in range(0, len(batch.view_index), step)]
        return Scored(*(np.concatenate([getattr(q, f) for q in parts]) for f in Scored.__dataclass_fields__))
    return _score(index, batch, p)


def _score(index: Index, batch: Batch, p: Scoring) -> Scored:
    n, s = len(batch.view_index), len(index.names)
    grid = index.facet_grid
    empty = grid < 0
    sims = batch.views @ index.facets.T if len(index.facet_text) else np.zeros((len(batch.views), 1))
    raw = sims[:, np.maximum(grid, 0)]  # views x skills x slots
    masked = np.where(empty, -np.inf, raw)
    k = min(p.top_k, grid.shape[1])
    top = masked if k == grid.shape[1] else np.partition(masked, grid.shape[1] - k, axis=2)[:, :, -k:]
    valid = np.isfinite(top)
    top_mean = np.where(valid, top, 0).sum(2) / np.maximum(valid.sum(2), 1)
    top_mean[:, ~valid.any(2)[0]] = -1.0  # a skill without facets never wins
    per_facet = np.where(empty, -np.inf, batch.combine(raw))  # requests x skills x slots
    slot = np.argmax(per_facet, axis=2)
    best = np.take_along_axis(per_facet, slot[..., None], 2)[..., 0]
    best_facet = grid[np.arange(s)[None, :], slot]
    trigger = batch.combine(top_mean) + p.lexical_weight * index.lexical.score_many(batch.prose)
    scores = trigger.copy()
    rule_best = np.full((n, s), -np.inf)
    fired_rule = np.full((n, s), -1, dtype=np.int64)
    strength = np.zeros((n, s))
    if p.rules and len(index.rule_text):
        rgrid = index.rule_grid
        rs = batch.combine(batch.views @ index.rules.T)  # requests x rules
        rg = np.where(rgrid >= 0, rs[:, np.maximum(rgrid, 0)], -np.inf)  # requests x skills x rule slots
        rslot = np.argmax(rg, axis=2)
        rule_best = np.take_along_axis(rg, rslot[..., None], 2)[..., 0]
        with np.errstate(invalid="ignore"):  # no rule and no facet: -inf - -inf never fires
            excess = rule_best - best - p.rule_margin
        fired = excess > 0
        strength = np.where(fired, 1 + p.rule_scale * np.where(fired, excess, 0), 0.0)
        rows = rgrid[np.arange(s)[None, :], rslot]
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

"""The zero-shot router: score a request against each skill's trigger facets, apply the do/don't rules,
and decide one exclusive skill (or none) plus the additive skills that switch on beside it."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .catalog import Catalog, load_catalog
from .encoder import Encoder, load_encoder
from .query import explicit_invocation, prose, views

__all__ = ["Router", "Decision", "RuleHit", "NONE_ANCHORS"]

# Requests that need no skill: a request closer to these than to every skill's triggers gets none.
NONE_ANCHORS = (
    "thanks, that worked!", "hi there, how are you?", "good morning", "ok sounds good", "never mind, forget it",
    "write me a poem about the sea", "tell me a joke", "what should I cook for dinner tonight",
    "great job, thank you so much", "what's the weather like tomorrow", "recommend a good movie", "lol",
    "translate this sentence into French", "draft a friendly email to my landlord",
)


@dataclass(frozen=True)
class RuleHit:
    """A "Do NOT" rule that fired: the request matched it better than the skill's own triggers."""

    skill: str
    rule: str
    similarity: float
    trigger_similarity: float
    redirect: str | None

    def __str__(self) -> str:
        where = f", toward {self.redirect}" if self.redirect else ""
        return (f"rule of {self.skill} fired: 'Do NOT … {self.rule}' matched at {self.similarity:.2f}, "
                f"above its best trigger at {self.trigger_similarity:.2f}: pushed off {self.skill}{where}")


@dataclass(frozen=True)
class Decision:
    """The router's answer for one request.

    ``skill`` is the exclusive skill to use, or None when nothing clears the floor or two skills tie;
    ``also`` the additive skills that switch on; ``ranked`` every routable exclusive skill, best first.
    """

    skill: str | None
    also: list[str]
    confidence: float
    ranked: list[tuple[str, float]]
    reasons: list[str]
    explicit: bool = False
    rule_hits: list[RuleHit] = field(default_factory=list)
    skill_without_rules: str | None = None  # what the router would say with the do/don't rules off

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["ranked"] = [[n, s] for n, s in self.ranked]
        return d


@dataclass
class _Index:
    """Everything derived from the catalog and the encoder, built once on first use."""

    exclusive: list[str]
    additive: list[str]
    facet_text: list[str]
    facet_skill: np.ndarray  # skill index (into names) of each facet row
    facets: np.ndarray
    rule_skill: np.ndarray
    rule_redirect: list[int | None]
    rule_text: list[str]
    rules: np.ndarray
    names: list[str]
    lexical: Any  # LexicalIndex over each skill's trigger text
    anchors: np.ndarray  # the none anchors


class Router:
    """Route requests to skills from their descriptions.

    The constructor only stores its arguments (scikit-learn style); the trigger embeddings are built
    on the first call and read from the on-disk cache when unchanged. Thread-safe.

    floor: the best exclusive score must reach this, else ``skill`` is None.
    margin: the best must lead the runner-up by this much, else ``skill`` is None (a tie).
    additive_threshold: an additive skill switches on at this score.
    rules: apply the do/don't rules (False is the ablation).
    """

    def __init__(self, catalog: Catalog, encoder: Encoder | None = None, *, floor: float = 0.15,
                 margin: float = 0.0, additive_threshold: float = 0.25, rules: bool = True,
                 rule_margin: float = 0.05, rule_penalty: float = 0.05, redirect_boost: float = 0.02,
                 rule_scale: float = 10.0,
                 view_weights: Sequence[float] = (0.5, 0.25, 0.25), top_k: int = 5, lexical_weight: float = 0.7,
                 none_anchors: Sequence[str] = NONE_ANCHORS, none_margin: float = 0.0, temperature: float = 0.03,
                 cache_folder: str | Path | None = None):
        self.catalog = catalog
        self.encoder = encoder
        self.floor = floor
        self.margin = margin
        self.additive_threshold = additive_threshold
        self.rules = rules
        self.rule_margin = rule_margin
        self.rule_penalty = rule_penalty
        self.redirect_boost = redirect_boost
        self.rule_scale = rule_scale
        self.view_weights = view_weights
        self.top_k = top_k
        self.lexical_weight = lexical_weight
        self.none_anchors = none_anchors
        self.none_margin = none_margin
        self.temperature = temperature
        self.cache_folder = cache_folder
        self._lock = threading.RLock()
        self._index: _Index | None = None
        self._encoder: Encoder | None = None

    @classmethod
    def from_path(cls, *dirs: str | os.PathLike[str], model: str | None = None, backend: str | None = None,
                  lenient: bool = False, **kwargs: Any) -> Router:
        """Load the catalog in ``dirs`` and route with the default (or named) model and backend."""
        catalog = load_catalog(*dirs, lenient=lenient)
        encoder = kwargs.pop("encoder", None) or load_encoder(model, backend)
        return cls(catalog, encoder, **kwargs)

    # ------------------------------------------------------------------ setup

    def _get_encoder(self) -> Encoder:
        if self._encoder is None:
            self._encoder = self.encoder if self.encoder is not None else load_encoder()
        return self._encoder

    def _build(self) -> _Index:
        from .cache import EmbeddingCache

        with self._lock:
            if self._index is not None:
                return self._index
            enc = self._get_encoder()
            routable = [s for s in self.catalog]
            names = [s.name for s in routable]
            pos = {n: i for i, n in enumerate(names)}
            facet_text, facet_skill, rule_text, rule_skill, rule_redirect = [], [], [], [], []
            for s in routable:
                for t in s.triggers:
                    facet_text.append(t)
                    facet_skill.append(pos[s.name])
                for r in s.rules:
                    rule_text.append(r.phrase)
                    rule_skill.append(pos[s.name])
                    rule_redirect.append(pos.get(r.redirect) if r.redirect else None)
            from .lexical import LexicalIndex

            cache = EmbeddingCache(enc, self.cache_folder)
            anchors = list(self.none_anchors)
            vecs = cache.embed(facet_text + rule_text + anchors)
            lexical = LexicalIndex([" ".join(s.triggers) for s in routable])
            self._index = _Index(
                exclusive=[s.name for s in routable if s.kind == "exclusive" and not s.disabled],
                additive=[s.name for s in routable if s.kind == "additive" and not s.disabled],
                facet_text=facet_text, facet_skill=np.array(facet_skill, dtype=np.int64),
                facets=vecs[: len(facet_text)], rule_skill=np.array(rule_skill, dtype=np.int64),
                rule_redirect=rule_redirect, rule_text=rule_text,
                rules=vecs[len(facet_text):len(facet_text) + len(rule_text)], names=names, lexical=lexical,
                anchors=vecs[len(facet_text) + len(rule_text):])
            return self._index

    # ---------------------------------------------------------------- scoring

    def _combine(self, sims: np.ndarray) -> np.ndarray:
        """Weighted mean over a request's views (rows) of per-view scores; missing views share the weight."""
        w = np.asarray(self.view_weights[: len(sims)], dtype=np.float64)
        if len(sims) == 1:
            return sims[0]
        w = w / w.sum()
        return (w[:, None] * sims).sum(0)

    def _score(self, idx: _Index, qv: np.ndarray, prose: str) -> dict[str, Any]:
        """Per-skill trigger scores, rule effects and the best facet of each skill, for one request.

        A skill's embedding score is the mean of its ``top_k`` best facets (one lucky short facet does not
        win alone), averaged over the request's views, plus ``lexical_weight`` times the TF-IDF cosine.
        """
        n = len(idx.names)
        fs = qv @ idx.facets.T  # views x facets
        per_view = np.full((len(qv), n), -1.0)
        best = np.full(n, -1.0)
        best_facet = np.zeros(n, dtype=np.int64)
        for k in range(n):
            cols = np.flatnonzero(idx.facet_skill == k)
            if len(cols):
                sub = fs[:, cols]
                per_view[:, k] = np.sort(sub, axis=1)[:, -self.top_k:].mean(1)
                combined = self._combine(sub)
                j = int(np.argmax(combined))
                best[k], best_facet[k] = combined[j], cols[j]
        trig = self._combine(per_view) + self.lexical_weight * idx.lexical.score(prose)
        scores = trig.copy()
        hits: list[RuleHit] = []
        if self.rules and len(idx.rule_text):
            rs = self._combine(qv @ idx.rules.T)
            for k in range(n):
                cols = np.flatnonzero(idx.rule_skill == k)
                if not len(cols):
                    continue
                j = cols[int(np.argmax(rs[cols]))]
                excess = rs[j] - best[k] - self.rule_margin
                if excess > 0:
                    # the further the rule out-matches the triggers, the harder the push
                    scores[k] -= self.rule_penalty * (1 + self.rule_scale * excess)
                    target = idx.rule_redirect[j]
                    if target is not None:
                        scores[target] += self.redirect_boost * (1 + self.rule_scale * excess)
                    hits.append(RuleHit(idx.names[k], idx.rule_text[j], float(rs[j]), float(best[k]),
                                        idx.names[target] if target is not None else None))
        return {"trigger": trig, "scores": scores, "best_facet": best_facet, "hits": hits}

    def _decide(self, idx: _Index, qv: np.ndarray, prose: str) -> Decision:
        sc = self._score(idx, qv, prose)
        pos = {name: i for i, name in enumerate(idx.names)}
        ex = [pos[n] for n in idx.exclusive]
        scores, trig = sc["scores"], sc["trigger"]
        order = sorted(ex, key=lambda k: -scores[k])
        ranked = [(idx.names[k], round(float(scores[k]), 4)) for k in order]
        reasons: list[str] = []
        skill = None
        confidence = 0.0
        if order:
            z = np.array([scores[k] for k in order]) / self.temperature
            p = np.exp(z - z.max())
            p /= p.sum()
            top, gap = scores[order[0]], scores[order[0]] - (scores[order[1]] if len(order) > 1 else -1.0)
            best = idx.names[order[0]]
            facet = idx.facet_text[sc["best_facet"][order[0]]]
            anchor = None
            if len(idx.anchors):
                a = self._combine(qv @ idx.anchors.T)
                anchor = int(np.argmax(a))
            if anchor is not None and a[anchor] > top + self.none_margin:
                reasons.append(f"no skill: closer to \"{self.none_anchors[anchor]}\" ({a[anchor]:.2f}) than to any "
                               f"skill (best {best} {top:.2f})")
                confidence = float(1 - p[0])
            elif top < self.floor:
                reasons.append(f"no skill: best score {top:.2f} ({best}) is under the floor {self.floor:.2f}")
                confidence = float(1 - p[0])
            elif gap < self.margin:
                runner = idx.names[order[1]]
                reasons.append(f"no skill: {best} and {runner} tie ({gap:.3f} apart, margin {self.margin:.3f})")
                confidence = float(1 - p[0])
            else:
                skill, confidence = best, float(p[0])
                reasons.append(f"{best}: trigger \"{_clip(facet)}\" matched, score {trig[order[0]]:.2f}; "
                               f"leads {idx.names[order[1]] if len(order) > 1 else 'nothing'} by {gap:.3f}")
        hits = sc["hits"]
        reasons.extend(str(h) for h in hits)
        also = []
        for name in idx.additive:
            k = pos[name]
            if scores[k] >= self.additive_threshold:
                also.append(name)
                reasons.append(f"{name} (additive): trigger \"{_clip(idx.facet_text[sc['best_facet'][k]])}\" "
                               f"at {scores[k]:.2f} ≥ {self.additive_threshold:.2f}")
        unruled = None
        if order:
            tbest = max(ex, key=lambda k: trig[k])
            second = sorted((trig[k] for k in ex), reverse=True)[1] if len(ex) > 1 else -1.0
            if trig[tbest] >= self.floor and trig[tbest] - second >= self.margin:
                unruled = idx.names[tbest]
        return Decision(skill=skill, also=also, confidence=round(confidence, 4), ranked=ranked,
                        reasons=reasons, rule_hits=hits, skill_without_rules=unruled if self.rules else skill)

    # ----------------------------------------------------------------- public

    def route(self, text: str) -> Decision:
        """Route one request."""
        return self.route_many([text])[0]

    def route_many(self, texts: Sequence[str]) -> list[Decision]:
        """Route several requests with one batched encode; equal to calling ``route`` on each."""
        if isinstance(texts, str):
            raise TypeError("route_many takes a list of texts; use route() for one")
        plans: list[tuple[str | None, list[str], str]] = []
        for t in texts:
            if not isinstance(t, str):
                raise TypeError(f"a request must be a str, not {type(t).__name__}")
            if not t.strip():
                raise ValueError("cannot route an empty request")
            inv = explicit_invocation(t)
            if inv and inv[0] in self.catalog:
                rest = inv[1]
                plans.append((inv[0], views(rest) if rest else [], prose(rest)))
            else:
                plans.append((None, views(t), prose(t)))
        idx = self._build()
        flat = [v for _, vs, _ in plans for v in vs]
        vecs = self._get_encoder().encode(flat) if flat else np.zeros((0, 0), dtype=np.float32)
        out: list[Decision] = []
        i = 0
        for invoked, vs, text in plans:
            qv = vecs[i:i + len(vs)]
            i += len(vs)
            if invoked is None:
                out.append(self._decide(idx, qv, text))
            else:
                out.append(self._explicit(idx, invoked, qv, text))
        return out

    def _explicit(self, idx: _Index, name: str, qv: np.ndarray, text: str) -> Decision:
        skill = self.catalog[name]
        reasons = [f"explicit invocation: the request starts with /{name}"]
        also: list[str] = []
        ranked: list[tuple[str, float]] = []
        if len(qv):
            d = self._decide(idx, qv, text)
            also, ranked = d.also, d.ranked
            reasons += [r for r in d.reasons if "(additive)" in r]
        if skill.kind == "additive":
            also = sorted(set(also) | {name})
            return Decision(skill=None, also=also, confidence=1.0, ranked=ranked, reasons=reasons, explicit=True)
        return Decision(skill=name, also=also, confidence=1.0, ranked=ranked, reasons=reasons, explicit=True,
                        skill_without_rules=name)

    async def aroute(self, text: str) -> Decision:
        """``route`` for async harnesses: runs in a worker thread, never blocking the event loop."""
        return await asyncio.to_thread(self.route, text)

    def shortlist(self, text: str, k: int = 3) -> list[tuple[str, float]]:
        """The k most likely exclusive skills with their scores, for harnesses that show an LLM only a few."""
        if k < 1:
            raise ValueError("k must be at least 1")
        return self.route(text).ranked[:k]


def _clip(text: str, n: int = 70) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"

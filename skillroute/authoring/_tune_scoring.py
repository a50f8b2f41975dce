"""Tuning's view of the description router: every labelled prompt scored under an edited catalog at
once, through the router's own engine (``skillroute.core._engine``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core._catalog import Catalog
from ..core._dataset import NONE, Example
from ..core._engine import ANCHOR, Batch, SkillSpec, build_index, choose, score
from ..core._query import explicit_invocation, read_request


@dataclass(frozen=True)
class _Spec:
    """What the router reads of a catalog: per skill its facets, its rules (phrase, redirect), kind, disabled."""

    names: tuple[str, ...]
    kinds: tuple[str, ...]
    disabled: tuple[bool, ...]
    triggers: tuple[tuple[str, ...], ...]
    rules: tuple[tuple[tuple[str, str | None], ...], ...]

    @classmethod
    def of(cls, catalog: Catalog) -> _Spec:
        return cls(tuple(s.name for s in catalog), tuple(s.kind for s in catalog), tuple(s.disabled for s in catalog),
                   tuple(s.triggers for s in catalog), tuple(tuple((r.phrase, r.redirect) for r in s.rules)
                                                             for s in catalog))

    def skills(self) -> list[SkillSpec]:
        """The engine's view of each skill (a skill with no trigger is not routed, and its rules neither)."""
        return [SkillSpec(n, kind, bool(ts) and not off, ts, rs if ts else ())
                for n, kind, off, ts, rs in zip(self.names, self.kinds, self.disabled, self.triggers, self.rules,
                                                strict=True)]

    def replace(self, k: int, triggers: tuple[str, ...] | None = None,
                rules: tuple[tuple[str, str | None], ...] | None = None) -> _Spec:
        t, r = list(self.triggers), list(self.rules)
        if triggers is not None:
            t[k] = triggers
        if rules is not None:
            r[k] = rules
        return dataclasses.replace(self, triggers=tuple(t), rules=tuple(r))


@dataclass
class _Pass:
    """The zero-shot decisions for every example under one catalog, with what decided them."""

    pred: np.ndarray  # skill index per example, -1 for none
    correct: np.ndarray  # bool per example
    best_facet: np.ndarray  # examples x skills: the facet text index that matched best
    fired: np.ndarray  # examples x skills: the rule text index that fired, -1 none
    redirect_of: np.ndarray  # examples x skills: the skill whose fired rule boosted this one most, -1 none
    anchor: np.ndarray  # bool per example: none because a no-skill anchor was closer
    facet_text: list[str]
    rule_text: list[str]


class _Scorer:
    """The description router's decisions for all examples at once, through the router's own engine.

    The request views are encoded once (through the on-disk embedding cache), so scoring an edited catalog
    costs a few array operations; new facet and rule texts are encoded in memory and remembered.
    """

    def __init__(self, router: Any, examples: Sequence[Example]):
        from ..core._cache import EmbeddingCache

        self.router = router
        self.params = router.scoring()
        self.encoder = router._get_encoder()
        names = router.catalog.names
        kinds = {s.name: s.kind for s in router.catalog}
        n = len(examples)
        self.explicit = np.full(n, -2, dtype=np.int64)  # -2: routed; else the invoked skill (-1: none)
        views: list[list[str]] = []
        proses: list[str] = []
        for i, e in enumerate(examples):
            inv = explicit_invocation(e.prompt)
            if inv and inv[0] in router.catalog:
                self.explicit[i] = names.index(inv[0]) if kinds[inv[0]] == "exclusive" else -1
            body, vs = read_request(e.prompt)
            proses.append(body if self.explicit[i] == -2 else "")
            views.append(vs[:3])
        flat = [v for vs in views for v in vs]
        self.batch = Batch.of([len(vs) for vs in views], EmbeddingCache(self.encoder, router.cache_folder).embed(flat),
                              proses, router.view_weights)
        self.prompt_vec = self.batch.views[self.batch.view_index[:, 0]]
        self._memo: dict[str, np.ndarray] = {}
        labels = {nm: k for k, nm in enumerate(names)}
        self.ok = np.zeros((n, len(names) + 1), dtype=bool)  # column len(names) is "none"
        for i, e in enumerate(examples):
            for lab in (e.skill, *e.acceptable):
                self.ok[i, labels.get(lab, len(names)) if lab != NONE else len(names)] = True
        self.gold = np.array([labels[e.skill] if e.skill != NONE else -1 for e in examples], dtype=np.int64)

    def vectors(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings of facet, rule or anchor texts, encoded once per text (not written to the disk cache)."""
        missing = [t for t in dict.fromkeys(texts) if t not in self._memo]
        if missing:
            for t, v in zip(missing, self.encoder.encode(missing), strict=True):
                self._memo[t] = v
        dim = self.batch.views.shape[1]
        return np.stack([self._memo[t] for t in texts]) if texts else np.zeros((0, dim), dtype=np.float32)

    def predict(self, spec: _Spec) -> _Pass:
        idx = build_index(spec.skills(), self.router.none_anchors, self.vectors)
        sc = score(idx, self.batch, self.params)
        ch = choose(idx, sc.scores, sc.anchor_sims, self.params)
        n = len(self.gold)
        redirect_of = np.full(sc.scores.shape, -1, dtype=np.int64)
        ri, si = np.nonzero(sc.fired_rule >= 0)
        ti = idx.rule_redirect[sc.fired_rule[ri, si]]
        has = ti >= 0
        redirect_of[ri[has], ti[has]] = si[has]
        pred = np.where(self.explicit != -2, self.explicit, ch.pick)
        correct = self.ok[np.arange(n), np.where(pred < 0, len(spec.names), pred)]
        return _Pass(pred, correct, sc.best_facet, sc.fired_rule, redirect_of,
                     (ch.why == ANCHOR) & (self.explicit == -2), idx.facet_text, idx.rule_text)

"""The scoring engine against a plain reference: one request, one skill, one facet at a time.

The engine scores with segment reductions over consecutive facet rows (so a catalog of 10,000 skills costs
one matrix product); the reference below says what each number means, in loops. Vectors are random unit
vectors keyed by text: the arithmetic is under test here, not the model.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from skillroute.core._engine import Batch, Scoring, SkillSpec, build_index, choose, score

DIM = 8


def _embedder(seed: int):
    rng = np.random.default_rng(seed)
    memo: dict[str, np.ndarray] = {}

    def embed(texts: list[str]) -> np.ndarray:
        for t in texts:
            if t not in memo:
                v = rng.normal(size=DIM)
                memo[t] = (v / np.linalg.norm(v)).astype(np.float32)
        return np.array([memo[t] for t in texts], dtype=np.float32).reshape(len(texts), DIM)

    return embed


def _reference(specs, anchors, embed, views, weights, prose, p: Scoring):
    """Each number the engine returns, computed the long way for one request."""
    from skillroute.core._engine import lexical_document
    from skillroute.core._lexical import LexicalIndex

    w = np.asarray(weights[: len(views)], dtype=np.float64)
    w = w / w.sum() if len(views) > 1 else np.ones(1)
    lex = LexicalIndex([lexical_document(s) for s in specs]).score(prose)
    vv = [embed([v])[0] for v in views]
    names = [s.name for s in specs]
    out = []
    for k, s in enumerate(specs):
        fv = embed(list(s.triggers)) if s.triggers else np.zeros((0, DIM))
        if len(fv):
            per_view = []
            for q in vv:
                sims = sorted((fv @ q).tolist(), reverse=True)
                per_view.append(np.mean(sims[: p.top_k]))
            sem = float(np.dot(w, per_view))
            facet_mix = [float(np.dot(w, [f @ q for q in vv])) for f in fv]
            best, best_i = max(facet_mix), int(np.argmax(facet_mix))
        else:
            sem, best, best_i = -1.0, -np.inf, -1
        rv = embed([r for r, _ in s.rules]) if s.rules else np.zeros((0, DIM))
        rule_mix = [float(np.dot(w, [r @ q for q in vv])) for r in rv]
        rule_best = max(rule_mix) if rule_mix else -np.inf
        out.append(dict(trigger=sem + p.lexical_weight * lex[k], best=best, best_i=best_i, rule_best=rule_best,
                        rule_i=int(np.argmax(rule_mix)) if rule_mix else -1))
    scores = [o["trigger"] for o in out]
    for k, s in enumerate(specs):
        o = out[k]
        if p.rules and o["rule_i"] >= 0 and o["rule_best"] - o["best"] - p.rule_margin > 0:
            strength = 1 + p.rule_scale * (o["rule_best"] - o["best"] - p.rule_margin)
            scores[k] -= p.rule_penalty * strength
            target = s.rules[o["rule_i"]][1]
            if target in names:
                scores[names.index(target)] += p.redirect_boost * strength
    return out, scores


spec_lists = st.lists(
    st.tuples(st.integers(0, 8), st.integers(0, 3), st.booleans(), st.lists(st.integers(0, 9), max_size=4)),
    min_size=1, max_size=9)


@settings(max_examples=60, deadline=None)
@given(spec_lists, st.integers(1, 6), st.integers(1, 3), st.integers(0, 2**16), st.sampled_from([-0.5, 0.05]))
def test_engine_matches_the_reference(raw, top_k, n_views, seed, rule_margin):
    names = [f"skill-{i}" for i in range(len(raw))]
    specs = []
    for i, (n_facets, n_rules, additive, targets) in enumerate(raw):
        triggers = tuple(f"facet {i} {j} word{j % 3}" for j in range(n_facets))
        rules = tuple((f"rule {i} {j}", names[targets[j] % len(names)] if j < len(targets) else None)
                      for j in range(n_rules)) if triggers else ()
        specs.append(SkillSpec(names[i], "additive" if additive else "exclusive", bool(triggers), triggers, rules))
    embed = _embedder(seed)
    anchors = ("anchor one", "anchor two")
    idx = build_index(specs, anchors, embed)
    views = [f"view {v} word{v}" for v in range(n_views)]
    p = Scoring(top_k=top_k, rule_margin=rule_margin)
    batch = Batch.of([n_views], embed(views), ["word1 facet"], p.view_weights)
    sc = score(idx, batch, p)
    ref, ref_scores = _reference(specs, anchors, embed, views, p.view_weights, "word1 facet", p)
    for k, o in enumerate(ref):
        assert np.isclose(sc.trigger[0, k], o["trigger"], atol=1e-5)
        assert sc.best[0, k] == o["best"] or np.isclose(sc.best[0, k], o["best"], atol=1e-5)
        facet = idx.facet_text[sc.best_facet[0, k]] if sc.best_facet[0, k] >= 0 else None
        assert facet == (specs[k].triggers[o["best_i"]] if o["best_i"] >= 0 else None)
        assert sc.rule_best[0, k] == o["rule_best"] or np.isclose(sc.rule_best[0, k], o["rule_best"], atol=1e-5)
        assert np.isclose(sc.scores[0, k], ref_scores[k], atol=1e-5)
    ch = choose(idx, sc.scores, sc.anchor_sims, p)
    routable = [k for k, s in enumerate(specs) if s.routable and s.kind == "exclusive"]
    if routable:
        assert max(ref_scores[k] for k in routable) == sc.scores[0, ch.order[0, 0]] or \
            np.isclose(max(ref_scores[k] for k in routable), sc.scores[0, ch.order[0, 0]], atol=1e-5)


def test_a_large_batch_is_scored_in_chunks_with_the_same_numbers():
    embed = _embedder(1)
    specs = [SkillSpec(f"s{i}", "exclusive", True, tuple(f"t{i} {j}" for j in range(1 + i % 7)),
                       ((f"r{i}", f"s{(i + 1) % 30}"),)) for i in range(30)]
    idx = build_index(specs, ("none",), embed)
    texts = [f"request {i}" for i in range(40)]
    batch = Batch.of([1] * 40, embed(texts), texts, (0.5, 0.25, 0.25))
    p = Scoring(rule_margin=-0.3)
    whole = score(idx, batch, p)
    chunked = score(idx, batch, p, chunk_cells=200)  # a few requests a chunk
    for f in whole.__dataclass_fields__:  # the matrix products differ in the last bits with their shape
        a, b = getattr(whole, f), getattr(chunked, f)
        assert np.array_equal(a, b) if a.dtype.kind == "i" else np.allclose(a, b, atol=1e-6), f

"""Instruments for skill authors: explain one routing decision, and lint a catalog's descriptions."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..core._query import read_request

__all__ = ["explain", "compare", "checkout_catalog"]


def explain(router, text: str) -> dict[str, Any]:
    """Every skill's score for ``text``: its best trigger facet, the rule that fired and its effect, the
    threshold, and why the winner won (its margin over the runner-up); the fitted head's view too."""
    from ..core._decision import rule_hits

    idx, batch, sc, _ = router.inspect([text])
    _, vs = read_request(text)
    lexical = idx.lexical.score(batch.prose[0])
    decision = router.route(text)
    fired = rule_hits(idx, sc, 0)
    hits = {h.skill: h for h in fired}
    boosts: dict[str, list[str]] = {}
    for h in fired:
        if h.redirect:
            boosts.setdefault(h.redirect, []).append(h.skill)
    fitted = dict(decision.ranked) if router.head_ is not None else {}
    skills = []
    for k, name in enumerate(idx.names):
        s = router.catalog[name]
        h = hits.get(name)
        skills.append({
            "skill": name, "kind": s.kind, "disabled": s.disabled,
            "score": float(sc.scores[0, k]), "trigger_score": float(sc.trigger[0, k]),
            "lexical": float(lexical[k]) * router.lexical_weight,
            "best_facet": idx.facet_text[sc.best_facet[0, k]] if sc.best_facet[0, k] >= 0 else None,
            "rule": None if h is None else {"text": h.rule, "similarity": h.similarity,
                                            "trigger_similarity": h.trigger_similarity, "redirect": h.redirect},
            "boosted_by_rules_of": boosts.get(name, []),
            "fitted_probability": fitted.get(name) if router.head_ is not None else None,
        })
    skills.sort(key=lambda r: -r["score"])
    ex = [r for r in skills if r["kind"] == "exclusive" and not r["disabled"]]
    margin = ex[0]["score"] - ex[1]["score"] if len(ex) > 1 else None
    return {"prompt": text, "views": vs, "decision": decision.to_dict(), "mode": "fitted" if router.head_ else
            "zero-shot", "router": router.describe(), "encoder": router._get_encoder().name, "thresholds": {"floor": router.floor, "margin": router.margin,
                                        "additive_threshold": router.additive_threshold,
                                        "rule_margin": router.rule_margin},
            "zero_shot_winner": ex[0]["skill"] if ex else None, "zero_shot_margin": margin, "skills": skills}


def checkout_catalog(spec: str, workdir: Path) -> Path:
    """A catalog folder from ``spec``: a directory, or ``REV:path`` read from git (``HEAD~1:skills``)."""
    import subprocess
    import tarfile

    p = Path(spec).expanduser()
    if p.is_dir() or ":" not in spec:
        return p
    rev, path = spec.split(":", 1)
    target = workdir / re.sub(r"[^A-Za-z0-9._-]", "_", rev)
    target.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(["git", "archive", "--format=tar", rev, path or "."], capture_output=True)
    if proc.returncode != 0:
        from ..errors import CatalogError

        raise CatalogError(f"cannot read '{path}' at git revision '{rev}': {proc.stderr.decode().strip()}")
    import io

    with tarfile.open(fileobj=io.BytesIO(proc.stdout)) as tar:
        tar.extractall(target, filter="data")
    return target / path


def compare(router_a, router_b, examples) -> dict[str, Any]:
    """Route the same labelled prompts with two routers: metric deltas, and every prompt whose route changed."""
    from ..evaluation._evaluate import RoutingEvaluator

    res = {}
    for key, r in (("a", router_a), ("b", router_b)):
        res[key] = RoutingEvaluator(examples, latency_sample=0)(r)
    per = {}
    for lab in res["a"]["labels"]:
        fa = res["a"]["per_skill"][lab]["f1"]
        fb = res["b"]["per_skill"].get(lab, {"f1": 0.0})["f1"]
        per[lab] = {"f1_a": fa, "f1_b": fb, "delta": fb - fa}
    fixed, broken, moved = [], [], []
    for e, da, db in zip(examples, res["a"]["decisions"], res["b"]["decisions"], strict=True):
        if da["predicted"] == db["predicted"]:
            continue
        row = {"line": e.line, "prompt": e.prompt, "expected": e.skill, "a": da["predicted"], "b": db["predicted"]}
        (fixed if db["correct"] and not da["correct"] else broken if da["correct"] and not db["correct"]
         else moved).append(row)
    keys = ("top1", "top1_weighted", "recall_at_3", "macro_f1")
    return {"overall": {k: {"a": res["a"][k], "b": res["b"][k], "delta": res["b"][k] - res["a"][k]} for k in keys},
            "per_skill": per, "fixed": fixed, "broken": broken, "changed_wrong_to_wrong": moved}

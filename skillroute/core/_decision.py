"""A routing decision and how one row of the engine's output becomes one, with its confidence and reasons.

The description router's decision (``zero_shot``), the fitted router's gated blend (``fitted``) and an
explicit ``/skill`` invocation (``explicit``) are functions of the engine's arrays, so ``route`` and
``route_many`` decide the same way whatever the batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ._engine import ANCHOR, CHOSEN, FLOOR, TIE, Choice, Index, Scored, Scoring

__all__ = ["Decision", "RuleHit", "NONE_ANCHORS", "ZERO_SHOT_CALIBRATION", "calibration_features",
           "zero_shot_confidence"]

# Requests that need no skill: a request closer to these than to every skill's triggers gets none.
NONE_ANCHORS = (
    "thanks, that worked!", "hi there, how are you?", "good morning", "ok sounds good", "never mind, forget it",
    "write me a poem about the sea", "tell me a joke", "what should I cook for dinner tonight",
    "great job, thank you so much", "what's the weather like tomorrow", "recommend a good movie", "lol",
    "translate this sentence into French", "draft a friendly email to my landlord",
)

# P(the description router's pick is right) = sigmoid(w · [score, lead over the runner-up, log(skills)] + b),
# fitted by eval/tools/calibrate_zero_shot.py on the shipped train split and five public catalogs, and measured
# on the shipped test split and three public catalogs it never saw (README: "Confidence").
ZERO_SHOT_CALIBRATION: tuple[float, float, float, float] = (2.5185, 3.085, 0.0714, -1.3872)


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


def calibration_features(ranked_scores: Sequence[float]) -> list[float]:
    """[best score, its lead over the runner-up, log of the number of candidates] of one decision."""
    top = float(ranked_scores[0])
    second = float(ranked_scores[1]) if len(ranked_scores) > 1 else top - 1.0
    return [top, top - second, float(np.log(len(ranked_scores)))]


def zero_shot_confidence(ranked_scores: Sequence[float], calibration: Sequence[float]) -> float:
    """The calibrated probability that the best-scored skill is the right one."""
    w = np.asarray(calibration[:3], dtype=np.float64)
    z = float(np.dot(w, calibration_features(ranked_scores)) + calibration[3])
    return float(1.0 / (1.0 + np.exp(-np.clip(z, -50, 50))))


def _clip(text: str, n: int = 70) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def rule_hits(idx: Index, sc: Scored, i: int) -> list[RuleHit]:
    """The rules that fired for request ``i``; in a large catalog, those touching the leading candidates."""
    fired = np.flatnonzero(sc.fired_rule[i] >= 0)
    rows = sc.fired_rule[i, fired]
    targets = idx.rule_redirect[rows]
    if len(fired) > 50:
        lead = np.union1d(np.argpartition(-sc.trigger[i], 19)[:20], np.argpartition(-sc.scores[i], 19)[:20])
        keep = np.flatnonzero(np.isin(fired, lead) | np.isin(targets, lead)).tolist()
    else:
        keep = list(range(len(fired)))
    return [RuleHit(idx.names[int(fired[j])], idx.rule_text[rows[j]], float(sc.rule_best[i, fired[j]]),
                    float(sc.best[i, fired[j]]), idx.names[targets[j]] if targets[j] >= 0 else None) for j in keep]


def _why(idx: Index, ch: Choice, sc: Scored, i: int, p: Scoring) -> str:
    order, top, gap = ch.order[i], ch.top[i], ch.gap[i]
    if not len(order):
        return "no skill: the catalog has no routable exclusive skill"
    best = idx.names[order[0]]
    why = ch.why[i]
    if why == ANCHOR:
        a = ch.anchor[i]
        return (f"no skill: closer to \"{idx.anchor_text[a]}\" ({sc.anchor_sims[i, a]:.2f}) than to any skill "
                f"(best {best} {top:.2f})")
    if why == FLOOR:
        return f"no skill: best score {top:.2f} ({best}) is under the floor {p.floor:.2f}"
    if why == TIE:
        return f"no skill: {best} and {idx.names[order[1]]} tie ({gap:.3f} apart, margin {p.margin:.3f})"
    runner = idx.names[order[1]] if len(order) > 1 else "nothing"
    return f"leads {runner} by {gap:.3f}"


def zero_shot(idx: Index, sc: Scored, ch: Choice, plain_pick: int, i: int, p: Scoring, additive_threshold: float,
              calibration: Sequence[float]) -> Decision:
    """The description router's decision for request ``i`` (``plain_pick``: the skill index chosen with the
    rules off, -1 for none; read only when a rule fired)."""
    scores, trig = sc.scores[i], sc.trigger[i]
    order = ch.order[i]
    ranked = list(zip(idx.name_array[order].tolist(), np.round(scores[order], 4).tolist(), strict=True))
    hits = rule_hits(idx, sc, i)
    chosen = int(ch.pick[i]) if ch.why[i] == CHOSEN else None
    skill = idx.names[chosen] if chosen is not None else None
    confidence = 0.0
    if len(order):
        top_p = zero_shot_confidence(scores[order], calibration)
        confidence = top_p if chosen is not None else 1 - top_p
    why = _why(idx, ch, sc, i, p)
    if chosen is None:
        reasons = [why]
    else:
        facet = idx.facet_text[sc.best_facet[i, chosen]]
        reasons = [f"{idx.names[chosen]}: trigger \"{_clip(facet)}\" matched, score {trig[chosen]:.2f}; {why}"]
    # every hit is in rule_hits; the reasons name those that touch the leading candidates
    leading = {n for n, _ in ranked[:5]} | {idx.names[k] for k in idx.additive}
    reasons.extend(str(h) for h in hits if h.skill in leading or h.redirect == skill)
    also = []
    for k in idx.additive:
        if scores[k] >= additive_threshold:
            also.append(idx.names[k])
            reasons.append(f"{idx.names[k]} (additive): trigger \"{_clip(idx.facet_text[sc.best_facet[i, k]])}\" "
                           f"at {scores[k]:.2f} ≥ {additive_threshold:.2f}")
    if hits:
        without = idx.names[plain_pick] if plain_pick >= 0 else None
    else:
        without = skill
    return Decision(skill=skill, also=also, confidence=round(confidence, 4), ranked=ranked,
                    reasons=reasons, rule_hits=hits, skill_without_rules=without)


def _head_pick(head, p: np.ndarray, keep: np.ndarray) -> tuple[str | None, float, np.ndarray, np.ndarray]:
    """The fitted head's skill (None: none, or under its floor), its confidence, the class order and the
    probabilities renormalised over the classes kept."""
    p = np.where(keep, p, 0.0)
    p = p / p.sum() if p.sum() > 0 else p
    order = np.argsort(-p, kind="stable")
    best = head.classes[order[0]]
    if best == "none" or p[order[0]] < head.none_floor:
        confidence = float(p[head.classes.index("none")]) if "none" in head.classes else float(1 - p[order[0]])
        return None, confidence, order, p
    return best, float(p[order[0]]), order, p


def fitted(idx: Index, sc: Scored, zero: Decision, head, x: np.ndarray, x_plain: np.ndarray, raw: str,
           stale: Sequence[str], i: int) -> Decision:
    """The gated blend for request ``i``: the description router (``zero``) decides whether a fitted skill is
    meant; the head then ranks the fitted skills (and none); otherwise the description router's decision
    stands. ``x_plain`` is the head's input with the rules off, for ``skill_without_rules``."""
    routable = {idx.names[k] for k in idx.exclusive}
    known = [c for c in head.classes if c == "none" or (c in routable and c not in stale)]
    top_zero = zero.ranked[0][0] if zero.ranked else None
    if top_zero is not None and top_zero not in known and zero.skill == top_zero:
        return Decision(zero.skill, zero.also, zero.confidence, zero.ranked,
                        [f"gate: {top_zero} has no fitted examples (or its description changed); "
                         "routed by its description"] + zero.reasons, rule_hits=zero.rule_hits,
                        skill_without_rules=zero.skill_without_rules)
    keep = np.array([c in known for c in head.classes])
    skill, confidence, order, shown = _head_pick(head, head.proba(x, raw), keep)
    ranked = [(head.classes[j], round(float(shown[j]), 4)) for j in order if head.classes[j] != "none" and keep[j]]
    ranked += [(n, 0.0) for n, _ in zero.ranked if n not in {r[0] for r in ranked}]
    best = head.classes[order[0]]
    if skill is None:
        reasons = [f"no skill: fitted head gives none {confidence:.2f}" if best == "none" else
                   f"no skill: the fitted head's best, {best} at {shown[order[0]]:.2f}, is under its floor "
                   f"{head.none_floor:.2f}"]
    else:
        runner = next((head.classes[j] for j in order[1:]), "nothing")
        reasons = [f"{skill}: fitted head {confidence:.2f}, next {runner} {shown[order[1]]:.2f}"
                   if len(order) > 1 else f"{skill}: fitted head {confidence:.2f}"]
        k = idx.names.index(skill)
        reasons.append(f"{skill}: its best trigger \"{_clip(idx.facet_text[sc.best_facet[i, k]])}\", "
                       f"description score {sc.scores[i, k]:.2f}")
    reasons.extend(r for r in zero.reasons if r.startswith("rule of"))
    also = []
    for k in idx.additive:
        name = idx.names[k]
        if name in head.additive and name not in stale:
            on, prob = head.additive_on(name, x, raw)
            if on:
                also.append(name)
                reasons.append(f"{name} (additive): fitted head {prob:.2f}")
        elif name in zero.also:
            also.append(name)
    without = skill if not zero.rule_hits else _head_pick(head, head.proba(x_plain, raw), keep)[0]
    return Decision(skill=skill, also=also, confidence=round(confidence, 4), ranked=ranked, reasons=reasons,
                    rule_hits=zero.rule_hits, skill_without_rules=without)


def explicit(name: str, kind: str, zero: Decision | None) -> Decision:
    """``/name …``: the named skill, confidence 1; the additive skills still switch on from the rest."""
    reasons = [f"explicit invocation: the request starts with /{name}"]
    also: list[str] = []
    ranked: list[tuple[str, float]] = []
    if zero is not None:
        also, ranked = zero.also, zero.ranked
        reasons += [r for r in zero.reasons if "(additive)" in r]
    if kind == "additive":
        return Decision(skill=None, also=sorted(set(also) | {name}), confidence=1.0, ranked=ranked, reasons=reasons,
                        explicit=True)
    return Decision(skill=name, also=also, confidence=1.0, ranked=ranked, reasons=reasons, explicit=True,
                    skill_without_rules=name)

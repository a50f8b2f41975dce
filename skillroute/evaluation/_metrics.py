"""Routing metrics as pure functions of labels and predictions (no I/O, no router).

Labels are skill names with "none" for no skill. Where an example allows alternatives (``acceptable``),
``effective_labels`` first maps a prediction that is an accepted alternative onto the label, so every
metric counts it as right.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

from ..errors import require

__all__ = [
    "effective_labels", "top1_accuracy", "recall_at_k", "per_label_scores", "confusion", "confused_with",
    "expected_calibration_error", "weighted_accuracy", "binary_prf", "PROFILE_MIX",
]

# The skill mix of real prompts to a coding agent (shared/PROMPT-PROFILE.md).
PROFILE_MIX = {"cook": 0.25, "ask": 0.13, "diagnose": 0.12, "fix": 0.11, "discuss": 0.08, "review": 0.06,
               "docs": 0.06, "none": 0.05, "give-plan": 0.04, "test": 0.04, "agent-browser": 0.03,
               "research": 0.02, "docs-seeker": 0.02}


def effective_labels(y_true: Sequence[str], y_pred: Sequence[str],
                     acceptable: Sequence[Sequence[str]] | None = None) -> list[str]:
    """The label each prediction is judged against: the prediction itself when it is acceptable."""
    if acceptable is None:
        return list(y_true)
    return [p if p in acc else t for t, p, acc in zip(y_true, y_pred, acceptable, strict=True)]


def top1_accuracy(y_true: Sequence[str], y_pred: Sequence[str]) -> float:
    if not y_true:
        return float("nan")
    return float(np.mean([t == p for t, p in zip(y_true, y_pred, strict=True)]))


def recall_at_k(y_true: Sequence[str], ranked: Sequence[Sequence[str]], k: int = 3) -> float:
    """Share of examples whose label is among the first k ranked skills ("none" counts when ranked says so)."""
    if not y_true:
        return float("nan")
    return float(np.mean([t in list(r)[:k] for t, r in zip(y_true, ranked, strict=True)]))


def per_label_scores(y_true: Sequence[str], y_pred: Sequence[str], *, labels: Sequence[str]) -> dict[str, dict]:
    """Precision, recall, F1 and support per label (scikit-learn's definitions, zero where undefined)."""
    require("eval", "sklearn", "scipy")
    from sklearn.metrics import precision_recall_fscore_support

    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=list(labels), zero_division=0)
    return {lab: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
            for i, lab in enumerate(labels)}


def confusion(y_true: Sequence[str], y_pred: Sequence[str], *, labels: Sequence[str]) -> np.ndarray:
    """Confusion matrix: rows are true labels, columns predictions, both in ``labels`` order."""
    require("eval", "sklearn", "scipy")
    from sklearn.metrics import confusion_matrix

    return confusion_matrix(y_true, y_pred, labels=list(labels))


def confused_with(y_true: Sequence[str], y_pred: Sequence[str], *, top: int = 3) -> dict[str, list[tuple[str, int]]]:
    """For each label, the predictions it was most often mistaken for, with counts."""
    out: dict[str, Counter] = {}
    for t, p in zip(y_true, y_pred, strict=True):
        if t != p:
            out.setdefault(t, Counter())[p] += 1
    return {t: c.most_common(top) for t, c in sorted(out.items())}


def expected_calibration_error(confidence: Sequence[float], correct: Sequence[bool], n_bins: int = 10) -> float:
    """Mean |accuracy - confidence| over equal-width confidence bins, weighted by bin size."""
    conf = np.asarray(confidence, dtype=float)
    ok = np.asarray(correct, dtype=float)
    if len(conf) == 0:
        return float("nan")
    bins = np.minimum((conf * n_bins).astype(int), n_bins - 1)
    total = 0.0
    for b in range(n_bins):
        m = bins == b
        if m.any():
            total += m.sum() * abs(ok[m].mean() - conf[m].mean())
    return float(total / len(conf))


def weighted_accuracy(y_true: Sequence[str], y_pred: Sequence[str], weights: dict[str, float] = PROFILE_MIX) -> float:
    """Accuracy re-weighted so each label counts by its share in ``weights`` (the real-prompt mix)."""
    per: dict[str, list[bool]] = {}
    for t, p in zip(y_true, y_pred, strict=True):
        per.setdefault(t, []).append(t == p)
    num = sum(weights.get(t, 0) * np.mean(v) for t, v in per.items())
    den = sum(weights.get(t, 0) for t in per)
    return float(num / den) if den else float("nan")


def binary_prf(truth: Sequence[bool], pred: Sequence[bool]) -> dict[str, float]:
    """Precision, recall and F1 of a yes/no decision (an additive skill switching on, or 'none')."""
    t = np.asarray(truth, dtype=bool)
    p = np.asarray(pred, dtype=bool)
    tp, fp, fn = int((t & p).sum()), int((~t & p).sum()), int((t & ~p).sum())
    prec = tp / (tp + fp) if tp + fp else 0.0
    rec = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    return {"precision": prec, "recall": rec, "f1": f1, "support": int(t.sum())}

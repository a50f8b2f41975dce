"""Fitted routing: a classifier head over the request's embedding and the description router's own scores,
learned from labelled prompts, applied with numpy alone.

scikit-learn fits it (imported only by ``fit_head``); prediction needs only the arrays, which are saved as
``.npz`` (no pickle) beside a ``meta.json`` that records what the head was fitted against.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ModelError

__all__ = ["FittedHead", "fit_head", "description_sha", "data_sha", "ARTIFACT_VERSION"]

ARTIFACT_VERSION = 1
NONE = "none"


def description_sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def data_sha(prompts: Sequence[str], labels: Sequence[str]) -> str:
    h = hashlib.sha256()
    for p, y in zip(prompts, labels, strict=True):
        h.update(json.dumps([p, y], ensure_ascii=False).encode())
    return h.hexdigest()


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


@dataclass
class _Linear:
    """Standardise, then a linear map: what a fitted scikit-learn pipeline of scaler + logistic regression is."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray  # classes x features (1 x features for a binary head)
    intercept: np.ndarray

    def logits(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mean) / self.scale) @ self.coef.T + self.intercept


@dataclass
class FittedHead:
    """The learned state of a fitted router (see ``Router.fit``)."""

    classes: list[str]  # exclusive skills with examples, plus "none"
    head: _Linear
    temperature: float
    none_floor: float  # a top probability under this gives no skill
    additive: dict[str, tuple[_Linear, float]]  # per additive skill: binary head and its threshold
    meta: dict[str, Any] = field(default_factory=dict)

    def proba(self, x: np.ndarray) -> np.ndarray:
        return _softmax(self.head.logits(x) / self.temperature)

    def additive_on(self, name: str, x: np.ndarray) -> tuple[bool, float]:
        lin, threshold = self.additive[name]
        p = float(1 / (1 + np.exp(-lin.logits(x)[..., 0])))
        return p >= threshold, p

    # ------------------------------------------------------------------ files

    def save(self, folder: str | Path) -> Path:
        """Write ``head.npz`` and ``meta.json`` into ``folder`` (created); returns the folder."""
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, np.ndarray] = {}
        for prefix, lin in [("head", self.head)] + [(f"add_{n}", lin) for n, (lin, _) in self.additive.items()]:
            for k in ("mean", "scale", "coef", "intercept"):
                arrays[f"{prefix}.{k}"] = getattr(lin, k).astype(np.float32)
        np.savez_compressed(out / "head.npz", **arrays)
        meta = {**self.meta, "artifact_version": ARTIFACT_VERSION, "classes": self.classes,
                "temperature": self.temperature, "none_floor": self.none_floor,
                "additive_thresholds": {n: t for n, (_, t) in self.additive.items()}}
        (out / "meta.json").write_text(json.dumps(meta, indent=1, ensure_ascii=False) + "\n")
        return out

    @classmethod
    def load(cls, folder: str | Path) -> FittedHead:
        folder = Path(folder)
        try:
            meta = json.loads((folder / "meta.json").read_text())
            with np.load(folder / "head.npz", allow_pickle=False) as data:
                arrays = {k: data[k].astype(np.float64) for k in data.files}
        except (OSError, ValueError, KeyError) as exc:
            raise ModelError(f"{folder}: not a readable fitted-router artifact ({exc}); refit with "
                             "`skillroute fit`") from exc
        if meta.get("artifact_version") != ARTIFACT_VERSION:
            raise ModelError(f"{folder}: artifact version {meta.get('artifact_version')} is not "
                             f"{ARTIFACT_VERSION}; refit with `skillroute fit`")

        def lin(prefix: str) -> _Linear:
            return _Linear(*(arrays[f"{prefix}.{k}"] for k in ("mean", "scale", "coef", "intercept")))

        additive = {n: (lin(f"add_{n}"), float(t)) for n, t in meta["additive_thresholds"].items()}
        return cls(classes=list(meta["classes"]), head=lin("head"), temperature=float(meta["temperature"]),
                   none_floor=float(meta["none_floor"]), additive=additive, meta=meta)

    def check(self, model_sha: str | None, descriptions: dict[str, str]) -> list[str]:
        """Skills whose description changed since the fit (they route by description); raises on another model."""
        fitted_model = self.meta.get("model_sha256")
        if fitted_model and model_sha and fitted_model != model_sha:
            raise ModelError(f"the fitted router was fitted on model {fitted_model[:12]}…, this encoder is "
                             f"{model_sha[:12]}…; refit with `skillroute fit`")
        changed = []
        for name, sha in self.meta.get("skill_sha", {}).items():
            if name in descriptions and description_sha(descriptions[name]) != sha:
                changed.append(name)
        if changed:
            warnings.warn(f"descriptions changed since the fit: {', '.join(sorted(changed))}; they route by their "
                          "description until you refit (`skillroute fit --data … --split train --out …`)",
                          stacklevel=3)
        return changed


def _fit_linear(x: np.ndarray, y: np.ndarray, seed: int, c: float) -> tuple[_Linear, np.ndarray]:
    from sklearn.linear_model import LogisticRegression

    mean = x.mean(0)
    scale = x.std(0)
    scale[scale < 1e-8] = 1.0
    clf = LogisticRegression(C=c, max_iter=2000, random_state=seed)
    clf.fit((x - mean) / scale, y)
    return _Linear(mean, scale, clf.coef_.copy(), clf.intercept_.copy()), clf.classes_


C_GRID = (0.005, 0.01, 0.02, 0.05, 0.1)


def fit_head(x: np.ndarray, y: Sequence[str], also: Sequence[Sequence[str]], additive: Sequence[str], *,
             seed: int = 0, folds: int = 5, c: float | None = None) -> FittedHead:
    """Fit the head on features ``x``. The regularisation (when ``c`` is None), the temperature, the none
    floor and the additive thresholds are all chosen on out-of-fold predictions: a threshold tuned on
    prompts the head was fitted on comes out too confident."""
    from sklearn.model_selection import StratifiedKFold

    y = np.asarray(y)
    classes = sorted(set(y.tolist()))
    counts = {k: int((y == k).sum()) for k in classes}
    k = max(2, min(folds, min(counts.values())))
    splits = list(StratifiedKFold(k, shuffle=True, random_state=seed).split(x, y))
    target = np.array([classes.index(v) for v in y])
    add_y = {a: np.array([a in s for s in also]) for a in additive}

    def out_of_fold(cv: float) -> np.ndarray:
        oof = np.zeros((len(y), len(classes)))
        for tr, te in splits:
            lin, cls = _fit_linear(x[tr], y[tr], seed, cv)
            full = np.full((len(te), len(classes)), -1e9)
            full[:, [classes.index(n) for n in cls]] = lin.logits(x[te])
            oof[te] = full
        return oof

    grid = (c,) if c is not None else C_GRID
    scored = [(float((out_of_fold(cv).argmax(1) == target).mean()), -i, cv) for i, cv in enumerate(grid)]
    c = max(scored)[2]
    oof = out_of_fold(c)
    best_t, best_nll = 1.0, np.inf
    for t in np.geomspace(0.25, 4, 41):  # the temperature that minimises the out-of-fold log-loss
        nll = -np.log(_softmax(oof / t)[np.arange(len(y)), target] + 1e-12).mean()
        if nll < best_nll:
            best_t, best_nll = float(t), nll
    p = _softmax(oof / best_t)
    top = p.argmax(1)
    best_floor, best_acc = 0.0, float((top == target).mean())
    if NONE in classes:  # a low top probability may be better read as "no skill"
        for floor in np.linspace(0.02, 0.6, 30):
            acc = float((np.where(p.max(1) < floor, classes.index(NONE), top) == target).mean())
            if acc > best_acc + 1e-9:
                best_floor, best_acc = float(floor), acc
    additive_heads = {}
    for a in additive:
        ya = add_y[a]
        if ya.all() or not ya.any():
            continue
        oof_a = np.zeros(len(y))
        for tr, te in splits:
            if ya[tr].any() and not ya[tr].all():
                alin, _ = _fit_linear(x[tr], ya[tr], seed, c)
                oof_a[te] = 1 / (1 + np.exp(-alin.logits(x[te])[:, 0]))
        best_th, best_f1 = 0.5, -1.0
        for th in np.linspace(0.1, 0.9, 33):
            pred = oof_a >= th
            f1 = 2 * int((pred & ya).sum()) / max(1, int(pred.sum()) + int(ya.sum()))
            if f1 > best_f1:
                best_th, best_f1 = float(th), f1
        additive_heads[a] = (_fit_linear(x, ya, seed, c)[0], best_th)
    lin, cls = _fit_linear(x, y, seed, c)
    assert list(cls) == classes
    return FittedHead(classes=classes, head=lin, temperature=best_t, none_floor=best_floor,
                      additive=additive_heads,
                      meta={"oof_top1": best_acc, "oof_nll": float(best_nll), "folds": k, "seed": seed, "C": c,
                            "C_grid": {str(cv): acc for acc, _, cv in scored}, "examples_per_class": counts})

"""Fitted routing: a classifier head over the request's embedding and the description router's own scores,
learned from labelled prompts, applied with numpy alone.

scikit-learn fits it (imported only by ``fit_head``); prediction needs only the arrays, which are saved as
``.npz`` (no pickle) beside a ``meta.json`` that records what the head was fitted against.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..core._head import NONE, FittedHead, _Linear, _log_sigmoid_pair, _log_softmax, _softmax, _Vectorizer
from ..errors import require

__all__ = ["fit_head"]


def _fit_linear(x: np.ndarray, y: np.ndarray, seed: int, c: float) -> tuple[_Linear, np.ndarray]:
    require("fit", "sklearn", "scipy")
    from sklearn.linear_model import LogisticRegression

    mean = x.mean(0)
    scale = x.std(0)
    scale[scale < 1e-8] = 1.0
    clf = LogisticRegression(C=c, max_iter=2000, random_state=seed)
    clf.fit((x - mean) / scale, y)
    return _Linear(mean, scale, clf.coef_.copy(), clf.intercept_.copy()), clf.classes_


C_GRID = (0.005, 0.01, 0.02, 0.05, 0.1)  # the head over embeddings and zero-shot scores
LEXICAL_C_GRID = (1.0, 3.0, 10.0, 30.0)  # the TF-IDF model
FUSION_GRID = tuple(np.round(np.linspace(0, 1, 11), 2))


def _fit_vectorizer(texts: Sequence[str]) -> tuple[_Vectorizer, Any]:
    require("fit", "sklearn", "scipy")
    from sklearn.feature_extraction.text import TfidfVectorizer

    vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2)
    matrix = vec.fit_transform(list(texts))
    return _Vectorizer({t: int(i) for t, i in vec.vocabulary_.items()}, vec.idf_.copy()), matrix


def _fit_sparse(matrix, y: np.ndarray, seed: int, c: float) -> tuple[_Linear, np.ndarray]:
    require("fit", "sklearn", "scipy")
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(C=c, max_iter=3000, random_state=seed).fit(matrix, y)
    n = matrix.shape[1]
    return _Linear(np.zeros(n), np.ones(n), clf.coef_.copy(), clf.intercept_.copy()), clf.classes_


def _oof_logits(fit_one, n: int, classes: list[str], splits) -> np.ndarray:
    """Out-of-fold log-probabilities over ``classes`` (a class absent from a fold's training gets -inf-ish)."""
    oof = np.zeros((n, len(classes)))
    for tr, te in splits:
        lin, cls, logits = fit_one(tr, te)
        full = np.full((len(te), len(classes)), -30.0)
        full[:, [classes.index(c) for c in cls]] = _log_softmax(logits) if logits.shape[1] > 1 else \
            _log_sigmoid_pair(logits[:, 0])
        oof[te] = full
    return oof


def _accuracy(logp: np.ndarray, target: np.ndarray) -> float:
    return float((logp.argmax(1) == target).mean())


def fit_head(x: np.ndarray, y: Sequence[str], also: Sequence[Sequence[str]], additive: Sequence[str], *,
             texts: Sequence[str] | None = None, seed: int = 0, folds: int = 5, c: float | None = None) -> FittedHead:
    """Fit the head on features ``x`` (and a TF-IDF model on ``texts``, fused with it).

    Everything chosen — the regularisation, the fusion weights, the temperature, the none floor and the
    additive thresholds — is chosen on out-of-fold predictions of the training data: a threshold tuned on
    prompts the head was fitted on comes out too confident.
    """
    require("fit", "sklearn", "scipy")
    from sklearn.model_selection import StratifiedKFold

    y = np.asarray(y)
    n = len(y)
    classes = sorted(set(y.tolist()))
    counts = {k: int((y == k).sum()) for k in classes}
    k = max(2, min(folds, min(counts.values())))
    splits = list(StratifiedKFold(k, shuffle=True, random_state=seed).split(x, y))
    target = np.array([classes.index(v) for v in y])

    def dense(cv):
        def fit_one(tr, te):
            lin, cls = _fit_linear(x[tr], y[tr], seed, cv)
            return lin, list(cls), lin.logits(x[te])
        return fit_one

    tried = {cv: _oof_logits(dense(cv), n, classes, splits) for cv in ((c,) if c is not None else C_GRID)}
    c = max(tried, key=lambda cv: (_accuracy(tried[cv], target), -cv))
    oof = tried[c]
    vectorizer = matrix = None
    lexical_c, fusion = None, 0.0
    if texts is not None:
        vectorizer, matrix = _fit_vectorizer(texts)

        def sparse(cv):
            def fit_one(tr, te):
                lin, cls = _fit_sparse(matrix[tr], y[tr], seed, cv)
                return lin, list(cls), lin.logits(matrix[te].toarray())
            return fit_one

        lex_tried = {cv: _oof_logits(sparse(cv), n, classes, splits) for cv in LEXICAL_C_GRID}
        lexical_c = max(lex_tried, key=lambda cv: (_accuracy(lex_tried[cv], target), -cv))
        lex_oof = lex_tried[lexical_c]
        fusion = max(FUSION_GRID, key=lambda a: (_accuracy((1 - a) * oof + a * lex_oof, target), -abs(a - 0.5)))
        oof = (1 - fusion) * oof + fusion * lex_oof
    best_t, best_nll = 1.0, np.inf
    for t in np.geomspace(0.25, 4, 41):  # the temperature that minimises the out-of-fold log-loss
        nll = -np.log(_softmax(oof / t)[np.arange(n), target] + 1e-12).mean()
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
    additive_heads, lexical_additive, fusion_additive = {}, {}, {}
    for a in additive:
        ya = np.array([a in s for s in also])
        if ya.all() or not ya.any():
            continue
        def binary(tr, te, ya=ya):
            lin = _fit_linear(x[tr], ya[tr], seed, c)[0]
            return lin, [False, True], lin.logits(x[te])

        dense_oof = _oof_logits(binary, n, [False, True], splits)
        logp, beta = dense_oof, 0.0
        if matrix is not None:
            def binary_lexical(tr, te, ya=ya):
                lin = _fit_sparse(matrix[tr], ya[tr], seed, lexical_c)[0]
                return lin, [False, True], lin.logits(matrix[te].toarray())

            lex_oof_a = _oof_logits(binary_lexical, n, [False, True], splits)
            beta = max(FUSION_GRID, key=lambda b: (_best_f1(np.exp(((1 - b) * dense_oof + b * lex_oof_a)[:, 1]),
                                                            ya)[1], -abs(b - 0.5)))
            logp = (1 - beta) * dense_oof + beta * lex_oof_a
            lexical_additive[a] = _fit_sparse(matrix, ya, seed, lexical_c)[0]
            fusion_additive[a] = float(beta)
        threshold, _ = _best_f1(np.exp(logp[:, 1]), ya)
        additive_heads[a] = (_fit_linear(x, ya, seed, c)[0], threshold)
    lin, cls = _fit_linear(x, y, seed, c)
    assert list(cls) == classes
    lexical = _fit_sparse(matrix, y, seed, lexical_c)[0] if matrix is not None else None
    return FittedHead(classes=classes, head=lin, temperature=best_t, none_floor=best_floor,
                      additive=additive_heads, vectorizer=vectorizer, lexical=lexical,
                      lexical_additive=lexical_additive, fusion=float(fusion), fusion_additive=fusion_additive,
                      meta={"oof_top1": best_acc, "oof_nll": float(best_nll), "folds": k, "seed": seed, "C": c,
                            "C_lexical": lexical_c, "C_grid": {str(cv): _accuracy(v, target) for cv, v in tried.items()},
                            "examples_per_class": counts})


def _best_f1(p: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    best_th, best_f1 = 0.5, -1.0
    for th in np.linspace(0.1, 0.9, 33):
        pred = p >= th
        f1 = 2 * int((pred & truth).sum()) / max(1, int(pred.sum()) + int(truth.sum()))
        if f1 > best_f1:
            best_th, best_f1 = float(th), f1
    return best_th, best_f1

"""Baseline routers, trained and scored in the same run, on the same split and encoder as skillroute's own:
TF-IDF + logistic regression, logistic regression and k-nearest neighbours on frozen embeddings, cosine to
whole descriptions, and a SetFit-style prompt-prompt contrastive fine-tune with a logistic head.

Each baseline maps (train examples, test prompts) to predicted labels and a ranking; used by
``skillroute eval --baselines``. Heavy imports happen inside the functions.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..core._dataset import NONE, Example
from ..errors import require

__all__ = ["BASELINES", "run_baselines"]

Prediction = tuple[list[str], list[list[str]]]  # labels, rankings (best first)


def _rank(proba: np.ndarray, classes: Sequence[str]) -> Prediction:
    order = np.argsort(-proba, axis=1)
    ranked = [[classes[j] for j in row] for row in order]
    return [r[0] for r in ranked], ranked


def tfidf_lr(train: Sequence[Example], test: Sequence[str], encode, catalog, seed: int) -> Prediction:
    require("eval", "sklearn", "scipy")
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    clf = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1),
                        LogisticRegression(C=10, max_iter=3000, random_state=seed))
    clf.fit([e.prompt for e in train], [e.skill for e in train])
    return _rank(clf.predict_proba(list(test)), list(clf.classes_))


def embedding_lr(train, test, encode, catalog, seed) -> Prediction:
    require("eval", "sklearn", "scipy")
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(C=1.0, max_iter=3000, random_state=seed)
    clf.fit(encode([e.prompt for e in train]), [e.skill for e in train])
    return _rank(clf.predict_proba(encode(list(test))), list(clf.classes_))


def knn(train, test, encode, catalog, seed, k: int = 7) -> Prediction:
    xtr, xte = encode([e.prompt for e in train]), encode(list(test))
    labels = [e.skill for e in train]
    classes = sorted(set(labels))
    sims = xte @ xtr.T
    votes = np.zeros((len(xte), len(classes)))
    for i, row in enumerate(sims):
        for j in np.argsort(-row)[:k]:
            votes[i, classes.index(labels[j])] += row[j]
    return _rank(votes, classes)


def description_cosine(train, test, encode, catalog, seed) -> Prediction:
    skills = [s for s in catalog.exclusive if not s.disabled]
    d = encode([s.description for s in skills])
    return _rank(encode(list(test)) @ d.T, [s.name for s in skills])


def setfit_style(train, test, encode, catalog, seed, steps: int = 150, batch: int = 32) -> Prediction:
    """Contrastive fine-tune on prompt-prompt pairs (in-batch negatives), then a logistic head.

    A full fine-tune (all weights, learning rate 3e-5) of 150 steps of 2 x 32 prompts: minutes on a CPU."""
    require("fit", "torch", "sentence_transformers")
    import torch
    from sentence_transformers import SentenceTransformer
    from sklearn.linear_model import LogisticRegression

    from ..core._encoder import resolve_model
    from ..learning._finetune import _embed

    torch.manual_seed(seed)
    rng = random.Random(seed)
    model = SentenceTransformer(str(resolve_model().path), device="cpu")
    model.max_seq_length = 128  # training activations for 2 x 32 prompts of 256 tokens exceed 10 GB on CPU
    model.train()
    by_label: dict[str, list[str]] = {}
    for e in train:
        by_label.setdefault(e.skill, []).append(e.prompt)
    labels = [lab for lab, v in by_label.items() if len(v) > 1]
    opt = torch.optim.AdamW(model.parameters(), lr=3e-5)

    def embed(texts):  # chunks of similar length: padding to the longest prompt tripled a step's cost
        return _embed(model[0].auto_model, model.tokenizer, texts, model.max_seq_length)

    for _ in range(steps):
        chosen = rng.sample(labels, min(batch, len(labels))) if len(labels) >= batch else \
            [rng.choice(labels) for _ in range(batch)]
        pairs = [rng.sample(by_label[lab], 2) for lab in chosen]
        a, b = embed([p[0] for p in pairs]), embed([p[1] for p in pairs])
        same = torch.tensor([[x == y for y in chosen] for x in chosen], dtype=torch.float32)
        logits = 20 * a @ b.T
        loss = -(torch.log_softmax(logits, dim=1) * same / same.sum(1, keepdim=True)).sum(1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    enc = lambda t: model.encode(list(t), normalize_embeddings=True, batch_size=64)  # noqa: E731
    clf = LogisticRegression(C=1.0, max_iter=3000, random_state=seed)
    clf.fit(enc([e.prompt for e in train]), [e.skill for e in train])
    return _rank(clf.predict_proba(enc(test)), list(clf.classes_))


BASELINES: dict[str, Callable[..., Prediction]] = {
    "tfidf + logistic regression": tfidf_lr,
    "logistic regression on frozen embeddings": embedding_lr,
    "k-nearest neighbours (k=7) on frozen embeddings": knn,
    "cosine to whole descriptions": description_cosine,
    "SetFit-style contrastive fine-tune + head": setfit_style,
}


def run_baselines(train: Sequence[Example], test: Sequence[Example], encoder, catalog, seed: int = 0,
                  names: Sequence[str] | None = None, **options: Any) -> dict[str, dict[str, float]]:
    """top-1 (acceptable counts), recall@3 and macro-F1 of every baseline on ``test``."""
    from . import _metrics as M

    cache: dict[str, np.ndarray] = {}

    def encode(texts):
        missing = [t for t in dict.fromkeys(texts) if t not in cache]
        if missing:
            for t, v in zip(missing, encoder.encode(missing), strict=True):
                cache[t] = v
        return np.stack([cache[t] for t in texts])

    out = {}
    labels = [s.name for s in catalog.exclusive] + [NONE]
    y = [e.skill for e in test]
    for name, fn in BASELINES.items():
        if names is not None and name not in names:
            continue
        kw = {k: v for k, v in options.items() if k in fn.__code__.co_varnames}
        pred, ranked = fn(train, [e.prompt for e in test], encode, catalog, seed, **kw)
        eff = M.effective_labels(y, pred, [e.acceptable for e in test])
        per = M.per_label_scores(eff, pred, labels=labels)
        out[name] = {"top1": M.top1_accuracy(eff, pred), "recall_at_3": M.recall_at_k(y, ranked, 3),
                     "macro_f1": float(np.mean([v["f1"] for v in per.values() if v["support"]]))}
    return out

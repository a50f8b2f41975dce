"""The fitted router's learned state, applied with numpy alone: a classifier head over the request's embedding
and the description router's own scores, fused with a TF-IDF model of the labelled prompts.

Saved as ``.npz`` arrays (no pickle) beside a ``meta.json`` that records what the head was fitted against;
``skillroute.learning`` fits it.
"""

from __future__ import annotations

import hashlib
import json
import re
import warnings
import zipfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelError

__all__ = ["FittedHead", "description_sha", "data_sha", "ARTIFACT_VERSION", "feature_matrix"]

ARTIFACT_VERSION = 2
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


_TOKEN = re.compile(r"(?u)\b\w\w+\b")  # scikit-learn's default token pattern


@dataclass
class _Vectorizer:
    """scikit-learn's TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True) transform, re-done in numpy."""

    vocab: dict[str, int]
    idf: np.ndarray
    _memo: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict, repr=False, compare=False)

    def rows(self, texts: Sequence[str]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Each text's TF-IDF row (indices, values), remembered: one decision reads the same text's row for
        the head, its rules-off twin and every additive skill."""
        out = []
        for text in texts:
            row = self._memo.get(text)
            if row is None:
                toks = _TOKEN.findall(text.lower())
                grams = Counter(g for g in toks + [f"{a} {b}" for a, b in pairwise(toks)] if g in self.vocab)
                idx = np.array([self.vocab[g] for g in grams], dtype=np.int64)
                val = (1 + np.log(np.array(list(grams.values()), dtype=np.float64))) * self.idf[idx]
                norm = np.linalg.norm(val)
                row = (idx, val / norm if norm else val)
                if len(self._memo) >= 4096:
                    self._memo.clear()
                self._memo[text] = row
            out.append(row)
        return out

    def logits(self, texts: Sequence[str], lin: _Linear) -> np.ndarray:
        out = np.tile(lin.intercept, (len(texts), 1)).astype(np.float64)
        for i, (idx, val) in enumerate(self.rows(texts)):
            if len(idx):
                out[i] += lin.coef[:, idx] @ val
        return out


def _log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def _log_sigmoid_pair(z: np.ndarray) -> np.ndarray:
    """A binary logit as the two-class log-probabilities, so it fuses like a multi-class one."""
    return _log_softmax(np.stack([np.zeros_like(z), z], axis=-1))


@dataclass
class FittedHead:
    """The learned state of a fitted router (see ``Router.fit``)."""

    classes: list[str]  # exclusive skills with examples, plus "none"
    head: _Linear
    temperature: float
    none_floor: float  # a top probability under this gives no skill
    additive: dict[str, tuple[_Linear, float]]  # per additive skill: binary head and its threshold
    meta: dict[str, Any] = field(default_factory=dict)
    vectorizer: _Vectorizer | None = None  # TF-IDF over the request's words, fused with the head
    lexical: _Linear | None = None  # classes x vocabulary
    lexical_additive: dict[str, _Linear] = field(default_factory=dict)
    fusion: float = 0.0  # weight of the lexical model's log-probabilities
    fusion_additive: dict[str, float] = field(default_factory=dict)

    def proba(self, x: np.ndarray, text: str) -> np.ndarray:
        z = _log_softmax(self.head.logits(x))
        if self.vectorizer is not None and self.lexical is not None and self.fusion:
            z = (1 - self.fusion) * z + self.fusion * _log_softmax(self.vectorizer.logits([text], self.lexical)[0])
        return _softmax(z / self.temperature)

    def additive_on(self, name: str, x: np.ndarray, text: str) -> tuple[bool, float]:
        lin, threshold = self.additive[name]
        z = _log_sigmoid_pair(lin.logits(x)[..., 0])
        beta = self.fusion_additive.get(name, 0.0)
        if beta and self.vectorizer is not None:
            lex = self.vectorizer.logits([text], self.lexical_additive[name])[0, 0]
            z = (1 - beta) * z + beta * _log_sigmoid_pair(np.asarray(lex))
        p = float(_softmax(z)[..., 1])
        return p >= threshold, p

    # ------------------------------------------------------------------ files

    def save(self, folder: str | Path) -> Path:
        """Write ``head.npz`` and ``meta.json`` into ``folder`` (created); returns the folder."""
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, np.ndarray] = {}
        linears = [("head", self.head)] + [(f"add_{n}", lin) for n, (lin, _) in self.additive.items()]
        if self.lexical is not None:
            linears += [("lex", self.lexical)] + [(f"lexadd_{n}", lin) for n, lin in self.lexical_additive.items()]
        for prefix, lin in linears:
            for k in ("mean", "scale", "coef", "intercept"):
                arrays[f"{prefix}.{k}"] = getattr(lin, k).astype(np.float32)
        if self.vectorizer is not None:
            arrays["vectorizer.idf"] = self.vectorizer.idf.astype(np.float32)
            terms = sorted(self.vectorizer.vocab, key=self.vectorizer.vocab.__getitem__)
            (out / "vocabulary.json").write_text(json.dumps(terms, ensure_ascii=False) + "\n")
        np.savez_compressed(out / "head.npz", **arrays)
        meta = {**self.meta, "artifact_version": ARTIFACT_VERSION, "classes": self.classes,
                "temperature": self.temperature, "none_floor": self.none_floor,
                "additive_thresholds": {n: t for n, (_, t) in self.additive.items()},
                "fusion": self.fusion, "fusion_additive": self.fusion_additive}
        (out / "meta.json").write_text(json.dumps(meta, indent=1, ensure_ascii=False) + "\n")
        return out

    @classmethod
    def load(cls, folder: str | Path) -> FittedHead:
        folder = Path(folder)
        try:
            meta = json.loads((folder / "meta.json").read_text())
            with np.load(folder / "head.npz", allow_pickle=False) as data:
                arrays = {k: data[k].astype(np.float64) for k in data.files}
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:  # a torn or tampered file
            raise ModelError(f"{folder}: not a readable fitted-router artifact ({type(exc).__name__}: {exc}); "
                             "refit with `skillroute fit`") from exc
        if meta.get("artifact_version") != ARTIFACT_VERSION:
            raise ModelError(f"{folder}: artifact version {meta.get('artifact_version')} is not "
                             f"{ARTIFACT_VERSION}; refit with `skillroute fit`")

        def lin(prefix: str) -> _Linear:
            return _Linear(*(arrays[f"{prefix}.{k}"] for k in ("mean", "scale", "coef", "intercept")))

        additive = {n: (lin(f"add_{n}"), float(t)) for n, t in meta["additive_thresholds"].items()}
        vectorizer, lexical, lexical_additive = None, None, {}
        if "vectorizer.idf" in arrays:
            try:
                terms = json.loads((folder / "vocabulary.json").read_text())
            except (OSError, ValueError) as exc:
                raise ModelError(f"{folder}: vocabulary.json is missing or unreadable; refit") from exc
            vectorizer = _Vectorizer({t: i for i, t in enumerate(terms)}, arrays["vectorizer.idf"])
            lexical = lin("lex")
            lexical_additive = {n: lin(f"lexadd_{n}") for n in meta.get("fusion_additive", {})}
        try:
            head = cls(classes=list(meta["classes"]), head=lin("head"), temperature=float(meta["temperature"]),
                       none_floor=float(meta["none_floor"]), additive=additive, meta=meta, vectorizer=vectorizer,
                       lexical=lexical, lexical_additive=lexical_additive, fusion=float(meta.get("fusion", 0.0)),
                       fusion_additive={k: float(v) for k, v in meta.get("fusion_additive", {}).items()})
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"{folder}: meta.json or head.npz lacks {exc}; refit with `skillroute fit`") from exc
        problem = head._problem()
        if problem:
            raise ModelError(f"{folder}: {problem}; refit with `skillroute fit`")
        return head

    def _problem(self) -> str | None:
        """What is inconsistent in a loaded head (shapes, finite values, ranges), or None."""
        n_features = len(self.head.mean)
        linears = [("head", self.head, len(self.classes), n_features)]
        linears += [(f"additive {n}", lin, 1, n_features) for n, (lin, _) in self.additive.items()]
        if self.vectorizer is not None:
            vocab = len(self.vectorizer.vocab)
            if self.vectorizer.idf.shape != (vocab,):
                return f"the TF-IDF weights have shape {self.vectorizer.idf.shape}, the vocabulary {vocab} terms"
            linears += [("lexical", self.lexical, len(self.classes), vocab)]
            linears += [(f"lexical {n}", lin, 1, vocab) for n, lin in self.lexical_additive.items()]
        for name, lin, rows, cols in linears:
            if lin is None:
                return f"the {name} model is missing"
            shapes = (lin.mean.shape, lin.scale.shape, lin.coef.shape, lin.intercept.shape)
            if shapes != ((cols,), (cols,), (rows, cols), (rows,)):
                return f"the {name} model has shapes {shapes}, expected {((cols,), (cols,), (rows, cols), (rows,))}"
            if not all(np.isfinite(a).all() for a in (lin.mean, lin.scale, lin.coef, lin.intercept)):
                return f"the {name} model holds values that are not finite"
            if (lin.scale == 0).any():
                return f"the {name} model divides by a zero scale"
        if not (np.isfinite(self.temperature) and self.temperature > 0):
            return f"temperature {self.temperature} is not a positive number"
        thresholds = [self.none_floor, self.fusion, *(t for _, t in self.additive.values()),
                      *self.fusion_additive.values()]
        if not all(np.isfinite(t) and 0 <= t <= 1 for t in thresholds):
            return "a floor, threshold or fusion weight lies outside [0, 1]"
        if len(set(self.classes)) != len(self.classes) or not self.classes:
            return "its classes are empty or repeated"
        return None

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
        new = sorted(set(descriptions) - set(self.meta.get("skill_sha", {})))
        if new and self.meta.get("adapter"):
            # measured: skills held out of the fine-tune routed at 0.29 top-1 through its encoder, 0.37 through
            # the base model's (see the README), so say so rather than route them worse in silence
            warnings.warn(f"skills added since the fit: {', '.join(new)}; they route by their description through "
                          "an encoder fine-tuned without them, which routes unseen skills worse than the base "
                          "model: refit with examples of them (`skillroute fit`), or fit with --no-finetune",
                          stacklevel=3)
        return changed


def feature_matrix(idx, batch, scores: np.ndarray, sc, feature_skills: Sequence[str]) -> np.ndarray:
    """The head's input from the engine's ``Index``, ``Batch`` and ``Scored``: requests x (embedding, the
    zero-shot ``scores`` of ``feature_skills``, the closest none anchor)."""
    m = batch.combine(batch.views)
    norm = np.linalg.norm(m, axis=1, keepdims=True)
    m = m / np.where(norm > 0, norm, 1.0)
    pos = {n: i for i, n in enumerate(idx.names)}
    cols = np.array([pos.get(n, -1) for n in feature_skills], dtype=np.int64)
    z = np.where(cols >= 0, scores[:, np.maximum(cols, 0)], 0.0)
    anchor = sc.anchor_sims.max(1, keepdims=True) if sc.anchor_sims.shape[1] else np.zeros((len(m), 1))
    return np.concatenate([m, z, anchor], axis=1)

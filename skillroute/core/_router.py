"""The zero-shot router: score a request against each skill's trigger facets, apply the do/don't rules,
and decide one exclusive skill (or none) plus the additive skills that switch on beside it."""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import _decision as decision
from ._catalog import Catalog, load_catalog
from ._decision import NONE_ANCHORS, ZERO_SHOT_CALIBRATION, Decision, RuleHit
from ._encoder import Encoder, load_encoder
from ._engine import Batch, Choice, Index, Scored, Scoring, SkillSpec, build_index, choose, score
from ..errors import ModelError, NotFittedError, SkillrouteError
from ._query import explicit_invocation, normalize_request, read_request

__all__ = ["Router", "Decision", "RuleHit", "NONE_ANCHORS", "FITTED_SUBDIR"]

FITTED_SUBDIR = ".skillroute/fitted"  # where a catalog directory ships its fitted router


class Router:
    """Route requests to skills from their descriptions.

    The constructor only stores its arguments (scikit-learn style); the trigger embeddings are built
    on the first call and read from the on-disk cache when unchanged. Thread-safe.

    floor: the best exclusive score must reach this, else ``skill`` is None.
    margin: the best must lead the runner-up by this much, else ``skill`` is None (a tie).
    additive_threshold: an additive skill switches on at this score.
    rules: apply the do/don't rules (False is the ablation).
    reader: a folder holding a LoRA delta that teaches the encoder to read descriptions in general, such as
        one trained by ``train/general/train.py`` over many catalogs; merged into the model once, it encodes
        whenever no fitted fine-tune does. None (the default): the encoder as given.
    """

    def __init__(self, catalog: Catalog, encoder: Encoder | None = None, *, floor: float = 0.15,
                 margin: float = 0.0, additive_threshold: float = 0.25, rules: bool = True,
                 rule_margin: float = 0.05, rule_penalty: float = 0.05, redirect_boost: float = 0.02,
                 rule_scale: float = 10.0,
                 view_weights: Sequence[float] = (0.5, 0.25, 0.25), top_k: int = 5, lexical_weight: float = 0.7,
                 none_anchors: Sequence[str] = NONE_ANCHORS, none_margin: float = 0.0,
                 calibration: Sequence[float] = ZERO_SHOT_CALIBRATION, reader: str | Path | None = None,
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
        self.calibration = calibration
        self.reader = reader
        self.cache_folder = cache_folder
        self._lock = threading.RLock()
        self._index: Index | None = None
        self._encoder: Encoder | None = None
        self._reader_encoder: Encoder | None = None
        self._reader_lora: Any = None  # the reader's LoraDelta, read once
        self.head_: Any = None  # a FittedHead after fit() or load_fitted(); None routes zero-shot
        self.adapter_: Any = None  # the LoraDelta fit() trained (the description-reading fine-tune), if any
        self._tuned: Encoder | None = None  # base model + delta, merged: what a fine-tuned fitted router encodes with
        self._fitted_from: Path | None = None
        self.stale_skills_: list[str] = []  # skills whose description changed since the fit
        self._feature_memo: dict[tuple[str, tuple[str, ...]], np.ndarray] = {}  # refits reuse encodings

    @classmethod
    def from_path(cls, *dirs: str | os.PathLike[str], encoder: Encoder | None = None, model: str | None = None,
                  backend: str | None = None, strict: bool = False, fitted: str | os.PathLike[str] | None = "auto",
                  **kwargs: Any) -> Router:
        """Load the catalog in ``dirs``; route with ``encoder``, else the named (or default) model and backend.

        A bad SKILL.md is left out with one warning (``strict=True`` raises instead; see ``load_catalog``).
        ``fitted``: "auto" uses the artifact the first directory ships in ``.skillroute/fitted`` when it was
        fitted on this model (else routes zero-shot, with a warning); a folder loads that artifact (an error
        when it does not match); None routes zero-shot from the descriptions alone.
        """
        catalog = load_catalog(*dirs, strict=strict)
        problems = catalog.problems()
        if problems:
            warnings.warn(problems, stacklevel=2)
        return cls.from_catalog(catalog, dirs[0], encoder=encoder, model=model, backend=backend, fitted=fitted,
                                **kwargs)

    @classmethod
    def from_catalog(cls, catalog: Catalog, home: str | os.PathLike[str] | None = None, *,
                     encoder: Encoder | None = None, model: str | None = None, backend: str | None = None,
                     fitted: str | os.PathLike[str] | None = "auto", **kwargs: Any) -> Router:
        """A router over a catalog already loaded; ``fitted="auto"`` looks in ``home``'s ``.skillroute/fitted``
        (``from_path`` passes its first directory). The rest as ``from_path``."""
        router = cls(catalog, encoder if encoder is not None else load_encoder(model, backend), **kwargs)
        if fitted == "auto":
            shipped = Path(home).expanduser() / FITTED_SUBDIR if home is not None else None
            if shipped is not None and (shipped / "meta.json").is_file():
                try:
                    router.load_fitted(shipped)
                except SkillrouteError as exc:
                    warnings.warn(f"not using {shipped}: {exc}; routing zero-shot", stacklevel=3)
        elif fitted is not None:
            router.load_fitted(fitted)
        return router

    # ------------------------------------------------------------------ fitting

    def fit(self, examples: Sequence[Any], *, seed: int = 0, folds: int = 5, c: float | None = None,
            finetune: bool = True, finetune_config: Any = None, adapter: Any = None,
            progress: Callable[[int, float], None] | None = None) -> Router:
        """Learn from labelled examples (``skillroute.dataset.Example``), scikit-learn style.

        First (``finetune=True``) a LoRA delta that teaches the encoder to read the descriptions (see
        ``skillroute.finetune``), then a classifier head over the request's embedding and the description
        router's own scores, so a skill with no examples, or an edited description, still routes by its
        description (the gate in ``route``). The none floor, the additive thresholds and the calibration come
        from out-of-fold predictions. Examples of the test split are refused: nothing fitted reads it.
        ``adapter``: a delta fitted earlier (``LoraDelta.load(folder)``, e.g. the shipped router's) to encode
        with instead of fine-tuning again: the head alone is refitted, in seconds.
        """
        from ._head import data_sha, description_sha
        from ..learning._head_fit import fit_head

        bad = [e for e in examples if getattr(e, "split", None) == "test"]
        if bad:
            raise ValueError(f"fit() was given {len(bad)} examples of the test split; fit on the train split only")
        if not examples:
            raise ValueError("fit() needs labelled examples")
        known = {s.name for s in self.catalog.exclusive} | {"none"}
        unknown = sorted({e.skill for e in examples} - known)
        if unknown:
            raise ValueError(f"labels name skills the catalog does not have: {', '.join(unknown)}")
        self._use_tuned(None)
        self.adapter_ = None
        if adapter is not None:
            from ._delta import merged_model

            self.adapter_ = adapter
            self._use_tuned(merged_model(self._get_base().source, adapter))
        elif finetune:
            self._finetune(examples, finetune_config, seed, progress)
        idx = self._build()
        feature_skills = list(idx.names)
        x = self._features([e.prompt for e in examples], feature_skills)
        head = fit_head(x, [e.skill for e in examples], [e.also for e in examples],
                        [s.name for s in self.catalog.additive], texts=[e.prompt for e in examples], seed=seed,
                        folds=folds, c=c)
        enc = self._get_encoder()
        head.meta.update({
            "model_sha256": self._base_sha(), "encoder": enc.name, "feature_skills": feature_skills,
            "skill_sha": {s.name: description_sha(s.description) for s in self.catalog},
            "data_sha256": data_sha([e.prompt for e in examples], [e.skill for e in examples]),
            "n_examples": len(examples), "view_weights": list(self.view_weights),
            "reader_sha256": None if self.adapter_ is not None else self._reader_sha()})
        if self.adapter_ is not None:
            from ._delta import describe

            head.meta["adapter"] = describe(self.adapter_)
        self.head_ = head
        self.stale_skills_ = []
        self._fitted_from = None
        return self

    def _finetune(self, examples: Sequence[Any], config: Any, seed: int,
                  progress: Callable[[int, float], None] | None) -> None:
        from ._delta import FinetuneConfig, merged_model
        from ..learning._finetune import finetune

        source = getattr(self._get_base(), "source", None)  # a fitted delta is relative to the base model
        if source is None or source.path is None:
            raise ValueError("the fine-tune needs a local model (the packaged one or a folder); this encoder "
                             "has none: fit with finetune=False")
        cfg = config if config is not None else FinetuneConfig(seed=seed)
        skills = [(s.name, list(s.triggers)) for s in self.catalog.exclusive if not s.disabled and s.triggers]
        delta = finetune(source, skills, [e.prompt for e in examples], [e.skill for e in examples],
                         view_weights=self.view_weights, config=cfg, progress=progress)
        self.adapter_ = delta
        self._use_tuned(merged_model(source, delta))

    def _base_sha(self) -> str:
        return self._get_base().name.split(":")[0]

    def _get_base(self) -> Encoder:
        if self._encoder is None:
            self._encoder = self.encoder if self.encoder is not None else load_encoder()
        return self._encoder

    def _use_tuned(self, merged: Path | None) -> None:
        """Encode with base + delta merged (a folder), or with the base model again (None)."""
        with self._lock:
            if merged is None:
                tuned = None
            else:
                base = self._get_base()
                tuned = load_encoder(merged, backend=getattr(base, "backend", None),
                                     quantize=getattr(base, "quantize", False))
            if getattr(tuned, "name", None) != getattr(self._tuned, "name", None):
                self._index = None
                self._feature_memo.clear()
            self._tuned = tuned

    def _snapshot(self) -> tuple:
        """The fitted state, so a study that refits (cross-validation, leave-skills-out) can put it back."""
        return self.head_, self.stale_skills_, self.adapter_, self._tuned, self._fitted_from

    def _restore(self, state: tuple) -> None:
        tuned = state[3]
        if getattr(tuned, "name", None) != getattr(self._tuned, "name", None):
            self._index = None
            self._feature_memo.clear()
        self.head_, self.stale_skills_, self.adapter_, self._tuned, self._fitted_from = state

    def load_fitted(self, folder: str | os.PathLike[str]) -> Router:
        """Use a saved fitted router; skills whose description changed since route by description until a refit.

        An artifact with a LoRA delta routes with the base model and the delta merged, made once in the cache
        (that needs torch; ``skillroute warm`` does it ahead of time).
        """
        from ._head import FittedHead

        folder = Path(folder)
        head = FittedHead.load(folder)
        stale = head.check(self._base_sha(), {s.name: s.description for s in self.catalog})
        adapter = head.meta.get("adapter")
        if adapter:
            self._use_tuned(self._merged_for(folder, adapter))
        else:
            if head.meta.get("reader_sha256") != self._reader_sha():
                raise ModelError(f"{folder}: this head was fitted on another encoder (general reader "
                                 f"{head.meta.get('reader_sha256')} vs {self._reader_sha()}); refit with "
                                 "`skillroute fit`")
            self._use_tuned(None)
        self.head_, self.stale_skills_, self.adapter_, self._fitted_from = head, stale, None, folder
        return self

    def _merged_for(self, folder: Path, adapter: dict[str, Any]) -> Path:
        from ._delta import LoraDelta, merged_model

        source = getattr(self._get_base(), "source", None)
        if source is None or source.path is None:
            raise ModelError(f"{folder} holds a fine-tuned encoder delta; it needs the local base model it was "
                             "trained on (the packaged one), not this encoder")
        found = merged_model(source, delta_sha=adapter["sha256"], build=False)
        if found is not None:
            return found
        delta = LoraDelta.load(folder)
        if delta.sha256 != adapter["sha256"]:
            raise ModelError(f"{folder}: the LoRA delta does not match meta.json (sha256 {delta.sha256[:12]}… vs "
                             f"{adapter['sha256'][:12]}…); refit with `skillroute fit`")
        return merged_model(source, delta)

    def save_fitted(self, folder: str | os.PathLike[str]) -> Path:
        """Write the fitted router (head, thresholds, vocabulary and the LoRA delta, if any) into ``folder``.

        The artifact is written whole into a temporary folder beside ``folder`` and swapped in, so a write
        that is killed leaves the old artifact (or none), never half of one.
        """
        import shutil
        import tempfile

        from ._delta import ADAPTER_FILE

        if self.head_ is None:
            raise NotFittedError("nothing to save: call fit() or load_fitted() first")
        out = Path(folder)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp"))
        old = out.with_name(f".{out.name}.old")
        try:
            self.head_.save(tmp)
            if self.adapter_ is not None:
                self.adapter_.save(tmp)
            elif self.head_.meta.get("adapter") and self._fitted_from is not None:
                shutil.copyfile(self._fitted_from / ADAPTER_FILE, tmp / ADAPTER_FILE)
            tmp.chmod(0o755)
            shutil.rmtree(old, ignore_errors=True)
            if out.exists():
                os.replace(out, old)
            os.replace(tmp, out)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
            shutil.rmtree(old, ignore_errors=True)
        return out

    def _features(self, texts: Sequence[str], feature_skills: Sequence[str]) -> np.ndarray:
        """The head's input for each request: its view-weighted embedding and the zero-shot scores."""
        idx = self._build()
        fs = tuple(feature_skills)
        todo = list(dict.fromkeys(t for t in texts if (t, fs) not in self._feature_memo))
        if todo:
            plans = [read_request(t) for t in todo]
            batch = self._encode([vs for _, vs in plans], [body for body, _ in plans])
            sc = score(idx, batch, self.scoring())
            for t, row in zip(todo, self._feature_matrix(idx, batch, sc.scores, sc, fs), strict=True):
                self._feature_memo[(t, fs)] = row
        return np.stack([self._feature_memo[(t, fs)] for t in texts])

    @staticmethod
    def _feature_matrix(idx: Index, batch: Batch, scores: np.ndarray, sc: Scored,
                        feature_skills: Sequence[str]) -> np.ndarray:
        """Requests x (embedding, the zero-shot ``scores`` of ``feature_skills``, the closest none anchor)."""
        m = batch.combine(batch.views)
        m = m / np.where(np.linalg.norm(m, axis=1, keepdims=True) > 0, np.linalg.norm(m, axis=1, keepdims=True), 1.0)
        pos = {n: i for i, n in enumerate(idx.names)}
        cols = np.array([pos.get(n, -1) for n in feature_skills], dtype=np.int64)
        z = np.where(cols >= 0, scores[:, np.maximum(cols, 0)], 0.0)
        anchor = sc.anchor_sims.max(1, keepdims=True) if sc.anchor_sims.shape[1] else np.zeros((len(m), 1))
        return np.concatenate([m, z, anchor], axis=1)

    # ------------------------------------------------------------------ setup

    def _get_encoder(self) -> Encoder:
        """The encoder routing uses now: the fitted router's fine-tune when it has one, else the general reader
        (when set), else the base."""
        if self._tuned is not None:
            return self._tuned
        return self._get_reader() if self.reader is not None else self._get_base()

    def _get_reader(self) -> Encoder:
        """Base model + the general reader's delta, merged once per machine (like a fitted delta)."""
        with self._lock:
            if self._reader_encoder is None:
                from ._delta import merged_model

                base = self._get_base()
                folder = merged_model(base.source, self._reader_delta())  # type: ignore[attr-defined]
                self._reader_encoder = load_encoder(folder, backend=getattr(base, "backend", None),
                                                    quantize=getattr(base, "quantize", False))
            return self._reader_encoder

    def _reader_delta(self):
        """The general reader's delta, read from ``reader`` once."""
        with self._lock:
            if self._reader_lora is None:
                from ._delta import LoraDelta

                self._reader_lora = LoraDelta.load(self.reader)  # type: ignore[arg-type]
            return self._reader_lora

    def _reader_sha(self) -> str | None:
        return None if self.reader is None else self._reader_delta().sha256

    def _build(self) -> Index:
        from ._cache import EmbeddingCache

        with self._lock:
            if self._index is None:
                embed = EmbeddingCache(self._get_encoder(), self.cache_folder).embed
                self._index = build_index([SkillSpec.of(s) for s in self.catalog], self.none_anchors, embed)
            return self._index

    def scoring(self) -> Scoring:
        """The description router's parameters, as the engine takes them."""
        return Scoring(floor=self.floor, margin=self.margin, rules=self.rules, rule_margin=self.rule_margin,
                       rule_penalty=self.rule_penalty, redirect_boost=self.redirect_boost,
                       rule_scale=self.rule_scale, view_weights=tuple(self.view_weights), top_k=self.top_k,
                       lexical_weight=self.lexical_weight, none_margin=self.none_margin)

    def _encode(self, views: Sequence[Sequence[str]], prose: Sequence[str]) -> Batch:
        """Encode every request's views in one call (bucketed by length inside the encoder)."""
        vecs = self._get_encoder().encode([v for vs in views for v in vs])
        return Batch.of([len(vs) for vs in views], vecs, prose, self.view_weights)

    def inspect(self, texts: Sequence[str]) -> tuple[Index, Batch, Scored, Choice]:
        """The engine's view of ``texts`` (no explicit-invocation handling): the index, the encoded requests,
        every skill's scores and the description router's choice. ``explain`` and ``tune`` read these."""
        idx = self._build()
        plans = [read_request(normalize_request(t)) for t in texts]
        batch = self._encode([vs for _, vs in plans], [body for body, _ in plans])
        sc = score(idx, batch, self.scoring())
        return idx, batch, sc, choose(idx, sc.scores, sc.anchor_sims, self.scoring())

    def warm(self) -> Router:
        """Load the encoder and embed the catalog now (from the cache where unchanged), not on the first route."""
        self._build()
        return self

    # ----------------------------------------------------------------- public

    def route(self, text: str) -> Decision:
        """Route one request."""
        return self.route_many([text])[0]

    def route_many(self, texts: Sequence[str]) -> list[Decision]:
        """Route several requests with one batched encode and one batched scoring; equal to ``route`` on each."""
        if isinstance(texts, str):
            raise TypeError("route_many takes a list of texts; use route() for one")
        plans: list[tuple[str | None, list[str], str, str]] = []
        for t in texts:
            if not isinstance(t, str):
                raise TypeError(f"a request must be a str, not {type(t).__name__}")
            if not t.strip():
                raise ValueError("cannot route an empty request")
            t = normalize_request(t)
            inv = explicit_invocation(t)
            if inv and inv[0] in self.catalog:
                rest = inv[1]
                body, vs = read_request(rest) if rest else ("", [])
                plans.append((inv[0], vs, body, rest))
            else:
                body, vs = read_request(t)
                plans.append((None, vs, body, t))
        idx = self._build()
        p = self.scoring()
        batch = self._encode([vs for _, vs, _, _ in plans], [body for _, _, body, _ in plans])
        sc = score(idx, batch, p)
        ch = choose(idx, sc.scores, sc.anchor_sims, p)
        plain = choose(idx, sc.trigger, sc.anchor_sims, p)
        head = self.head_
        if head is not None:
            fs = head.meta["feature_skills"]
            x = self._feature_matrix(idx, batch, sc.scores, sc, fs)
            x_plain = self._feature_matrix(idx, batch, sc.trigger, sc, fs)
        out: list[Decision] = []
        for i, (invoked, vs, _, raw) in enumerate(plans):
            zero = decision.zero_shot(idx, sc, ch, plain, i, p, self.additive_threshold, self.calibration) \
                if vs else None
            if invoked is not None:
                out.append(decision.explicit(invoked, self.catalog[invoked].kind, zero))
            elif head is None:
                out.append(zero)  # type: ignore[arg-type]
            else:
                out.append(decision.fitted(idx, sc, zero, head, x[i], x_plain[i], raw,  # type: ignore[arg-type]
                                           self.stale_skills_, i))
        return out

    async def aroute(self, text: str) -> Decision:
        """``route`` for async harnesses: runs in a worker thread, never blocking the event loop."""
        import asyncio  # here, not at the top: it costs a cold start 45 ms

        return await asyncio.to_thread(self.route, text)

    def shortlist(self, text: str, k: int = 3) -> list[tuple[str, float]]:
        """The k most likely exclusive skills with their scores, for harnesses that show an LLM only a few."""
        if k < 1:
            raise ValueError("k must be at least 1")
        return self.route(text).ranked[:k]

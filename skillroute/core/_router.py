"""The Router: a scikit-learn style estimator over a skill catalog.

Zero-shot, it scores a request against each skill's trigger facets, applies the do/don't rules and decides
one exclusive skill (or none) plus the additive skills beside it (``_engine``, ``_decision``). Fitted, a head
learned from labelled prompts ranks the skills it has seen, gated by the descriptions (``fit``).
"""

from __future__ import annotations

import inspect
import os
import threading
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import NotFittedError, SkillrouteError
from . import _decision as decision
from ._artifact import FITTED_SUBDIR, Fitted, load_artifact, save_artifact
from ._catalog import Catalog, load_catalog
from ._decision import NONE_ANCHORS, ZERO_SHOT_CALIBRATION, Decision, RuleHit
from ._encoder import Encoder, load_encoder
from ._engine import Batch, Choice, Index, Scored, Scoring, SkillSpec, build_index, choose, score
from ._head import feature_matrix
from ._query import explicit_invocation, normalize_request, read_request

__all__ = ["Router", "Decision", "RuleHit", "NONE_ANCHORS", "FITTED_SUBDIR", "clone", "check_is_fitted"]


class Router:
    """Route requests to skills from their descriptions; ``fit`` learns from labelled prompts.

    The constructor only stores its arguments (scikit-learn style): every hyper-parameter is here, learned
    state is ``fitted_`` (set only by ``fit`` and ``load_fitted``). Trigger embeddings are built on the first
    call and read from the on-disk cache when unchanged. Thread-safe.

    floor: the best exclusive score must reach this, else ``skill`` is None.
    margin: the best must lead the runner-up by this much, else ``skill`` is None (a tie).
    additive_threshold: an additive skill switches on at this score.
    rules: apply the do/don't rules (False is the ablation).
    reader: a folder holding a LoRA delta that teaches the encoder to read descriptions in general, such as
        one trained by ``train/general/train.py`` over many catalogs; merged into the model once, it encodes
        whenever no fitted fine-tune does. "auto" (the default): the packaged reader (``GENERAL_READER``)
        when the encoder is the model it was trained on, else none; None: the encoder as given.
    finetune, finetune_config: whether ``fit`` first fine-tunes the encoder to read the descriptions, and how
        (``FinetuneConfig``; its seed is replaced by ``seed``, one seed for the whole fit).
    folds, c, seed: the head's out-of-fold choices (folds), its regularisation (None: chosen by CV), the seed.
    """

    def __init__(self, catalog: Catalog, encoder: Encoder | None = None, *, floor: float = 0.15,
                 margin: float = 0.0, additive_threshold: float = 0.25, rules: bool = True,
                 rule_margin: float = 0.05, rule_penalty: float = 0.05, redirect_boost: float = 0.02,
                 rule_scale: float = 10.0,
                 view_weights: Sequence[float] = (0.5, 0.25, 0.25), top_k: int = 5, lexical_weight: float = 0.7,
                 none_anchors: Sequence[str] = NONE_ANCHORS, none_margin: float = 0.0,
                 calibration: Sequence[float] = ZERO_SHOT_CALIBRATION, reader: str | Path | None = "auto",
                 cache_folder: str | Path | None = None, finetune: bool = True, finetune_config: Any = None,
                 folds: int = 5, c: float | None = None, seed: int = 0):
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
        self.finetune = finetune
        self.finetune_config = finetune_config
        self.folds = folds
        self.c = c
        self.seed = seed
        self.fitted_: Fitted | None = None
        self._lock = threading.RLock()
        self._indexes: dict[str, Index] = {}  # per encoder name
        self._encoder: Encoder | None = None
        self._reader_encoder: Encoder | None = None
        self._reader_lora: Any = None  # the reader's LoraDelta, read once (False: none applies)
        self._feature_memo: dict[tuple, np.ndarray] = {}  # refits (and clones) reuse encodings

    # --------------------------------------------------------------- estimator

    def get_params(self) -> dict[str, Any]:
        """The constructor's arguments, as stored (scikit-learn's ``get_params``)."""
        return {name: getattr(self, name) for name in inspect.signature(type(self)).parameters}

    def set_params(self, **params: Any) -> Router:
        valid = self.get_params()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(f"Router has no parameter {name!r}; it has {', '.join(sorted(valid))}")
            setattr(self, name, value)
        self._indexes = {}  # a new dict: a clone may share the old one
        if {"reader", "encoder"} & set(params):
            self._reader_lora = self._reader_encoder = None
        if "encoder" in params:
            self._encoder = None
        return self

    def describe(self) -> str:
        """What routes, in the words the CLI and the README use: the *description router* (the descriptions
        alone) or the *fitted router* (a head learned from labelled prompts), and the encoder it reads with."""
        reading = "general reader" if self._reader_delta() is not None else "base encoder"
        if self.fitted_ is not None:
            enc = self.fitted_.encoder
            return "fitted router, " + (reading if enc is None else "base encoder" if enc is self._get_base() else
                                        "fine-tuned encoder")
        return "description router, " + reading

    @property
    def head_(self) -> Any:
        """The fitted head (``FittedHead``), or None for a router that routes zero-shot."""
        return self.fitted_.head if self.fitted_ is not None else None

    @property
    def adapter_(self) -> Any:
        """The fine-tune delta ``fit`` trained, if any."""
        return self.fitted_.adapter if self.fitted_ is not None else None

    @property
    def stale_skills_(self) -> list[str]:
        """Skills whose description changed since the fit: they route by their description."""
        return self.fitted_.stale_skills if self.fitted_ is not None else []

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

    def fit(self, examples: Sequence[Any], *, adapter: Any = None,
            progress: Callable[[int, float], None] | None = None) -> Router:
        """Learn from labelled examples (``skillroute.Example``); see ``skillroute.learning.fit_router``.

        ``adapter``: a delta fitted earlier (``LoraDelta.load(folder)``, e.g. the shipped router's) to encode
        with instead of fine-tuning again: the head alone is refitted, in seconds.
        """
        from ..learning._fit_router import fit_router

        self.fitted_ = fit_router(self, examples, adapter=adapter, progress=progress)
        return self

    def score(self, examples: Sequence[Any]) -> float:
        """Top-1 accuracy on labelled examples (an ``acceptable`` second label counts as right)."""
        decisions = self.route_many([e.prompt for e in examples])
        return float(np.mean([e.is_right(d.skill) for e, d in zip(examples, decisions, strict=True)]))

    def load_fitted(self, folder: str | os.PathLike[str]) -> Router:
        """Use a saved fitted router; skills whose description changed since route by description until a refit.

        An artifact with a LoRA delta routes with the base model and the delta merged (with numpy), made once
        in the cache (``skillroute warm`` does it ahead of time).
        """
        self.fitted_ = load_artifact(folder, self._get_base(), self._base_sha(),
                                     {s.name: s.description for s in self.catalog}, self._reader_sha(),
                                     self._tuned_encoder)
        return self

    def save_fitted(self, folder: str | os.PathLike[str]) -> Path:
        """Write the fitted router (head, thresholds, vocabulary and the LoRA delta, if any) into ``folder``,
        atomically (see ``save_artifact``)."""
        check_is_fitted(self)
        assert self.fitted_ is not None
        return save_artifact(self.fitted_, folder)

    # ------------------------------------------------------------------ encoders

    def _get_base(self) -> Encoder:
        if self._encoder is None:
            self._encoder = self.encoder if self.encoder is not None else load_encoder()
        return self._encoder

    def _base_sha(self) -> str:
        return self._get_base().name.split(":")[0]

    def _tuned_encoder(self, merged: Path) -> Encoder:
        """A merged model folder, opened with the base encoder's backend and quantisation."""
        base = self._get_base()
        return load_encoder(merged, backend=getattr(base, "backend", None), quantize=getattr(base, "quantize", False))

    def _get_encoder(self) -> Encoder:
        """The encoder routing uses now: the fitted router's fine-tune when it has one, else the general reader
        (when set), else the base."""
        if self.fitted_ is not None and self.fitted_.encoder is not None:
            return self.fitted_.encoder
        return self._get_reader() if self._reader_delta() is not None else self._get_base()

    def _get_reader(self) -> Encoder:
        """Base model + the general reader's delta, merged once per machine (like a fitted delta)."""
        with self._lock:
            if self._reader_encoder is None:
                from ._delta import merged_model

                folder = merged_model(self._get_base().source, self._reader_delta())  # type: ignore[attr-defined]
                self._reader_encoder = self._tuned_encoder(folder)  # type: ignore[arg-type]
            return self._reader_encoder

    def _reader_delta(self):
        """The general reader's LoraDelta, read once; None when there is none to apply ("auto" with a model
        other than the one the packaged reader was trained on, or ``reader=None``)."""
        with self._lock:
            if self._reader_lora is None:
                from ._delta import LoraDelta, packaged_reader

                if self.reader == "auto":
                    self._reader_lora = packaged_reader(getattr(self._get_base(), "source", None)) or False
                else:
                    self._reader_lora = LoraDelta.load(self.reader) if self.reader is not None else False
            return self._reader_lora or None

    def _reader_sha(self) -> str | None:
        delta = self._reader_delta()
        return None if delta is None else delta.sha256

    # ------------------------------------------------------------------ scoring

    def _build(self, enc: Encoder | None = None) -> Index:
        """The catalog laid out for the engine, embedded with ``enc`` (default: the encoder routing uses)."""
        from ._cache import EmbeddingCache

        enc = enc if enc is not None else self._get_encoder()
        with self._lock:
            if enc.name not in self._indexes:
                embed = EmbeddingCache(enc, self.cache_folder).embed
                self._indexes[enc.name] = build_index([SkillSpec.of(s) for s in self.catalog], self.none_anchors,
                                                      embed)
            return self._indexes[enc.name]

    def scoring(self) -> Scoring:
        """The description router's parameters, as the engine takes them."""
        return Scoring(floor=self.floor, margin=self.margin, rules=self.rules, rule_margin=self.rule_margin,
                       rule_penalty=self.rule_penalty, redirect_boost=self.redirect_boost,
                       rule_scale=self.rule_scale, view_weights=tuple(self.view_weights), top_k=self.top_k,
                       lexical_weight=self.lexical_weight, none_margin=self.none_margin)

    def _encode(self, views: Sequence[Sequence[str]], prose: Sequence[str], enc: Encoder | None = None) -> Batch:
        """Encode every request's views in one call (bucketed by length inside the encoder)."""
        enc = enc if enc is not None else self._get_encoder()
        return Batch.of([len(vs) for vs in views], enc.encode([v for vs in views for v in vs]), prose,
                        self.view_weights)

    def inspect(self, texts: Sequence[str]) -> tuple[Index, Batch, Scored, Choice]:
        """The engine's view of ``texts`` (no explicit-invocation handling): the index, the encoded requests,
        every skill's scores and the description router's choice. ``explain`` reads these."""
        idx = self._build()
        plans = [read_request(normalize_request(t)) for t in texts]
        batch = self._encode([vs for _, vs in plans], [body for body, _ in plans])
        sc = score(idx, batch, self.scoring())
        return idx, batch, sc, choose(idx, sc.scores, sc.anchor_sims, self.scoring())

    def _features(self, texts: Sequence[str], feature_skills: Sequence[str], enc: Encoder | None = None) -> np.ndarray:
        """The head's input for each request, through ``enc``: its view-weighted embedding and zero-shot scores."""
        enc = enc if enc is not None else self._get_encoder()
        idx = self._build(enc)
        fs = tuple(feature_skills)
        # everything a row depends on, so clones that share the memo never read another setting's rows
        key = (enc.name, self.catalog.fingerprint(), self.scoring(), tuple(self.none_anchors), fs)
        todo = list(dict.fromkeys(t for t in texts if (key, t) not in self._feature_memo))
        if todo:
            plans = [read_request(t) for t in todo]
            batch = self._encode([vs for _, vs in plans], [body for body, _ in plans], enc)
            sc = score(idx, batch, self.scoring())
            for t, row in zip(todo, feature_matrix(idx, batch, sc.scores, sc, fs), strict=True):
                self._feature_memo[(key, t)] = row
        return np.stack([self._feature_memo[(key, t)] for t in texts])

    # ------------------------------------------------------------------ routing

    def warm(self) -> Router:
        """Load the encoder and embed the catalog now (from the cache where unchanged), not on the first route."""
        self._build()
        return self

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
                body, vs = read_request(inv[1]) if inv[1] else ("", [])
                plans.append((inv[0], vs, body, inv[1]))
            else:
                body, vs = read_request(t)
                plans.append((None, vs, body, t))
        idx = self._build()
        p = self.scoring()
        batch = self._encode([vs for _, vs, _, _ in plans], [body for _, _, body, _ in plans])
        sc = score(idx, batch, p)
        ch = choose(idx, sc.scores, sc.anchor_sims, p)
        # the choice with the rules off, only where a rule fired (elsewhere it is the choice itself)
        plain_pick = ch.pick.copy()
        touched = np.flatnonzero((sc.fired_rule >= 0).any(1))
        if len(touched):
            plain_pick[touched] = choose(idx, sc.trigger[touched], sc.anchor_sims[touched], p).pick
        head = self.head_
        if head is not None:
            fs = head.meta["feature_skills"]
            x = feature_matrix(idx, batch, sc.scores, sc, fs)
            x_plain = feature_matrix(idx, batch, sc.trigger, sc, fs) if len(touched) else x
        out: list[Decision] = []
        for i, (invoked, vs, _, raw) in enumerate(plans):
            zero = decision.zero_shot(idx, sc, ch, int(plain_pick[i]), i, p, self.additive_threshold,
                                      self.calibration) \
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


def clone(router: Router, **params: Any) -> Router:
    """A new, unfitted router with the same parameters (``params`` override some); it shares the encoder
    and the memo of encoded requests, so the studies that refit per fold do not re-encode."""
    new = type(router)(**{**router.get_params(), **params})
    if "encoder" not in params:
        new._encoder = router._encoder
        new._feature_memo = router._feature_memo
        if "reader" not in params:  # the same reader: its delta and merged encoder, not a new session per clone
            new._reader_lora, new._reader_encoder = router._reader_lora, router._reader_encoder
        if "catalog" not in params and "none_anchors" not in params:
            new._indexes = router._indexes
    return new


def check_is_fitted(router: Router) -> None:
    """Raise NotFittedError unless ``fit`` or ``load_fitted`` has run."""
    if router.fitted_ is None:
        raise NotFittedError("this Router is not fitted: call fit() or load_fitted() first")

"""The zero-shot router: score a request against each skill's trigger facets, apply the do/don't rules,
and decide one exclusive skill (or none) plus the additive skills that switch on beside it."""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .catalog import Catalog, Skill, load_catalog
from .errors import ModelError, NotFittedError, SkillrouteError
from .encoder import Encoder, load_encoder
from .query import explicit_invocation, normalize_request, read_request

__all__ = ["Router", "Decision", "RuleHit", "NONE_ANCHORS", "FITTED_SUBDIR"]

FITTED_SUBDIR = ".skillroute/fitted"  # where a catalog directory ships its fitted router

# Requests that need no skill: a request closer to these than to every skill's triggers gets none.
NONE_ANCHORS = (
    "thanks, that worked!", "hi there, how are you?", "good morning", "ok sounds good", "never mind, forget it",
    "write me a poem about the sea", "tell me a joke", "what should I cook for dinner tonight",
    "great job, thank you so much", "what's the weather like tomorrow", "recommend a good movie", "lol",
    "translate this sentence into French", "draft a friendly email to my landlord",
)


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


@dataclass
class _Index:
    """Everything derived from the catalog and the encoder, built once on first use.

    Facets and rules are laid out as (skill x slot) grids of row numbers, -1 where a skill has fewer,
    so a request is scored against every skill with a few array operations, however large the catalog.
    """

    names: list[str]
    exclusive: np.ndarray  # indices (into names) of the routable exclusive skills
    additive: np.ndarray  # indices of the routable additive skills
    facet_text: list[str]
    facets: np.ndarray  # facet vectors
    facet_grid: np.ndarray  # skills x max facets, row numbers into facets, -1 = empty
    rule_text: list[str]
    rules: np.ndarray
    rule_grid: np.ndarray  # skills x max rules, row numbers into rules, -1 = empty
    rule_redirect: np.ndarray  # per rule row: skill index of its redirect, -1 = none
    lexical: Any  # LexicalIndex over each skill's trigger text
    anchors: np.ndarray  # the none anchors


# P(the description router's pick is right) = sigmoid(w · [score, lead over the runner-up, log(skills)] + b),
# fitted by eval/tools/calibrate_zero_shot.py on the shipped train split and five public catalogs, and measured
# on the shipped test split and three public catalogs it never saw (README: "Confidence").
ZERO_SHOT_CALIBRATION: tuple[float, float, float, float] = (2.5185, 3.085, 0.0714, -1.3872)


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


def _lexical_document(skill: Skill) -> str:
    """A skill's TF-IDF text: its trigger facets and its name in words ("code-review" → "code review"),
    which in public catalogs often says what the skill is for (measured: +0 to +7 points of zero-shot top-1
    on the public catalogs of eval/catalogs, 0 on the shipped test split; as an embedded facet it lost points)."""
    return " ".join([*skill.triggers, skill.name.replace("-", " ")])


def _grid(groups: list[list[int]]) -> np.ndarray:
    width = max((len(g) for g in groups), default=0)
    out = np.full((len(groups), max(width, 1)), -1, dtype=np.int64)
    for i, g in enumerate(groups):
        out[i, : len(g)] = g
    return out


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
        self._index: _Index | None = None
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
        from .fit import data_sha, description_sha, fit_head

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
            from .finetune import merged_model

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
            from .finetune import describe

            head.meta["adapter"] = describe(self.adapter_)
        self.head_ = head
        self.stale_skills_ = []
        self._fitted_from = None
        return self

    def _finetune(self, examples: Sequence[Any], config: Any, seed: int,
                  progress: Callable[[int, float], None] | None) -> None:
        from .finetune import FinetuneConfig, finetune, merged_model

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
        from .fit import FittedHead

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
        from .finetune import LoraDelta, merged_model

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

        from .finetune import ADAPTER_FILE

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
        todo = [t for t in dict.fromkeys(texts) if (t, fs) not in self._feature_memo]
        plans = [read_request(t) for t in todo]
        flat = [v for _, vs in plans for v in vs]
        vecs = self._get_encoder().encode(flat) if flat else None
        i = 0
        for t, (body, vs) in zip(todo, plans, strict=True):
            qv = vecs[i:i + len(vs)]
            i += len(vs)
            self._feature_memo[(t, fs)] = self._feature_row(idx, qv, body, fs)[0]
        return np.stack([self._feature_memo[(t, fs)] for t in texts])

    def _feature_row(self, idx: _Index, qv: np.ndarray, prose: str,
                     feature_skills: Sequence[str]) -> tuple[np.ndarray, dict[str, Any], np.ndarray]:
        sc = self._score(idx, qv, prose)
        anchor_sims = self._combine(qv @ idx.anchors.T) if len(idx.anchors) else np.zeros(1)
        m = self._combine(qv)
        m = m / (np.linalg.norm(m) or 1.0)
        pos = {n: i for i, n in enumerate(idx.names)}
        z = np.array([sc["scores"][pos[n]] if n in pos else 0.0 for n in feature_skills])
        return np.concatenate([m, z, [anchor_sims.max()]]), sc, anchor_sims


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
                from .finetune import merged_model

                base = self._get_base()
                folder = merged_model(base.source, self._reader_delta())  # type: ignore[attr-defined]
                self._reader_encoder = load_encoder(folder, backend=getattr(base, "backend", None),
                                                    quantize=getattr(base, "quantize", False))
            return self._reader_encoder

    def _reader_delta(self):
        """The general reader's delta, read from ``reader`` once."""
        with self._lock:
            if self._reader_lora is None:
                from .finetune import LoraDelta

                self._reader_lora = LoraDelta.load(self.reader)  # type: ignore[arg-type]
            return self._reader_lora

    def _reader_sha(self) -> str | None:
        return None if self.reader is None else self._reader_delta().sha256

    def _build(self) -> _Index:
        from .cache import EmbeddingCache

        with self._lock:
            if self._index is not None:
                return self._index
            from .lexical import LexicalIndex

            enc = self._get_encoder()
            skills = list(self.catalog)
            names = [sk.name for sk in skills]
            pos = {n: i for i, n in enumerate(names)}
            facet_text: list[str] = []
            rule_text: list[str] = []
            redirects: list[int] = []
            facet_groups: list[list[int]] = []
            rule_groups: list[list[int]] = []
            for sk in skills:
                facet_groups.append(list(range(len(facet_text), len(facet_text) + len(sk.triggers))))
                facet_text.extend(sk.triggers)
                rules = sk.rules if sk.triggers else ()  # a skill with no trigger is not routed: its rules neither
                rule_groups.append(list(range(len(rule_text), len(rule_text) + len(rules))))
                rule_text.extend(r.phrase for r in rules)
                redirects.extend(pos.get(r.redirect, -1) if r.redirect else -1 for r in rules)
            anchors = list(self.none_anchors)
            vecs = EmbeddingCache(enc, self.cache_folder).embed(facet_text + rule_text + anchors)
            nf, nr = len(facet_text), len(rule_text)
            routable = [i for i, sk in enumerate(skills) if not sk.disabled and sk.triggers]
            self._index = _Index(
                names=names,
                exclusive=np.array([i for i in routable if skills[i].kind == "exclusive"], dtype=np.int64),
                additive=np.array([i for i in routable if skills[i].kind == "additive"], dtype=np.int64),
                facet_text=facet_text, facets=vecs[:nf], facet_grid=_grid(facet_groups),
                rule_text=rule_text, rules=vecs[nf:nf + nr], rule_grid=_grid(rule_groups),
                rule_redirect=np.array(redirects, dtype=np.int64),
                lexical=LexicalIndex([_lexical_document(sk) for sk in skills]), anchors=vecs[nf + nr:])
            return self._index

    # ---------------------------------------------------------------- scoring

    def _combine(self, sims: np.ndarray) -> np.ndarray:
        """Weighted mean over a request's views (rows) of per-view scores; missing views share the weight."""
        if len(sims) == 1:
            return sims[0]
        w = np.asarray(self.view_weights[: len(sims)], dtype=np.float64)
        w = (w / w.sum()).reshape((-1,) + (1,) * (sims.ndim - 1))
        return (w * sims).sum(0)

    def _score(self, idx: _Index, qv: np.ndarray, prose: str) -> dict[str, Any]:
        """Per-skill trigger scores, rule effects and the best facet of each skill, for one request.

        A skill's trigger score is the mean of its ``top_k`` best facets (one lucky short facet does not
        win alone), averaged over the request's views, plus ``lexical_weight`` times the TF-IDF cosine.
        A rule fires when it matches the request better than the skill's best facet (by ``rule_margin``).
        """
        grid = idx.facet_grid
        empty = grid < 0
        raw = (qv @ idx.facets.T)[:, grid] if len(idx.facet_text) else np.zeros((len(qv),) + grid.shape)
        fs = np.where(empty, -np.inf, raw)  # views x skills x slots
        k = min(self.top_k, grid.shape[1])
        top = fs if k == grid.shape[1] else np.partition(fs, grid.shape[1] - k, axis=2)[:, :, -k:]
        valid = np.isfinite(top)
        top_mean = np.where(valid, top, 0).sum(2) / np.maximum(valid.sum(2), 1)
        top_mean[:, valid.sum(2)[0] == 0] = -1.0  # a skill without facets never wins
        combined = np.where(empty, -np.inf, self._combine(raw))  # skills x slots, over views
        slot = np.argmax(combined, axis=1)
        best = np.take_along_axis(combined, slot[:, None], 1)[:, 0]
        best_facet = grid[np.arange(len(grid)), slot]
        trig = self._combine(top_mean) + self.lexical_weight * idx.lexical.score(prose)
        scores = trig.copy()
        hits: list[RuleHit] = []
        if self.rules and len(idx.rule_text):
            rs = self._combine(qv @ idx.rules.T)
            rgrid = idx.rule_grid
            rg = np.where(rgrid >= 0, rs[np.maximum(rgrid, 0)], -np.inf)  # skills x rule slots
            rslot = np.argmax(rg, axis=1)
            rbest = rg[np.arange(len(rg)), rslot]
            excess = rbest - best - self.rule_margin
            fired = np.flatnonzero(excess > 0)
            # the further a rule out-matches the skill's triggers, the harder the push (and the redirect's pull)
            strength = 1 + self.rule_scale * excess[fired]
            rows = rgrid[fired, rslot[fired]]
            targets = idx.rule_redirect[rows]
            np.subtract.at(scores, fired, self.rule_penalty * strength)
            has = targets >= 0
            np.add.at(scores, targets[has], self.redirect_boost * strength[has])
            if len(fired) > 50:  # a large catalog: report the hits that touch the leading candidates
                lead = set(np.argsort(-trig)[:20].tolist()) | set(np.argsort(-scores)[:20].tolist())
                keep = [i for i, k in enumerate(fired) if k in lead or targets[i] in lead]
            else:
                keep = range(len(fired))
            for i in keep:
                skill, target = int(fired[i]), int(targets[i])
                hits.append(RuleHit(idx.names[skill], idx.rule_text[rows[i]], float(rbest[skill]), float(best[skill]),
                                    idx.names[target] if target >= 0 else None))
        return {"trigger": trig, "scores": scores, "best_facet": best_facet, "hits": hits}

    def _choose(self, idx: _Index, scores: np.ndarray, anchor_sims: np.ndarray) -> tuple[int | None, str]:
        """The exclusive skill these scores pick (or None) and why; the same test with and without rules."""
        ex = idx.exclusive
        if not len(ex):
            return None, "no skill: the catalog has no routable exclusive skill"
        order = ex[np.argsort(-scores[ex], kind="stable")]
        top = scores[order[0]]
        gap = top - (scores[order[1]] if len(order) > 1 else -1.0)
        best = idx.names[order[0]]
        if len(anchor_sims):
            a = int(np.argmax(anchor_sims))
            if anchor_sims[a] > top + self.none_margin:
                return None, (f"no skill: closer to \"{self.none_anchors[a]}\" ({anchor_sims[a]:.2f}) than to any "
                              f"skill (best {best} {top:.2f})")
        if top < self.floor:
            return None, f"no skill: best score {top:.2f} ({best}) is under the floor {self.floor:.2f}"
        if gap < self.margin:
            return None, (f"no skill: {best} and {idx.names[order[1]]} tie ({gap:.3f} apart, "
                          f"margin {self.margin:.3f})")
        runner = idx.names[order[1]] if len(order) > 1 else "nothing"
        return int(order[0]), f"leads {runner} by {gap:.3f}"

    def _decide(self, idx: _Index, qv: np.ndarray, prose: str, sc: dict[str, Any] | None = None) -> Decision:
        sc = sc if sc is not None else self._score(idx, qv, prose)
        scores, trig, hits = sc["scores"], sc["trigger"], sc["hits"]
        anchor_sims = self._combine(qv @ idx.anchors.T) if len(idx.anchors) else np.zeros(0)
        ex = idx.exclusive
        order = ex[np.argsort(-scores[ex], kind="stable")]
        ranked = list(zip([idx.names[k] for k in order], np.round(scores[order], 4).tolist(), strict=True))
        chosen, why = self._choose(idx, scores, anchor_sims)
        skill = idx.names[chosen] if chosen is not None else None
        confidence = 0.0
        if len(order):
            top_p = zero_shot_confidence(scores[order], self.calibration)
            confidence = top_p if chosen is not None else 1 - top_p
        if chosen is None:
            reasons = [why]
        else:
            facet = idx.facet_text[sc["best_facet"][chosen]]
            reasons = [f"{idx.names[chosen]}: trigger \"{_clip(facet)}\" matched, score {trig[chosen]:.2f}; {why}"]
        # every hit is in rule_hits; the reasons name those that touch the leading candidates
        leading = {n for n, _ in ranked[:5]} | {idx.names[k] for k in idx.additive}
        reasons.extend(str(h) for h in hits if h.skill in leading or h.redirect == skill)
        also = []
        for k in idx.additive:
            if scores[k] >= self.additive_threshold:
                also.append(idx.names[k])
                reasons.append(f"{idx.names[k]} (additive): trigger \"{_clip(idx.facet_text[sc['best_facet'][k]])}\" "
                               f"at {scores[k]:.2f} ≥ {self.additive_threshold:.2f}")
        if hits:
            unruled, _ = self._choose(idx, trig, anchor_sims)
            without = idx.names[unruled] if unruled is not None else None
        else:
            without = skill
        return Decision(skill=skill, also=also, confidence=round(confidence, 4), ranked=ranked,
                        reasons=reasons, rule_hits=hits, skill_without_rules=without)

    def _decide_fitted(self, idx: _Index, qv: np.ndarray, prose: str, raw: str) -> Decision:
        """The gated blend: the description router decides whether a fitted skill is meant; the head then
        ranks the fitted skills (and none); otherwise the description router's decision stands."""
        head = self.head_
        x, sc, anchor_sims = self._feature_row(idx, qv, prose, head.meta["feature_skills"])
        zero = self._decide(idx, qv, prose, sc=sc)  # the same scores, not computed twice
        routable = {idx.names[k] for k in idx.exclusive}
        known = [c for c in head.classes if c == "none" or (c in routable and c not in self.stale_skills_)]
        top_zero = zero.ranked[0][0] if zero.ranked else None
        if top_zero is not None and top_zero not in known and zero.skill == top_zero:
            return Decision(zero.skill, zero.also, zero.confidence, zero.ranked,
                            [f"gate: {top_zero} has no fitted examples (or its description changed); "
                             "routed by its description"] + zero.reasons, rule_hits=zero.rule_hits,
                            skill_without_rules=zero.skill_without_rules)
        p = head.proba(x, raw)
        keep = np.array([c in known for c in head.classes])
        p = np.where(keep, p, 0.0)
        p = p / p.sum() if p.sum() > 0 else p
        order = np.argsort(-p, kind="stable")
        best = head.classes[order[0]]
        ranked = [(head.classes[j], round(float(p[j]), 4)) for j in order if head.classes[j] != "none" and keep[j]]
        ranked += [(n, 0.0) for n, _ in zero.ranked if n not in {r[0] for r in ranked}]
        if best == "none" or p[order[0]] < head.none_floor:
            skill = None
            confidence = float(p[head.classes.index("none")]) if "none" in head.classes else float(1 - p[order[0]])
            reasons = [f"no skill: fitted head gives none {confidence:.2f}" if best == "none" else
                       f"no skill: the fitted head's best, {best} at {p[order[0]]:.2f}, is under its floor "
                       f"{head.none_floor:.2f}"]
        else:
            skill, confidence = best, float(p[order[0]])
            runner = next((head.classes[j] for j in order[1:]), "nothing")
            reasons = [f"{skill}: fitted head {confidence:.2f}, next {runner} {p[order[1]]:.2f}"
                       if len(order) > 1 else f"{skill}: fitted head {confidence:.2f}"]
            k = idx.names.index(skill)
            reasons.append(f"{skill}: its best trigger \"{_clip(idx.facet_text[sc['best_facet'][k]])}\", "
                           f"zero-shot score {sc['scores'][k]:.2f}")
        reasons.extend(r for r in zero.reasons if r.startswith("rule of"))
        also = []
        for k in idx.additive:
            name = idx.names[k]
            if name in head.additive and name not in self.stale_skills_:
                on, prob = head.additive_on(name, x, raw)
                if on:
                    also.append(name)
                    reasons.append(f"{name} (additive): fitted head {prob:.2f}")
            elif name in zero.also:
                also.append(name)
        return Decision(skill=skill, also=also, confidence=round(confidence, 4), ranked=ranked, reasons=reasons,
                        rule_hits=zero.rule_hits, skill_without_rules=skill)

    def warm(self) -> Router:
        """Load the encoder and embed the catalog now (from the cache where unchanged), not on the first route."""
        self._build()
        return self

    # ----------------------------------------------------------------- public

    def route(self, text: str) -> Decision:
        """Route one request."""
        return self.route_many([text])[0]

    def route_many(self, texts: Sequence[str]) -> list[Decision]:
        """Route several requests with one batched encode; equal to calling ``route`` on each."""
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
        flat = [v for _, vs, _, _ in plans for v in vs]
        vecs = self._get_encoder().encode(flat) if flat else np.zeros((0, 0), dtype=np.float32)
        out: list[Decision] = []
        i = 0
        for invoked, vs, text, raw in plans:
            qv = vecs[i:i + len(vs)]
            i += len(vs)
            if invoked is None:
                out.append(self._decide(idx, qv, text) if self.head_ is None else
                           self._decide_fitted(idx, qv, text, raw))
            else:
                out.append(self._explicit(idx, invoked, qv, text))
        return out

    def _explicit(self, idx: _Index, name: str, qv: np.ndarray, text: str) -> Decision:
        skill = self.catalog[name]
        reasons = [f"explicit invocation: the request starts with /{name}"]
        also: list[str] = []
        ranked: list[tuple[str, float]] = []
        if len(qv):
            d = self._decide(idx, qv, text)
            also, ranked = d.also, d.ranked
            reasons += [r for r in d.reasons if "(additive)" in r]
        if skill.kind == "additive":
            also = sorted(set(also) | {name})
            return Decision(skill=None, also=also, confidence=1.0, ranked=ranked, reasons=reasons, explicit=True)
        return Decision(skill=name, also=also, confidence=1.0, ranked=ranked, reasons=reasons, explicit=True,
                        skill_without_rules=name)

    async def aroute(self, text: str) -> Decision:
        """``route`` for async harnesses: runs in a worker thread, never blocking the event loop."""
        import asyncio  # here, not at the top: it costs a cold start 45 ms

        return await asyncio.to_thread(self.route, text)

    def shortlist(self, text: str, k: int = 3) -> list[tuple[str, float]]:
        """The k most likely exclusive skills with their scores, for harnesses that show an LLM only a few."""
        if k < 1:
            raise ValueError("k must be at least 1")
        return self.route(text).ranked[:k]


def _clip(text: str, n: int = 70) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"

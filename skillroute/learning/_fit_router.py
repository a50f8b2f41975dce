"""``Router.fit``: check the labelled examples, fine-tune the encoder (or take a given delta), fit the head on
the router's own features, and return the fitted state. Needs the ``[fit]`` extra."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

from ..core._artifact import Fitted
from ..core._dataset import NONE
from ..core._delta import FinetuneConfig, describe, merged_model
from ..core._head import data_sha, description_sha
from ..errors import DataError, ModelError
from ._head_fit import fit_head

__all__ = ["fit_router"]


def _check(router, examples: Sequence[Any]) -> None:
    if not examples:
        raise DataError("fit needs labelled examples; none were given")
    bad = [e for e in examples if getattr(e, "split", None) == "test"]
    if bad:
        raise DataError(f"fit was given {len(bad)} examples of the test split (first: line {bad[0].line}); fit on "
                        "the train split only", getattr(bad[0], "path", None))
    known = {s.name for s in router.catalog.exclusive} | {NONE}
    unknown = sorted({e.skill for e in examples} - known)
    if unknown:
        raise DataError(f"labels name skills the catalog does not have: {', '.join(unknown)}", field="skill")
    labels = {e.skill for e in examples}
    if len(labels) < 2:
        raise DataError(f"fit needs examples of at least two labels (skills or none); all {len(examples)} are "
                        f"{next(iter(labels))!r}", field="skill")


def fit_router(router, examples: Sequence[Any], *, adapter: Any = None,
               progress: Callable[[int, float], None] | None = None) -> Fitted:
    """The fitted state for ``router`` learned from ``examples``; the router itself is not changed.

    First (``router.finetune``) a LoRA delta that teaches the encoder to read the descriptions (see
    ``finetune``), then a classifier head over the request's embedding and the description router's own
    scores, so a skill with no examples, or an edited description, still routes by its description (the gate
    in ``route``). The none floor, the additive thresholds and the calibration come from out-of-fold
    predictions. Examples of the test split are refused: nothing fitted reads it.
    """
    _check(router, examples)
    base = router._get_base()
    delta, encoder = adapter, None
    if adapter is None and router.finetune:
        from ._finetune import finetune

        source = getattr(base, "source", None)  # a fitted delta is relative to the base model
        if source is None or source.path is None:
            raise ModelError("the fine-tune needs a local model (the packaged one or a folder); this encoder has "
                             "none: fit with finetune=False")
        cfg = dataclasses.replace(router.finetune_config or FinetuneConfig(), seed=router.seed)
        skills = [(s.name, list(s.triggers)) for s in router.catalog.exclusive if not s.disabled and s.triggers]
        delta = finetune(source, skills, [e.prompt for e in examples], [e.skill for e in examples],
                         view_weights=router.view_weights, config=cfg, progress=progress)
    if delta is not None:
        encoder = router._tuned_encoder(merged_model(base.source, delta))
    enc = encoder if encoder is not None else (router._get_reader() if router._reader_delta() is not None else base)
    feature_skills = list(router._build(enc).names)
    x = router._features([e.prompt for e in examples], feature_skills, enc)
    head = fit_head(x, [e.skill for e in examples], [e.also for e in examples],
                    [s.name for s in router.catalog.additive], texts=[e.prompt for e in examples], seed=router.seed,
                    folds=router.folds, c=router.c)
    head.meta.update({
        "model_sha256": router._base_sha(), "encoder": enc.name, "feature_skills": feature_skills,
        "skill_sha": {s.name: description_sha(s.description) for s in router.catalog},
        "data_sha256": data_sha([e.prompt for e in examples], [e.skill for e in examples]),
        "n_examples": len(examples), "view_weights": list(router.view_weights),
        "reader_sha256": None if delta is not None else router._reader_sha()})
    if delta is not None:
        head.meta["adapter"] = describe(delta)
    return Fitted(head, delta, encoder, [], None)

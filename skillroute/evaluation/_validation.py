"""Refit-per-fold studies of the fitted router: stratified cross-validation on the train split, and
leave-skills-out (skills held out of fitting, routed against all descriptions)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..core._dataset import NONE, Example
from ..core._router import clone
from ..errors import require

__all__ = ["cross_validate", "leave_skills_out"]


def cross_validate(router, examples: Sequence[Example], k: int = 5, seed: int = 0,
                   finetune: bool = False) -> dict[str, Any]:
    """Stratified k-fold on ``examples`` (train split only), refitting per fold: top-1 mean ± std.

    ``finetune=False`` refits the head alone on the base encoder (an encoder fine-tuned on every fold would
    have seen the held-out prompts); True fine-tunes again in every fold (minutes each on a CPU).
    """
    require("eval", "sklearn", "scipy")
    from sklearn.model_selection import StratifiedKFold

    scores = []
    y = [e.skill for e in examples]
    for tr, te in StratifiedKFold(k, shuffle=True, random_state=seed).split(np.zeros(len(y)), y):
        fold = clone(router, seed=seed, finetune=finetune).fit([examples[i] for i in tr])
        scores.append(fold.score([examples[i] for i in te]))
    return {"folds": k, "finetune": finetune, "top1_per_fold": scores, "top1_mean": float(np.mean(scores)),
            "top1_std": float(np.std(scores))}


def leave_skills_out(router, train: Sequence[Example], test: Sequence[Example], groups: int = 3,
                     seed: int = 0, finetune: bool = False) -> dict[str, Any]:
    """Hold each group of exclusive skills out of fitting and route the group's test prompts against all
    descriptions: the held-out skills' top-1 fitted (through the gate) beside their zero-shot top-1
    (``finetune=True`` fine-tunes the encoder on the other skills' prompts in each group, minutes each)."""
    skills = sorted({e.skill for e in train} - {NONE})
    random.Random(seed).shuffle(skills)
    parts = [sorted(skills[i::groups]) for i in range(groups)]
    rows = []
    for held in parts:
        probe = [e for e in test if e.skill in held]
        fitted = clone(router, seed=seed, finetune=finetune).fit([e for e in train if e.skill not in held])
        zero = clone(router)  # unfitted: the description router (general reader or base encoder)
        rows.append({"held_out": held, "n": len(probe), "fitted_top1": fitted.score(probe),
                     "zero_shot_top1": zero.score(probe)})
    n = sum(r["n"] for r in rows)
    return {"groups": rows, "finetune": finetune,
            "fitted_top1": sum(r["fitted_top1"] * r["n"] for r in rows) / n,
            "zero_shot_top1": sum(r["zero_shot_top1"] * r["n"] for r in rows) / n}

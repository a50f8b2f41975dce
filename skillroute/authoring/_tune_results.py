"""What ``tune_skill`` returns: the proposed description, the edits kept, the error clusters and the
figures before and after."""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass
from typing import Any

from ..core._rules import split_sentences

__all__ = ["TuneResult", "Edit", "ErrorCluster", "FacetEffect", "SkillFigures"]


@dataclass(frozen=True)
class ErrorCluster:
    """Misroutes of the tuned skill that read alike: missed (its prompts routed elsewhere) or false positives."""

    kind: str  # "missed" or "false positive"
    size: int
    prompts: tuple[str, ...]  # a few examples, nearest the cluster's centre first
    lines: tuple[int | None, ...]  # their lines in the data file
    routed_to: tuple[tuple[str, int], ...]  # missed: where they went; false positive: their right skills
    cause: str  # the facet or rule that decided most of them


@dataclass(frozen=True)
class FacetEffect:
    """What one trigger facet or rule contributes: train top-1 with it minus without it (positive helps)."""

    kind: str  # "trigger" or "rule"
    text: str
    contribution: float
    fixed_by_removal: int
    broken_by_removal: int


@dataclass(frozen=True)
class Edit:
    """One candidate edit and its score: the held-out top-1 change, each fold's phrase drawn without that fold."""

    kind: str  # "add-trigger", "add-rule", "drop-trigger", "drop-rule"
    text: str  # the sentence added, or the facet/rule removed (drawn from all the data)
    description: str  # the whole description after the edit
    cv_gain: float  # held-out top-1 change, over all skills
    cv_net: int  # prompts fixed minus broken on the held-out folds
    train_gain: float  # top-1 change on all the data with the final text (optimistic for added phrases)
    source: str = ""  # what it was drawn from
    redirect: str | None = None
    round: int = 1


@dataclass(frozen=True)
class SkillFigures:
    """Top-1 precision, recall and F1 of one skill before and after the proposed description."""

    skill: str
    support: int
    before: tuple[float, float, float]
    after: tuple[float, float, float]


@dataclass(frozen=True)
class TuneResult:
    """Everything ``tune_skill`` found for one skill, with its proposed description (unchanged when nothing helps)."""

    skill: str
    n_examples: int
    folds: int
    description: str
    proposed: str
    applied: tuple[Edit, ...]
    candidates: tuple[Edit, ...]
    clusters: tuple[ErrorCluster, ...]
    facets: tuple[FacetEffect, ...]
    top1_before: float  # on the tuning data, all skills
    top1_after: float  # the same with the proposed description (optimistic: the edits were chosen on it)
    figures: tuple[SkillFigures, ...]  # the tuned skill first, then every other skill whose figures changed
    notes: tuple[str, ...] = ()

    @property
    def diff(self) -> str:
        """A unified diff of the description, one sentence a line."""
        a = [s + "\n" for s in split_sentences(self.description)]
        b = [s + "\n" for s in split_sentences(self.proposed)]
        return "".join(difflib.unified_diff(a, b, f"{self.skill} (today)", f"{self.skill} (proposed)"))

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["diff"] = self.diff
        return d

"""Tune one skill's description on labelled prompts, for its author.

The zero-shot router reads descriptions, so that is what is tuned: the skill's misroutes, clustered by
meaning with the facet or rule behind each; what each facet and rule contributes; and candidate edits (a
trigger phrase drawn from a cluster of misses, a "Do NOT use for … (→ skill)" clause drawn from a cluster
of false positives, a facet or rule dropped) scored by cross-fitting, so an edit that only memorises the
prompts it was drawn from gains nothing. Nothing here reads the test split."""

from __future__ import annotations

import dataclasses
import re
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..core._catalog import MAX_DESCRIPTION, Catalog, read_skill_file
from ..core._dataset import NONE, Example
from ._tune_results import Edit, ErrorCluster, FacetEffect, SkillFigures, TuneResult
from ._tune_scoring import _Pass, _Scorer, _Spec
from ._tune_search import _Tuner

__all__ = ["tune_skill", "TuneResult", "Edit", "ErrorCluster", "FacetEffect", "SkillFigures", "write_description",
           "with_description", "accuracy"]


def with_description(catalog: Catalog, skill: str, description: str) -> Catalog:
    """The catalog with one skill's description replaced, in memory (nothing is written)."""
    skills = tuple(dataclasses.replace(s, description=description) if s.name == skill else s for s in catalog)
    return Catalog(skills, catalog.errors, catalog.warnings)


def _figures(catalog: Catalog, examples: Sequence[Example], before: _Pass, after: _Pass,
             skill: str) -> list[SkillFigures]:
    from ..evaluation._metrics import effective_labels, per_label_scores

    names = catalog.names
    labels = [s.name for s in catalog.exclusive] + [NONE]
    y_true = [e.skill for e in examples]
    acc = [e.acceptable for e in examples]
    per = []
    for p in (before, after):
        y = [names[i] if i >= 0 else NONE for i in p.pred]
        per.append(per_label_scores(effective_labels(y_true, y, acc), y, labels=labels))
    out = []
    for lab in [skill] + [x for x in labels if x != skill]:
        b, a = per[0][lab], per[1][lab]
        fb = (b["precision"], b["recall"], b["f1"])
        fa = (a["precision"], a["recall"], a["f1"])
        if lab == skill or any(abs(x - y) > 1e-9 for x, y in zip(fb, fa, strict=True)):
            out.append(SkillFigures(lab, b["support"], fb, fa))
    return out


def accuracy(router: Any, examples: Sequence[Example], catalogs: Sequence[Catalog]) -> list[float]:
    """Zero-shot top-1 of each catalog (same skill names as the router's) on ``examples``, encoding them once."""
    scorer = _Scorer(router, examples)
    return [float(scorer.predict(_Spec.of(c)).correct.mean()) for c in catalogs]


def tune_skill(router: Any, skill: str, examples: Sequence[Example], *, folds: int = 5, max_edits: int = 5,
               min_net: int = 2, max_clusters: int = 5, seed: int = 0) -> TuneResult:
    """Propose a better description for ``skill`` from labelled prompts (never the test split).

    ``router`` gives the catalog, the encoder and the zero-shot settings (a fitted head is ignored: the
    descriptions are what is tuned). Edits are applied greedily, best first, while one gains at least
    ``min_net`` prompts on the held-out folds; at most ``max_edits``.
    """
    catalog = router.catalog
    if skill not in catalog:
        raise ValueError(f"no skill named {skill!r}; the catalog has: {', '.join(catalog.names)}")
    if catalog[skill].kind != "exclusive":
        raise ValueError(f"{skill!r} is an additive skill; tune routes exclusive skills (an additive skill "
                         "switches on by threshold, not by winning)")
    bad = [e for e in examples if e.split == "test"]
    if bad:
        raise ValueError(f"tune_skill() was given {len(bad)} examples of the test split; tune on the train "
                         "split only")
    if len(examples) < 4:
        raise ValueError("tune_skill() needs labelled examples (at least 4)")
    known = {s.name for s in catalog.exclusive} | {NONE}
    unknown = sorted({e.skill for e in examples} - known)
    if unknown:
        raise ValueError(f"labels name skills the catalog does not have: {', '.join(unknown)}")
    tuner = _Tuner(router, skill, examples, folds, seed, max_clusters, min_net)
    original = catalog[skill].description
    current = " ".join(original.split())
    first = tuner.run(current)
    clusters = tuner.report_clusters(first)
    facets = tuner.contributions(current, first)
    applied: list[Edit] = []
    candidates: list[Edit] = []
    p = first
    for rnd in range(1, max_edits + 1):
        edits = tuner.score(current, p, tuner.proposals(current, p), rnd)
        candidates.extend(edits)
        good = [e for e in edits if e.cv_net >= min_net and e.train_gain > 0]
        if not good:
            break
        best = max(good, key=lambda e: (e.cv_net, e.train_gain, -len(e.description)))
        applied.append(best)
        current = best.description
        p = tuner.run(current)
    if not applied:
        tuner.notes.append(f"no edit gained {min_net} or more held-out prompts: the description is kept")
    proposed = current if applied else original
    return TuneResult(
        skill=skill, n_examples=len(examples), folds=tuner.folds, description=original, proposed=proposed,
        applied=tuple(applied), candidates=tuple(sorted(candidates, key=lambda e: (e.round, -e.cv_net))),
        clusters=tuple(clusters), facets=tuple(facets), top1_before=float(first.correct.mean()),
        top1_after=float(p.correct.mean()), figures=tuple(_figures(catalog, examples, first, p, skill)),
        notes=tuple(dict.fromkeys(tuner.notes)))


_TOP_KEY = re.compile(r"^[^\s#][^:]*:")


def write_description(path: str | Path, description: str) -> Path:
    """Replace the frontmatter ``description`` of a SKILL.md, keeping every other byte; returns the backup.

    The old file is copied first to ``SKILL.md.bak`` (or ``SKILL.md.bak.N`` when that exists). The new
    file is read back and must load with the new description and otherwise unchanged keys and body.
    """
    import yaml

    from ..core._storage import atomic_write_bytes
    from ..errors import CatalogError

    path = Path(path)
    if len(description) > MAX_DESCRIPTION or not description.strip():
        raise CatalogError(f"a description must be 1 to {MAX_DESCRIPTION} characters", path)
    before = read_skill_file(path)
    raw = path.read_bytes()
    bom = raw.startswith(b"\xef\xbb\xbf")
    text = raw[3 if bom else 0:].decode("utf-8")
    newline = "\r\n" if "\r\n" in text else "\n"
    lines = text.split(newline)
    end = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
    start = next((i for i in range(1, end) if re.match(r"^description\s*:", lines[i])), None)
    if start is None:
        raise CatalogError("no top-level 'description' line in the frontmatter", path)
    stop = start + 1
    while stop < end and not _TOP_KEY.match(lines[stop]):
        stop += 1  # the value's continuation lines (folded, literal or quoted over several lines)
    value = yaml.safe_dump({"description": description}, allow_unicode=True, width=1 << 20, sort_keys=False)
    new_lines = lines[:start] + value.rstrip("\n").split("\n") + lines[stop:]
    data = ("\ufeff" if bom else "") + newline.join(new_lines)
    backup = path.with_name(path.name + ".bak")
    n = 1
    while backup.exists():
        backup = path.with_name(f"{path.name}.bak.{n}")
        n += 1
    shutil.copy2(path, backup)
    atomic_write_bytes(path, data.encode("utf-8"))
    after = read_skill_file(path)
    same = {k: v for k, v in before.frontmatter.items() if k != "description"} == \
        {k: v for k, v in after.frontmatter.items() if k != "description"}
    if after.description != description.strip() or not same or after.body != before.body:
        shutil.copy2(backup, path)
        raise CatalogError("the rewritten file did not read back as intended; the original is restored", path)
    return backup

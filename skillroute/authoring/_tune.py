"""Tune one skill's description on labelled prompts, for its author.

The zero-shot router reads descriptions, so that is what is tuned: the skill's misroutes, clustered by
meaning with the facet or rule behind each; what each facet and rule contributes; and candidate edits (a
trigger phrase drawn from a cluster of misses, a "Do NOT use for … (→ skill)" clause drawn from a cluster
of false positives, a facet or rule dropped) scored by cross-fitting, so an edit that only memorises the
prompts it was drawn from gains nothing. Nothing here reads the test split.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
import shutil
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..core._catalog import MAX_DESCRIPTION, Catalog, read_skill_file
from ..core._dataset import NONE, Example
from ..core._engine import ANCHOR, Batch, SkillSpec, build_index, choose, score
from ..errors import require
from ..core._query import explicit_invocation, read_request
from ..core._rules import parse_description, split_sentences

__all__ = ["tune_skill", "TuneResult", "Edit", "ErrorCluster", "FacetEffect", "SkillFigures", "write_description",
           "with_description", "accuracy"]


# --------------------------------------------------------------------------- results


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


# --------------------------------------------------------------------------- in-memory catalogs


def with_description(catalog: Catalog, skill: str, description: str) -> Catalog:
    """The catalog with one skill's description replaced, in memory (nothing is written)."""
    skills = tuple(dataclasses.replace(s, description=description) if s.name == skill else s for s in catalog)
    return Catalog(skills, catalog.errors, catalog.warnings)


@dataclass(frozen=True)
class _Spec:
    """What the router reads of a catalog: per skill its facets, its rules (phrase, redirect), kind, disabled."""

    names: tuple[str, ...]
    kinds: tuple[str, ...]
    disabled: tuple[bool, ...]
    triggers: tuple[tuple[str, ...], ...]
    rules: tuple[tuple[tuple[str, str | None], ...], ...]

    @classmethod
    def of(cls, catalog: Catalog) -> _Spec:
        return cls(tuple(s.name for s in catalog), tuple(s.kind for s in catalog), tuple(s.disabled for s in catalog),
                   tuple(s.triggers for s in catalog), tuple(tuple((r.phrase, r.redirect) for r in s.rules)
                                                             for s in catalog))

    def skills(self) -> list[SkillSpec]:
        """The engine's view of each skill (a skill with no trigger is not routed, and its rules neither)."""
        return [SkillSpec(n, kind, bool(ts) and not off, ts, rs if ts else ())
                for n, kind, off, ts, rs in zip(self.names, self.kinds, self.disabled, self.triggers, self.rules,
                                                strict=True)]

    def replace(self, k: int, triggers: tuple[str, ...] | None = None,
                rules: tuple[tuple[str, str | None], ...] | None = None) -> _Spec:
        t, r = list(self.triggers), list(self.rules)
        if triggers is not None:
            t[k] = triggers
        if rules is not None:
            r[k] = rules
        return dataclasses.replace(self, triggers=tuple(t), rules=tuple(r))


# --------------------------------------------------------------------------- batch scoring


@dataclass
class _Pass:
    """The zero-shot decisions for every example under one catalog, with what decided them."""

    pred: np.ndarray  # skill index per example, -1 for none
    correct: np.ndarray  # bool per example
    best_facet: np.ndarray  # examples x skills: the facet text index that matched best
    fired: np.ndarray  # examples x skills: the rule text index that fired, -1 none
    redirect_of: np.ndarray  # examples x skills: the skill whose fired rule boosted this one most, -1 none
    anchor: np.ndarray  # bool per example: none because a no-skill anchor was closer
    facet_text: list[str]
    rule_text: list[str]


class _Scorer:
    """The description router's decisions for all examples at once, through the router's own engine.

    The request views are encoded once (through the on-disk embedding cache), so scoring an edited catalog
    costs a few array operations; new facet and rule texts are encoded in memory and remembered.
    """

    def __init__(self, router: Any, examples: Sequence[Example]):
        from ..core._cache import EmbeddingCache

        self.router = router
        self.params = router.scoring()
        self.encoder = router._get_encoder()
        names = router.catalog.names
        kinds = {s.name: s.kind for s in router.catalog}
        n = len(examples)
        self.explicit = np.full(n, -2, dtype=np.int64)  # -2: routed; else the invoked skill (-1: none)
        views: list[list[str]] = []
        proses: list[str] = []
        for i, e in enumerate(examples):
            inv = explicit_invocation(e.prompt)
            if inv and inv[0] in router.catalog:
                self.explicit[i] = names.index(inv[0]) if kinds[inv[0]] == "exclusive" else -1
            body, vs = read_request(e.prompt)
            proses.append(body if self.explicit[i] == -2 else "")
            views.append(vs[:3])
        flat = [v for vs in views for v in vs]
        self.batch = Batch.of([len(vs) for vs in views], EmbeddingCache(self.encoder, router.cache_folder).embed(flat),
                              proses, router.view_weights)
        self.prompt_vec = self.batch.views[self.batch.view_index[:, 0]]
        self._memo: dict[str, np.ndarray] = {}
        labels = {nm: k for k, nm in enumerate(names)}
        self.ok = np.zeros((n, len(names) + 1), dtype=bool)  # column len(names) is "none"
        for i, e in enumerate(examples):
            for lab in (e.skill, *e.acceptable):
                self.ok[i, labels.get(lab, len(names)) if lab != NONE else len(names)] = True
        self.gold = np.array([labels[e.skill] if e.skill != NONE else -1 for e in examples], dtype=np.int64)

    def vectors(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings of facet, rule or anchor texts, encoded once per text (not written to the disk cache)."""
        missing = [t for t in dict.fromkeys(texts) if t not in self._memo]
        if missing:
            for t, v in zip(missing, self.encoder.encode(missing), strict=True):
                self._memo[t] = v
        dim = self.batch.views.shape[1]
        return np.stack([self._memo[t] for t in texts]) if texts else np.zeros((0, dim), dtype=np.float32)

    def predict(self, spec: _Spec) -> _Pass:
        idx = build_index(spec.skills(), self.router.none_anchors, self.vectors)
        sc = score(idx, self.batch, self.params)
        ch = choose(idx, sc.scores, sc.anchor_sims, self.params)
        n = len(self.gold)
        redirect_of = np.full(sc.scores.shape, -1, dtype=np.int64)
        ri, si = np.nonzero(sc.fired_rule >= 0)
        ti = idx.rule_redirect[sc.fired_rule[ri, si]]
        has = ti >= 0
        redirect_of[ri[has], ti[has]] = si[has]
        pred = np.where(self.explicit != -2, self.explicit, ch.pick)
        correct = self.ok[np.arange(n), np.where(pred < 0, len(spec.names), pred)]
        return _Pass(pred, correct, sc.best_facet, sc.fired_rule, redirect_of,
                     (ch.why == ANCHOR) & (self.explicit == -2), idx.facet_text, idx.rule_text)


# --------------------------------------------------------------------------- phrases drawn from prompts

_PLAIN = re.compile(r"[A-Za-z][a-z]*(?:['’-][a-z]+)*")
_EDGE_STOP = frozenset(
    "the a an and or to of in for on with is are be this that it as by from at into about so but if then "
    "me my our your its it's i we you can could would please pls just also".split())
_DANGLING = frozenset("do does did is are was were has have had the when where which who why how what".split())
_NEG_SENTENCE = re.compile(r"^(?:do not|don't|never|not)\s+(?:use|trigger|activate|invoke|for|when)\b", re.IGNORECASE)


def _plain_words(text: str) -> list[str | None]:
    """The words of ``text`` in order, lowercased; None for a token that is code, a path, a number or camelCase."""
    out: list[str | None] = []
    for tok in text.split():
        w = tok.strip(",.!?;:\"'()“”‘’")
        out.append(w.lower() if _PLAIN.fullmatch(w) else None)
    return out


def _ngrams(text: str, longest: int = 3) -> set[str]:
    """The plain-word n-grams of ``text`` (never across a code token), not starting or ending on a stop word."""
    words = _plain_words(text)
    out = set()
    for n in range(1, longest + 1):
        for i in range(len(words) - n + 1):
            gram = words[i:i + n]
            if None in gram or gram[0] in _EDGE_STOP or gram[-1] in _EDGE_STOP:  # type: ignore[operator]
                continue
            if n == 1 and len(gram[0]) < 4:  # type: ignore[arg-type]
                continue
            out.add(" ".join(gram))  # type: ignore[arg-type]
    return out


def _plain_runs(text: str, shortest: int = 4, longest: int = 14) -> list[str]:
    """The runs of plain words in ``text`` between code tokens and sentence ends, as candidate phrases."""
    out = []
    for sentence in re.split(r"(?<=[.!?])\s+|\n+", text):
        run: list[str] = []
        for w in _plain_words(sentence) + [None]:
            if w:
                run.append(w)
                continue
            while run and run[0] in _EDGE_STOP:
                run.pop(0)
            while run and run[-1] in _EDGE_STOP | _DANGLING:
                run.pop()
            if len(run) >= shortest:
                out.append(" ".join(run[:longest]))
            run = []
    return out


_GAP, _RATIO = 0.05, 3.0  # how much more common in the positive prompts an n-gram must be


def _distinctive(grams: Sequence[set[str]], members: np.ndarray, positive: np.ndarray, negative: np.ndarray,
                 rows_of: dict[str, np.ndarray], description: str, top: int = 3) -> list[str]:
    """N-grams shared by the ``members`` rows that mark ``positive`` rows against ``negative`` ones (boolean
    masks): their rate among the positive minus among the negative, and a multiple of it; not yet described."""
    if len(members) < 2:
        return []
    floor = max(2, math.ceil(0.25 * len(members)))
    shared = [g for g, c in Counter(g for i in members for g in grams[i]).items() if c >= floor]
    n_pos, n_neg = max(int(positive.sum()), 1), max(int(negative.sum()), 1)
    have = description.lower()
    scored = []
    for g in shared:
        rows = rows_of[g]
        a, b = positive[rows].sum() / n_pos, negative[rows].sum() / n_neg
        if a > _RATIO * b and a - b > _GAP and g not in have:
            scored.append((a - b, len(g), g))
    out: list[str] = []
    for _, _, g in sorted(scored, reverse=True):
        if len(out) == top:
            break
        if not any(g in o or o in g for o in out):
            out.append(g)
    return out


# --------------------------------------------------------------------------- editing descriptions


def _insert_positive(description: str, sentence: str) -> str:
    """Add a positive sentence before the first "Do NOT" sentence (else at the end)."""
    parts = split_sentences(description)
    at = next((i for i, s in enumerate(parts) if _NEG_SENTENCE.match(s)), len(parts))
    return " ".join(parts[:at] + [sentence] + parts[at:])


def _remove_item(description: str, item: str) -> str | None:
    """The description without one sentence, or one list item or quoted phrase with its separator (inside the
    first sentence that holds it; a "Do NOT" sentence left with no item goes whole), or None."""
    sentences = split_sentences(description)
    for i, s in enumerate(sentences):
        if s.rstrip(".!") == item or s == item:
            return " ".join(sentences[:i] + sentences[i + 1:])
    esc = re.escape(item)
    quoted = rf"(?:\"{esc}\"|'{esc}'|“{esc}”|{esc}(?:\s*\((?:→|->)\s*[a-z0-9-]+\))?)"
    patterns = (rf",\s*(?:or\s+|and\s+)?{quoted}(?=[\s,.;:—–)]|$)", rf"(?<![\w'\"]){quoted},\s*",
                rf"\s+(?:or|and)\s+{quoted}(?=[\s,.;:—–)]|$)", rf"(?<![\w'\"]){quoted}\s+(?:or|and)\s+")
    for i, s in enumerate(sentences):
        if item not in s:
            continue
        for pattern in patterns:
            new, k = re.subn(pattern, "", s, count=1)
            if k:
                return " ".join(sentences[:i] + [" ".join(new.split())] + sentences[i + 1:])
        if _NEG_SENTENCE.match(s) and re.search(rf"(?<![\w'\"]){quoted}\s*[.!]?$", s):
            return " ".join(sentences[:i] + sentences[i + 1:])
    return None


# --------------------------------------------------------------------------- tuning


@dataclass
class _Proposal:
    kind: str
    source: str
    draw: Any  # excluded-rows mask -> (sentence or item, redirect) or None


class _Tuner:
    """The search behind ``tune_skill``: clusters, contributions and cross-fitted candidate edits for one skill."""

    def __init__(self, router: Any, skill: str, examples: Sequence[Example], folds: int, seed: int,
                 max_clusters: int, min_net: int):
        require("eval", "sklearn", "scipy")
        from sklearn.model_selection import StratifiedKFold

        self.router, self.skill, self.examples = router, skill, list(examples)
        self.catalog: Catalog = router.catalog
        self.k = self.catalog.names.index(skill)
        self.scorer = _Scorer(router, self.examples)
        self.seed, self.max_clusters, self.min_net = seed, max_clusters, min_net
        y = [e.skill for e in self.examples]
        self.folds = max(2, min(folds, len(self.examples) // 2))
        self.fold = np.zeros(len(y), dtype=np.int64)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a label rarer than the folds only warns
            splits = StratifiedKFold(self.folds, shuffle=True, random_state=seed).split(np.zeros(len(y)), y)
            for f, (_, held) in enumerate(splits):
                self.fold[held] = f
        self.notes: list[str] = []
        self.texts = [read_request(e.prompt)[0] for e in self.examples]
        self.grams = [_ngrams(t) for t in self.texts]
        rows_of: dict[str, list[int]] = {}
        for i, gs in enumerate(self.grams):
            for g in gs:
                rows_of.setdefault(g, []).append(i)
        self.rows_of = {g: np.array(r) for g, r in rows_of.items()}
        self.base = _Spec.of(self.catalog)
        self.names = frozenset(self.catalog.names)
        self._parsed: dict[str, Any] = {}

    # -- passes

    def parse(self, description: str) -> Any:
        if description not in self._parsed:
            self._parsed[description] = parse_description(description, self.names)
        return self._parsed[description]

    def spec(self, description: str) -> _Spec:
        parsed = self.parse(description)
        return self.base.replace(self.k, parsed.triggers, tuple((r.phrase, r.redirect) for r in parsed.rules))

    def run(self, description: str) -> _Pass:
        return self.scorer.predict(self.spec(description))

    def errors(self, p: _Pass) -> tuple[np.ndarray, np.ndarray]:
        """Indices of the skill's missed prompts and of its false positives."""
        missed = np.flatnonzero((self.scorer.gold == self.k) & ~p.correct)
        false_pos = np.flatnonzero((p.pred == self.k) & ~p.correct)
        return missed, false_pos

    # -- clusters

    def clusters(self, rows: np.ndarray) -> list[np.ndarray]:
        """Group prompts by meaning (k-means on their embeddings), largest first, each nearest its centre first."""
        if len(rows) == 0:
            return []
        c = int(np.clip(len(rows) // 8, 1, self.max_clusters))
        vec = self.scorer.prompt_vec[rows]
        if c == 1:
            labels = np.zeros(len(rows), dtype=np.int64)
        else:
            require("eval", "sklearn", "scipy")
            from sklearn.cluster import KMeans

            labels = KMeans(c, n_init=4, random_state=self.seed).fit_predict(vec)
        out = []
        for lab in range(c):
            members = rows[labels == lab]
            if not len(members):
                continue
            centre = self.scorer.prompt_vec[members].mean(0)
            order = np.argsort(-(self.scorer.prompt_vec[members] @ centre), kind="stable")
            out.append(members[order])
        return sorted(out, key=len, reverse=True)

    def cause(self, p: _Pass, i: int, missed: bool) -> str:
        names, k = self.catalog.names, self.k
        if missed:
            t = int(p.pred[i])
            if p.fired[i, k] >= 0:
                return f"its rule \"Do NOT … {p.rule_text[p.fired[i, k]]}\" fired"
            if t < 0:
                return "a no-skill anchor matched better" if p.anchor[i] else "every score under the floor"
            return f"{names[t]}'s trigger \"{_clip(p.facet_text[p.best_facet[i, t]])}\""
        if p.redirect_of[i, k] >= 0:
            j = int(p.redirect_of[i, k])
            return f"{names[j]}'s rule \"Do NOT … {p.rule_text[p.fired[i, j]]}\" redirected here"
        return f"its trigger \"{_clip(p.facet_text[p.best_facet[i, k]])}\""

    def report_clusters(self, p: _Pass, per_cluster: int = 3) -> list[ErrorCluster]:
        names = self.catalog.names
        missed, false_pos = self.errors(p)
        out = []
        for kind, rows in (("missed", missed), ("false positive", false_pos)):
            for members in self.clusters(rows):
                causes = Counter(self.cause(p, int(i), kind == "missed") for i in members)
                cause, c = causes.most_common(1)[0]
                where = Counter((names[int(p.pred[i])] if p.pred[i] >= 0 else NONE) if kind == "missed"
                                else self.examples[i].skill for i in members)
                out.append(ErrorCluster(kind, len(members),
                                        tuple(_clip(" ".join(self.examples[i].prompt.split()), 160)
                                              for i in members[:per_cluster]),
                                        tuple(self.examples[i].line for i in members[:per_cluster]),
                                        tuple(where.most_common()), f"{cause} ({c} of {len(members)})"))
        return out

    # -- contributions

    def contributions(self, description: str, p: _Pass) -> list[FacetEffect]:
        spec = self.spec(description)
        k = self.k
        out = []
        triggers, rules = spec.triggers[k], spec.rules[k]
        base = p.correct
        for j, t in enumerate(triggers):
            q = self.scorer.predict(spec.replace(k, triggers=triggers[:j] + triggers[j + 1:]))
            out.append(FacetEffect("trigger", t, float(base.mean() - q.correct.mean()),
                                   int((q.correct & ~base).sum()), int((base & ~q.correct).sum())))
        for j, (phrase, _) in enumerate(rules):
            q = self.scorer.predict(spec.replace(k, rules=rules[:j] + rules[j + 1:]))
            out.append(FacetEffect("rule", phrase, float(base.mean() - q.correct.mean()),
                                   int((q.correct & ~base).sum()), int((base & ~q.correct).sum())))
        return out

    # -- proposals

    def proposals(self, description: str, p: _Pass) -> list[_Proposal]:
        """Candidate edits, each a function of the rows it may not read (the held-out fold)."""
        missed, false_pos = self.errors(p)
        gold, k = self.scorer.gold, self.k
        out: list[_Proposal] = []
        groups = self.clusters(missed)
        named = [(f"miss cluster {g + 1} ({len(m)} prompts)", m) for g, m in enumerate(groups)]
        if len(groups) > 1:
            named.append((f"all {len(missed)} misses", missed))
        for label, members in named:
            if len(members) < 3:
                continue

            def words(excluded: np.ndarray, members: np.ndarray = members) -> tuple[str, None] | None:
                phrases = _distinctive(self.grams, members[~excluded[members]], ~excluded & (gold == k),
                                       ~excluded & (gold != k), self.rows_of, description)
                return ("Also triggers on " + ", ".join(f"\"{x}\"" for x in phrases) + ".", None) if phrases else None

            def central(excluded: np.ndarray, members: np.ndarray = members) -> tuple[str, None] | None:
                phrase = self.central_phrase(members[~excluded[members]])
                return (f"Also for requests like \"{phrase}\".", None) if phrase else None

            out.append(_Proposal("add-trigger", f"{label}: distinctive words", words))
            out.append(_Proposal("add-trigger", f"{label}: its central sentence", central))
        for g, members in enumerate(self.clusters(false_pos)):
            if len(members) < 3:
                continue
            label = f"false-positive cluster {g + 1} ({len(members)} prompts)"

            def target(rows: np.ndarray) -> str | None:
                lab = Counter(self.examples[i].skill for i in rows).most_common(1)[0][0]
                return None if lab == NONE else lab

            def words(excluded: np.ndarray, members: np.ndarray = members) -> tuple[str, str | None] | None:
                rows = members[~excluded[members]]
                if len(rows) < 2:
                    return None
                to = target(rows)
                their = self.catalog.names.index(to) if to else -1
                phrases = _distinctive(self.grams, rows, ~excluded & (gold == their), ~excluded & (gold == k),
                                       self.rows_of, description, top=2)
                if not phrases:
                    return None
                return f"Do NOT use for {' or '.join(phrases)}" + (f" (→ {to})." if to else "."), to

            def central(excluded: np.ndarray, members: np.ndarray = members) -> tuple[str, str | None] | None:
                rows = members[~excluded[members]]
                phrase = self.central_phrase(rows)
                if not phrase:
                    return None
                to = target(rows)
                return f"Do NOT use for {phrase}" + (f" (→ {to})." if to else "."), to

            out.append(_Proposal("add-rule", f"{label}: distinctive words", words))
            out.append(_Proposal("add-rule", f"{label}: its central sentence", central))
        parsed = self.parse(description)
        for t in parsed.triggers:
            out.append(_Proposal("drop-trigger", "a trigger of today's description", lambda _, t=t: (t, None)))
        for r in parsed.rules:
            out.append(_Proposal("drop-rule", "a rule of today's description",
                                 lambda _, r=r: (r.text, r.redirect)))
        return out

    def central_phrase(self, members: np.ndarray) -> str | None:
        """The plain-prose run of words, from the members' prompts, nearest the centre of their embeddings."""
        if len(members) < 2:
            return None
        sc = self.scorer
        centre = sc.prompt_vec[members].mean(0)
        runs = list(dict.fromkeys(r for i in members for r in _plain_runs(self.texts[i])))
        if not runs:
            return None
        return runs[int(np.argmax(sc.vectors(runs) @ centre))]

    def apply(self, description: str, kind: str, text: str, redirect: str | None) -> str | None:
        """The description after one edit, or None when the edit does not parse as intended."""
        if kind == "add-trigger":
            new = _insert_positive(description, text)
        elif kind == "add-rule":
            new = " ".join(description.split() + [text])
        else:
            new = _remove_item(description, text)
            if new is None:
                return None
        if not new.strip() or len(new) > MAX_DESCRIPTION or re.search(r"[<>]", new):
            return None
        before, after = self.parse(description), self.parse(new)
        old_rules = [(r.text, r.redirect) for r in before.rules]
        new_rules = [(r.text, r.redirect) for r in after.rules]
        if kind == "add-trigger" and (new_rules != old_rules or len(after.triggers) <= len(before.triggers)):
            return None
        if kind == "add-rule" and (len(new_rules) <= len(old_rules) or new_rules[: len(old_rules)] != old_rules
                                   or any(r != redirect for _, r in new_rules[len(old_rules):])):
            return None
        if kind == "drop-trigger" and (text in after.triggers or new_rules != old_rules):
            return None
        if kind == "drop-rule" and (any(r.text == text for r in after.rules) or after.triggers != before.triggers):
            return None
        return new

    def score(self, description: str, p: _Pass, proposals: list[_Proposal], rnd: int) -> list[Edit]:
        """Each proposal's held-out gain: in fold f its text is drawn without fold f and scored on fold f."""
        edits = []
        none = np.zeros(len(self.examples), dtype=bool)
        for prop in proposals:
            full = prop.draw(none)
            if full is None:
                continue
            text, redirect = full
            new = self.apply(description, prop.kind, text, redirect)
            if new is None:
                if prop.kind.startswith("add") and len(description) + len(text) + 1 > MAX_DESCRIPTION:
                    self.notes.append(f"round {rnd}: '{_clip(text, 60)}' left out: the description would pass "
                                      f"{MAX_DESCRIPTION} characters")
                continue
            q = self.run(new)
            train_gain = float(q.correct.mean() - p.correct.mean())
            if prop.kind.startswith("drop"):
                net = int(q.correct.sum()) - int(p.correct.sum())
            else:
                net = 0
                for f in range(self.folds):
                    held = self.fold == f
                    drawn = prop.draw(held)
                    edited = self.apply(description, prop.kind, *drawn) if drawn else None
                    if edited is None:
                        continue
                    qf = q if edited == new else self.run(edited)
                    net += int(qf.correct[held].sum()) - int(p.correct[held].sum())
            edits.append(Edit(prop.kind, text, new, net / len(self.examples), net, train_gain, prop.source,
                              redirect, rnd))
        return edits


def _clip(text: str, n: int = 70) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


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


# --------------------------------------------------------------------------- writing SKILL.md

_TOP_KEY = re.compile(r"^[^\s#][^:]*:")


def write_description(path: str | Path, description: str) -> Path:
    """Replace the frontmatter ``description`` of a SKILL.md, keeping every other byte; returns the backup.

    The old file is copied first to ``SKILL.md.bak`` (or ``SKILL.md.bak.N`` when that exists). The new
    file is read back and must load with the new description and otherwise unchanged keys and body.
    """
    import yaml

    from ..core._encoder import atomic_write_bytes
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

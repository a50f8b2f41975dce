"""The search behind ``tune_skill``: cluster a skill's errors, propose description edits, and keep those
that raise the held-out top-1."""

from __future__ import annotations

import re
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core._catalog import MAX_DESCRIPTION, Catalog
from ..core._dataset import NONE, Example
from ..core._query import read_request
from ..core._rules import parse_description
from ..errors import require
from ._tune_results import Edit, ErrorCluster, FacetEffect
from ._tune_scoring import _Pass, _Scorer, _Spec
from ._tune_text import _distinctive, _insert_positive, _ngrams, _plain_runs, _remove_item


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

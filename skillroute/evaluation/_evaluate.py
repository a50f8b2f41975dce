"""The eval suite: route labelled prompts and measure what the router gets right and wrong.

``RoutingEvaluator(examples)(router)`` returns one dict of figures with a ``primary_metric``, in the
spirit of sentence-transformers' evaluators; ``output_path`` writes the artefacts beside it.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..core._dataset import NONE, Example
from ..core._query import explicit_invocation
from . import _metrics as M

__all__ = ["RoutingEvaluator"]


class RoutingEvaluator:
    """Evaluate a router on labelled examples.

    latency_sample: how many prompts are also routed one at a time to measure single-prompt latency.
    """

    def __init__(self, examples: Sequence[Example], name: str = "eval", latency_sample: int = 50,
                 batch_size: int = 32, show_progress: bool = False):
        self.examples = list(examples)
        self.name = name
        self.latency_sample = latency_sample
        self.batch_size = batch_size
        self.show_progress = show_progress

    def __call__(self, router, output_path: str | Path | None = None) -> dict[str, Any]:
        if not self.examples:
            raise ValueError("no examples to evaluate")
        decisions, seconds, latencies = self._route_all(router)
        result = self.compute(router, decisions, batch_seconds=seconds, latencies_ms=latencies)
        if output_path is not None:
            self.write(result, output_path)
        return result

    def _route_all(self, router) -> tuple[list, float, list[float]]:
        """Route every prompt in batches (timed), then a sample one at a time for single-prompt latency."""
        texts = [e.prompt for e in self.examples]
        batches = [texts[i:i + self.batch_size] for i in range(0, len(texts), self.batch_size)]
        decisions: list = []
        start = time.perf_counter()
        if self.show_progress:
            from rich.progress import Progress

            with Progress(transient=True) as progress:
                task = progress.add_task(f"routing {len(texts)} prompts", total=len(texts))
                for b in batches:
                    decisions.extend(router.route_many(b))
                    progress.advance(task, len(b))
        else:
            for b in batches:
                decisions.extend(router.route_many(b))
        seconds = time.perf_counter() - start
        lat = []
        for t in texts[: self.latency_sample]:
            t0 = time.perf_counter()
            router.route(t)
            lat.append((time.perf_counter() - t0) * 1000)
        return decisions, seconds, lat

    def compute(self, router, decisions: list, batch_seconds: float | None = None,
                latencies_ms: Sequence[float] = ()) -> dict[str, Any]:
        """Every figure from the decisions already made for ``self.examples`` (same order)."""
        ex = self.examples
        catalog = router.catalog
        labels = [s.name for s in catalog.exclusive] + [NONE]
        y_true = [e.skill for e in ex]
        y_raw = [d.skill or NONE for d in decisions]
        y_eff = M.effective_labels(y_true, y_raw, [e.acceptable for e in ex])
        correct = [t == p for t, p in zip(y_eff, y_raw, strict=True)]
        # an abstention ranks "none" first; otherwise "none" is not among the candidates
        ranked = [([NONE] if d.skill is None else []) + [n for n, _ in d.ranked] for d in decisions]
        per = M.per_label_scores(y_eff, y_raw, labels=labels)
        present = [lab for lab in labels if per[lab]["support"] > 0]
        conf = M.confusion(y_eff, y_raw, labels=labels)
        pairs = sorted(((int(conf[i, j]), labels[i], labels[j]) for i in range(len(labels))
                        for j in range(len(labels)) if i != j and conf[i, j]), reverse=True)
        additive = {}
        for s in catalog.additive:
            additive[s.name] = M.binary_prf([s.name in e.also for e in ex], [s.name in d.also for d in decisions])
        add_truth = [(s.name in e.also) for e in ex for s in catalog.additive]
        add_pred = [(s.name in d.also) for e, d in zip(ex, decisions, strict=True) for s in catalog.additive]
        explicit = [i for i, e in enumerate(ex) if (inv := explicit_invocation(e.prompt)) and inv[0] in catalog]
        tags = Counter(t for e in ex for t in e.tags)
        per_tag = {t: {"n": n, "top1": float(np.mean([correct[i] for i, e in enumerate(ex) if t in e.tags]))}
                   for t, n in sorted(tags.items())}
        rule_effect = self._rule_effect(ex, decisions)
        lat = np.array(list(latencies_ms) or [np.nan])
        result: dict[str, Any] = {
            "name": self.name,
            "n": len(ex),
            "top1": M.top1_accuracy(y_eff, y_raw),
            "top1_weighted": M.weighted_accuracy(y_eff, y_raw),
            "recall_at_3": M.recall_at_k(y_true, ranked, 3),
            "macro_f1": float(np.mean([per[lab]["f1"] for lab in present])),
            "none": M.binary_prf([t == NONE for t in y_eff], [p == NONE for p in y_raw]),
            "additive": M.binary_prf(add_truth, add_pred) if catalog.additive else None,
            "additive_per_skill": additive,
            "explicit_accuracy": float(np.mean([correct[i] for i in explicit])) if explicit else None,
            "explicit_n": len(explicit),
            "ece": M.expected_calibration_error([d.confidence for d in decisions], correct),
            "latency_ms_p50": float(np.percentile(lat, 50)),
            "latency_ms_p95": float(np.percentile(lat, 95)),
            "throughput_per_s": len(ex) / batch_seconds if batch_seconds else None,
            "per_skill": per,
            "labels": labels,
            "confusion_matrix": conf.tolist(),
            "most_confused": [{"true": t, "predicted": p, "count": c} for c, t, p in pairs[:15]],
            "confused_with": M.confused_with(y_eff, y_raw),
            "per_tag": per_tag,
            "rules": rule_effect,
            "confidence_histogram": _histogram([d.confidence for d in decisions], correct),
            "decisions": [
                {"line": e.line, "prompt": e.prompt, "expected": e.skill, "acceptable": list(e.acceptable),
                 "also_expected": list(e.also), "predicted": d.skill, "also": d.also, "confidence": d.confidence,
                 "correct": c, "reasons": d.reasons, "ranked": [[n, s] for n, s in d.ranked[:5]],
                 "tags": list(e.tags)}
                for e, d, c in zip(ex, decisions, correct, strict=True)
            ],
            "primary_metric": "top1",
            "greater_is_better": True,
        }
        return result

    @staticmethod
    def _rule_effect(ex: Sequence[Example], decisions: list) -> dict[str, Any]:
        """For each decision a do/don't rule changed: wrong→right or right→wrong, overall and per rule."""
        fixed = broke = changed = 0
        per_rule: dict[str, Counter] = {}
        for e, d in zip(ex, decisions, strict=True):
            before, after = d.skill_without_rules, d.skill
            if before == after:
                continue
            changed += 1
            good_after, good_before = e.is_right(after), e.is_right(before)
            key = "wrong→right" if good_after and not good_before else (
                "right→wrong" if good_before and not good_after else "wrong→wrong")
            fixed += key == "wrong→right"
            broke += key == "right→wrong"
            for h in d.rule_hits:
                per_rule.setdefault(f"{h.skill}: {h.rule}", Counter())[key] += 1
        return {"changed": changed, "wrong_to_right": fixed, "right_to_wrong": broke, "net": fixed - broke,
                "per_rule": {k: dict(v) for k, v in sorted(per_rule.items())}}

    @staticmethod
    def write(result: dict[str, Any], output_path: str | Path) -> None:
        """Write report.json, errors.jsonl and confusion_matrix.csv into a folder."""
        out = Path(output_path)
        out.mkdir(parents=True, exist_ok=True)
        (out / "report.json").write_text(json.dumps(result, ensure_ascii=False, indent=1))
        write_errors(result, out / "errors.jsonl")
        labels = result["labels"]
        rows = [",".join(["true\\predicted", *labels])]
        rows += [",".join([lab, *map(str, r)]) for lab, r in zip(labels, result["confusion_matrix"], strict=True)]
        (out / "confusion_matrix.csv").write_text("\n".join(rows) + "\n")


def write_errors(result: dict[str, Any], path: str | Path) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for d in result["decisions"]:
            if not d["correct"]:
                fh.write(json.dumps({k: d[k] for k in ("line", "prompt", "expected", "predicted", "confidence",
                                                       "reasons", "ranked", "tags")}, ensure_ascii=False) + "\n")


def _histogram(confidence: Sequence[float], correct: Sequence[bool], bins: int = 10) -> dict[str, list[int]]:
    edges = np.linspace(0, 1, bins + 1)
    c = np.asarray(confidence)
    ok = np.asarray(correct, dtype=bool)
    return {"edges": edges.round(2).tolist(),
            "hits": np.histogram(c[ok], bins=edges)[0].tolist(),
            "misses": np.histogram(c[~ok], bins=edges)[0].tolist()}

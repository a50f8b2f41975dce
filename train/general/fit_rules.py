"""Fit how hard the do/don't rules push, on the synthetic catalogs: the rules' parameters learned where a
"Do NOT" clause matters (near-miss prompts that a neighbour or a redirect should take), not on any eval set.

    python train/general/fit_rules.py [--reader DIR] [--exclude g1-06] [--json out.json]

Each synthetic catalog is encoded once; then every combination of a grid over the four rule parameters
(``rule_margin``, ``rule_penalty``, ``redirect_boost``, ``rule_scale``) re-scores all of them with the
engine alone (no encoding) and is scored by top-1 over all prompts of all catalogs, with the rules-off
figure beside it. Prints the best combinations, and whether a choice made on half the catalogs holds on the
other half: a new default is worth it only when it does (on 2026-12-02 it did not; the defaults stay). By
default it reads with the base model: the general reader was trained on these catalogs, so through it they
would flatter every setting. The public catalogs and the eval sets are never read here.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))
from skillroute import Router  # noqa: E402
from skillroute.core._catalog import Catalog, Skill  # noqa: E402
from skillroute.core._engine import choose, score  # noqa: E402
from train import read_corpus  # noqa: E402  (train/general/train.py, beside this script)

GRID = {"rule_margin": [-0.1, -0.05, 0.0, 0.05, 0.1], "rule_penalty": [0.0, 0.02, 0.05, 0.1, 0.2],
        "redirect_boost": [0.0, 0.02, 0.05, 0.1, 0.2], "rule_scale": [0.0, 5.0, 10.0, 20.0]}


def catalogs(exclude: set[str]) -> dict[str, tuple[Catalog, list[tuple[str, str]]]]:
    """Each synthetic catalog as the router loads one, with its labelled prompts."""
    return {c: (Catalog(tuple(Skill(n, d, Path(c) / n / "SKILL.md") for n, d in items)), labelled)
            for c, (items, labelled) in read_corpus(HERE, frozenset(exclude)).items() if labelled}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reader", type=Path, default=None, help="a general reader's delta folder (default: none)")
    ap.add_argument("--exclude", default="g1-06")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    prepared = []
    for name, (cat, rows) in catalogs({x for x in args.exclude.split(",") if x}).items():
        router = Router(cat, reader=args.reader)
        idx, batch, _, _ = router.inspect([p for p, _ in rows])
        pos = {n: i for i, n in enumerate(idx.names)}
        truth = np.array([pos.get(s, -1) for _, s in rows])  # -1: none
        prepared.append((name, idx, batch, truth))
        print(f"encoded {name}: {len(cat)} skills, {len(rows)} prompts", flush=True)
    base = router.scoring()
    results = []
    for values in itertools.product(*GRID.values()):
        p = replace(base, **dict(zip(GRID, values, strict=True)))
        right, plain_right, counts = [], [], []
        for _, idx, batch, truth in prepared:
            sc = score(idx, batch, p)
            right.append(int((choose(idx, sc.scores, sc.anchor_sims, p).pick == truth).sum()))
            plain_right.append(int((choose(idx, sc.trigger, sc.anchor_sims, p).pick == truth).sum()))
            counts.append(len(truth))
        results.append({**dict(zip(GRID, values, strict=True)), "top1": sum(right) / sum(counts),
                        "top1_rules_off": sum(plain_right) / sum(counts), "n": sum(counts),
                        "per_catalog": right, "counts": counts})
    results.sort(key=lambda r: -r["top1"])
    # is the choice itself general? pick on half the catalogs, read the gain on the other half
    for half in (0, 1):
        fit = [i for i in range(len(prepared)) if i % 2 == half]
        held = [i for i in range(len(prepared)) if i % 2 != half]
        best = max(results, key=lambda r: sum(r["per_catalog"][i] for i in fit))
        cur = next(r for r in results if all(r[k] == getattr(base, k) for k in GRID))
        n = sum(cur["counts"][i] for i in held)
        print(f"picked on half {half}: {dict((k, best[k]) for k in GRID)}; on the other half "
              f"{sum(best['per_catalog'][i] for i in held) / n:.4f} vs current defaults "
              f"{sum(cur['per_catalog'][i] for i in held) / n:.4f}")
    current = next(r for r in results if all(r[k] == getattr(base, k) for k in GRID))
    print(f"rules off: {current['top1_rules_off']:.4f} over {current['n']} prompts")
    print(f"current defaults {dict((k, current[k]) for k in GRID)}: {current['top1']:.4f}")
    for r in results[:10]:
        print(f"{dict((k, r[k]) for k in GRID)}: {r['top1']:.4f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()

"""Fit the description router's confidence: P(its pick is right) from the pick's score, its lead and the
catalog's size, on catalogs it is then *not* measured on.

    python eval/tools/calibrate_zero_shot.py --root ~/.cache/skillroute-catalogs

Fitted on the shipped catalog's train split and the core public catalogs of eval/catalogs; measured on the
shipped test split and the "unseen" public catalogs (ECE, and the share of wrong picks at or above each
threshold). Prints the coefficients that `skillroute.core._decision.ZERO_SHOT_CALIBRATION` holds.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from skillroute import Router  # noqa: E402
from skillroute.core._dataset import load_examples  # noqa: E402
from skillroute.core._router import calibration_features  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def collect(router: Router, examples) -> tuple[np.ndarray, np.ndarray]:
    """Features and right/wrong of every decision that picked a skill."""
    xs, ys = [], []
    for e, d in zip(examples, router.route_many([e.prompt for e in examples]), strict=True):
        if d.skill is None or d.explicit:
            continue
        xs.append(calibration_features([s for _, s in d.ranked]))
        ys.append(e.is_right(d.skill))
    return np.array(xs), np.array(ys, dtype=int)


def catalog_sets(root: Path, role: str):
    for c in json.loads((ROOT / "eval" / "catalogs" / "catalogs.json").read_text()):
        if c["role"] == role:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                router = Router.from_path(root / c["repo"].replace("/", "+"), fitted=None)
            names = [s.name for s in router.catalog.exclusive]
            yield c["slug"], router, load_examples(ROOT / "eval" / "catalogs" / f"{c['slug']}.jsonl", exclusive=names)


def ece(p: np.ndarray, y: np.ndarray, bins: int = 10) -> float:
    edges = np.linspace(0, 1, bins + 1)
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        m = (p >= lo) & (p < hi) if hi < 1 else (p >= lo)
        if m.any():
            total += m.mean() * abs(p[m].mean() - y[m].mean())
    return total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=Path, default=Path.home() / ".cache" / "skillroute-catalogs")
    args = ap.parse_args()
    shipped = Router.from_path(ROOT / "skills", fitted=None)
    names = [s.name for s in shipped.catalog.exclusive]
    add = [s.name for s in shipped.catalog.additive]
    data = ROOT / "eval" / "prompts.jsonl"
    fit_parts = [collect(shipped, load_examples(data, exclusive=names, additive=add, split="train"))]
    fit_parts += [collect(r, ex) for _, r, ex in catalog_sets(args.root, "core")]
    x = np.vstack([p[0] for p in fit_parts])
    y = np.concatenate([p[1] for p in fit_parts])
    model = LogisticRegression(C=1.0).fit(x, y)
    coef = [round(float(c), 4) for c in model.coef_[0]] + [round(float(model.intercept_[0]), 4)]
    print(f"fitted on {len(y)} picks ({y.mean():.2f} right); coefficients (score, lead, log skills, bias): {coef}")
    held = [("shipped test split", collect(shipped, load_examples(data, exclusive=names, additive=add,
                                                                 split="test")))]
    held += [(slug, collect(r, ex)) for slug, r, ex in catalog_sets(args.root, "unseen")]
    for label, (hx, hy) in held + [("unseen catalogs together", (np.vstack([h[1][0] for h in held[1:]]),
                                                                  np.concatenate([h[1][1] for h in held[1:]])))]:
        p = model.predict_proba(hx)[:, 1]
        wrong = hy == 0
        row = ", ".join(f"≥{t}: wrong {np.mean(p[wrong] >= t):.2f} right {np.mean(p[~wrong] >= t):.2f}"
                        for t in (0.5, 0.6, 0.7, 0.8))
        print(f"{label:26} n={len(hy):3} accuracy {hy.mean():.2f} ECE {ece(p, hy):.3f} | {row}")


if __name__ == "__main__":
    main()

"""Zero-shot routing on public skill catalogs as they stand, with the prompts of eval/catalogs/.

    python eval/tools/catalog_study.py --root ~/.cache/skillroute-catalogs [--together] [--json out.json]

Each catalog of `eval/catalogs/catalogs.json` is read from ``ROOT/OWNER+NAME`` (the repository exported
at the listed commit: `git clone https://github.com/OWNER/NAME && git -C NAME archive COMMIT | tar -x -C
ROOT/OWNER+NAME`), loaded from its root with no flag, and routed zero-shot. Prints, per catalog: skills
loaded and left out, top-1, recall@3, `none` precision / recall, and how many wrong picks carry a
confidence at or above the hook's threshold. ``--together`` also routes every core catalog's prompts
against all core catalogs loaded as one.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from skillroute import Router  # noqa: E402
from skillroute.core._dataset import NONE, load_examples  # noqa: E402
from skillroute.harness._hook import DEFAULT_THRESHOLD  # noqa: E402

HERE = Path(__file__).resolve().parents[1] / "catalogs"


def score(router: Router, examples, threshold: float) -> dict:
    decisions = router.route_many([e.prompt for e in examples])
    right = [e.is_right(d.skill) for e, d in zip(examples, decisions, strict=True)]
    top3 = [e.skill in [n for n, _ in d.ranked[:3]] or (e.skill == NONE and d.skill is None) or e.is_right(d.skill)
            for e, d in zip(examples, decisions, strict=True)]
    said_none = [d.skill is None for d in decisions]
    is_none = [e.skill == NONE for e in examples]
    tp = sum(a and b for a, b in zip(said_none, is_none, strict=True))
    wrong = [d for d, ok in zip(decisions, right, strict=True) if not ok and d.skill is not None]
    return {"n": len(examples), "top1": sum(right) / len(right), "recall_at_3": sum(top3) / len(top3),
            "none_precision": tp / max(1, sum(said_none)), "none_recall": tp / max(1, sum(is_none)),
            "wrong_picks": len(wrong), "wrong_at_or_above_threshold": sum(d.confidence >= threshold for d in wrong),
            "right_at_or_above_threshold": sum(d.confidence >= threshold for d, ok in
                                               zip(decisions, right, strict=True) if ok and d.skill is not None),
            "errors": [{"prompt": e.prompt[:120], "expected": e.skill, "got": d.skill, "confidence": d.confidence}
                       for e, d, ok in zip(examples, decisions, right, strict=True) if not ok]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=Path, default=Path.home() / ".cache" / "skillroute-catalogs")
    ap.add_argument("--together", action="store_true")
    ap.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--model", default=None, help="A model folder (e.g. a merged fine-tune) instead of the default.")
    args = ap.parse_args()
    catalogs = json.loads((HERE / "catalogs.json").read_text())
    results = {}
    for c in catalogs:
        folder = args.root / c["repo"].replace("/", "+")
        t = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            router = Router.from_path(folder, fitted=None, model=args.model)
        cat = router.catalog
        examples = load_examples(HERE / f"{c['slug']}.jsonl", exclusive=[s.name for s in cat.exclusive])
        res = score(router, examples, args.threshold)
        res.update(skills=len(cat), left_out=len(cat.errors), notes=len(cat.warnings), role=c["role"],
                   seconds=round(time.perf_counter() - t, 1))
        results[c["slug"]] = res
        print(f"{c['slug']:32} {c['role']:6} skills {len(cat):4} (left out {len(cat.errors)}) n={res['n']:3} "
              f"top-1 {res['top1']:.3f} r@3 {res['recall_at_3']:.3f} none P/R {res['none_precision']:.2f}/"
              f"{res['none_recall']:.2f} wrong≥{args.threshold}: {res['wrong_at_or_above_threshold']}/"
              f"{res['wrong_picks']}  ({res['seconds']} s)", flush=True)
    if args.together:
        core = [c for c in catalogs if c["role"] == "core"]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            router = Router.from_path(*(args.root / c["repo"].replace("/", "+") for c in core), fitted=None,
                                      model=args.model)
        names = [s.name for s in router.catalog.exclusive]
        examples = [e for c in core for e in load_examples(HERE / f"{c['slug']}.jsonl", exclusive=names)]
        res = score(router, examples, args.threshold)
        results["together"] = res
        print(f"{'all core catalogs together':39} skills {len(router.catalog):4} n={res['n']:3} top-1 "
              f"{res['top1']:.3f} r@3 {res['recall_at_3']:.3f} wrong≥{args.threshold}: "
              f"{res['wrong_at_or_above_threshold']}/{res['wrong_picks']}")
    wrong = sum(r["wrong_picks"] for k, r in results.items() if k != "together")
    above = sum(r["wrong_at_or_above_threshold"] for k, r in results.items() if k != "together")
    print(f"wrong picks at or above the hook threshold {args.threshold}: {above}/{wrong}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()

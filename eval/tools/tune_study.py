"""Does `skillroute tune` recover what a worse description loses? Degrade the shipped catalog, tune the
degraded skills on the train split only, and measure zero-shot top-1 on the test split (read only here,
for the before/after figures).

    python eval/tools/tune_study.py [--scenario vague-three|vague-seed|no-rules|shipped|all] [--json out.json]
    python eval/tools/tune_study.py --dev ...   # design runs: tune on 70 % of the train split, score the other 30 %

Scenarios: vague-three (three skills cut to a vague one-liner, as in tests/test_tune.py), vague-seed (the 8
seed workflow skills cut to the one-liner an author writes first), no-rules (every "Do NOT" sentence removed
from three skills), shipped (the shipped descriptions themselves, every exclusive skill tuned in turn).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from skillroute import Router, load_catalog, load_encoder
from skillroute.authoring._tune import accuracy, tune_skill, with_description
from skillroute.authoring._tune_text import _NEG_SENTENCE
from skillroute.core._dataset import load_examples
from skillroute.core._rules import split_sentences

# What a skill author writes at first for the 8 seed (exclusive) skills: one vague sentence each.
VAGUE = {
    "agent-browser": "Automate tasks in a web browser.",
    "ask": "Answer questions about the code.",
    "cook": "Write code for new features.",
    "docs": "Create documentation.",
    "diagnose": "Debug and fix issues.",
    "discuss": "Discuss ideas and options with the user.",
    "docs-seeker": "Look up documentation for libraries.",
    "fix": "Fix bugs in the code.",
}
THREE = ("diagnose", "ask", "docs-seeker")  # the three the proof test degrades
NO_RULES = ("ask", "review", "give-plan")  # the three whose Do NOT sentences matter most on the train split


def degrade(catalog, scenario: str):
    """The degraded catalog and the skills to tune."""
    if scenario == "vague-seed":
        names = tuple(VAGUE)
    elif scenario == "vague-three":
        names = THREE
    elif scenario == "shipped":
        return catalog, tuple(s.name for s in catalog.exclusive)
    elif scenario == "no-rules":
        for name in NO_RULES:
            kept = [s for s in split_sentences(catalog[name].description) if not _NEG_SENTENCE.match(s)]
            catalog = with_description(catalog, name, " ".join(kept))
        return catalog, NO_RULES
    else:
        raise ValueError(scenario)
    for name in names:
        catalog = with_description(catalog, name, VAGUE[name])
    return catalog, names


def run(scenario: str, router, train, test, passes: int, label: str = "test") -> dict:
    original = router.catalog
    degraded, names = degrade(original, scenario)
    tuned = degraded
    log = []
    t0 = time.perf_counter()
    for p in range(passes):
        for name in names:
            t1 = time.perf_counter()
            r = Router(tuned, router.encoder)
            res = tune_skill(r, name, train)
            tuned = with_description(tuned, name, res.proposed)
            log.append({"pass": p + 1, "skill": name, "seconds": round(time.perf_counter() - t1, 1),
                        "edits": [{"kind": e.kind, "text": e.text, "held_out_net": e.cv_net} for e in res.applied],
                        "train_top1": [res.top1_before, res.top1_after]})
            print(f"  pass {p + 1} {name}: {len(res.applied)} edits (held-out net "
                  f"{'+'.join(str(e.cv_net) for e in res.applied) or '0'} prompts), top-1 on the tuning data "
                  f"{res.top1_before:.3f} → {res.top1_after:.3f}, {log[-1]['seconds']:.0f} s", flush=True)
    seconds = time.perf_counter() - t0
    tr = accuracy(router, train, [degraded, tuned, original])
    te = accuracy(router, test, [degraded, tuned, original])
    gap = te[2] - te[0]
    held = sum(e["held_out_net"] for row in log for e in row["edits"])
    out = {"scenario": scenario, "skills": list(names), "passes": passes, "seconds": round(seconds, 1),
           "tuning_data": dict(zip(("degraded", "tuned", "original"), tr, strict=True)),
           "measured_on": dict(zip(("degraded", "tuned", "original"), te, strict=True)),
           "held_out_net_of_applied_edits": held, "n_tuning": len(train), "n_measured": len(test),
           "recovered": (te[1] - te[0]) / gap if gap > 0 else None, "log": log,
           "descriptions": {n: {"degraded": degraded[n].description, "tuned": tuned[n].description}
                            for n in names}}
    print(f"{scenario}: {label} top-1 degraded {te[0]:.3f}, tuned {te[1]:.3f}, original {te[2]:.3f}"
          + (f" (recovered {out['recovered']:.0%} of the gap)" if gap > 0 else "")
          + f"; on the tuning data {tr[0]:.3f} / {tr[1]:.3f} / {tr[2]:.3f}; held-out net of the applied edits "
            f"{held:+d} of {len(train)} prompts; tuning took {seconds:.0f} s", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenario", default="all", choices=["all", "vague-three", "vague-seed", "no-rules", "shipped"])
    ap.add_argument("--dev", action="store_true", help="tune on 70 %% of the train split and score the other "
                                                        "30 %% (for design choices; the test split is not read)")
    ap.add_argument("--passes", type=int, help="tune every degraded skill this many times in turn (default: 2 for "
                                               "vague-seed, else 1)")
    ap.add_argument("--json", type=Path, help="write the figures and the tuned descriptions here")
    args = ap.parse_args()
    enc = load_encoder(backend="onnx")
    router = Router(load_catalog(ROOT / "skills"), enc)
    train = load_examples(ROOT / "eval/prompts.jsonl", split="train")
    if args.dev:
        from sklearn.model_selection import train_test_split

        a, b = train_test_split(list(range(len(train))), test_size=0.3, stratify=[e.skill for e in train],
                                random_state=0)
        train, test, label = [train[i] for i in a], [train[i] for i in b], "dev (30 % of train)"
    else:
        test, label = load_examples(ROOT / "eval/prompts.jsonl", split="test"), "test"
    scenarios = (["no-rules", "vague-three", "vague-seed", "shipped"] if args.scenario == "all"
                 else [args.scenario])
    results = [run(s, router, train, test, args.passes or (2 if s == "vague-seed" else 1), label) for s in scenarios]
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()

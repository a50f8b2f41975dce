"""Personal fit: does refitting the shipped router on one person's own prompts help that person?

    python eval/tools/personal_fit.py --items /work/cache/personal/items --labels eval/personal/labels.jsonl \
        [--weight 3] [--json out.json]

For each repository of ``eval/personal/labels.jsonl`` (its prompts, in time order, labelled blind twice and
adjudicated; the text is read from ``--items``, never committed), the head is refitted on top of the shipped
router's fine-tune delta (``fit --base``) with the written and real-form train splits plus the repository's
first 70 % of prompts (repeated ``--weight`` times, so one person's words count against 3,000 written ones),
and both routers are scored on the repository's last 30 %. Prints per repository: n, the shipped router's
top-1, the personal router's, the gain; then the mean gain and the worst loss.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import warnings
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from skillroute import Example, Router, load_examples  # noqa: E402
from skillroute.core import LoraDelta, clone  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SKILLS = ROOT / "skills"
SHIPPED = SKILLS / ".skillroute" / "fitted"


def repositories(items: Path, labels: Path) -> dict[str, list[Example]]:
    """Per repository, its labelled prompts in time order (dropped ones left out)."""
    text = {}
    for f in items.glob("*.jsonl"):
        if f.name.endswith(".coords.jsonl"):
            continue
        for line in f.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            text[row["id"]] = row["prompt"]
    out: dict[str, list[Example]] = defaultdict(list)
    for line in labels.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row.get("drop"):
            continue
        out[row["repo"]].append(Example(prompt=text[row["id"]], skill=row["skill"], also=tuple(row["also"]),
                                        acceptable=tuple(row["acceptable"]), line=int(row["id"].rsplit("-", 1)[1])))
    return {repo: sorted(rows, key=lambda e: e.line) for repo, rows in out.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=Path, required=True, help="the prompts' text, outside the repository")
    ap.add_argument("--labels", type=Path, default=ROOT / "eval" / "personal" / "labels.jsonl")
    ap.add_argument("--weight", type=int, default=3, help="how many times a person's prompt counts")
    ap.add_argument("--fit-share", type=float, default=0.7)
    ap.add_argument("--min-prompts", type=int, default=40, help="leave out repositories with fewer usable prompts")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    shipped = Router.from_path(SKILLS)
    written = [e for f in ("prompts.jsonl", "realform.jsonl") for e in load_examples(ROOT / "eval" / f, split="train")]
    delta = LoraDelta.load(SHIPPED)
    c = shipped.head_.meta.get("C")
    rows = []
    for repo, examples in repositories(args.items, args.labels).items():
        if len(examples) < args.min_prompts:
            print(f"{repo:45} left out: {len(examples)} usable prompts", flush=True)
            continue
        cut = round(args.fit_share * len(examples))
        own, later = examples[:cut], examples[cut:]
        t = time.perf_counter()
        personal = clone(shipped, c=c).fit(written + own * args.weight, adapter=delta)
        rows.append({"repo": repo, "n_fit": len(own), "n_test": len(later), "shipped": shipped.score(later),
                     "personal": personal.score(later), "seconds": round(time.perf_counter() - t, 1)})
        r = rows[-1]
        print(f"{repo:45} fit {r['n_fit']:3} test {r['n_test']:3}  shipped {r['shipped']:.3f}  personal "
              f"{r['personal']:.3f}  gain {r['personal'] - r['shipped']:+.3f}  ({r['seconds']} s)", flush=True)
    gains = [r["personal"] - r["shipped"] for r in rows]
    n = sum(r["n_test"] for r in rows)
    pooled = {k: sum(r[k] * r["n_test"] for r in rows) / n for k in ("shipped", "personal")}
    summary = {"repositories": len(rows), "weight": args.weight, "mean_gain": statistics.mean(gains),
               "worst": min(gains), "pooled": pooled, "rows": rows}
    print(f"mean gain {summary['mean_gain']:+.3f} over {len(rows)} repositories; worst {summary['worst']:+.3f}; "
          f"pooled top-1 {pooled['shipped']:.3f} → {pooled['personal']:.3f} on {n} later prompts")
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()

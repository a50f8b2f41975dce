"""Split mined prompts by repository into a dev pool and a model pool, and draw the real dev set's candidates.

    python eval/tools/sample_real.py --cache ~/.cache/skillroute-real [--n 520] [--per-repo 8]

Repositories are split by a hash of their name (deterministic): the dev pool gives the real dev set,
the model pool gives the mined prompts that written prompts are modelled on, so nothing written or
fitted comes from a repository the dev set measures. Candidates prefer first turns of a session, then
other turns, at most ``--per-repo`` per repository; prompts with masked personal data are left out;
long prompts are trimmed to their two ends. Writes into the cache:
`dev-candidates.jsonl` (opaque id + text, shuffled, for blind labelling) and `model-pool.jsonl`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from skillroute.harness._harvest import trim  # noqa: E402


def pool_of(repo: str) -> str:
    """'dev' or 'model', fixed by the repository's name."""
    return "dev" if int(hashlib.sha256(f"real-split:{repo.lower()}".encode()).hexdigest(), 16) % 2 == 0 else "model"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "skillroute-real")
    ap.add_argument("--n", type=int, default=900, help="At most this many candidates in all.")
    ap.add_argument("--per-repo", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch", type=int, default=1,
                    help="Keep the candidates of earlier batches; draw only from repositories they lack.")
    args = ap.parse_args()
    out_path = args.cache / "dev-candidates.jsonl"
    earlier = [json.loads(line) for line in out_path.open(encoding="utf-8")] if args.batch > 1 and out_path.exists() else []
    done_repos = {r["repo"] for r in earlier}
    rows = [json.loads(line) for line in (args.cache / "turns.jsonl").open(encoding="utf-8")]
    by_repo: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        by_repo[row["repo"]].append(row)
    rng = random.Random(args.seed)
    dev_rows: list[dict] = []
    model_rows: list[dict] = []
    for repo in sorted(by_repo):
        items = by_repo[repo]
        if pool_of(repo) == "model":
            model_rows.extend(items)
            continue
        if repo in done_repos:
            continue
        usable = [r for r in items if "[MASKED]" not in r["prompt"]]
        first = [r for r in usable if r["first_in_session"]]
        rest = [r for r in usable if not r["first_in_session"]]
        rng.shuffle(first)
        rng.shuffle(rest)
        dev_rows.extend((first + rest)[: args.per_repo])
    rng.shuffle(dev_rows)
    dev_rows = dev_rows[: max(0, args.n - len(earlier))]
    new = []
    for i, row in enumerate(dev_rows, len(earlier) + 1):
        text = trim(row["prompt"])
        new.append({"id": f"real-{i:04d}", "batch": args.batch, "prompt": text, "repo": row["repo"],
                    "commit": row["commit"], "path": row["path"], "turn": row["turn"], "sha256": row["sha256"],
                    "trimmed": text != row["prompt"]})
    with out_path.open("w", encoding="utf-8") as f:
        for row in earlier + new:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    # what the labellers see: opaque ids and the text, nothing of where it came from
    with (args.cache / f"dev-batch{args.batch}-blind.jsonl").open("w", encoding="utf-8") as f:
        for row in new:
            f.write(json.dumps({"id": row["id"], "prompt": row["prompt"]}, ensure_ascii=False) + "\n")
    with (args.cache / "model-pool.jsonl").open("w", encoding="utf-8") as f:
        for row in model_rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    dev_repos = {r["repo"] for r in earlier + new}
    print(f"batch {args.batch}: {len(new)} new dev candidates; {len(earlier) + len(new)} from {len(dev_repos)} "
          f"repositories in all; "
          f"model pool {len(model_rows)} prompts from {len({r['repo'] for r in model_rows})} repositories")


if __name__ == "__main__":
    main()

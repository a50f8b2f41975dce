"""Assemble the eval set from the writers' drafts: ids, automatic length tags, and the fixed test split.

The split is drawn once, stratified by the writer's label within each draft file (seeded), and kept
in each line's `split` field; re-running with the same drafts gives the same split.
"""
import json
import random
import sys
from pathlib import Path

SEED = 20261125
TEST_SHARE = 0.30

def main(draft_dir: str, out: str) -> None:
    rows, seen = [], set()
    for f in sorted(Path(draft_dir).glob("w*.jsonl")):
        prefix = f.name.split("-")[0]
        items = [json.loads(l) for l in f.read_text().splitlines() if l.strip()]
        by_skill: dict[str, list[int]] = {}
        for i, it in enumerate(items):
            by_skill.setdefault(it["skill"], []).append(i)
        rng = random.Random(f"{SEED}-{f.name}")
        test = set()
        for skill, idx in sorted(by_skill.items()):
            idx = idx[:]
            rng.shuffle(idx)
            test.update(idx[: round(len(idx) * TEST_SHARE)])
        for i, it in enumerate(items):
            key = " ".join(it["prompt"].split()).lower()
            if key in seen:
                continue
            seen.add(key)
            tags = [t for t in it.get("tags", []) if t not in ("long", "multi-line")]
            if len(it["prompt"]) > 300:
                tags.append("long")
            if "\n" in it["prompt"].strip():
                tags.append("multi-line")
            rows.append({"id": f"{prefix}-{i + 1:03d}", "prompt": it["prompt"], "skill": it["skill"],
                         "also": it.get("also", []), "acceptable": it.get("acceptable", []),
                         "tags": tags, "split": "test" if i in test else "train"})
    with open(out, "w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"{len(rows)} prompts, {sum(r['split'] == 'test' for r in rows)} in test")

if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

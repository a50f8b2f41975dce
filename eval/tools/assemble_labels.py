"""Join two blind labellings, list what needs adjudicating, and write the labelled set.

    # 1. what the two labellings disagree on (for the adjudicator, ids and both labels)
    python eval/tools/assemble_labels.py disagreements --a A.jsonl --b B.jsonl --out todo.jsonl
    # 2. the real dev set: coordinates from the candidates, labels agreed or adjudicated
    python eval/tools/assemble_labels.py real --candidates dev-candidates.jsonl --a A.jsonl --b B.jsonl \
        --resolved resolved.jsonl --out eval/real/dev.jsonl
    # 3. the personal-fit study: per repository, its prompts in time order (coordinates + final labels)
    python eval/tools/assemble_labels.py personal --candidates coords.jsonl --a A.jsonl --b B.jsonl \
        --resolved resolved.jsonl --out eval/personal/labels.jsonl
    # 4. the real-form set: the writers' prompts, writer vs blind label, adjudicated, a test split by id hash
    python eval/tools/assemble_labels.py realform --parts part-*.jsonl --b blind-*.jsonl \
        --resolved resolved.jsonl --out eval/realform.jsonl

Labels are {"id", "skill", "also", "acceptable", "drop"}; "drop" (a reason, or null) marks a prompt that
cannot be labelled alone. Agreement is printed (skill, and skill counting `acceptable`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def split_of(identifier: str) -> float:
    """A number in [0, 1) fixed by the id: lines under the test share form the test split."""
    return int(hashlib.sha256(f"realform-split:{identifier}".encode()).hexdigest()[:8], 16) / 16 ** 8


_EN = frozenset("the a an to and of in is it for on this that with be i you can please make add fix why how what "
                "not do does my we our use from are was have has should would could there it's don't i'm".split())


def looks_non_english(text: str) -> bool:
    """A prompt written mostly in another language than English (a tag for per-language figures)."""
    from skillroute.core._query import read_request

    prose = read_request(text)[0] or text  # without pasted logs, traces and code
    prose = re.sub(r"`[^`]*`|[A-Za-z0-9_-]*[/\\.][A-Za-z0-9_./\\-]*", " ", prose)  # inline code, paths
    letters = [c for c in prose if c.isalpha()]
    if letters and sum(c.isascii() for c in letters) / len(letters) < 0.7:
        return True
    words = re.findall(r"[^\W\d_']+(?:'[^\W\d_]+)?", prose.lower())
    return len(words) >= 4 and sum(w in _EN for w in words) / len(words) < 0.08


def read(paths: list[Path]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for path in paths:
        for line in path.open(encoding="utf-8"):
            if line.strip():
                row = json.loads(line)
                out[row["id"]] = row
    return out


def agree(a: dict, b: dict) -> bool:
    return (a["skill"] == b["skill"] and sorted(a.get("also") or []) == sorted(b.get("also") or [])
            and bool(a.get("drop")) == bool(b.get("drop")))


def report(a: dict[str, dict], b: dict[str, dict]) -> None:
    ids = sorted(set(a) & set(b))
    same = sum(a[i]["skill"] == b[i]["skill"] for i in ids)
    loose = sum(a[i]["skill"] == b[i]["skill"] or b[i]["skill"] in (a[i].get("acceptable") or [])
                or a[i]["skill"] in (b[i].get("acceptable") or []) for i in ids)
    print(f"{len(ids)} labelled twice: skill agreement {same / len(ids):.3f}, counting acceptable "
          f"{loose / len(ids):.3f}; {sum(not agree(a[i], b[i]) for i in ids)} to adjudicate")


def final(a: dict, b: dict, resolved: dict[str, dict], i: str) -> dict | None:
    if i in resolved:
        return resolved[i]
    if agree(a, b):
        acceptable = sorted(set(a.get("acceptable") or []) & set(b.get("acceptable") or []) - {a["skill"]})
        return {**a, "acceptable": acceptable}
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=["disagreements", "real", "realform", "personal"])
    ap.add_argument("--a", type=Path, nargs="*", default=[])
    ap.add_argument("--b", type=Path, nargs="+", required=True)
    ap.add_argument("--parts", type=Path, nargs="*", default=[])
    ap.add_argument("--candidates", type=Path)
    ap.add_argument("--resolved", type=Path, nargs="*", default=[])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--test-share", type=float, default=0.3)
    args = ap.parse_args()
    a = read(args.a or args.parts)
    b = read(args.b)
    resolved = read(args.resolved)
    report(a, b)
    ids = sorted(set(a) & set(b))
    if args.mode == "disagreements":
        with args.out.open("w", encoding="utf-8") as f:
            for i in ids:
                if not agree(a[i], b[i]):
                    keys = ("skill", "also", "acceptable", "drop")
                    f.write(json.dumps({"id": i, "label_1": {k: a[i].get(k) for k in keys},
                                        "label_2": {k: b[i].get(k) for k in keys}}) + "\n")
        return
    labelled = [(i, final(a[i], b[i], resolved, i)) for i in ids]
    missing = sum(lab is None for _, lab in labelled)
    dropped = sum(bool(lab and lab.get("drop")) for _, lab in labelled)
    kept = [(i, lab) for i, lab in labelled if lab is not None and not lab.get("drop")]
    rows = []
    if args.mode == "personal":  # coordinates (repo, commit, path, turn, sha256) and the final labels
        cands = read([args.candidates])
        for i, lab in kept:
            c = cands[i]
            rows.append({"id": i, **{k: c[k] for k in ("repo", "commit", "path", "turn", "sha256", "timestamp")},
                         "skill": lab["skill"], "also": lab.get("also") or [],
                         "acceptable": lab.get("acceptable") or []})
    elif args.mode == "real":
        cands = read([args.candidates])
        for i, lab in kept:
            c = cands[i]
            rows.append({"id": i, "repo": c["repo"], "commit": c["commit"], "path": c["path"], "turn": c["turn"],
                         "sha256": c["sha256"], "trimmed": c["trimmed"], "skill": lab["skill"],
                         "also": lab.get("also") or [], "acceptable": lab.get("acceptable") or [],
                         "tags": ["non-english"] if looks_non_english(c["prompt"]) else []})
    else:
        by_skill: dict[str, list[dict]] = defaultdict(list)
        for i, lab in kept:
            w = a[i]
            row = {"id": i, "prompt": w["prompt"], "skill": lab["skill"], "also": lab.get("also") or [],
                   "acceptable": lab.get("acceptable") or [], "tags": w.get("tags") or [], "model": w.get("model"),
                   "split": "train"}
            by_skill[row["skill"]].append(row)
        for group in by_skill.values():
            for r in group:  # the split is a hash of the id: fixed before any label is final, so a model
                # fitted on the train part before adjudication never saw a test line
                r["split"] = "test" if split_of(r["id"]) < args.test_share else "train"
            rows.extend(group)
        rows.sort(key=lambda r: r["id"])
    with args.out.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    if args.mode == "realform":  # prompts that overlap the project's hidden evaluation prompts are dropped
        from mine_real import GUARD, flagged_lines

        bad = flagged_lines(args.out) if GUARD.exists() else set()
        rows = [r for n, r in enumerate(rows, 1) if n not in bad]
        with args.out.open("w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
        print(f"{len(bad)} dropped by holdout-guard" if GUARD.exists() else "holdout-guard not found: not checked")
    mix = Counter(r["skill"] for r in rows)
    print(f"wrote {len(rows)} lines to {args.out} ({dropped} dropped as not labellable alone, {missing} "
          f"disagreements without a resolution); skills: {dict(mix.most_common())}")


if __name__ == "__main__":
    main()

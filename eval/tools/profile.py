"""Print the eval set's length and tag profile beside PROMPT-PROFILE.md's figures for real prompts."""
import json
import statistics
import sys
from collections import Counter
from pathlib import Path

path = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "prompts.jsonl")
rows = [json.loads(l) for l in path.read_text(encoding="utf-8").splitlines() if l.strip()]
n = len(rows)
lens = [len(r["prompt"]) for r in rows]
bands = [("under 40", 0, 40, 8), ("40-99", 40, 100, 31), ("100-299", 100, 300, 40), ("300-999", 300, 1000, 14),
         ("1,000+", 1000, 10**9, 8)]
print(f"{path.name}: {n} prompts ({sum(r.get('split') == 'test' for r in rows)} test)\n")
print(f"{'characters':<12}{'this set':>10}{'real':>8}")
for name, lo, hi, real in bands:
    print(f"{name:<12}{100 * sum(lo <= x < hi for x in lens) / n:>9.1f}%{real:>7}%")
print(f"{'median':<12}{statistics.median(lens):>10.0f}{142:>8}")
share = lambda f: 100 * sum(map(f, rows)) / n  # noqa: E731
print(f"\nmulti-line {share(lambda r: chr(10) in r['prompt'].strip()):.1f}% (real 27%), "
      f"over 300 chars {share(lambda r: len(r['prompt']) > 300):.1f}%, "
      f"starts lowercase {share(lambda r: r['prompt'][:1].islower()):.1f}% (real ~33%), "
      f"question mark {share(lambda r: '?' in r['prompt']):.1f}% (real ~33%)")
print(f"acceptable used {share(lambda r: bool(r.get('acceptable'))):.1f}%, "
      f"also backend-fastapi-python {sum(bool(r.get('also')) for r in rows)}")
print("\nskill mix: " + ", ".join(f"{k} {v}" for k, v in Counter(r["skill"] for r in rows).most_common()))
print("tags: " + ", ".join(f"{k} {v}" for k, v in Counter(t for r in rows for t in r.get("tags", [])).most_common()))

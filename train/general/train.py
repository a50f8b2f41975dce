"""Train the general description-reading delta: LoRA over many synthetic catalogs, a catalog per episode.

    python train/general/train.py [--steps 600] [--pairs 0.5] [--exclude g1-06] [--out skillroute/data/general]

Reads `skills-*.jsonl` ({"catalog", "name", "description"}) and `prompts-*.jsonl` ({"catalog", "prompt",
"skill"}) beside this file: synthetic catalogs written for this project (no public catalog's text). Each
description is parsed as the router parses it; each catalog is an episode whose other skills are the
negatives (`skillroute.learning.finetune_episodes`). Writes the delta (fp16 safetensors) into ``--out``.
Besides each catalog alone, ``--pairs`` times as many episodes join two catalogs drawn at random (their
skills the candidates together: negatives from another domain, and more of them, as in a user's merged
catalogs). The public catalogs of eval/catalogs are never read here, so their figures stay leave-catalog-out;
``--exclude`` leaves synthetic catalogs out (g1-06 by default: its skill names are those of obra/superpowers,
one of the public catalogs measured).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import sys
import time
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))
from skillroute.core._delta import FinetuneConfig  # noqa: E402
from skillroute.core._encoder import resolve_model  # noqa: E402
from skillroute.core._rules import parse_description  # noqa: E402
from skillroute.learning._finetune import Episode, finetune_episodes


def read_corpus(folder: Path, exclude: frozenset[str] = frozenset()) -> dict[str, tuple[list, list]]:
    """Per synthetic catalog (those in ``exclude`` left out): its (name, description) pairs and its
    (prompt, skill) pairs, from the ``skills-*.jsonl`` and ``prompts-*.jsonl`` files of ``folder``."""
    skills: dict[str, list[tuple[str, str]]] = defaultdict(list)
    prompts: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for pattern, into, fields in (("skills-*.jsonl", skills, ("name", "description")),
                                  ("prompts-*.jsonl", prompts, ("prompt", "skill"))):
        for path in sorted(folder.glob(pattern)):
            for line in path.open(encoding="utf-8"):
                if line.strip():
                    row = json.loads(line)
                    into[row["catalog"]].append((row[fields[0]], row[fields[1]]))
    return {c: (items, prompts.get(c, [])) for c, items in sorted(skills.items()) if c not in exclude}


def load_episodes(folder: Path, exclude: frozenset[str] = frozenset()) -> list[Episode]:
    """One episode per synthetic catalog (those in ``exclude`` left out), each description parsed with the
    description parser (as the shipped reader was trained)."""
    episodes = []
    for items, labelled in read_corpus(folder, exclude).values():
        names = frozenset(n for n, _ in items)
        parsed = [(n, list(parse_description(d, names).triggers)) for n, d in items]
        parsed = [(n, t) for n, t in parsed if t]
        episodes.append(Episode(parsed, [p for p, _ in labelled], [s for _, s in labelled]))
    return episodes


def paired(singles: list[Episode], pairs: float, seed: int) -> list[Episode]:
    """``pairs`` x len(singles) episodes that each join two catalogs drawn at random."""
    rng = random.Random(seed)
    out = []
    for _ in range(round(pairs * len(singles))):
        a, b = rng.sample(singles, 2)
        if {n for n, _ in a.skills} & {n for n, _ in b.skills}:
            continue  # a name in both: the pair would have two skills of one name
        out.append(Episode([*a.skills, *b.skills], [*a.prompts, *b.prompts], [*a.labels, *b.labels]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--pairs", type=float, default=0.5, help="episodes of two catalogs, per catalog")
    ap.add_argument("--exclude", default="g1-06", help="synthetic catalogs to leave out, comma-separated")
    ap.add_argument("--batch-size", type=int, default=24)
    ap.add_argument("--max-length", type=int, default=96)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=HERE.parents[1] / "skillroute" / "data" / "general")
    args = ap.parse_args()
    exclude = frozenset(x for x in args.exclude.split(",") if x)
    singles = load_episodes(HERE, exclude)
    episodes = singles + paired(singles, args.pairs, args.seed)
    n_skills = sum(len(e.skills) for e in singles)
    n_prompts = sum(len(e.prompts) for e in singles)
    print(f"{len(singles)} catalogs, {n_skills} skills, {n_prompts} prompts; {len(episodes) - len(singles)} pairs",
          flush=True)
    config = dataclasses.replace(FinetuneConfig(), steps=args.steps, batch_size=args.batch_size,
                                 max_length=args.max_length, seed=args.seed)
    t0 = time.perf_counter()

    def progress(step: int, loss: float) -> None:
        if step % 10 == 0 or step == config.steps:
            print(f"step {step}/{config.steps} loss {loss:.3f} ({time.perf_counter() - t0:.0f} s)", flush=True)

    delta = finetune_episodes(resolve_model(None), episodes, config=config, progress=progress)
    args.out.mkdir(parents=True, exist_ok=True)
    path = delta.save(args.out)
    print(f"saved {path} ({delta.n_parameters:,} parameters, sha256 {delta.sha256[:12]}…) in "
          f"{time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()

"""How well a classifier tells written prompts from real ones (adversarial validation): lower is more real.

    python eval/tools/realism.py --real ~/.cache/skillroute-real/turns.jsonl eval/prompts.jsonl eval/realform.jsonl

For each written set: as many mined real prompts as written ones (drawn at random, long ones trimmed as the
dev set is), char 2-5-grams and word 1-2-grams (TF-IDF) plus style features (length, lines, case, question
mark, paths, backticks, non-ASCII share), a logistic regression, and the cross-validated ROC AUC (5 folds,
stratified, grouped by repository, seeded). 0.5 means the classifier cannot tell them apart.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from pathlib import Path

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedGroupKFold, cross_val_predict
from sklearn.pipeline import FeatureUnion, make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from skillroute.harness._harvest import trim  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from assemble_labels import looks_non_english  # noqa: E402

_PATH = re.compile(r"[\w.-]+/[\w./-]+|\b\w+\.(?:py|ts|tsx|js|jsx|go|rs|md|json|yaml|yml|toml|css|html|sql)\b")


def style(texts: list[str]) -> np.ndarray:
    rows = []
    for t in texts:
        letters = [c for c in t if c.isalpha()]
        rows.append([np.log1p(len(t)), t.count("\n"), t[:1].islower(), "?" in t, bool(_PATH.search(t)),
                     "`" in t or "@" in t, sum(not c.isascii() for c in letters) / max(1, len(letters))])
    return np.array(rows, dtype=np.float64)


def auc(written: list[str], real: list[str], groups: list[str], seed: int = 0) -> float:
    """Cross-validated AUC; ``groups`` (written then real) keep one repository's prompts in one fold, so the
    classifier cannot win by memorising a project's words."""
    texts = written + real
    y = np.array([1] * len(written) + [0] * len(real))
    features = FeatureUnion([
        ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=2, sublinear_tf=True)),
        ("word", TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)),
        ("style", make_pipeline(FunctionTransformer(style), StandardScaler())),
    ])
    model = make_pipeline(features, FunctionTransformer(sparse.csr_matrix, accept_sparse=True),
                          LogisticRegression(C=1.0, max_iter=2000))
    folds = StratifiedGroupKFold(5, shuffle=True, random_state=seed)
    p = cross_val_predict(model, np.array(texts, dtype=object), y, cv=folds, groups=groups,
                          method="predict_proba")[:, 1]
    return float(roc_auc_score(y, p))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("written", nargs="+", type=Path)
    ap.add_argument("--real", type=Path, default=Path.home() / ".cache" / "skillroute-real" / "turns.jsonl")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--per-repo", type=int, default=30)
    ap.add_argument("--english-only", action="store_true",
                    help="Compare English prompts only (the mined logs are half non-English; real use ~6 %%).")
    args = ap.parse_args()
    rows = [json.loads(line) for line in args.real.open(encoding="utf-8")]
    random.Random(args.seed).shuffle(rows)
    per_repo: dict[str, int] = {}
    real_all = []
    for row in rows:  # at most --per-repo from one repository, so no one developer's style dominates
        per_repo[row["repo"]] = per_repo.get(row["repo"], 0) + 1
        if per_repo[row["repo"]] <= args.per_repo and not (args.english_only and looks_non_english(row["prompt"])):
            real_all.append((trim(row["prompt"]), row["repo"]))
    for path in args.written:
        rows_w = [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]
        # a written prompt's group: the real prompt it was modelled on, else the writer's batch (id prefix)
        written = [(r["prompt"], "w:" + (r.get("model") or r.get("id", "x").split("-")[0])) for r in rows_w]
        if args.english_only:
            written = [w for w in written if not looks_non_english(w[0])]
        rng = random.Random(args.seed)
        n = min(len(written), len(real_all))
        w = rng.sample(written, n)
        r = rng.sample(real_all, n)
        score = auc([t for t, _ in w], [t for t, _ in r], [g for _, g in w] + [g for _, g in r], args.seed)
        print(f"{path}: {n} written vs {n} real prompts, cross-validated AUC {score:.3f}")


if __name__ == "__main__":
    main()

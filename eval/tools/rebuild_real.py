"""Rebuild the real dev set's text from the public repositories it was mined from, into a cache folder.

    python eval/tools/rebuild_real.py [--from-dir /work/.mirror] [--out ~/.cache/skillroute-real/dev.jsonl]

`eval/real/dev.jsonl` holds coordinates and labels only (repository, commit, log path, turn index, the
sha256 of the prompt's text): the prompts are other people's words and stay out of this repository. This
script reads each log at its commit — from a local snapshot folder (``--from-dir``: one bare git dir per
repository at ``DIR/OWNER+NAME/repo``) or by cloning ``https://github.com/OWNER/NAME`` into
``--clones`` — extracts the turn with `skillroute.harvest`, checks its sha256, trims it as the set was
labelled, and writes a labelled JSONL file that `skillroute eval --data FILE --split all` reads. Prompts
whose log is gone or changed are counted and left out.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from skillroute.errors import DataError  # noqa: E402
from skillroute.harness._harvest import log_kind, parse_log, text_sha256, trim  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def git_dir(repo: str, from_dir: Path | None, clones: Path) -> Path | None:
    if from_dir is not None:
        base = from_dir / repo.replace("/", "+") / "repo"
        return base / ".git" if (base / ".git").is_dir() else base if (base / "HEAD").exists() else None
    target = clones / repo.replace("/", "+")
    if not target.exists():
        proc = subprocess.run(["git", "clone", "--quiet", "--bare", "--filter=blob:none",
                               f"https://github.com/{repo}", str(target)], capture_output=True)
        if proc.returncode != 0:
            return None
    return target


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT / "eval" / "real" / "dev.jsonl")
    ap.add_argument("--from-dir", type=Path, default=None)
    ap.add_argument("--clones", type=Path, default=Path.home() / ".cache" / "skillroute-real" / "clones")
    ap.add_argument("--out", type=Path, default=Path.home() / ".cache" / "skillroute-real" / "dev.jsonl")
    args = ap.parse_args()
    rows = [json.loads(line) for line in args.data.open(encoding="utf-8") if line.strip()]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.clones.mkdir(parents=True, exist_ok=True)
    logs: dict[tuple[str, str, str], dict[int, str]] = {}
    written = missing = 0
    with args.out.open("w", encoding="utf-8") as f:
        for row in rows:
            key = (row["repo"], row["commit"], row["path"])
            if key not in logs:
                logs[key] = {}
                gd = git_dir(row["repo"], args.from_dir, args.clones)
                if gd is not None:
                    proc = subprocess.run(["git", f"--git-dir={gd}", "cat-file", "blob",
                                           f"{row['commit']}:{row['path']}"], capture_output=True)
                    if proc.returncode == 0:
                        try:
                            turns = parse_log(proc.stdout.decode("utf-8", "replace"), log_kind(row["path"]) or "",
                                              row["path"])
                        except DataError:
                            turns = []
                        logs[key] = {t.turn: t.prompt for t in turns}
            text = logs[key].get(row["turn"])
            if text is None or text_sha256(text) != row["sha256"]:
                missing += 1
                continue
            out = {"id": row["id"], "prompt": trim(text), "skill": row["skill"], "also": row.get("also", []),
                   "acceptable": row.get("acceptable", []), "tags": row.get("tags", [])}
            f.write(json.dumps(out, ensure_ascii=False) + "\n")
            written += 1
    print(f"rebuilt {written} of {len(rows)} prompts into {args.out}" + (f" ({missing} missing or changed)"
                                                                        if missing else ""))


if __name__ == "__main__":
    main()

"""Mine typed prompts from public repositories' committed agent logs into a cache folder.

    python eval/tools/mine_real.py --mirrors /work/.mirror --cache ~/.cache/skillroute-real

Reads every fetched snapshot (a bare git dir per repository) at its HEAD, finds the agent logs in it
(aider, SpecStory, Cursor exports, Claude Code JSONL), extracts the typed prompts with
`skillroute.harvest`, and writes `turns.jsonl` into the cache: one line per prompt with its
coordinates (repository, commit, path, turn index, sha256 of the text) and the text itself. The text
is other people's words: it stays in the cache, never in the repository. Lines that
`holdout-guard check` flags (overlap with the project's hidden prompts) are dropped, and repositories
that `holdout-guard repo` flags are skipped.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from skillroute.errors import DataError  # noqa: E402
from skillroute.harness._harvest import log_kind, parse_log, text_sha256  # noqa: E402

GUARD = Path(__file__).resolve().parents[3] / "shared" / "tools" / "holdout-guard"
MAX_LOG_BYTES = 3_000_000


def git(gitdir: Path, *args: str) -> bytes:
    return subprocess.run(["git", f"--git-dir={gitdir}", *args], check=True, capture_output=True).stdout


def repo_name(mirror: Path) -> str:
    return mirror.name.replace("+", "/", 1)


def flagged_repos(names: list[str]) -> set[str]:
    out = subprocess.run([sys.executable, str(GUARD), "repo", *names], capture_output=True, text=True).stdout
    return {line.split(":", 1)[0] for line in out.splitlines() if "do not mine" in line}


def flagged_lines(path: Path) -> set[int]:
    out = subprocess.run([sys.executable, str(GUARD), "check", str(path)], capture_output=True, text=True).stdout
    return {int(line.split(":")[1]) for line in out.splitlines() if "overlaps a hidden prompt" in line}


LOG_PATHSPECS = [":(glob)**/.aider.input.history", ":(glob)**/.aider.chat.history.md",
                 ":(glob)**/.specstory/history/*.md", ":(glob)**/.cursor/chats/*.md", ":(glob)**/*.jsonl"]


def log_versions(gitdir: Path) -> list[tuple[str, str]]:
    """(commit, path) of the newest version of every agent log the repository ever held.

    Many repositories committed their logs and later removed or ignored them, so HEAD alone misses most.
    """
    out = git(gitdir, "log", "--all", "--format=@%H", "--name-only", "-z", "--diff-filter=AMR", "--",
              *LOG_PATHSPECS).decode("utf-8", "replace")
    newest: dict[str, str] = {}
    commit = ""
    for field in out.replace("\n", "\0").split("\0"):
        if field.startswith("@") and len(field) == 41:
            commit = field[1:]
        elif field and commit and log_kind(field) is not None:
            newest.setdefault(field, commit)  # git log lists newest first
    return sorted((c, p) for p, c in newest.items())


def mine_repo(gitdir: Path, repo: str) -> tuple[list[dict], Counter]:
    versions = log_versions(gitdir)
    # aider writes each input to .aider.input.history and again to .aider.chat.history.md: read the first only
    has_input = {p.rpartition("/")[0] for _, p in versions if log_kind(p) == "aider"}
    rows: list[dict] = []
    stats: Counter = Counter()
    seen: set[str] = set()  # a prompt counts once per repository
    for commit, path in versions:
        kind = log_kind(path)
        if kind == "aider-chat" and path.rpartition("/")[0] in has_input:
            continue
        try:
            size = int(git(gitdir, "cat-file", "-s", f"{commit}:{path}").strip() or 0)
            if size == 0 or size > MAX_LOG_BYTES:
                continue
            raw = git(gitdir, "cat-file", "blob", f"{commit}:{path}").decode("utf-8", "replace")
        except subprocess.CalledProcessError:
            continue
        if kind == "claude" and '"type":"user"' not in raw.replace(" ", "")[:200_000]:
            continue
        try:
            turns = parse_log(raw, kind, path)
        except DataError:
            stats["unparseable"] += 1
            continue
        stats[kind] += 1
        for t in turns:
            digest = text_sha256(t.prompt)
            if digest in seen:
                continue
            seen.add(digest)
            rows.append({"repo": repo, "commit": commit, "path": path, "turn": t.turn, "kind": kind,
                         "session": t.session, "first_in_session": t.first_in_session,
                         "timestamp": t.timestamp, "sha256": digest, "chars": len(t.prompt),
                         "label": t.label, "label_source": t.label_source, "prompt": t.prompt})
    return rows, stats


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mirrors", type=Path, default=Path("/work/.mirror"))
    ap.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "skillroute-real")
    args = ap.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    mirrors = sorted(p for p in args.mirrors.iterdir() if p.is_dir() and "+" in p.name)
    names = [repo_name(m) for m in mirrors]
    skip = flagged_repos(names) if names else set()
    out = args.cache / "turns.jsonl"
    totals: Counter = Counter()
    per_repo: Counter = Counter()
    with out.open("w", encoding="utf-8") as f:
        for mirror, repo in zip(mirrors, names, strict=True):
            if repo in skip:
                totals["repos flagged"] += 1
                continue
            gitdir = mirror / "repo" / ".git" if (mirror / "repo" / ".git").is_dir() else mirror / "repo"
            if not (gitdir / "HEAD").exists():
                continue
            try:
                rows, stats = mine_repo(gitdir, repo)
            except subprocess.CalledProcessError:
                totals["repos unreadable"] += 1
                continue
            totals.update(stats)
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
            per_repo[repo] += len(rows)
    bad = flagged_lines(out)
    if bad:
        lines = out.read_text(encoding="utf-8").splitlines(keepends=True)
        out.write_text("".join(line for i, line in enumerate(lines, 1) if i not in bad), encoding="utf-8")
    kept = sum(1 for _ in out.open(encoding="utf-8"))
    with_turns = sum(1 for v in per_repo.values() if v)
    print(f"{len(mirrors)} snapshots, {with_turns} repositories with typed prompts, {kept} prompts kept "
          f"({len(bad)} dropped by holdout-guard); logs by kind: {dict(totals)}")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

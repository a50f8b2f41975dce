"""Smoke tests of the eval tools on small data written for the test: mining, rebuilding, labels, realism."""

import json
import subprocess
import sys
from pathlib import Path

from skillroute.harness._harvest import text_sha256

ROOT = Path(__file__).resolve().parent.parent
TOOLS = ROOT / "eval" / "tools"

HISTORY = "".join(f"# 2025-02-0{d} 10:00:00.0\n+{text}\n\n" for d, text in enumerate([
    "/add app/main.py",
    "the signup form accepts duplicate emails, reject them with a clear message",
    "why does the worker pool never shrink after a burst?",
    "write a short CONTRIBUTING guide for new developers",
], start=1))


def git(cwd, *args):
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                   env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
                        "GIT_COMMITTER_EMAIL": "t@t", "PATH": "/usr/bin:/bin"})


def make_mirror(tmp_path):
    """A snapshot laid out as the miner expects: DIR/owner+name/repo, a git dir, with a log later removed."""
    work = tmp_path / "work"
    work.mkdir()
    git(work, "init", "-q")
    (work / ".aider.input.history").write_text(HISTORY)
    git(work, "add", ".")
    git(work, "commit", "-qm", "log")
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=work, capture_output=True, text=True).stdout.strip()
    git(work, "rm", "-q", ".aider.input.history")  # many repositories remove their logs later
    git(work, "commit", "-qm", "drop log")
    mirrors = tmp_path / "mirrors"
    (mirrors / "someone+project").mkdir(parents=True)
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(mirrors / "someone+project" / "repo")], check=True)
    return mirrors, commit


def run(*args):
    return subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True, timeout=300)


def test_mine_then_rebuild_from_coordinates(tmp_path):
    mirrors, commit = make_mirror(tmp_path)
    cache = tmp_path / "cache"
    r = run(TOOLS / "mine_real.py", "--mirrors", mirrors, "--cache", cache)
    assert r.returncode == 0, r.stderr
    turns = [json.loads(x) for x in (cache / "turns.jsonl").read_text().splitlines()]
    assert [t["prompt"] for t in turns] == [
        "the signup form accepts duplicate emails, reject them with a clear message",
        "why does the worker pool never shrink after a burst?", "write a short CONTRIBUTING guide for new developers"]
    assert all(t["commit"] == commit and t["repo"] == "someone/project" for t in turns)  # found in history
    labels = ["fix", "diagnose", "docs"]
    dev = tmp_path / "dev.jsonl"
    dev.write_text("".join(json.dumps({"id": f"r{i}", "repo": t["repo"], "commit": t["commit"], "path": t["path"],
                                       "turn": t["turn"], "sha256": t["sha256"], "skill": s}) + "\n"
                           for i, (t, s) in enumerate(zip(turns, labels, strict=True))) +
                   json.dumps({"id": "gone", "repo": "someone/project", "commit": commit,
                               "path": ".aider.input.history", "turn": 1, "sha256": text_sha256("other"),
                               "skill": "cook"}) + "\n")
    out = tmp_path / "rebuilt.jsonl"
    r = run(TOOLS / "rebuild_real.py", "--data", dev, "--from-dir", mirrors, "--out", out)
    assert r.returncode == 0, r.stderr
    assert "rebuilt 3 of 4" in r.stdout and "1 missing or changed" in r.stdout
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert [(r["prompt"], r["skill"]) for r in rows] == [(t["prompt"], s) for t, s in zip(turns, labels, strict=True)]


def test_assemble_labels_joins_two_labellings_and_resolutions(tmp_path):
    b = tmp_path / "b.jsonl"
    res = tmp_path / "res.jsonl"
    parts = tmp_path / "part.jsonl"
    rows = [("w-1", "cook", "cook"), ("w-2", "ask", "discuss"), ("w-3", "fix", "fix"), ("w-4", "none", "none")]
    parts.write_text("".join(json.dumps({"id": i, "prompt": f"prompt {i}", "skill": x, "tags": ["terse"]}) + "\n"
                             for i, x, _ in rows))
    b.write_text("".join(json.dumps({"id": i, "skill": y}) + "\n" for i, _, y in rows))
    todo = tmp_path / "todo.jsonl"
    r = run(TOOLS / "assemble_labels.py", "disagreements", "--parts", parts, "--b", b, "--out", todo)
    assert r.returncode == 0 and "skill agreement 0.750" in r.stdout
    assert [json.loads(x)["id"] for x in todo.read_text().splitlines()] == ["w-2"]
    res.write_text(json.dumps({"id": "w-2", "skill": "discuss", "acceptable": ["ask"], "reason": "rule 3"}) + "\n")
    out = tmp_path / "set.jsonl"
    r = run(TOOLS / "assemble_labels.py", "realform", "--parts", parts, "--b", b, "--resolved", res, "--out", out)
    assert r.returncode == 0, r.stderr
    got = {x["id"]: x for x in map(json.loads, out.read_text().splitlines())}
    assert got["w-2"]["skill"] == "discuss" and got["w-2"]["acceptable"] == ["ask"]
    assert {x["split"] for x in got.values()} <= {"train", "test"} and got["w-1"]["tags"] == ["terse"]


def test_realism_tells_apart_what_differs(tmp_path):
    written = tmp_path / "written.jsonl"
    real = tmp_path / "real.jsonl"
    written.write_text("".join(json.dumps({"prompt": f"Please refactor module number {i} for clarity.",
                                           "model": f"m{i % 8}"}) + "\n" for i in range(40)))
    real.write_text("".join(json.dumps({"repo": f"r/{i % 7}", "prompt": f"wtf is this err {i} in app.tsx ??"}) + "\n"
                            for i in range(40)))
    r = run(TOOLS / "realism.py", "--real", real, written)
    assert r.returncode == 0, r.stderr
    assert float(r.stdout.rsplit("AUC", 1)[1]) > 0.9  # two plainly different styles are told apart

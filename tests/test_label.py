"""The label queue: least certain first, one key per skill, undo, resume; and in a real terminal (tmux)."""

import json
import shutil
import subprocess
import sys
import time

import pytest

from skillroute import Router
from skillroute.harness._label import keymap, queue, read_unlabelled

from .conftest import SKILLS

PROMPTS = ["the login test fails with a 500 since the session refactor, fix it",
           "hmm",
           "review my diff on the payments branch",
           "write the onboarding guide for the billing service into docs/"]


@pytest.fixture(scope="module")
def shipped():
    return Router.from_path(SKILLS)


def _data(tmp_path):
    path = tmp_path / "in.jsonl"
    rows = [{"prompt": p, "skill": None, "source": "t.jsonl", "turn": i} for i, p in enumerate(PROMPTS)]
    rows.append({"prompt": "already labelled", "skill": "fix"})
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def test_queue_orders_by_certainty_labels_undoes_and_resumes(tmp_path, shipped):
    rows = read_unlabelled(_data(tmp_path))
    assert len(rows) == 4
    keys = {v: k for k, v in keymap([s.name for s in shipped.catalog.exclusive if not s.disabled]).items()}
    out = tmp_path / "labels.jsonl"
    seen = []
    script = iter([keys["fix"], "u", keys["cook"], "s", keys["none"], "q"])
    counts = queue(shipped, rows, out, lambda: next(script), lambda row, d, *_: seen.append((row["prompt"], d.confidence)))
    confidences = sorted(d.confidence for d in shipped.route_many(PROMPTS))
    assert seen[0][1] == confidences[0]  # the least certain first
    assert seen[0][1] <= seen[1][1] and seen[2][0] == seen[0][0]  # after the undo, the same prompt again
    assert counts == {"labelled": 2, "skipped": 1}
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert [x["skill"] for x in lines] == ["fix", None, "cook", "none"]  # the undo is a line of its own
    assert all(x["label_source"] in ("person", None) and "source" in x for x in lines)
    again = []
    queue(shipped, rows, out, lambda: "q", lambda row, d, k, pos, total: again.append(total))
    assert again == [2]  # resumed: two prompts labelled, two left (the skipped one comes back)


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (.ci/run installs it)")
def test_label_queue_in_a_real_terminal(tmp_path, shipped):
    data, out = _data(tmp_path), tmp_path / "labels.jsonl"
    keys = {v: k for k, v in keymap([s.name for s in shipped.catalog.exclusive if not s.disabled]).items()}
    session = f"skillroute-label-{time.time_ns()}"
    cmd = (f"{sys.executable} -m skillroute.cli label --data {data} --out {out} --skills {SKILLS}; "
           f"echo EXITED $?; sleep 30")
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "160", "-y", "50", cmd], check=True)

    def screen() -> str:
        return subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True).stdout

    def wait_for(text: str) -> str:
        for _ in range(300):
            s = screen()
            if text in s:
                return s
            time.sleep(0.1)
        raise AssertionError(f"{text!r} never shown; the screen:\n{screen()}")

    try:
        first = wait_for("[1/4]")
        assert "router:" in first and "0=none" in first and "q=quit" in first
        subprocess.run(["tmux", "send-keys", "-t", session, keys["fix"]], check=True)
        wait_for("[2/4]")
        subprocess.run(["tmux", "send-keys", "-t", session, "q"], check=True)
        done = wait_for("EXITED")
        assert "EXITED 0" in done and "1 labelled, 0 skipped" in done
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    labels = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(labels) == 1 and labels[0]["skill"] == "fix" and labels[0]["prompt"][:40] in first

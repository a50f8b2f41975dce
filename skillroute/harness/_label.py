"""``skillroute label``: a keyboard queue for labelling harvested prompts, least certain first.

Each prompt is shown with the router's top three and its reasons; one key names the skill (or none), and
the label is appended to the output file at once, so quitting loses nothing and the next run resumes where
this one stopped. Active choice: the prompts the router is least sure of come first, since a label there
teaches a refit the most.
"""

from __future__ import annotations

import hashlib
import json
import os
import string
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..core._dataset import NONE, read_jsonl
from ..errors import DataError

__all__ = ["keymap", "queue", "done_keys", "append_label", "read_unlabelled"]

SKIP, QUIT, UNDO = "s", "q", "u"


def prompt_key(prompt: str) -> str:
    return hashlib.sha256(prompt.encode("utf-8", "replace")).hexdigest()[:16]


def keymap(names: Sequence[str]) -> dict[str, str]:
    """One key per label: 0 for none, then 1-9 and the letters (s, q and u are taken by skip, quit, undo)."""
    keys = [k for k in string.digits[1:] + string.ascii_lowercase if k not in (SKIP, QUIT, UNDO)]
    if len(names) > len(keys):
        raise DataError(f"the catalog has {len(names)} exclusive skills; the label queue has keys for {len(keys)}")
    return {"0": NONE, **dict(zip(keys, names, strict=False))}


def read_unlabelled(path: str | Path) -> list[dict[str, Any]]:
    """The rows of a JSONL file (a harvest) that carry no skill yet."""
    rows = []
    for n, row in read_jsonl(path, "prompts to label"):
        if not isinstance(row.get("prompt"), str) or not row["prompt"].strip():
            raise DataError("missing or empty", path, n, "prompt")
        if not row.get("skill"):
            rows.append(row)
    return rows


def done_keys(out: str | Path) -> dict[str, str]:
    """Prompts already labelled in ``out`` (key → label; a later line wins, so an undo can redo one)."""
    done: dict[str, str] = {}
    try:
        lines = Path(out).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return done
    for line in lines:
        try:
            row = json.loads(line)
        except ValueError:
            continue  # a line cut by a crash: that prompt comes back to the queue
        if isinstance(row, dict) and isinstance(row.get("prompt"), str):
            if row.get("skill") is None:
                done.pop(prompt_key(row["prompt"]), None)
            else:
                done[prompt_key(row["prompt"])] = row["skill"]
    return done


def append_label(out: str | Path, row: dict[str, Any], skill: str | None) -> None:
    """Append one label (None: the undo of an earlier one) and flush it to disk at once."""
    line = {k: v for k, v in row.items() if k not in ("skill", "label_source")}
    line.update({"skill": skill, "label_source": "person" if skill else None})
    with open(out, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(line, ensure_ascii=False) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def queue(router, rows: Sequence[dict[str, Any]], out: str | Path, getkey: Callable[[], str],
          show: Callable[[dict[str, Any], Any, dict[str, str], int, int], None]) -> dict[str, int]:
    """Run the queue: unlabelled prompts, least certain first; returns counts of labelled and skipped."""
    done = done_keys(out)
    todo = [r for r in rows if prompt_key(r["prompt"]) not in done]
    decisions = router.route_many([r["prompt"] for r in todo]) if todo else []
    order = sorted(range(len(todo)), key=lambda i: decisions[i].confidence)
    keys = keymap([s.name for s in router.catalog.exclusive if not s.disabled])
    counts = {"labelled": 0, "skipped": 0}
    history: list[int] = []  # positions labelled in this run, for undo
    i = 0
    while i < len(order):
        row, d = todo[order[i]], decisions[order[i]]
        show(row, d, keys, i + 1, len(order))
        key = getkey().lower()
        if key == QUIT:
            break
        if key == UNDO and history:
            i = history.pop()
            append_label(out, todo[order[i]], None)
            counts["labelled"] -= 1
            continue
        if key == SKIP:
            counts["skipped"] += 1
            i += 1
            continue
        if key in keys:
            append_label(out, row, keys[key])
            history.append(i)
            counts["labelled"] += 1
            i += 1
    return counts

"""Labelled prompts in ROSTER.md's format: one JSON object per line, validated with file/line/field errors."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import DataError

__all__ = ["read_jsonl", "Example", "load_examples", "SPLITS", "NONE"]

NONE = "none"
SPLITS = ("train", "test")


@dataclass(frozen=True)
class Example:
    """One labelled prompt. ``skill`` is an exclusive skill's name or "none"."""

    prompt: str
    skill: str
    also: tuple[str, ...] = ()
    acceptable: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    split: str | None = None
    line: int | None = field(default=None, compare=False)

    def is_right(self, predicted: str | None) -> bool:
        """A prediction is right when it is the label or one of the acceptable alternatives."""
        p = predicted or NONE
        return p == self.skill or p in self.acceptable


def _strings(value, path, n, name) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DataError("must be a list of strings", path, n, name)
    return tuple(value)


def read_jsonl(path: str | Path, what: str = "lines",
               errors: list[DataError] | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line of a JSONL file, read as bytes and split on newlines only
    (a JSON string may hold U+2028). A line that is not a UTF-8 JSON object is a DataError naming its line:
    raised, or appended to ``errors`` (and the line skipped) when a list is given."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read {what}: {exc}", path) from exc
    for n, chunk in enumerate(raw.split(b"\n"), start=1):
        if not chunk.strip():
            continue
        try:
            try:
                row = json.loads(chunk.decode("utf-8"))
            except UnicodeDecodeError as exc:
                raise DataError(f"not UTF-8 ({exc.reason} at byte {exc.start})", path, n) from None
            except json.JSONDecodeError as exc:
                raise DataError(f"malformed JSON: {exc.msg} (column {exc.colno})", path, n) from None
            except (ValueError, RecursionError) as exc:
                raise DataError(f"malformed JSON: {exc}", path, n) from None
            if not isinstance(row, dict):
                raise DataError("a line must be a JSON object", path, n)
        except DataError as err:
            if errors is None:
                raise
            errors.append(err)
            continue
        yield n, row


def load_examples(path: str | Path, *, exclusive: Iterable[str] | None = None, additive: Iterable[str] | None = None,
                  split: str | None = None, lenient: bool = False,
                  skipped: list[DataError] | None = None) -> list[Example]:
    """Read a JSONL file of labelled prompts; ``split`` keeps only that split ("all" or None keeps all; a file
    whose lines carry no split, such as the rebuilt real dev set, is read whole).

    With skill names given, an unknown name is an error. ``lenient`` skips bad lines and appends each
    error to ``skipped`` instead of raising.
    """
    path = Path(path)
    if split not in (None, "all", *SPLITS):
        raise DataError(f"unknown split {split!r}; choose train, test or all", path)
    ex_names = set(exclusive) | {NONE} if exclusive is not None else None
    add_names = set(additive) if additive is not None else None
    out: list[Example] = []
    errors: list[DataError] | None = [] if lenient else None
    for n, obj in read_jsonl(path, "labelled prompts", errors):
        try:
            out.append(_parse_line(obj, path, n, ex_names, add_names))
        except DataError as err:
            if not lenient:
                raise
            errors.append(err)  # type: ignore[union-attr]
    if skipped is not None and errors:
        skipped.extend(sorted(errors, key=lambda e: e.line or 0))
    if split in (None, "all") or not any(e.split for e in out):  # a set without splits is read whole
        return out
    return [e for e in out if e.split == split]


def _parse_line(obj: dict[str, Any], path: Path, n: int, ex_names: set[str] | None,
                add_names: set[str] | None) -> Example:
    prompt = obj.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise DataError("missing or empty", path, n, "prompt")
    skill = obj.get("skill")
    if not isinstance(skill, str) or not skill:
        raise DataError("missing; use an exclusive skill's name or \"none\"", path, n, "skill")
    if ex_names is not None and skill not in ex_names:
        raise DataError(f"unknown exclusive skill {skill!r}", path, n, "skill")
    also = _strings(obj.get("also"), path, n, "also")
    if add_names is not None:
        bad = [a for a in also if a not in add_names]
        if bad:
            raise DataError(f"not an additive skill of the catalog: {', '.join(bad)}", path, n, "also")
    acceptable = _strings(obj.get("acceptable"), path, n, "acceptable")
    if ex_names is not None:
        bad = [a for a in acceptable if a not in ex_names]
        if bad:
            raise DataError(f"unknown exclusive skill: {', '.join(bad)}", path, n, "acceptable")
    tags = _strings(obj.get("tags"), path, n, "tags")
    split = obj.get("split")
    if split is not None and split not in SPLITS:
        raise DataError(f"must be 'train' or 'test', not {split!r}", path, n, "split")
    return Example(prompt=prompt, skill=skill, also=also, acceptable=acceptable, tags=tags, split=split, line=n)


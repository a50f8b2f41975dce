"""A large catalog, parsed once per state of its files: the next load reads one JSON file instead of parsing
every SKILL.md's YAML and description again (10,000 skills: seconds → a fraction of one).

The key is every SKILL.md's path, size and modification time, whether the load was strict, and the source
of the parser itself, so an edited file or a new skillroute parses again. The file is JSON, checked on read;
anything wrong with it means a normal load. Catalogs under ``MIN_SKILLS`` are not cached: they load in
milliseconds and would only fill the folder.
"""

from __future__ import annotations

import hashlib
import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..errors import CatalogError
from ._rules import ParsedDescription, Rule
from ._storage import atomic_write_bytes, cache_dir

__all__: list[str] = []  # internal to load_catalog

MIN_SKILLS = 200
KEEP = 8  # cached catalogs kept; the least recently used go


@lru_cache(maxsize=1)
def _parser_stamp() -> str:
    here = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for name in ("_catalog.py", "_rules.py", "_catalog_cache.py"):
        h.update((here / name).read_bytes())
    return h.hexdigest()


def catalog_key(files: list[list[Path]], strict: bool) -> str | None:
    """The key of this state of the catalog's files (one list per directory, in order); None when a file
    cannot be read (the normal load then reports it)."""
    h = hashlib.sha256(_parser_stamp().encode())
    h.update(b"strict" if strict else b"lenient")
    try:
        for group in files:
            h.update(b"\x00dir")
            for f in group:
                st = os.stat(f)
                h.update(f"\x00{f}\x00{st.st_size}\x00{st.st_mtime_ns}".encode())
    except OSError:
        return None
    return h.hexdigest()


def _folder() -> Path:
    return cache_dir() / "catalogs"


def _skill_dict(s) -> dict[str, Any]:
    return {"name": s.name, "description": s.description, "path": str(s.path), "kind": s.kind,
            "disabled": s.disabled, "frontmatter": s.frontmatter, "body": s.body, "notes": list(s.notes),
            "triggers": list(s.parsed.triggers),
            "rules": [[r.text, r.phrase, r.redirect, r.clause] for r in s.parsed.rules]}


def write_cached(key: str, catalog) -> None:
    """Save ``catalog`` under ``key``; a frontmatter JSON cannot hold as it is (dates, binary) is not cached."""
    data = {"skills": [_skill_dict(s) for s in catalog],
            "errors": [[e.reason, str(e.path) if e.path else None, e.line] for e in catalog.errors],
            "warnings": list(catalog.warnings)}
    try:
        text = json.dumps(data, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError):
        return
    if json.loads(text)["skills"] != data["skills"]:  # a tuple or a non-string key would come back changed
        return
    folder = _folder()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(folder / f"{key}.json", text.encode("utf-8"))
        old = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)[KEEP:]
        for p in old:
            p.unlink(missing_ok=True)
    except OSError:
        pass  # a cache that cannot be written only costs the next load its parse


def read_cached(key: str):
    """The catalog saved under ``key``, or None (absent, unreadable or not in the expected shape)."""
    from ._catalog import Catalog, Skill

    path = _folder() / f"{key}.json"
    try:
        data = json.loads(path.read_bytes())
        skills = tuple(
            Skill(name=d["name"], description=d["description"], path=Path(d["path"]), kind=d["kind"],
                  disabled=bool(d["disabled"]), frontmatter=dict(d["frontmatter"]), body=str(d["body"]),
                  notes=tuple(map(str, d["notes"])),
                  parsed=ParsedDescription(tuple(map(str, d["triggers"])),
                                           tuple(Rule(str(t), str(p), r if r is None else str(r), str(c))
                                                 for t, p, r, c in d["rules"])))
            for d in data["skills"])
        errors = tuple(CatalogError(str(m), p, line) for m, p, line in data["errors"])
        catalog = Catalog.restored(skills, errors, tuple(map(str, data["warnings"])))
        os.utime(path)  # recently used: kept by the pruning
        return catalog
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None

"""``skillroute doctor``: what a new user's setup holds, and the fix for each problem found.

Only looks: it loads no model, merges nothing and writes nothing but a probe file in the cache folder.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Check", "run_checks"]


@dataclass(frozen=True)
class Check:
    """One line of the report: what was looked at, whether it is fine, and what to do when it is not."""

    name: str
    ok: bool
    detail: str
    fix: str = ""


def _catalog(dirs: list[str], cwd: Path) -> list[Check]:
    from ..core._catalog import default_skill_dirs, load_catalog
    from ..errors import CatalogError

    try:
        found = [Path(d) for d in dirs] or default_skill_dirs(cwd)
        catalog = load_catalog(*found)
    except CatalogError as exc:
        return [Check("catalog", False, str(exc), "pass --skills DIR or set $SKILLROUTE_SKILLS to a folder of "
                                                   "<name>/SKILL.md")]
    out = [Check("catalog", True, f"{len(catalog)} skills ({len(catalog.exclusive)} exclusive, "
                                  f"{len(catalog.additive)} additive) from {', '.join(map(str, found))}")]
    if catalog.errors or catalog.warnings:
        out.append(Check("catalog files", not catalog.errors,
                         f"{len(catalog.errors)} SKILL.md left out, {len(catalog.warnings)} notes",
                         "`skillroute skills --verbose` lists them; `skillroute lint` says how to fix each"))
    fitted = found[0] / ".skillroute" / "fitted" / "meta.json"
    if fitted.is_file():
        meta = json.loads(fitted.read_text())
        adapter = meta.get("adapter") or {}
        from ..core._delta import merged_model
        from ..core._encoder import resolve_model

        merged = merged_model(resolve_model(), delta_sha=adapter["sha256"], build=False) if adapter else None
        out.append(Check("fitted router", True, f"{fitted.parent} ({meta.get('n_examples')} examples"
                         + (", with a fine-tune delta)" if adapter else ")")))
        if adapter:
            out.append(Check("fine-tune merged", merged is not None,
                             "merged into the cache" if merged else "not merged yet: the first route will merge "
                             "it (about 20 s)", "" if merged else "run `skillroute warm` once"))
    else:
        out.append(Check("fitted router", True, "none: the description router routes (zero-shot)"))
    return out


def _cache() -> list[Check]:
    from ..core._storage import cache_dir

    folder = cache_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".doctor."):
            pass
        ok, detail = True, f"{folder} (writable)"
    except OSError as exc:
        ok, detail = False, f"{folder}: {exc.strerror or exc}"
    out = [Check("cache", ok, detail, "" if ok else "set $SKILLROUTE_CACHE to a writable folder")]
    onnx = list((folder / "onnx").glob("*/model.onnx")) if (folder / "onnx").is_dir() else []
    out.append(Check("onnx export", bool(onnx), f"{len(onnx)} export(s) in the cache" if onnx else "none yet",
                     "" if onnx else "run `skillroute warm` once (the first route would make it, slowly)"))
    return out


def _server(url: str, dirs: list[str], cwd: Path) -> list[Check]:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url.rstrip("/") + "/health", timeout=1.0) as resp:
            health = json.loads(resp.read())
    except (urllib.error.URLError, OSError, ValueError):
        return [Check("server", True, f"none at {url}: the hook routes in-process")]
    from ..core._catalog import default_skill_dirs, load_catalog
    from ..errors import CatalogError

    try:
        mine = load_catalog(*([Path(d) for d in dirs] or default_skill_dirs(cwd))).fingerprint()
    except CatalogError:
        mine = None
    same = isinstance(health, dict) and health.get("catalog") == mine
    return [Check("server", same, f"{url} serves {health.get('skills')} skills"
                  + ("" if same else ", another catalog than this folder's: the hook will not use it"),
                  "" if same else "start `skillroute serve --skills DIR` with this folder's catalog")]


def _hook(cwd: Path, deadline: float) -> list[Check]:
    out = []
    for settings in (cwd / ".claude" / "settings.json", cwd / ".claude" / "settings.local.json",
                     Path.home() / ".claude" / "settings.json"):
        if not settings.is_file():
            continue
        try:
            data = json.loads(settings.read_text())
        except (OSError, ValueError) as exc:
            out.append(Check("hook settings", False, f"{settings}: not readable JSON ({exc})",
                             "fix the JSON; Claude Code ignores a broken settings file"))
            continue
        entries = [h for group in (data.get("hooks") or {}).get("UserPromptSubmit") or []
                   for h in (group.get("hooks") or []) if "skillroute hook" in str(h.get("command", ""))]
        for h in entries:
            timeout = h.get("timeout", 60)
            ok = isinstance(timeout, (int, float)) and timeout > deadline + 1
            out.append(Check("hook settings", ok, f"{settings}: `{h.get('command')}`, timeout {timeout}",
                             "" if ok else f"give it a timeout over {deadline + 1:.0f} s (the hook's deadline is "
                             f"{deadline:.0f} s), or pass a shorter --deadline"))
    if not out:
        out.append(Check("hook settings", True, "no `skillroute hook` in .claude/settings.json here or in ~/.claude",
                         "add it as the README shows to route inside Claude Code"))
    return out


def run_checks(dirs: list[str], cwd: str | os.PathLike[str] | None = None) -> list[Check]:
    """Every check, in the order a new user meets them."""
    from ._hook import DEFAULT_DEADLINE_S
    from ._server import server_url

    here = Path(cwd) if cwd is not None else Path.cwd()
    return _catalog(dirs, here) + _cache() + _server(server_url(), dirs, here) + _hook(here, DEFAULT_DEADLINE_S)

"""``skillroute hook``: a Claude Code ``UserPromptSubmit`` hook that tells the agent which skill to use.

It routes the submitted prompt through a running ``skillroute serve`` when one answers, else in-process
(the lean ONNX path), and prints hook output that adds context. It never blocks or breaks the user's
prompt: on any error it prints nothing, exits 0 and writes one line to a log file.
"""

from __future__ import annotations

import json
import os
import threading
import time
import traceback
from pathlib import Path
from typing import Any

__all__ = ["run_hook", "hook_output", "DEFAULT_THRESHOLD"]

DEFAULT_THRESHOLD = 0.7  # measured: 4 % of wrong zero-shot picks on unseen public catalogs reach it (README)
SERVER_TIMEOUT_S = 2.0
DEFAULT_DEADLINE_S = 7.0  # under Claude Code's 10 s hook timeout in the README's settings, with room to start Python


def hook_output(decision: dict[str, Any], threshold: float) -> dict[str, Any] | None:
    """The hook's JSON for a decision, or None when there is nothing confident to say."""
    if decision.get("explicit"):
        return None  # the user named the skill; the host already knows
    skill, also, conf = decision.get("skill"), decision.get("also") or [], float(decision.get("confidence", 0))
    parts = []
    if skill and conf >= threshold:
        parts.append(f"skillroute: this request is best handled with the `{skill}` skill (confidence {conf:.2f}).")
    if also and (skill is None or conf >= threshold):
        parts.append(f"Also apply: {', '.join(f'`{a}`' for a in also)}.")
    if not parts:
        return None
    return {"hookSpecificOutput": {"hookEventName": "UserPromptSubmit", "additionalContext": " ".join(parts)}}


def _via_server(url: str, prompt: str, fingerprint: str) -> tuple[dict[str, Any] | None, str]:
    """The server's decision, or None (and why) when none answers, it cannot prove it is the user's own
    `skillroute serve` (the token in the cache folder), or it serves another catalog; one round trip: the
    request carries a fresh nonce and the catalog's fingerprint, the answer the proof."""
    import hmac
    import secrets
    import urllib.error
    import urllib.parse
    import urllib.request

    from ._token import proof, read_token

    base = url.rstrip("/")
    try:
        port = urllib.parse.urlsplit(base).port or 80
        token = read_token(port)
        if token is None:
            return None, f"no server token for port {port} in the cache folder: the server at {base} is not trusted"
        nonce = secrets.token_hex(16)
        body = json.dumps({"prompt": prompt, "nonce": nonce, "catalog": fingerprint}).encode()
        req = urllib.request.Request(base + "/route", data=body, headers={"Content-Type": "application/json"},
                                     method="POST")
        try:
            with urllib.request.urlopen(req, timeout=SERVER_TIMEOUT_S) as resp:
                decision = json.loads(resp.read())
        except urllib.error.HTTPError as err:
            if err.code == 409:
                return None, f"the server at {base} serves another catalog"
            raise
        if not isinstance(decision, dict) or not isinstance(decision.get("proof"), str) or not hmac.compare_digest(
                decision["proof"], proof(token, nonce, fingerprint)):
            return None, f"the server at {base} did not prove it holds this user's token: not trusted"
        return decision, ""
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError, ValueError):
        return None, ""  # no server: route in-process


def _valid(decision: dict[str, Any], catalog) -> bool:
    """A server's answer names skills of this catalog and a confidence in [0, 1]: nothing else is injected."""
    skill, also, conf = decision.get("skill"), decision.get("also"), decision.get("confidence")
    return ((skill is None or (isinstance(skill, str) and skill in catalog))
            and isinstance(also, list) and all(isinstance(a, str) and a in catalog for a in also)
            and isinstance(conf, (int, float)) and not isinstance(conf, bool) and 0.0 <= conf <= 1.0)


def _skill_dirs(payload: dict[str, Any], dirs: list[str]) -> list:
    """The catalog `skillroute route` would read from the prompt's working folder."""
    from ..core._catalog import default_skill_dirs

    cwd = payload.get("cwd")
    return dirs or default_skill_dirs(cwd if isinstance(cwd, str) and os.path.isdir(cwd) else None)


def _route(payload: Any, dirs: list[str], server: str | None, log_path: Path) -> tuple[dict[str, Any], str]:
    import warnings

    from ..core._catalog import load_catalog

    prompt = payload.get("prompt") if isinstance(payload, dict) else None
    if not isinstance(prompt, str) or not prompt.strip():
        raise ValueError("the hook payload has no 'prompt'")
    skill_dirs = _skill_dirs(payload, dirs)
    with warnings.catch_warnings(record=True) as caught:  # stdout is the host's; notes go to the log
        warnings.simplefilter("always")
        catalog = load_catalog(*skill_dirs)  # loaded once: the server check and in-process routing share it
        problems = catalog.problems()
        if problems:
            _log(log_path, f"warning {problems}")
        decision, why = _via_server(server, prompt, catalog.fingerprint()) if server else (None, "")
        if decision is not None and not _valid(decision, catalog):
            decision, why = None, "the server's answer is not a decision of this catalog"
        source = "server"
        if decision is None:
            from ..core._router import Router

            if why:
                _log(log_path, f"note {why}; routing in-process")
            decision = Router.from_catalog(catalog, skill_dirs[0]).route(prompt).to_dict()
            source = "in-process"
    for w in dict.fromkeys(str(c.message) for c in caught):
        _log(log_path, f"warning {w}")
    return decision, source


def _warm_in_background(dirs: list, log_path: Path) -> None:
    """Start one detached `skillroute warm` for the catalog (not when one started in the last 10 minutes)."""
    import subprocess
    import sys

    from ..core._storage import cache_dir

    stamp = cache_dir() / "warm.started"
    try:
        if stamp.exists() and time.time() - stamp.stat().st_mtime < 600:
            return
        stamp.parent.mkdir(parents=True, exist_ok=True)
        stamp.touch()
        args = [sys.executable, "-m", "skillroute.cli", "warm"] + [a for d in dirs for a in ("--skills", str(d))]
        with open(os.devnull, "wb") as null:
            subprocess.Popen(args, stdin=null, stdout=null, stderr=null, start_new_session=True)
        _log(log_path, "note the catalog is still being embedded: a background `skillroute warm` goes on")
    except OSError as exc:
        _log(log_path, f"note could not start a background warm: {exc}")


def run_hook(stdin_text: str, *, dirs: list[str], threshold: float, log_path: Path,
             server: str | None = None, deadline: float = DEFAULT_DEADLINE_S) -> tuple[str, bool]:
    """The text to print for one hook call ("" for nothing), and whether the deadline cut it short.

    Errors are logged, never raised. The routing runs in a worker thread; past ``deadline`` seconds the hook
    says nothing and starts a background `skillroute warm`, so a big catalog's first embedding (saved as it
    goes) completes outside the host's timeout and later calls route.
    """
    started = time.perf_counter()
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["result"] = _route(json.loads(stdin_text), dirs, server, log_path)
        except Exception as exc:  # the hook must never break the user's prompt
            box["error"] = f"{type(exc).__name__}: {exc} | {traceback.format_exc(limit=2).splitlines()[-1]}"

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    worker.join(deadline)
    if worker.is_alive():
        _log(log_path, f"timeout after {deadline:.1f}s: nothing said")
        try:
            payload = json.loads(stdin_text)
            _warm_in_background(_skill_dirs(payload if isinstance(payload, dict) else {}, dirs), log_path)
        except Exception as exc:  # noqa: BLE001 - still never fail the prompt
            _log(log_path, f"error {type(exc).__name__}: {exc}")
        return "", True
    if "error" in box:
        _log(log_path, f"error {box['error']}")
        return "", False
    decision, source = box["result"]
    out = hook_output(decision, threshold)
    _log(log_path, f"ok {source} {decision.get('skill')} {decision.get('confidence')} "
                   f"{(time.perf_counter() - started) * 1000:.0f}ms")
    return (json.dumps(out) if out else ""), False


def _log(path: Path, line: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as fh:
            fh.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {line}\n")
    except OSError:
        pass

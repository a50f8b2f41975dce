"""The server's secret and the proof it gives with it: the hook trusts only a server that holds the user's
token. Apart from the server module so the hook, a fresh process per prompt, imports neither asyncio nor
the web stack to check it."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

__all__ = ["issue_token", "read_token", "proof"]


def _token_path(port: int) -> Path:
    from ..core._storage import cache_dir

    return cache_dir() / "server" / f"{int(port)}.token"


def issue_token(port: int) -> str:
    """A fresh secret for the server on ``port``, in a file only this user can read: the hook asks the
    server to prove it holds it, so another process listening on the port is never trusted."""
    token = secrets.token_hex(32)
    path = _token_path(port)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(token)
    os.replace(tmp, path)
    return token


def read_token(port: int) -> str | None:
    """The server token for ``port``, if its file exists, belongs to this user and no one else can read it."""
    path = _token_path(port)
    try:
        st = path.stat()
        if st.st_mode & 0o077 or (hasattr(os, "getuid") and st.st_uid != os.getuid()):
            return None
        token = path.read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None
    return token if len(token) == 64 else None


def proof(token: str, nonce: str, fingerprint: str) -> str:
    """What the server answers to a /health?nonce=… challenge: an HMAC of the nonce and the catalog."""
    return hmac.new(token.encode(), f"{nonce}|{fingerprint}".encode(), hashlib.sha256).hexdigest()

"""``skillroute serve``: keep the model warm and answer routing requests as JSON over HTTP (Starlette + uvicorn).

POST /route {"prompt": …}, POST /route/batch {"prompts": […]}, POST /shortlist {"prompt": …, "k": 3},
GET /skills, GET /health. Bound to loopback by default. The catalog is reloaded when a SKILL.md changes;
the old router keeps answering until the new one is ready, so no request is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import require
from ._token import proof

__all__ = ["create_app", "MAX_BODY_BYTES", "DEFAULT_PORT"]

MAX_BODY_BYTES = 1_000_000
MAX_BATCH = 256  # prompts in one /route/batch request
MAX_QUEUE = 512  # /route requests waiting for the batcher; more get 429
ROUTE_TIMEOUT_S = 30.0  # a /route answer later than this is a 503 (the work is not lost for the others)
BATCH_TIMEOUT_S = 120.0
DEFAULT_PORT = 8765
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")


class _RouterHolder:
    """The current router, swapped atomically when the catalog's files change."""

    def __init__(self, dirs: Sequence[str], build):
        self.dirs = list(dirs)
        self.build = build
        self.router = build(self.dirs).warm()
        self.stamp = self._stamp()
        self._lock = threading.Lock()

    def _stamp(self) -> tuple:
        files = []
        for d in self.dirs:
            for f in sorted(Path(d).expanduser().glob("*/SKILL.md")):
                try:
                    st = f.stat()
                    files.append((str(f), st.st_mtime_ns, st.st_size))
                except OSError:
                    continue
        return tuple(files)

    def maybe_reload(self) -> bool:
        stamp = self._stamp()
        if stamp == self.stamp:
            return False
        with self._lock:
            if stamp == self.stamp:
                return False
            try:
                fresh = self.build(self.dirs).warm()
            except Exception:
                self.stamp = stamp  # keep serving the last good catalog; /health reports the error
                raise
            self.router, self.stamp = fresh, stamp
            return True


def _error(status: int, message: str):
    from starlette.responses import JSONResponse

    return JSONResponse({"error": message}, status_code=status)


def create_app(dirs: Sequence[str], build, reload_interval: float = 1.0,
               allowed_hosts: Sequence[str] | None = LOOPBACK_HOSTS, token: str | None = None):
    """The Starlette app serving the router built by ``build(dirs)``.

    ``token``: the secret of ``issue_token``; with it, ``/health?nonce=N`` answers ``proof(token, N, catalog)``.
    ``allowed_hosts``: the `Host` names a request may carry (loopback by default, so a web page cannot
    reach the server through DNS rebinding); None accepts any, for a server bound beyond loopback.
    """
    require("serve", "starlette")
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    holder = _RouterHolder(dirs, build)
    state: dict[str, Any] = {"reload_error": None}

    async def body(request: Request) -> Any:
        if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
            raise _HTTPError(415, "send the body as JSON (Content-Type: application/json)")
        length = request.headers.get("content-length") or "0"
        size = int(length) if length.isdigit() and len(length) < 12 else MAX_BODY_BYTES + 1
        if size > MAX_BODY_BYTES:
            raise _HTTPError(413, f"request body over {MAX_BODY_BYTES} bytes")
        raw = b""
        async for chunk in request.stream():
            raw += chunk
            if len(raw) > MAX_BODY_BYTES:
                raise _HTTPError(413, f"request body over {MAX_BODY_BYTES} bytes")
        try:
            return json.loads(raw or b"null")
        except (ValueError, UnicodeDecodeError) as exc:  # also a number of thousands of digits
            raise _HTTPError(400, f"malformed JSON: {exc}") from None
        except RecursionError:
            raise _HTTPError(400, "malformed JSON: nested too deeply") from None

    def text_field(data: Any, name: str) -> str:
        if not isinstance(data, dict) or not isinstance(data.get(name), str) or not data[name].strip():
            raise _HTTPError(422, f"the body needs a non-empty string field '{name}'")
        return data[name]

    queue: asyncio.Queue = asyncio.Queue(maxsize=MAX_QUEUE)

    async def batcher() -> None:
        """Concurrent /route requests share one batched encode instead of queueing one by one."""
        while True:
            items = [await queue.get()]
            while len(items) < 32:
                try:
                    items.append(queue.get_nowait())
                except asyncio.QueueEmpty:
                    break
            try:
                decisions = await asyncio.to_thread(holder.router.route_many, [p for p, _ in items])
                for (_, fut), d in zip(items, decisions, strict=True):
                    if not fut.done():
                        fut.set_result(d)
            except Exception:  # one bad request must not fail the others: route each alone, it fails alone
                for prompt, fut in items:
                    try:
                        d = await asyncio.to_thread(holder.router.route, prompt)
                        if not fut.done():
                            fut.set_result(d)
                    except Exception as exc:  # noqa: BLE001 - handed to that request's handler
                        if not fut.done():
                            fut.set_exception(exc)

    def challenge(data: Any) -> dict[str, str]:
        """The hook's check in the same request: the catalog it expects (409 when it differs) and a nonce the
        answer proves it holds the user's token with."""
        fingerprint = holder.router.catalog.fingerprint()
        expected, nonce = data.get("catalog"), data.get("nonce")
        if expected is not None and expected != fingerprint:
            raise _HTTPError(409, "this server serves another catalog", catalog=fingerprint)
        if not token or not isinstance(nonce, str) or not nonce:
            return {}
        if len(nonce) > 128:
            raise _HTTPError(422, "the nonce is over 128 characters")
        return {"catalog": fingerprint, "proof": proof(token, nonce, fingerprint)}

    async def route(request: Request):
        data = await body(request)
        prompt = text_field(data, "prompt")
        extra = challenge(data)
        fut = asyncio.get_running_loop().create_future()
        try:
            queue.put_nowait((prompt, fut))
        except asyncio.QueueFull:
            raise _HTTPError(429, f"{MAX_QUEUE} requests are waiting already; retry shortly") from None
        try:
            d = await asyncio.wait_for(asyncio.shield(fut), ROUTE_TIMEOUT_S)
        except asyncio.TimeoutError:
            raise _HTTPError(503, f"no decision within {ROUTE_TIMEOUT_S:.0f} s; the server is overloaded") from None
        return JSONResponse({**d.to_dict(), **extra})

    async def route_batch(request: Request):
        data = await body(request)
        prompts = data.get("prompts") if isinstance(data, dict) else None
        if not isinstance(prompts, list) or not prompts or not all(isinstance(p, str) and p.strip() for p in prompts):
            raise _HTTPError(422, "the body needs 'prompts': a non-empty list of non-empty strings")
        if len(prompts) > MAX_BATCH:
            raise _HTTPError(413, f"at most {MAX_BATCH} prompts a batch; send several batches")
        try:
            ds = await asyncio.wait_for(asyncio.to_thread(holder.router.route_many, prompts), BATCH_TIMEOUT_S)
        except asyncio.TimeoutError:
            raise _HTTPError(503, f"the batch took over {BATCH_TIMEOUT_S:.0f} s; send smaller batches") from None
        return JSONResponse({"decisions": [d.to_dict() for d in ds]})

    async def shortlist(request: Request):
        data = await body(request)
        prompt = text_field(data, "prompt")
        k = data.get("k", 3)
        if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= 1000:
            raise _HTTPError(422, "'k' must be an integer from 1 to 1000")
        top = await asyncio.to_thread(holder.router.shortlist, prompt, k)
        return JSONResponse({"shortlist": [[n, s] for n, s in top]})

    async def skills(request: Request):
        r = holder.router
        return JSONResponse({"skills": [{"name": s.name, "kind": s.kind, "disabled": s.disabled,
                                         "description": s.description} for s in r.catalog],
                             "fitted": r.head_ is not None})

    async def health(request: Request):
        r = holder.router
        fingerprint = r.catalog.fingerprint()
        out = {"status": "ok" if state["reload_error"] is None else "reload failed", "skills": len(r.catalog),
               "catalog": fingerprint, "fitted": r.head_ is not None, "encoder": r._get_encoder().name,
               "reload_error": state["reload_error"]}
        nonce = request.query_params.get("nonce", "")
        if token and nonce:
            if len(nonce) > 128:
                raise _HTTPError(422, "the nonce is over 128 characters")
            out["proof"] = proof(token, nonce, fingerprint)
        return JSONResponse(out)

    async def watch() -> None:
        while True:
            await asyncio.sleep(reload_interval)
            try:
                if await asyncio.to_thread(holder.maybe_reload):
                    state["reload_error"] = None  # only a reload that worked clears a failed one
            except Exception as exc:  # noqa: BLE001 - the watcher must outlive any bad edit; /health reports it
                state["reload_error"] = f"{type(exc).__name__}: {exc}"

    @contextlib.asynccontextmanager
    async def lifespan(app):
        tasks = [asyncio.create_task(batcher())]
        if reload_interval > 0:
            tasks.append(asyncio.create_task(watch()))
        yield
        for task in tasks:
            task.cancel()

    async def http_error(request, exc: _HTTPError):
        return JSONResponse({"error": exc.message, **exc.fields}, status_code=exc.status)

    async def server_error(request, exc: Exception):
        return _error(500, f"{type(exc).__name__}: {exc}")

    async def starlette_error(request, exc):  # 404, 405 and the like: JSON too, like every other error
        return _error(exc.status_code, str(exc.detail))

    from starlette.exceptions import HTTPException
    from starlette.middleware import Middleware
    from starlette.middleware.trustedhost import TrustedHostMiddleware

    middleware = [Middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts))] if allowed_hosts else []
    app = Starlette(middleware=middleware, routes=[Route("/route", route, methods=["POST"]), Route("/route/batch", route_batch, methods=["POST"]),
                            Route("/shortlist", shortlist, methods=["POST"]), Route("/skills", skills),
                            Route("/health", health)],
                    exception_handlers={_HTTPError: http_error, HTTPException: starlette_error,
                                        Exception: server_error}, lifespan=lifespan)
    app.state.holder = holder
    return app


class _HTTPError(Exception):
    def __init__(self, status: int, message: str, **fields: Any):
        super().__init__(message)
        self.status = status
        self.message = message
        self.fields = fields


def server_url() -> str:
    """Where the hook looks for a running server: ``$SKILLROUTE_SERVER`` or loopback on the default port."""
    return os.environ.get("SKILLROUTE_SERVER", f"http://127.0.0.1:{DEFAULT_PORT}")

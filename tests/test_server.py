"""The HTTP server from a thread (a real uvicorn on loopback) and the Claude Code hook end to end."""

import contextlib
import json
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from skillroute import Router
from skillroute.harness._server import create_app
from skillroute.harness._token import issue_token

from .conftest import SKILLS


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serving(app, port: int):
    """A real uvicorn on loopback in a thread, for as long as the block runs."""
    import uvicorn

    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    for _ in range(200):
        if srv.started:
            break
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(10)


@pytest.fixture(scope="module")
def server(tmp_path_factory, encoder):

    cat = tmp_path_factory.mktemp("srv") / "skills"
    shutil.copytree(SKILLS, cat)
    port = _free_port()
    app = create_app([str(cat)], lambda d: Router.from_path(*d, encoder=encoder), reload_interval=0.2,
                     token=issue_token(port))
    with serving(app, port) as url:
        yield url, cat


def call(url, path, body=None, raw=None):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(url + path, data=data, method="POST" if data is not None else "GET",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_routes_and_endpoints(server):
    url, _ = server
    status, d = call(url, "/route", {"prompt": "review this PR and flag anything wrong before I merge"})
    assert status == 200 and d["skill"] == "review"
    status, b = call(url, "/route/batch", {"prompts": ["thanks!", "/fix the login page"]})
    assert status == 200 and [x["skill"] for x in b["decisions"]] == [None, "fix"]
    status, s = call(url, "/shortlist", {"prompt": "review my diff", "k": 2})
    assert status == 200 and len(s["shortlist"]) == 2
    assert call(url, "/skills")[1]["skills"] and call(url, "/health")[1]["status"] == "ok"


def test_bad_requests_get_json_errors_and_the_server_keeps_serving(server):
    url, _ = server
    assert call(url, "/route", raw=b"{not json")[0] == 400
    status, err = call(url, "/route", {"text": "no prompt field"})
    assert status == 422 and "prompt" in err["error"]
    assert call(url, "/route/batch", {"prompts": []})[0] == 422
    assert call(url, "/shortlist", {"prompt": "x", "k": 0})[0] == 422
    # an oversized body is refused from its declared length, before it is read: send only the headers (a
    # client still writing a 1 MB body can meet a closed socket, which made this check flaky)
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"POST /route HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 1100000\r\n\r\n{")
        assert sock.recv(64).startswith(b"HTTP/1.1 413")
    assert call(url, "/route", {"prompt": "review this PR please"})[0] == 200


def test_concurrent_clients_get_the_same_answers_as_one_client(server):
    url, _ = server
    prompts = ["review this PR and flag anything wrong", "why is the cache hit rate dropping?",
               "write unit tests for the invoice totals", "thanks!"] * 4
    expected = [call(url, "/route", {"prompt": p})[1]["skill"] for p in prompts]
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda p: call(url, "/route", {"prompt": p})[1]["skill"], prompts))
    assert got == expected


def test_reloads_a_changed_catalog(server):
    url, cat = server
    before = call(url, "/skills")[1]["skills"]
    new = cat / "deploy"
    new.mkdir()
    (new / "SKILL.md").write_text("---\nname: deploy\ndescription: Ship the app to production.\n---\nBody\n")
    for _ in range(100):
        names = [s["name"] for s in call(url, "/skills")[1]["skills"]]
        if "deploy" in names:
            break
        time.sleep(0.1)
    assert "deploy" in names and len(names) == len(before) + 1


PAYLOAD = {"session_id": "abc123", "transcript_path": "/tmp/t.jsonl", "cwd": "/tmp",
           "hook_event_name": "UserPromptSubmit",
           "prompt": "the /orders endpoint returns 500 since we added the discount column, traceback points at "
                     "services/orders.py:88"}


def run_hook_cli(args, payload, tmp_path):
    log = tmp_path / "hook.log"
    out = subprocess.run([sys.executable, "-m", "skillroute.cli", "hook", "--log", str(log), *args],
                         input=payload if isinstance(payload, str) else json.dumps(payload),
                         capture_output=True, text=True, timeout=120)
    return out, log


def test_hook_in_process_end_to_end(tmp_path):
    out, log = run_hook_cli(["--skills", str(SKILLS), "--server", "none", "--threshold", "0.4"], PAYLOAD, tmp_path)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    ctx = data["hookSpecificOutput"]["additionalContext"]
    assert data["hookSpecificOutput"]["hookEventName"] == "UserPromptSubmit"
    assert "`fix`" in ctx and "backend-fastapi-python" in ctx
    assert "ok in-process fix" in log.read_text()


def test_hook_through_the_server(server, tmp_path):
    url, cat = server
    out, log = run_hook_cli(["--server", url, "--skills", str(cat), "--threshold", "0.4"], PAYLOAD, tmp_path)
    assert out.returncode == 0 and "`fix`" in out.stdout
    assert "ok server fix" in log.read_text()


def test_hook_ignores_a_server_of_another_catalog(server, tmp_path):
    """A server that answers on the port but serves other skills is not asked: the hook routes in-process."""
    url, _ = server
    other = tmp_path / "other"
    for name, text in [("deploy-app", "Use when shipping the app to production or staging."),
                       ("write-sql", "Use when writing or optimising SQL queries and migrations.")]:
        (other / name).mkdir(parents=True)
        (other / name / "SKILL.md").write_text(f"---\nname: {name}\ndescription: {text}\n---\n")
    out, log = run_hook_cli(["--server", url, "--skills", str(other), "--threshold", "0"],
                            {**PAYLOAD, "prompt": "ship the current build to staging"}, tmp_path)
    assert out.returncode == 0 and "`deploy-app`" in out.stdout and "`fix`" not in out.stdout
    text = log.read_text()
    assert "serves another catalog" in text and "ok in-process deploy-app" in text


def _impostor(decision: dict, health: dict):
    """Another local process on a port: it answers /health and /route as a server would, without the token."""
    import http.server

    class Handler(http.server.BaseHTTPRequestHandler):
        def _send(self, obj):
            data = json.dumps(obj).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            self._send({**health, "proof": "0" * 64})

        def do_POST(self):
            self._send({**decision, "catalog": health["catalog"], "proof": "0" * 64})

        def log_message(self, *args):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


@pytest.mark.parametrize("with_token_file", [False, True])
def test_hook_never_trusts_another_process_on_the_port(tmp_path, with_token_file):
    from skillroute import load_catalog

    fingerprint = load_catalog(SKILLS).fingerprint()
    srv = _impostor({"skill": "review", "also": [], "confidence": 1.0}, {"status": "ok", "catalog": fingerprint})
    port = srv.server_address[1]
    try:
        if with_token_file:
            issue_token(port)  # a real token exists, but the impostor cannot compute the proof
        out, log = run_hook_cli(["--server", f"http://127.0.0.1:{port}", "--skills", str(SKILLS),
                                 "--threshold", "0.4"], PAYLOAD, tmp_path)
    finally:
        srv.shutdown()
    assert out.returncode == 0 and "`fix`" in out.stdout and "`review`" not in out.stdout
    text = log.read_text()
    assert "not trusted" in text and "ok in-process fix" in text


def test_hook_deadline_says_nothing_and_exits_zero(tmp_path):
    import os

    stamp = Path(os.environ["SKILLROUTE_CACHE"]) / "warm.started"
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.touch()  # a background warm "already started": this test starts no process of its own
    t0 = time.monotonic()
    out, log = run_hook_cli(["--skills", str(SKILLS), "--server", "none", "--deadline", "0.1"], PAYLOAD, tmp_path)
    assert out.returncode == 0 and out.stdout == ""
    assert time.monotonic() - t0 < 30  # the process itself: interpreter start + 0.1 s, not a model load
    assert "timeout after 0.1s" in log.read_text()


def test_hook_is_silent_below_the_threshold_and_never_fails(tmp_path):
    out, _ = run_hook_cli(["--skills", str(SKILLS), "--server", "none"], {**PAYLOAD, "prompt": "thanks!"}, tmp_path)
    assert out.returncode == 0 and out.stdout == ""
    out, log = run_hook_cli(["--skills", str(SKILLS), "--server", "none"], "{broken json", tmp_path)
    assert out.returncode == 0 and out.stdout == "" and "error JSONDecodeError" in log.read_text()
    out, log = run_hook_cli(["--skills", str(tmp_path / "missing"), "--server", "none"], PAYLOAD, tmp_path)
    assert out.returncode == 0 and out.stdout == "" and "CatalogError" in log.read_text()


def test_json_only_loopback_hosts_json_errors_and_batch_limits(server):
    url, _ = server
    req = urllib.request.Request(url + "/route", data=b'{"prompt": "hi there"}', method="POST",
                                 headers={"Content-Type": "text/plain"})  # what a web page may send freely
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(req, timeout=30)
    assert info.value.code == 415
    req = urllib.request.Request(url + "/health", headers={"Host": "evil.example:8765"})  # DNS rebinding
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(req, timeout=30)
    assert info.value.code == 400
    assert call(url, "/nope") == (404, {"error": "Not Found"})
    status, out = call(url, "/route/batch", {"prompts": ["add a button"] * 257})
    assert status == 413 and "at most 256" in out["error"]
    status, out = call(url, "/route", raw=b"[" * 100_000 + b"]" * 100_000)
    assert status in (400, 413) and "error" in out
    status, out = call(url, "/shortlist", raw=b'{"prompt": "add a button", "k": ' + b"9" * 5000 + b"}")
    assert status == 400 and "error" in out


def test_one_failing_request_fails_alone(encoder):
    """A request that makes the router raise must not fail the others batched with it. No real input makes
    the router raise any more (requests are normalised first), so this router is made to fail on a marker."""

    from skillroute import load_catalog

    class Fragile(Router):
        def route_many(self, texts):
            if any("POISON" in t for t in texts):
                raise RuntimeError("poisoned batch")
            return super().route_many(texts)

    app = create_app([str(SKILLS)], lambda d: Fragile(load_catalog(*d), encoder), reload_interval=0)
    with serving(app, _free_port()) as url:
        prompts = ["add a logout button"] * 7 + ["POISON please"] + ["why is the build slow?"] * 7
        with ThreadPoolExecutor(len(prompts)) as pool:
            codes = [c for c, _ in pool.map(lambda p: call(url, "/route", {"prompt": p}), prompts)]
    assert codes[7] == 500 and codes.count(500) == 1 and codes.count(200) == 14


def test_a_full_queue_answers_429_and_the_server_recovers(encoder, monkeypatch):
    """The bounded queue, made small so a few clients fill it; the router is slowed down on purpose (no real
    request is slow enough on its own to fill a queue of 512 in a test)."""

    from skillroute import load_catalog
    from skillroute.harness import _server

    class Slow(Router):
        def route_many(self, texts):
            time.sleep(0.5)
            return super().route_many(texts)

    monkeypatch.setattr(_server, "MAX_QUEUE", 2)
    app = create_app([str(SKILLS)], lambda d: Slow(load_catalog(*d), encoder), reload_interval=0)
    with serving(app, _free_port()) as url:
        with ThreadPoolExecutor(12) as pool:
            codes = [c for c, _ in pool.map(lambda _: call(url, "/route", {"prompt": "add a button"}), range(12))]
        assert 429 in codes and 200 in codes and set(codes) <= {200, 429}
        assert call(url, "/route", {"prompt": "add a button"})[0] == 200  # and it recovers


def test_a_failed_reload_is_reported_until_one_succeeds(tmp_path, encoder):

    cat = tmp_path / "skills"
    shutil.copytree(SKILLS, cat, ignore=shutil.ignore_patterns(".skillroute"))
    app = create_app([str(cat)], lambda d: Router.from_path(*d, encoder=encoder, strict=True), reload_interval=0.1)
    with serving(app, _free_port()) as url:
        bad = cat / "fix" / "SKILL.md"
        good = bad.read_text()
        bad.write_text("---\nname: fix\ndescription: [unclosed\n---\n")  # a YAML error: strict loading refuses it
        for _ in range(50):
            if call(url, "/health")[1]["status"] != "ok":
                break
            time.sleep(0.1)
        time.sleep(0.5)  # several reload intervals later, still reported
        health = call(url, "/health")[1]
        assert health["status"] == "reload failed" and "CatalogError" in health["reload_error"]
        assert call(url, "/route", {"prompt": "fix the failing login test"})[0] == 200  # the last good catalog
        bad.write_text(good + "\n")
        for _ in range(50):
            if call(url, "/health")[1]["status"] == "ok":
                break
            time.sleep(0.1)
        assert call(url, "/health")[1]["reload_error"] is None


def test_the_hook_checks_a_server_without_importing_the_web_stack():
    """The hook is a fresh process per prompt: its server check must not import asyncio or starlette."""
    code = ("import sys\nfrom skillroute.harness import _hook\n"
            "_hook._via_server('http://127.0.0.1:1', 'hi', 'f')\n"
            "print(sorted(m for m in ('asyncio', 'starlette', 'uvicorn') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"

"""skillroute benchmarks: every figure a ratio against a baseline measured in the same run, same prompts.

    python benchmarks/run.py [--prompts 200] [--sizes 13,1000,10000] [--skip-eval]

Prints one table per section; `--json FILE` keeps the numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SKILLS = ROOT / "skills"
EVAL = ROOT / "eval" / "prompts.jsonl"
PY = sys.executable
CLI = str(Path(sys.executable).with_name("skillroute"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def median_ms(fn, items):
    out = []
    for x in items:
        t = time.perf_counter()
        fn(x)
        out.append((time.perf_counter() - t) * 1000)
    return statistics.median(out)


def run_child(cmd: list[str], env: dict | None = None, **kw) -> subprocess.CompletedProcess:
    """Run a command; when it fails, stop with its stderr shown, not a bare CalledProcessError."""
    out = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **(env or {})}, **kw)
    if out.returncode != 0:
        raise SystemExit(f"benchmark step failed ({out.returncode}): {' '.join(cmd)}\n{out.stderr[-4000:]}")
    return out


def wall(cmd: list[str], runs: int, env: dict | None = None) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        run_child(cmd, env)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def import_time() -> float:
    out = subprocess.run([PY, "-X", "importtime", "-c", "import skillroute"], capture_output=True, text=True).stderr
    line = [ln for ln in out.splitlines() if ln.rstrip().endswith("| skillroute")][-1]
    return int(line.split("|")[1]) / 1e6


def prompts(n: int) -> list[str]:
    rows = [json.loads(x) for x in EVAL.read_text().splitlines() if x.strip()]
    random.Random(0).shuffle(rows)
    return [r["prompt"] for r in rows[:n]]


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def section_cold(rows: list) -> None:
    from skillroute import Router

    Router.from_path(SKILLS, backend="onnx").warm()  # the export and the trigger cache exist
    prompt = "the login page crashes with a TypeError in auth.js line 12, fix it"
    bare = ("from sentence_transformers import SentenceTransformer\n"
            "from skillroute.core._encoder import resolve_model\n"
            "m = SentenceTransformer(str(resolve_model().path), device='cpu')\n"
            f"m.encode([{prompt!r}])\n")
    t_bare = wall([PY, "-c", bare], 3)
    t_route = wall([CLI, "route", "--json", "--skills", str(SKILLS), prompt], 5)
    t_torch = wall([CLI, "route", "--json", "--backend", "torch", "--skills", str(SKILLS), prompt], 3)
    t_int8 = wall([CLI, "route", "--json", "--skills", str(SKILLS), prompt], 5, {"SKILLROUTE_QUANTIZE": "1"})
    t_imp = statistics.median(import_time() for _ in range(5))
    rows += [
        ("cold", "import skillroute (s, -X importtime)", t_imp, None, "≤ 0.1 s"),
        ("cold", "bare: import sentence-transformers, load, encode one (s)", t_bare, 1.0, "baseline"),
        ("cold", "skillroute route --json, onnx (s)", t_route, t_route / t_bare, "≤ 0.5 s and ≤ 0.1×"),
        ("cold", "skillroute route --json, onnx int8 (s)", t_int8, t_int8 / t_bare, "opt-in"),
        ("cold", "skillroute route --json, torch backend (s)", t_torch, t_torch / t_bare, "≤ 1.2×"),
    ]


def section_warm(rows: list, texts: list[str]) -> None:
    import numpy as np

    from skillroute import Router, load_encoder

    onnx = load_encoder(backend="onnx")
    r = Router.from_path(SKILLS, encoder=onnx).warm()
    onnx.encode(texts[:5])
    base = median_ms(lambda t: onnx.encode([t]), texts)
    mine = median_ms(r.route, texts)
    short = [t for t in texts if "\n" not in t and len(t) < 100] or texts[:5]
    base_short = median_ms(lambda t: onnx.encode([t]), short)
    mine_short = median_ms(r.route, short)
    rows += [("warm", "onnx: bare encode of the prompt (ms, median)", base, 1.0, "baseline"),
             ("warm", "onnx: Router.route (ms, median)", mine, mine / base, "≤ 1.2×"),
             ("warm", f"onnx: bare encode, {len(short)} one-line prompts (ms, median)", base_short, 1.0, "baseline"),
             ("warm", "onnx: Router.route, the same one-line prompts (ms, median)", mine_short,
              mine_short / base_short, "≤ 1.2×")]
    t = time.perf_counter()
    onnx.encode(texts)
    bare_tp = len(texts) / (time.perf_counter() - t)
    t = time.perf_counter()
    r.route_many(texts)
    tp = len(texts) / (time.perf_counter() - t)
    rows += [("warm", "onnx: bare batched encode (prompts/s)", bare_tp, 1.0, "baseline"),
             ("warm", "onnx: Router.route_many (prompts/s)", tp, tp / bare_tp, "≥ 0.90×")]
    st = load_encoder(backend="torch")
    rt = Router.from_path(SKILLS, encoder=st).warm()
    model = st.model
    model.encode(texts[:5])
    base_t = median_ms(lambda t: model.encode([t]), texts)
    mine_t = median_ms(rt.route, texts)
    rows += [("warm", "torch: bare SentenceTransformer.encode (ms, median)", base_t, 1.0, "baseline"),
             ("warm", "torch: Router.route (ms, median)", mine_t, mine_t / base_t, "≤ 1.15×")]
    del np


def section_hook(rows: list, texts: list[str]) -> None:
    """The hook's round trip to a warm server: one client, then 8 concurrent ones against the bare batched
    encode of the same prompts (this machine's throughput limit)."""
    import socket
    import urllib.request
    from concurrent.futures import ThreadPoolExecutor

    from skillroute import Router, load_catalog, load_encoder
    from skillroute.harness._hook import _via_server

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    fingerprint = load_catalog(SKILLS).fingerprint()
    proc = subprocess.Popen([CLI, "serve", "--skills", str(SKILLS), "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(600):
            try:
                urllib.request.urlopen(url + "/health", timeout=1).read()
                break
            except OSError:
                if proc.poll() is not None:
                    raise SystemExit(f"the server did not start:\n{proc.stderr.read()[-4000:]}") from None
                time.sleep(0.1)
        sample = texts[:96]

        def ask(t):
            decision, why = _via_server(url, t, fingerprint)
            if decision is None:
                raise SystemExit(f"the hook did not use the server: {why}")
            return decision

        for t in sample[:8]:
            ask(t)
        one = median_ms(ask, sample)
        own = median_ms(Router.from_path(SKILLS).warm().route, sample)
        many = sample * 4
        t0 = time.perf_counter()
        def timed(t):
            start = time.perf_counter()
            ask(t)
            return (time.perf_counter() - start) * 1000

        with ThreadPoolExecutor(8) as pool:
            lat = sorted(pool.map(timed, many))
        server_tp = len(many) / (time.perf_counter() - t0)
        enc = load_encoder()
        t0 = time.perf_counter()
        enc.encode(many)
        bare_tp = len(many) / (time.perf_counter() - t0)
        p50, p99 = statistics.median(lat), lat[min(len(lat) - 1, int(0.99 * len(lat)))]
        payload = json.dumps({"prompt": sample[0], "hook_event_name": "UserPromptSubmit", "cwd": str(ROOT)})
        t_proc = []
        for _ in range(5):
            t0 = time.perf_counter()
            run_child([CLI, "hook", "--server", url, "--skills", str(SKILLS)], input=payload)
            t_proc.append(time.perf_counter() - t0)
    finally:
        proc.terminate()
        proc.wait(10)
    rows += [("hook", "router's own route time, in-process (ms, median)", own, 1.0, "baseline"),
             ("hook", "hook → warm server, one client, p50 (ms)", one, one / own, "≤ route + 5 ms"),
             ("hook", "bare batched encode of the same prompts (prompts/s)", bare_tp, 1.0, "baseline"),
             ("hook", "server, 8 concurrent clients (prompts/s)", server_tp, server_tp / bare_tp, "≥ 0.9×"),
             ("hook", "server, 8 concurrent clients, p50 (ms)", p50, None, ""),
             ("hook", "server, 8 concurrent clients, p99 (ms)", p99, p99 / p50, "p99 ≤ 3× p50"),
             ("hook", "whole `skillroute hook` process with a server (s, median)", statistics.median(t_proc), None, "")]


def synthetic_catalog(root: Path, n: int) -> None:
    verbs = ["deploy", "audit", "migrate", "render", "profile", "translate", "archive", "summarise", "validate",
             "schedule", "index", "compress", "sync", "monitor", "rotate", "import", "export", "lint", "bundle"]
    things = ["invoices", "kubernetes pods", "terraform state", "user avatars", "billing webhooks", "search indexes",
              "log files", "feature flags", "email templates", "mobile builds", "sql views", "cron jobs", "api keys",
              "docker images", "analytics events", "pdf reports", "graphql schemas", "cdn caches", "ssh keys"]
    rng = random.Random(n)
    for i in range(n):
        v, t, u = rng.choice(verbs), rng.choice(things), rng.choice(things)
        name = f"s{i:05d}-{v}"
        d = root / name
        d.mkdir(parents=True)
        desc = (f"Use when the user wants to {v} {t} or check how {t} are handled. Triggers include \"{v} the {t}\", "
                f"\"{v} {t} now\". Do NOT use for {u} work (→ {name}).")
        d.joinpath("SKILL.md").write_text(f"---\nname: {name}\ndescription: '{desc}'\n---\nBody.\n")


def section_scaling(rows: list, texts: list[str], sizes: list[int]) -> None:
    from skillroute import Router, load_catalog, load_encoder

    enc = load_encoder(backend="onnx")
    enc.encode(["warm up"])
    per = {}
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            cat_dir, cache = Path(tmp) / "skills", Path(tmp) / "cache"
            if n == 13:
                cat_dir = SKILLS
            else:
                synthetic_catalog(cat_dir, n)
            before = rss_mb()
            t = time.perf_counter()
            Router(load_catalog(cat_dir), enc, cache_folder=cache).warm()
            cold = time.perf_counter() - t
            t = time.perf_counter()
            r = Router(load_catalog(cat_dir), enc, cache_folder=cache).warm()
            warm_load = time.perf_counter() - t
            lat = median_ms(r.route, texts[:50])
            per[n] = lat
            rows += [("scale", f"{n} skills: load, empty cache (s)", cold, None, ""),
                     ("scale", f"{n} skills: load, warm cache (s)", warm_load, None, "≤ 1 s at 10,000"),
                     ("scale", f"{n} skills: route (ms, median)", lat, lat - per[sizes[0]],
                      "≤ +5 ms at 10,000"),
                     ("scale", f"{n} skills: memory growth (MB RSS)", rss_mb() - before, None, "")]
            if n == max(sizes):  # the same routes with BLAS free to use every thread (before the one-thread hold)
                from skillroute.core import _engine

                held, _engine.SMALL_BATCH = _engine.SMALL_BATCH, -1
                try:
                    free = median_ms(r.route, texts[:50])
                finally:
                    _engine.SMALL_BATCH = held
                rows.append(("scale", f"{n} skills: route, BLAS threads not held to one (ms, median)", free,
                             free / lat, "ratio to the route above"))


def section_eval(rows: list) -> None:
    out = {}
    for label, env in [("onnx", {"SKILLROUTE_BACKEND": "onnx"}), ("torch", {"SKILLROUTE_BACKEND": "torch"}),
                       ("onnx int8", {"SKILLROUTE_BACKEND": "onnx", "SKILLROUTE_QUANTIZE": "1"})]:
        with tempfile.NamedTemporaryFile(suffix=".json") as f:
            run_child([CLI, "eval", "--skills", str(SKILLS), "--data", str(EVAL), "--split", "test", "--quiet",
                       "--json", f.name], env)
            out[label] = json.loads(Path(f.name).read_text())["top1"]
    rows += [("eval", "top-1 on the test split, torch backend", out["torch"], None, "baseline"),
             ("eval", "top-1 on the test split, onnx backend", out["onnx"], out["onnx"] - out["torch"],
              "within 0.002"),
             ("eval", "top-1 on the test split, onnx int8", out["onnx int8"], out["onnx int8"] - out["torch"],
              "opt-in unless within 0.005")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--prompts", type=int, default=200, help="eval prompts used for latency figures")
    ap.add_argument("--sizes", default="13,1000,10000", help="catalog sizes for the scaling section")
    ap.add_argument("--skip-eval", action="store_true", help="skip the backend accuracy comparison")
    ap.add_argument("--only", choices=["cold", "warm", "hook", "scale", "eval"], help="run one section")
    ap.add_argument("--json", help="also write the rows as JSON")
    args = ap.parse_args()
    texts = prompts(args.prompts)
    rows: list = []
    run = lambda s: args.only in (None, s)  # noqa: E731
    if run("cold"):
        section_cold(rows)
    if run("warm"):
        section_warm(rows, texts)
    if run("hook"):
        section_hook(rows, texts)
    if run("scale"):
        section_scaling(rows, texts, [int(x) for x in args.sizes.split(",")])
    if run("eval") and not args.skip_eval:
        section_eval(rows)
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"skillroute benchmarks ({os.cpu_count()} cores, {args.prompts} eval prompts)")
    for c in ("section", "figure", "value", "ratio / delta", "target"):
        table.add_column(c)
    for sec, name, value, ratio, target in rows:
        table.add_row(sec, name, f"{value:.4g}", "" if ratio is None else f"{ratio:.3g}", target)
    Console(width=140).print(table)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    sys.exit(main())

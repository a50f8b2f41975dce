"""Smoke tests of the benchmark script: each section runs end to end on a few prompts and reports its rows
(the figures themselves are measured by `python benchmarks/run.py`, never asserted in a test)."""

import json
import subprocess
import sys

import pytest

from .conftest import ROOT


@pytest.mark.parametrize("args, expect", [
    (["--only", "warm"], "onnx: Router.route (ms, median)"),
    (["--only", "hook"], "server, 8 concurrent clients (prompts/s)"),
    (["--only", "scale", "--sizes", "13,40"], "40 skills: route (ms, median)"),
])
def test_benchmark_section_runs(tmp_path, args, expect):
    out = tmp_path / "rows.json"
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "run.py"), "--prompts", "5", "--json", str(out),
                        *args], capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-3000:]
    rows = json.loads(out.read_text())
    assert any(name == expect and value > 0 for _, name, value, _, _ in rows)

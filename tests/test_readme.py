"""The README's quickstart runs as pasted and prints what the README shows."""

import re
import subprocess
import sys

from .conftest import ROOT


def test_quickstart_prints_what_the_readme_shows():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    quick = text[text.index("## Quickstart"):]
    code = re.search(r"```python\n(.*?)```", quick, re.DOTALL).group(1)
    shown = re.search(r"prints \(a real run\):\n\n```\n(.*?)```", quick, re.DOTALL).group(1).splitlines()
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    got = out.stdout.splitlines()
    assert len(got) == len(shown)
    line = re.compile(r"^(\S+) (\[.*\]) ([\d.]+)$")  # skill, also, confidence
    (g_skill, g_also, g_conf), (s_skill, s_also, s_conf) = line.match(got[0]).groups(), line.match(shown[0]).groups()
    assert (g_skill, g_also) == (s_skill, s_also)
    assert abs(float(g_conf) - float(s_conf)) < 0.01
    assert got[2].split(",")[0] == shown[2].split(",")[0]  # the reason names the same skill and head


def test_the_runnable_shell_block_runs_as_pasted():
    """Every `$ ` line of the README block marked runnable exits 0 and prints something, from the repository
    root, as a newcomer would paste it."""
    import os

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- runnable -->\n```console\n(.*?)```", text, re.DOTALL).group(1)
    lines = [line[2:] for line in block.splitlines() if line.startswith("$ ")]
    assert len(lines) >= 6
    for line in lines:
        out = subprocess.run(["bash", "-c", line], cwd=ROOT, capture_output=True, text=True, timeout=300,
                             env={**os.environ, "HF_HUB_OFFLINE": "1"})
        assert out.returncode == 0, f"{line}\n{out.stdout}\n{out.stderr}"
        assert out.stdout.strip(), line

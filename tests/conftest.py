"""Shared fixtures: the real packaged model, loaded once per test session, and a private cache folder."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

# Every test run starts from an empty cache of its own: nothing a developer's earlier run left is trusted.
os.environ["SKILLROUTE_CACHE"] = tempfile.mkdtemp(prefix="skillroute-test-cache-")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parent.parent
SKILLS = ROOT / "skills"
EVAL = ROOT / "eval" / "prompts.jsonl"


@pytest.fixture(scope="session")
def catalog():
    from skillroute import load_catalog

    return load_catalog(SKILLS)


@pytest.fixture(scope="session")
def encoder():
    """The default encoder (ONNX backend over the packaged all-MiniLM-L6-v2)."""
    from skillroute import load_encoder

    return load_encoder(backend="onnx")


@pytest.fixture(scope="session")
def torch_encoder():
    from skillroute import load_encoder

    return load_encoder(backend="torch")


@pytest.fixture(scope="session")
def router(catalog, encoder):
    from skillroute import Router

    return Router(catalog, encoder)


def write_skill(root: Path, name: str, description: str, extra: str = "", body: str = "Body.\n",
                folder: str | None = None) -> Path:
    """Write ``root/<folder or name>/SKILL.md`` with the given frontmatter fields."""
    import yaml

    d = root / (folder or name)
    d.mkdir(parents=True, exist_ok=True)
    front = yaml.safe_dump({"name": name, "description": description}, sort_keys=False, allow_unicode=True)
    (d / "SKILL.md").write_text(f"---\n{front}{extra}---\n\n{body}", encoding="utf-8")
    return d / "SKILL.md"

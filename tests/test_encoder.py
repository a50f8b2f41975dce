"""Encoders and caches: model verification, backend agreement, corrupt caches, no torch on the lean path."""

import os
import subprocess
import sys

import numpy as np
import pytest

from skillroute import ModelError
from skillroute.cache import EmbeddingCache
from skillroute.encoder import PACKAGED_MODEL_SHA256, _packaged_model_dir, resolve_model


def test_packaged_model_is_verified():
    src = resolve_model()
    assert src.sha256 == PACKAGED_MODEL_SHA256 and src.path is not None


def test_tampered_packaged_model_is_refused(tmp_path, monkeypatch):
    # A fault we cannot cause on the installed package without breaking it: a copy with other weights.
    fake = tmp_path / "model"
    fake.mkdir()
    (fake / "model.safetensors").write_bytes(b"not the real weights")
    monkeypatch.setattr("skillroute.encoder._packaged_model_dir", lambda: fake)
    with pytest.raises(ModelError, match="not the official"):
        resolve_model()


def test_model_argument_and_env(tmp_path, monkeypatch):
    with pytest.raises(ModelError):
        resolve_model(str(tmp_path / "missing" / "model"))
    monkeypatch.setenv("SKILLROUTE_MODEL", str(_packaged_model_dir()))
    assert resolve_model().path == _packaged_model_dir()


def test_onnx_matches_sentence_transformers(encoder, torch_encoder):
    texts = ["the /orders endpoint returns 500", "why does useEffect run twice?", "x " * 400]
    a, b = encoder.encode(texts), torch_encoder.encode(texts)
    assert np.allclose(np.linalg.norm(a, axis=1), 1, atol=1e-4)
    assert (a * b).sum(1).min() > 1 - 1e-4


def test_corrupt_cache_is_rebuilt(encoder, tmp_path):
    cache = EmbeddingCache(encoder, tmp_path)
    first = cache.embed(["alpha", "beta"])
    cache.path.write_bytes(b"garbage")
    again = EmbeddingCache(encoder, tmp_path)
    with pytest.warns(UserWarning, match="unreadable"):
        second = again.embed(["alpha", "beta"])
    assert np.allclose(first, second, atol=1e-5)
    assert np.allclose(EmbeddingCache(encoder, tmp_path).embed(["beta"]), first[1:], atol=1e-6)


def test_routing_with_onnx_imports_no_heavy_module(encoder, catalog):
    code = (
        "import sys\n"
        "from skillroute import Router\n"
        "r = Router.from_path(sys.argv[1], backend='onnx')\n"
        "d = r.route('the login page crashes with a TypeError in auth.js line 12, fix it')\n"
        "heavy = [m for m in ('torch', 'transformers', 'sentence_transformers', 'sklearn') if m in sys.modules]\n"
        "print(d.skill, heavy)\n"
        "assert not heavy, heavy\n"
    )
    encoder.encode(["warm the export"])  # the export exists in this session's cache
    from .conftest import SKILLS

    out = subprocess.run([sys.executable, "-c", code, str(SKILLS)], capture_output=True, text=True,
                         env={**os.environ}, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "[]" in out.stdout


def test_import_is_light():
    out = subprocess.run([sys.executable, "-c", "import sys, skillroute; print(sorted(m for m in sys.modules "
                          "if m.split('.')[0] in ('numpy', 'torch', 'yaml', 'click')))"],
                         capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]"

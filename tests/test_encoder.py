"""Encoders and caches: model verification, backend agreement, corrupt caches, no torch on the lean path."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from skillroute import ModelError
from skillroute.core._cache import EmbeddingCache
from skillroute.core._encoder import PACKAGED_MODEL_SHA256, _packaged_model_dir, resolve_model


def test_packaged_model_is_verified():
    src = resolve_model()
    assert src.sha256 == PACKAGED_MODEL_SHA256 and src.path is not None


def test_tampered_packaged_model_is_refused(tmp_path, monkeypatch):
    # A fault we cannot cause on the installed package without breaking it: a copy with other weights.
    fake = tmp_path / "model"
    fake.mkdir()
    (fake / "model.safetensors").write_bytes(b"not the real weights")
    monkeypatch.setattr("skillroute.core._encoder._packaged_model_dir", lambda: fake)
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


# A routing-only install has no torch, transformers, sentence-transformers, peft, scikit-learn or scipy.
# Installing a second environment in a test is slow and needs the package index, so the child process is
# made to see them as absent: sys.modules holds None for each, which import and find_spec both honour.
_BLOCK_TRAINING_STACK = (  # None in sys.modules: `import` raises ImportError, find_spec answers None
    "import sys\n"
    "for name in ('torch', 'transformers', 'sentence_transformers', 'peft', 'sklearn', 'scipy'):\n"
    "    sys.modules[name] = None\n"
)


def _run_without_training_stack(code: str, tmp_path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "SKILLROUTE_CACHE": str(tmp_path / "cache")}  # empty: merge and export happen here
    return subprocess.run([sys.executable, "-c", _BLOCK_TRAINING_STACK + code, *args], capture_output=True,
                          text=True, env=env, timeout=300)


def test_fitted_router_routes_without_the_training_stack(tmp_path):
    from .conftest import SKILLS

    code = (
        "import json\n"
        "from skillroute import Router\n"
        "r = Router.from_path(sys.argv[1])\n"
        "d = r.route('the /orders endpoint returns 500 since the discount column, traceback in orders.py:88')\n"
        "print(json.dumps([r.head_ is not None, d.skill, d.confidence]))\n"
    )
    out = _run_without_training_stack(code, tmp_path, str(SKILLS))
    assert out.returncode == 0, out.stderr
    fitted, skill, confidence = json.loads(out.stdout)
    assert fitted and skill == "fix" and 0 < confidence <= 1
    assert "building the ONNX encoder" in out.stderr  # a first run says what it is doing


def test_missing_extra_is_named(tmp_path):
    code = "from skillroute.evaluation import confusion\nconfusion(['a'], ['a'], labels=['a'])\n"
    out = _run_without_training_stack(code, tmp_path)
    assert out.returncode != 0
    assert "MissingExtraError" in out.stderr and "pip install 'skillroute[eval]'" in out.stderr


def test_graph_matches_the_torch_model_with_a_merged_delta(tmp_path, torch_encoder):
    """The numpy merge + hand-built graph equals peft's merge run through transformers (the reference)."""
    pytest.importorskip("peft")
    import torch
    from peft import LoraConfig, get_peft_model, set_peft_model_state_dict
    from transformers import AutoModel, AutoTokenizer

    from skillroute.core._bert_onnx import build_bert_onnx
    from skillroute.learning._finetune import LORA_TARGETS, mean_pool

    src = resolve_model()
    rng = np.random.default_rng(0)
    model = get_peft_model(AutoModel.from_pretrained(str(src.path)),
                           LoraConfig(r=4, lora_alpha=8, target_modules=LORA_TARGETS, lora_dropout=0.0))
    names = [k for k in model.state_dict() if "lora_" in k]
    delta = {k.replace(".default", ""): (rng.standard_normal(model.state_dict()[k].shape) * 0.05).astype(np.float32)
             for k in names}
    set_peft_model_state_dict(model, {k: torch.from_numpy(v) for k, v in delta.items()})
    texts = ["fix the flaky login test", "a much longer request about the billing service " * 5]
    tok = AutoTokenizer.from_pretrained(str(src.path))
    batch = tok(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        ref = mean_pool(model.merge_and_unload()(**batch).last_hidden_state, batch["attention_mask"]).numpy()
    import onnxruntime as ort

    session = ort.InferenceSession(build_bert_onnx(src.path, delta, scaling=8 / 4), providers=["CPUExecutionProvider"])
    got = session.run(None, {k: v.numpy() for k, v in batch.items()})[0]
    assert np.abs(got - ref).max() < 1e-4
    assert np.abs(got - torch_encoder.encode(texts)).max() > 1e-3  # the delta did change the vectors


def test_a_delta_that_does_not_fit_the_model_is_refused():
    from skillroute.core._bert_onnx import merge_lora

    base = {"encoder.layer.0.attention.self.query.weight": np.zeros((4, 4), dtype=np.float32)}
    good = {"base_model.model.encoder.layer.0.attention.self.query.lora_A.weight": np.ones((2, 4), np.float16),
            "base_model.model.encoder.layer.0.attention.self.query.lora_B.weight": np.ones((4, 2), np.float16)}
    merged = merge_lora(base, good, scaling=0.5)
    assert np.allclose(merged["encoder.layer.0.attention.self.query.weight"], 1.0)  # 0.5 · (1·1 + 1·1)
    with pytest.raises(ModelError, match="does not match the base model"):
        merge_lora(base, {k.replace("query", "key"): v for k, v in good.items()}, 1.0)
    with pytest.raises(ModelError, match="do not fit"):
        merge_lora(base, {**good, next(iter(good)): np.ones((2, 5), np.float16)}, 1.0)


def test_int8_export_is_quantised_from_the_plain_graph_and_stays_close(encoder, tmp_path):
    from skillroute import load_encoder
    from skillroute.core._encoder import _export_meta, export_onnx

    int8 = load_encoder(backend="onnx", quantize=True)
    texts = ["fix the failing login test", "why does useEffect run twice?", "plan the billing migration"]
    a, b = encoder.encode(texts), int8.encode(texts)
    assert (a * b).sum(1).min() > 0.98  # int8 weights per channel: close to fp32, not equal
    path = export_onnx(resolve_model(), quantize=True)
    assert _export_meta(path)["quantized"] is True and path.stat().st_size < 0.4 * export_onnx(resolve_model()).stat().st_size


def test_an_unwritable_cache_folder_falls_back_with_a_warning(tmp_path, monkeypatch):
    """A cache under a file cannot be created (as root, a read-only mode would not stop the test's writes)."""
    from skillroute.core import _storage

    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("SKILLROUTE_CACHE", str(blocker / "cache"))
    monkeypatch.setattr(_storage, "_USABLE", {})
    with pytest.warns(UserWarning, match="cannot be written"):
        used = _storage.cache_dir()
    assert used != blocker / "cache" and used.is_dir()
    assert _storage.cache_dir() == used  # decided once per process

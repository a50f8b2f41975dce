"""The description-reading fine-tune: a tiny real run (a few steps on a few skills), the delta's file, the
merge (merged vectors equal the unmerged LoRA model's), and a fitted router that carries a delta."""

import hashlib
import json
import shutil

import numpy as np
import pytest

from skillroute import ModelError, Router, load_catalog
from skillroute.core._dataset import load_examples
from skillroute.core._delta import ADAPTER_FILE, FinetuneConfig, LoraDelta, _merged_dir, merged_model
from skillroute.core._encoder import load_encoder, resolve_model
from skillroute.learning._finetune import finetune

from .conftest import EVAL, SKILLS

TINY = FinetuneConfig(steps=3, batch_size=8, max_length=64, learning_rate=5e-3, seed=0)
SKILLSET = ("diagnose", "fix", "discuss", "give-plan")


@pytest.fixture(scope="module")
def few():
    """Train prompts of four skills the issue says a topic embedding confuses (diagnose/fix, discuss/plan)."""
    ex = [e for e in load_examples(EVAL, split="train") if e.skill in SKILLSET + ("none",)]
    return ex[:60]


@pytest.fixture(scope="module")
def delta(catalog, few):
    skills = [(s.name, list(s.triggers)) for s in catalog.exclusive if s.name in SKILLSET]
    return finetune(resolve_model(), skills, [e.prompt for e in few], [e.skill for e in few], config=TINY)


def test_delta_is_small_finite_and_deterministic(catalog, few, delta):
    # rank 8 on every linear layer of MiniLM's six blocks: the 332k parameters
    assert delta.n_parameters == 331_776
    assert len(delta.history) == TINY.steps and all(np.isfinite(delta.history))
    assert any(np.abs(v).max() > 0 for k, v in delta.tensors.items() if "lora_B" in k)  # it learned something
    skills = [(s.name, list(s.triggers)) for s in catalog.exclusive if s.name in SKILLSET]
    again = finetune(resolve_model(), skills, [e.prompt for e in few], [e.skill for e in few], config=TINY)
    assert again.sha256 == delta.sha256


def test_delta_file_round_trips_without_pickle(delta, tmp_path):
    path = delta.save(tmp_path)
    assert path.name == ADAPTER_FILE and path.stat().st_size < 1_000_000  # fp16: about 0.67 MB
    back = LoraDelta.load(tmp_path)
    assert back.sha256 == delta.sha256 and back.config == delta.config
    path.write_bytes(b"not a safetensors file")
    with pytest.raises(ModelError, match="refit"):
        LoraDelta.load(tmp_path)


def test_merged_vectors_equal_the_unmerged_lora_model(delta):
    import torch
    from peft import set_peft_model_state_dict

    from skillroute.learning._finetune import _embed, _lora_model

    source = resolve_model()
    texts = ["the checkout page throws a 500 after the last deploy, find out why",
             "let's talk through whether we should move the queue to Kafka", "hi"]
    model, tok = _lora_model(source.path, delta.config)
    set_peft_model_state_dict(model, {k: torch.from_numpy(v.astype(np.float32)) for k, v in delta.tensors.items()})
    with torch.no_grad():
        unmerged = _embed(model.eval(), tok, texts, 256).numpy()
    folder = merged_model(source, delta)
    assert merged_model(source, delta_sha=delta.sha256, build=False) == folder  # made once, then found
    for backend in ("torch", "onnx"):
        merged = load_encoder(folder, backend=backend).encode(texts)
        assert np.abs(merged - unmerged).max() < 1e-4, backend
    base = load_encoder(backend="onnx").encode(texts)
    assert np.abs(base - unmerged).max() > 1e-3  # the delta changed the model: the check above could fail


def test_fitted_router_carries_its_delta(tmp_path, encoder, few, delta):
    cat_dir = tmp_path / "skills"
    shutil.copytree(SKILLS, cat_dir, ignore=shutil.ignore_patterns(".skillroute"))
    r = Router(load_catalog(cat_dir), encoder, finetune_config=TINY).fit(few)
    assert r.adapter_ is not None and r._get_encoder().name != encoder.name
    out = r.save_fitted(tmp_path / "art")
    meta = json.loads((out / "meta.json").read_text())
    assert meta["adapter"]["sha256"] == r.adapter_.sha256 and meta["model_sha256"] == encoder.name.split(":")[0]
    loaded = Router.from_path(cat_dir, encoder=encoder, fitted=out)
    assert loaded._get_encoder().name == r._get_encoder().name  # routes with base + delta merged
    texts = [e.prompt for e in load_examples(EVAL, split="test")[:10]]
    assert [d.skill for d in loaded.route_many(texts)] == [d.skill for d in r.route_many(texts)]
    zero = Router.from_path(cat_dir, encoder=encoder, fitted=None)  # zero-shot: the packaged general reader
    assert zero.describe() == "description router, general reader" and zero._get_encoder() is not encoder
    assert Router.from_path(cat_dir, encoder=encoder, fitted=None, reader=None)._get_encoder() is encoder
    # refitting without the fine-tune reads through the general reader, and its artifact drops the delta
    r.set_params(finetune=False).fit(few).save_fitted(out)
    assert r._get_encoder() is r._get_reader() and not (out / ADAPTER_FILE).exists()
    assert json.loads((out / "meta.json").read_text())["reader_sha256"] == r._reader_delta().sha256
    with pytest.raises(ModelError, match="general reader"):  # a head fitted on the reader needs the reader
        Router.from_path(cat_dir, encoder=encoder, fitted=out, reader=None)
    # a head fitted on the base model alone (as before the reader shipped) still loads, and reads with the base
    base_fit = Router(load_catalog(cat_dir), encoder, reader=None, finetune=False).fit(few)
    base_fit.save_fitted(tmp_path / "base-art")
    again = Router.from_path(cat_dir, encoder=encoder, fitted=tmp_path / "base-art")
    assert again._get_encoder() is encoder and again.describe() == "fitted router, base encoder"
    assert [d.skill for d in again.route_many(texts)] == [d.skill for d in base_fit.route_many(texts)]


def test_a_tampered_delta_is_refused(tmp_path, catalog, encoder, few):
    r = Router(catalog, encoder, seed=1, finetune_config=FinetuneConfig(steps=1, batch_size=4, max_length=32)).fit(few)
    out = r.save_fitted(tmp_path / "art")
    arrays = LoraDelta.load(out)
    key = next(k for k in arrays.tensors if "lora_B" in k)
    arrays.tensors[key] = arrays.tensors[key] + np.float16(0.01)
    arrays.save(out)
    shutil.rmtree(_merged_dir(resolve_model().sha256, r.adapter_.sha256))  # as if never merged on this machine
    with pytest.raises(ModelError, match="encoder-lora.safetensors: its sha256 is not the one meta.json records"):
        Router(catalog, encoder).load_fitted(out)
    meta = json.loads((out / "meta.json").read_text())  # a hand edit that also re-hashed the file
    meta["files"][ADAPTER_FILE] = hashlib.sha256((out / ADAPTER_FILE).read_bytes()).hexdigest()
    (out / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="does not match"):  # the delta's own hash, recorded at fit time
        Router(catalog, encoder).load_fitted(out)


def test_episodes_train_a_catalog_per_step_deterministically(catalog, few):
    """Two catalogs, each its own softmax: the episode trainer runs and repeats itself exactly."""
    from skillroute.learning._finetune import Episode, finetune_episodes

    by = {s.name: list(s.triggers) for s in catalog.exclusive}
    one = Episode([(n, by[n]) for n in ("diagnose", "fix")], [e.prompt for e in few], [e.skill for e in few])
    two = Episode([(n, by[n]) for n in ("discuss", "give-plan")], [e.prompt for e in few], [e.skill for e in few])
    cfg = FinetuneConfig(steps=2, batch_size=4, max_length=32, seed=1)
    a = finetune_episodes(resolve_model(), [one, two], config=cfg)
    b = finetune_episodes(resolve_model(), [one, two], config=cfg)
    assert a.sha256 == b.sha256 and len(a.history) == 2 and all(np.isfinite(a.history))
    with pytest.raises(ValueError, match="at least two skills"):
        finetune_episodes(resolve_model(), [Episode([("fix", by["fix"])], ["x"], ["fix"])], config=cfg)


def test_a_general_reader_encodes_when_no_fitted_delta_does(catalog, encoder, delta, tmp_path):
    delta.save(tmp_path)
    plain = Router(catalog, encoder)
    read = Router(catalog, encoder, reader=tmp_path)
    assert read._get_encoder().name != plain._get_encoder().name  # base + the reader's delta, merged
    assert read._get_encoder().name == load_encoder(merged_model(resolve_model(), delta), backend="onnx").name
    d = read.route("why does the nightly export hang since tuesday?")
    assert d.skill is None or d.skill in catalog


def test_a_fit_over_a_reader_fine_tunes_the_base_model(catalog, encoder, few, delta, tmp_path):
    """The fitted delta is relative to the base model (its merge checks that), whatever encodes zero-shot."""
    delta.save(tmp_path / "reader")
    r = Router(catalog, encoder, reader=tmp_path / "reader", finetune_config=TINY).fit(few)
    assert r.adapter_.base_sha256 == resolve_model().sha256
    out = r.save_fitted(tmp_path / "art")
    loaded = Router(catalog, encoder, reader=tmp_path / "reader").load_fitted(out)  # merges without a mismatch
    assert loaded._get_encoder().name == r._get_encoder().name

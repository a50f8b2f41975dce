"""Fitted routing: the test split never reaches fit, the artifact round-trips without pickle, and a new
skill or an edited description still routes by its description."""

import json
import shutil
import subprocess
import sys
import warnings

import numpy as np
import pytest
from click.testing import CliRunner

from skillroute import DataError, ModelError, NotFittedError, Router
from skillroute.cli import main
from skillroute.core._dataset import load_examples
from skillroute.core._head import FittedHead, data_sha
from skillroute.core._router import FITTED_SUBDIR

from .conftest import EVAL, SKILLS, write_skill

SHIPPED = SKILLS / FITTED_SUBDIR


@pytest.fixture(scope="session")
def small_train():
    """A few train prompts of every class, enough for a quick fit."""
    ex = load_examples(EVAL, split="train")
    out, seen = [], {}
    for e in ex:
        if seen.get(e.skill, 0) < 10:
            seen[e.skill] = seen.get(e.skill, 0) + 1
            out.append(e)
    return out


@pytest.fixture(scope="session")
def fitted_small(catalog, encoder, small_train):
    return Router(catalog, encoder, seed=0, finetune=False).fit(small_train)


def test_fit_refuses_the_test_split(catalog, encoder):
    test = load_examples(EVAL, split="test")[:5]
    with pytest.raises(DataError, match="test split"):
        Router(catalog, encoder).fit(test)


def test_fit_on_one_label_is_a_data_error(catalog, encoder, small_train):
    one = [e for e in small_train if e.skill == "fix"]
    with pytest.raises(DataError, match="at least two labels"):
        Router(catalog, encoder, finetune=False).fit(one)


def test_estimator_api(catalog, encoder, fitted_small):
    from skillroute.core import check_is_fitted, clone

    r = Router(catalog, encoder, floor=0.2, finetune=False)
    assert r.get_params()["floor"] == 0.2 and r.get_params()["encoder"] is encoder
    with pytest.raises(NotFittedError):
        check_is_fitted(r)
    with pytest.raises(ValueError, match="no parameter"):
        r.set_params(flor=0.3)
    twin = clone(fitted_small)
    assert twin.fitted_ is None and twin.get_params() == fitted_small.get_params()
    held = load_examples(EVAL, split="test")[:40]
    # score() is top-1 with acceptable labels, the same figure the evaluator reports
    decisions = fitted_small.route_many([e.prompt for e in held])
    assert fitted_small.score(held) == pytest.approx(sum(e.is_right(d.skill) for e, d in zip(held, decisions)) / 40)


def test_shipped_artifact_was_fitted_on_the_train_splits_only():
    """The shipped head read the train splits of the written set and of the real-form set, nothing else."""
    meta = json.loads((SHIPPED / "meta.json").read_text())
    train = load_examples(EVAL, split="train") + load_examples(EVAL.parent / "realform.jsonl", split="train")
    assert meta["data_sha256"] == data_sha([e.prompt for e in train], [e.skill for e in train])
    assert meta["n_examples"] == len(train)


def test_fit_is_deterministic_and_round_trips(catalog, encoder, small_train, fitted_small, tmp_path):
    again = Router(catalog, encoder, seed=0, finetune=False).fit(small_train)
    assert np.array_equal(again.head_.head.coef, fitted_small.head_.head.coef)
    fitted_small.save_fitted(tmp_path / "art")
    assert {p.name for p in (tmp_path / "art").iterdir()} == {"head.npz", "meta.json", "vocabulary.json"}
    loaded = Router(catalog, encoder).load_fitted(tmp_path / "art")
    texts = [e.prompt for e in load_examples(EVAL, split="test")[:20]]
    a, b = fitted_small.route_many(texts), loaded.route_many(texts)
    assert [(d.skill, d.also) for d in a] == [(d.skill, d.also) for d in b]
    for x, y in zip(a, b, strict=True):
        assert x.confidence == pytest.approx(y.confidence, abs=1e-3)


def test_saving_swaps_the_whole_artifact_and_a_torn_one_is_a_model_error(catalog, encoder, fitted_small, tmp_path):
    art = tmp_path / "art"
    fitted_small.save_fitted(art)
    (art / "encoder-lora.safetensors").write_bytes(b"stale")  # left by an earlier fit with a fine-tune
    fitted_small.save_fitted(art)  # written beside, then swapped in whole: nothing stale survives
    assert {p.name for p in art.iterdir()} == {"head.npz", "meta.json", "vocabulary.json"}
    assert [p.name for p in tmp_path.iterdir()] == ["art"]  # no temporary or old folder left
    head = (art / "head.npz").read_bytes()
    (art / "head.npz").write_bytes(head[: len(head) // 10])  # as a write killed half-way used to leave it
    with pytest.raises(ModelError, match=r"head.npz: its sha256 is not the one meta.json records"):
        Router(catalog, encoder).load_fitted(art)
    with pytest.warns(UserWarning, match="routing zero-shot"):  # "auto" falls back to the descriptions
        shutil.copytree(SKILLS, tmp_path / "cat", ignore=shutil.ignore_patterns(".skillroute"))
        shutil.copytree(art, tmp_path / "cat" / ".skillroute" / "fitted")
        r = Router.from_path(tmp_path / "cat", encoder=encoder)
    assert r.head_ is None


@pytest.mark.parametrize("tamper, message", [
    (lambda a: a.__setitem__("head.coef", a["head.coef"][:, :-1]), "the head model has shapes"),
    (lambda a: a["head.coef"].__setitem__((0, 0), np.nan), "not finite"),
    (lambda a: a.__setitem__("head.scale", np.zeros_like(a["head.scale"])), "zero scale"),
])
def test_an_inconsistent_head_is_a_model_error_naming_what(tmp_path, fitted_small, tamper, message):
    """A head whose arrays disagree (re-hashed, as a hand edit would be) is refused, never applied."""
    import hashlib

    art = fitted_small.save_fitted(tmp_path / "art")
    with np.load(art / "head.npz") as data:
        arrays = {k: data[k] for k in data.files}
    tamper(arrays)
    np.savez_compressed(art / "head.npz", **arrays)
    meta = json.loads((art / "meta.json").read_text())
    meta["files"]["head.npz"] = hashlib.sha256((art / "head.npz").read_bytes()).hexdigest()
    (art / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match=message):
        Router(fitted_small.catalog, fitted_small.encoder).load_fitted(art)


def test_an_artifact_without_file_hashes_is_refused(tmp_path, fitted_small):
    art = fitted_small.save_fitted(tmp_path / "art")
    meta = json.loads((art / "meta.json").read_text())
    del meta["files"]
    (art / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="lists no file hashes"):
        Router(fitted_small.catalog, fitted_small.encoder).load_fitted(art)


def test_numpy_tfidf_equals_scikit_learn():
    from sklearn.feature_extraction.text import TfidfVectorizer

    from skillroute.learning._head_fit import _fit_vectorizer

    texts = [e.prompt for e in load_examples(EVAL, split="train")[:200]]
    ours, matrix = _fit_vectorizer(texts)
    ref = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2).fit(texts)
    probe = texts[:20] + ["Ünïcode wörds and the /orders endpoint returns 500 500 500"]
    want = ref.transform(probe).toarray()
    got = np.zeros_like(want)
    for i, (idx, val) in enumerate(ours.rows(probe)):
        got[i, idx] = val
    assert np.allclose(got, want, atol=1e-9)
    del matrix


def test_from_path_uses_the_shipped_artifact_unless_zero_shot():
    assert Router.from_path(SKILLS).head_ is not None
    assert Router.from_path(SKILLS, fitted=None).head_ is None


def test_artifact_of_another_model_is_refused(tmp_path, catalog, encoder):
    art = tmp_path / "art"
    shutil.copytree(SHIPPED, art)
    meta = json.loads((art / "meta.json").read_text())
    meta["model_sha256"] = "0" * 64
    (art / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="refit"):
        Router(catalog, encoder).load_fitted(art)
    cat_dir = tmp_path / "skills"
    shutil.copytree(SKILLS, cat_dir, ignore=shutil.ignore_patterns(".skillroute"))
    shutil.copytree(art, cat_dir / FITTED_SUBDIR)
    with pytest.warns(UserWarning, match="routing zero-shot"):
        assert Router.from_path(cat_dir, encoder=encoder).head_ is None


def test_a_corrupt_artifact_is_a_clear_error(tmp_path):
    (tmp_path / "meta.json").write_text("{}")
    (tmp_path / "head.npz").write_bytes(b"junk")
    with pytest.raises(ModelError, match="refit"):
        FittedHead.load(tmp_path)


def test_a_new_skill_routes_by_its_description(tmp_path, encoder):
    cat_dir = tmp_path / "skills"
    shutil.copytree(SKILLS, cat_dir)
    write_skill(cat_dir, "deploy", "Ship the application to production: run the release pipeline, roll out "
                "the new version to the servers, watch the rollout and roll back a bad release. Use when the user "
                "asks to deploy, release or ship the app.")
    with pytest.warns(UserWarning, match="skills added since the fit: deploy"):
        r = Router.from_path(cat_dir, encoder=encoder)
    assert r.head_ is not None and "deploy" not in r.head_.classes
    d = r.route("deploy the new version of the app to production and roll back if the rollout fails")
    assert d.skill == "deploy", d.reasons
    assert d.reasons[0].startswith("gate:")


def test_an_edited_description_is_noticed(tmp_path, encoder):
    cat_dir = tmp_path / "skills"
    shutil.copytree(SKILLS, cat_dir)
    f = cat_dir / "review" / "SKILL.md"
    f.write_text(f.read_text().replace("Review existing code", "Critique existing code"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = Router.from_path(cat_dir, encoder=encoder)
    assert r.stale_skills_ == ["review"]
    assert any("review" in str(w.message) and "refit" in str(w.message) for w in caught)
    assert r.route("/review src/app.py").skill == "review"


def test_fitted_routing_imports_no_heavy_module():
    Router.from_path(SKILLS).warm()  # the shipped delta merged and exported once, with torch, as `warm` does
    code = (
        "import sys\n"
        "from skillroute import Router\n"
        "r = Router.from_path(sys.argv[1], backend='onnx')\n"
        "assert r.head_ is not None\n"
        "r.route('the login page crashes with a TypeError in auth.js line 12, fix it')\n"
        "heavy = [m for m in ('torch', 'transformers', 'sentence_transformers', 'sklearn') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(SKILLS)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr


def test_fit_cli(tmp_path, small_train):
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps({"prompt": e.prompt, "skill": e.skill, "also": list(e.also),
                                        "split": "train"}) + "\n" for e in small_train)
                    + json.dumps({"prompt": "held out", "skill": "ask", "split": "test"}) + "\n")
    out = tmp_path / "art"
    r = CliRunner().invoke(main, ["fit", "--skills", str(SKILLS), "--data", str(data), "--out", str(out),
                                  "--no-finetune"])
    assert r.exit_code == 0, r.output
    assert json.loads((out / "meta.json").read_text())["n_examples"] == len(small_train)
    r = CliRunner().invoke(main, ["eval", "--skills", str(SKILLS), "--data", str(EVAL), "--fitted", str(out),
                                  "--quiet", "--split", "test", "--zero-shot"])
    assert r.exit_code == 2  # the two exclude each other


def test_killing_fit_at_any_point_leaves_a_loadable_artifact(tmp_path, small_train, fitted_small):
    """`fit --out` over an existing artifact, killed (SIGKILL) at several points: the folder always holds a
    whole artifact, old or new, and the next save clears what the killed ones left."""
    import os
    import random
    import signal
    import time

    data = tmp_path / "train.jsonl"
    few = [e for i, e in enumerate(small_train) if i % 10 < 4]  # 4 a class: the fit takes a few seconds
    data.write_text("".join(json.dumps({"prompt": e.prompt, "skill": e.skill, "also": list(e.also)}) + "\n"
                            for e in few))
    out = fitted_small.save_fitted(tmp_path / "art")
    cmd = [sys.executable, "-m", "skillroute.cli", "fit", "--skills", str(SKILLS), "--data", str(data), "--out",
           str(out), "--no-finetune", "--split", "all"]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, timeout=300)
    whole = time.perf_counter() - t0
    rng = random.Random(0)
    for delay in sorted(rng.uniform(0.3, 1.05) * whole for _ in range(3)):
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        loaded = Router(fitted_small.catalog, fitted_small.encoder).load_fitted(out)  # never torn
        assert loaded.head_ is not None
    for leftover in tmp_path.glob(".art.*.tmp"):
        os.utime(leftover, (0, 0))  # as if left long ago
    fitted_small.save_fitted(out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["art", "train.jsonl"]


def test_a_clone_with_other_settings_never_reads_the_shared_memo_rows(catalog, encoder):
    """clone() shares the memo of encoded requests; a row depends on the scoring settings, so a clone with the
    rules off must compute its own rows, equal to a fresh router's."""
    from skillroute.core import clone

    texts = ["fix the failing login test, the assertion in test_auth.py expects 401", "review my diff"]
    names = catalog.names
    base = Router(catalog, encoder, finetune=False)
    with_rules = base._features(texts, names)
    off = clone(base, rules=False)
    assert off._feature_memo is base._feature_memo
    without = off._features(texts, names)
    assert np.allclose(without, Router(catalog, encoder, rules=False)._features(texts, names))
    assert not np.allclose(without, with_rules)  # rules fire on the first request: its scores differ

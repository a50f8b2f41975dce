"""The eval suite: metrics as pure functions, the data loader's errors, and a small end-to-end smoke run."""

import json
import shutil
import subprocess
from html.parser import HTMLParser

import pytest
from click.testing import CliRunner

from skillroute import DataError
from skillroute.cli import main
from skillroute.core._dataset import load_examples
from skillroute.evaluation import _metrics as M
from skillroute.evaluation._evaluate import RoutingEvaluator

from .conftest import EVAL, SKILLS

METRICS = {
    "top1": lambda t, p: M.top1_accuracy(t, p),
    "weighted": lambda t, p: M.weighted_accuracy(t, p),
    "macro_f1": lambda t, p: sum(v["f1"] for v in M.per_label_scores(t, p, labels=sorted(set(t))).values())
    / len(set(t)),
}


@pytest.mark.parametrize("name", sorted(METRICS))
def test_metrics_are_order_invariant_and_perfect_on_truth(name):
    t = ["ask", "cook", "none", "fix", "cook"]
    p = ["ask", "fix", "none", "fix", "cook"]
    f = METRICS[name]
    assert f(t, p) == pytest.approx(f(t[::-1], p[::-1]))
    assert f(t, t) >= f(t, p)


def test_metric_values():
    assert M.top1_accuracy(["a", "b"], ["a", "c"]) == 0.5
    assert M.recall_at_k(["a", "b"], [["x", "a"], ["x", "y", "z", "b"]], 2) == 0.5
    assert M.effective_labels(["a", "b"], ["c", "d"], [["c"], []]) == ["c", "b"]
    assert M.expected_calibration_error([1.0, 1.0], [True, False]) == pytest.approx(0.5)
    assert M.binary_prf([True, False, True], [True, True, False])["f1"] == pytest.approx(0.5)
    cm = M.confusion(["a", "a", "b"], ["a", "b", "b"], labels=["a", "b"])
    assert cm.tolist() == [[1, 1], [0, 1]]  # rows true, columns predicted
    assert M.confused_with(["a", "a", "b"], ["b", "b", "b"]) == {"a": [("b", 2)]}


@pytest.mark.parametrize("line, field", [
    ('{"prompt": "x", "skill": "nope"}', "skill"),
    ('{"skill": "ask"}', "prompt"),
    ('{"prompt": "x", "skill": "ask", "also": ["cook"]}', "also"),
    ('{"prompt": "x", "skill": "ask", "split": "dev"}', "split"),
    ('{"prompt": "x", "skill": "ask", "tags": "hard"}', "tags"),
])
def test_bad_data_names_file_line_and_field(tmp_path, catalog, line, field):
    f = tmp_path / "d.jsonl"
    f.write_text('{"prompt": "fine", "skill": "ask"}\n' + line + "\n")
    kw = dict(exclusive=[s.name for s in catalog.exclusive], additive=[s.name for s in catalog.additive])
    with pytest.raises(DataError) as info:
        load_examples(f, **kw)
    assert info.value.line == 2 and info.value.field == field and str(f) in str(info.value)
    skipped = []
    assert len(load_examples(f, lenient=True, skipped=skipped, **kw)) == 1 and len(skipped) == 1


def test_malformed_json_line(tmp_path):
    f = tmp_path / "d.jsonl"
    f.write_text('{"prompt": "x", "skill": "ask"\n')
    with pytest.raises(DataError, match=r"d.jsonl:1: malformed JSON"):
        load_examples(f)


def test_shipped_eval_set_is_valid_and_split(catalog):
    ex = load_examples(EVAL, exclusive=[s.name for s in catalog.exclusive], additive=[s.name for s in catalog.additive])
    assert len(ex) >= 1000
    test = [e for e in ex if e.split == "test"]
    assert 0.25 < len(test) / len(ex) < 0.35
    assert len({e.prompt for e in ex}) == len(ex)


def test_evaluator_figures_match_a_hand_computation(catalog):
    """Six decisions made by hand; every figure below was worked out on paper from them."""
    from types import SimpleNamespace

    from skillroute import Decision, Example

    rows = [  # label, acceptable, also expected | picked, ranked, confidence, also picked, without rules
        ("fix", (), (), "fix", ["fix", "diagnose", "ask"], 0.85, [], "diagnose"),
        ("fix", (), (), "diagnose", ["diagnose", "fix", "ask"], 0.65, [], "fix"),
        ("ask", ("discuss",), (), "discuss", ["discuss", "ask"], 0.75, [], "discuss"),
        ("none", (), (), None, ["cook", "fix"], 0.82, [], None),
        ("cook", (), ("backend-fastapi-python",), "cook", ["cook", "fix", "ask"], 0.95, ["backend-fastapi-python"],
         "cook"),
        ("review", (), (), None, ["ask", "cook", "review"], 0.35, [], None),
    ]
    ex = [Example(prompt=f"p{i}", skill=r[0], acceptable=r[1], also=r[2]) for i, r in enumerate(rows)]
    decisions = [Decision(skill=r[3], also=r[6], confidence=r[5], ranked=[(n, 0.0) for n in r[4]], reasons=[],
                          skill_without_rules=r[7]) for r in rows]
    res = RoutingEvaluator(ex).compute(SimpleNamespace(catalog=catalog), decisions)
    assert res["top1"] == pytest.approx(4 / 6)  # rows 1, 3 (acceptable), 4, 5
    assert res["recall_at_3"] == pytest.approx(5 / 6)  # row 6: none, ask, cook come first
    # F1 per label present: fix 2/3, discuss 1, none 2/3 (one false none), cook 1, review 0
    assert res["macro_f1"] == pytest.approx((2 / 3 + 1 + 2 / 3 + 1 + 0) / 5)
    assert (res["none"]["precision"], res["none"]["recall"]) == (0.5, 1.0)
    assert res["additive"]["precision"] == 1.0 and res["additive"]["recall"] == 1.0
    # ECE, bins of 0.1: {0.85, 0.82} all right, 0.65 wrong, 0.75 right, 0.95 right, 0.35 wrong
    assert res["ece"] == pytest.approx((2 * (1 - 0.835) + 0.65 + 0.25 + 0.05 + 0.35) / 6)
    # the rules turned row 1 right and row 2 wrong
    assert (res["rules"]["wrong_to_right"], res["rules"]["right_to_wrong"], res["rules"]["net"]) == (1, 1, 0)


def test_evaluator_smoke(router, catalog):
    ex = load_examples(EVAL, split="test")[:40]
    result = RoutingEvaluator(ex, latency_sample=3)(router)
    assert result["primary_metric"] == "top1" and 0 <= result["top1"] <= 1
    assert len(result["decisions"]) == 40
    assert result["rules"]["net"] == result["rules"]["wrong_to_right"] - result["rules"]["right_to_wrong"]
    cm = result["confusion_matrix"]
    assert sum(map(sum, cm)) == 40 and len(cm) == len(catalog.exclusive) + 1


def test_abstention_counts_for_recall_of_none(router):
    from skillroute.core._dataset import Example

    ex = [Example(prompt="thanks, that worked!", skill="none")]
    decisions = router.route_many([e.prompt for e in ex])
    assert decisions[0].skill is None
    result = RoutingEvaluator(ex).compute(router, decisions)
    assert result["decisions"][0]["correct"]
    assert result["recall_at_3"] == 1.0  # the abstention ranks "none" first


def test_eval_cli_gate_and_outputs(tmp_path):
    data = tmp_path / "small.jsonl"
    lines = EVAL.read_text().splitlines()[:25]
    data.write_text("\n".join(lines) + "\n")
    out = tmp_path / "r.json"
    report = tmp_path / "r.html"
    errors = tmp_path / "e.jsonl"
    r = CliRunner().invoke(main, ["eval", "--skills", str(SKILLS), "--data", str(data), "--split", "all",
                                  "--json", str(out), "--report", str(report), "--errors", str(errors), "--quiet"])
    assert r.exit_code == 0, r.output
    res = json.loads(out.read_text())
    assert res["n"] == 25 and "per_tag" in res
    HTMLParser().feed(report.read_text())  # parses as HTML
    assert "Confusion matrix" in report.read_text()
    assert len(errors.read_text().splitlines()) == sum(not d["correct"] for d in res["decisions"])
    with data.open("a") as f:  # a line no router gets right: the gate at 1.0 must fail
        f.write(json.dumps({"prompt": "thanks, that worked!", "skill": "cook", "split": "train"}) + "\n")
    r = CliRunner().invoke(main, ["eval", "--skills", str(SKILLS), "--data", str(data), "--split", "all",
                                  "--min-accuracy", "1.0", "--quiet"])
    assert r.exit_code == 1 and "under --min-accuracy" in r.output


def test_eval_reports_several_sets_in_one_run(tmp_path):
    """--data is repeatable: a set with splits is cut by --split, a set without (the real dev set) is read whole."""
    split_set = tmp_path / "written.jsonl"
    split_set.write_text("\n".join(EVAL.read_text().splitlines()[:30]) + "\n")
    n_test = sum(json.loads(line)["split"] == "test" for line in split_set.read_text().splitlines())
    plain = tmp_path / "real.jsonl"
    plain.write_text("\n".join(json.dumps({"prompt": p, "skill": s}) for p, s in [
        ("why does the list re-render on every keystroke?", "ask"), ("thanks, that worked", "none"),
        ("add a dark mode toggle to the settings page", "cook")]) + "\n")
    out = tmp_path / "r.json"
    r = CliRunner().invoke(main, ["eval", "--skills", str(SKILLS), "--data", str(split_set), "--data", str(plain),
                                  "--split", "test", "--json", str(out), "--quiet"])
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "r.written.json").read_text())["n"] == n_test
    assert json.loads((tmp_path / "r.real.json").read_text())["n"] == 3
    assert "written.jsonl:test" in r.output and "real.jsonl:all" in r.output


CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)


@pytest.mark.skipif(CHROMIUM is None, reason="no headless Chromium on this machine (.ci/run installs it)")
def test_html_report_renders_in_headless_chromium(router, tmp_path):
    from skillroute.evaluation._report import render_html

    ex = load_examples(EVAL, split="test")[:30]
    page = tmp_path / "report.html"
    page.write_text(render_html(RoutingEvaluator(ex, latency_sample=2)(router), title="render check"))
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([CHROMIUM, *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=90)
    assert "Confusion matrix" in dom.stdout and "Misroutes" in dom.stdout and dom.stdout.count("<tr>") > 20
    shot = tmp_path / "report.png"
    subprocess.run([CHROMIUM, *flags, "--window-size=1280,2000", f"--screenshot={shot}", page.as_uri()],
                   capture_output=True, timeout=90)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000


def test_baselines_run_end_to_end_on_a_small_split(encoder, catalog):
    from skillroute.evaluation._baselines import BASELINES, run_baselines

    train = [e for e in load_examples(EVAL, split="train")][:120]
    test = load_examples(EVAL, split="test")[:20]
    res = run_baselines(train, test, encoder, catalog, steps=2, batch=4)  # the SetFit-style one: 2 steps
    assert set(res) == set(BASELINES)
    for r in res.values():
        assert 0 <= r["top1"] <= 1 and 0 <= r["recall_at_3"] <= 1


def test_baselines_give_the_answers_known_in_advance(encoder, catalog):
    """A prompt is its own nearest neighbour, and a skill's description is closest to that skill."""
    from skillroute.evaluation._baselines import description_cosine, knn

    train = [e for e in load_examples(EVAL, split="train")][:60]
    labels, _ = knn(train, [e.prompt for e in train], encoder.encode, catalog, 0, k=1)
    assert labels == [e.skill for e in train]
    skills = [s for s in catalog.exclusive if not s.disabled]
    labels, ranked = description_cosine(train, [s.description for s in skills], encoder.encode, catalog, 0)
    assert labels == [s.name for s in skills] and all(len(r) == len(skills) for r in ranked)

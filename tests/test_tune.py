"""skillroute tune: its scorer decides as the router does; tuning a degraded catalog on the train split
recovers most of the loss on the test split; --write keeps a backup and changes only the description; and
the test split is never read."""

import dataclasses
import json
import shutil

import pytest
from click.testing import CliRunner

from skillroute import Router, load_catalog
from skillroute.authoring._tune import accuracy, tune_skill, with_description, write_description
from skillroute.authoring._tune_scoring import _Scorer, _Spec
from skillroute.authoring._tune_text import _insert_positive, _remove_item
from skillroute.cli import main
from skillroute.core._catalog import read_skill_file
from skillroute.core._dataset import Example, load_examples
from skillroute.core._rules import parse_description
from skillroute.errors import CatalogError

from .conftest import EVAL, SKILLS

# what an author writes at first: one vague sentence (the study in eval/tools/tune_study.py uses the same)
VAGUE = {"diagnose": "Debug and fix issues.", "ask": "Answer questions about the code.",
         "docs-seeker": "Look up documentation for libraries."}


@pytest.fixture(scope="module")
def train():
    return load_examples(EVAL, split="train")


def _copy_skills(tmp_path):
    out = tmp_path / "skills"
    shutil.copytree(SKILLS, out, ignore=shutil.ignore_patterns(".skillroute"))
    return out


def test_the_batch_scorer_decides_as_the_router(catalog, encoder, train):
    edited = with_description(catalog, "diagnose", "Debug and fix issues. Do NOT use for building new features "
                              "(→ cook), or for questions about what code does (→ ask).")
    explicit = ["/review look at src/app.py", "/backend-fastapi-python add a route"]
    sample = list(train[::12]) + [Example(p, "none") for p in explicit]
    prompts = [e.prompt for e in sample]
    fast = _Scorer(Router(catalog, encoder), sample).predict(_Spec.of(edited))
    slow = Router(edited, encoder).route_many(prompts)
    names = edited.names
    assert [names[i] if i >= 0 else None for i in fast.pred] == [d.skill for d in slow]
    assert any(h.skill == "diagnose" for d in slow for h in d.rule_hits)  # the edited rules took part


def test_tune_recovers_a_degraded_catalog_on_the_test_split(tmp_path, catalog, encoder, train):
    skills = _copy_skills(tmp_path)
    for name, text in VAGUE.items():
        write_description(skills / name / "SKILL.md", text)
    degraded = load_catalog(skills)
    edited = 0
    for name in VAGUE:
        res = tune_skill(Router(load_catalog(skills), encoder, reader=None), name, train)
        assert all(e.cv_net >= 2 for e in res.applied)
        if res.applied:  # a skill whose vague line still routes well enough may keep it
            assert res.top1_after > res.top1_before, res.notes
            edited += 1
        write_description(skills / name / "SKILL.md", res.proposed)
    assert edited >= 2
    tuned = load_catalog(skills)
    test = load_examples(EVAL, split="test")  # read here only, to measure
    before, after, original = accuracy(Router(catalog, encoder, reader=None), test, [degraded, tuned, catalog])
    print(f"test top-1: degraded {before:.3f}, tuned {after:.3f}, original {original:.3f}")
    assert original - before > 0.05
    assert after - before >= 0.5 * (original - before)


def test_write_description_keeps_a_backup_and_every_other_byte(tmp_path):
    d = tmp_path / "alpha"
    d.mkdir()
    text = ("---\r\nname: alpha\r\n# a comment\r\ndescription: >\r\n  Use for alpha work,\r\n  folded over lines.\r\n"
            "metadata:\r\n  owner: me\r\nallowed-tools: Read\r\n---\r\n\r\n# Alpha\r\n---\r\nBody: keep me.\r\n")
    f = d / "SKILL.md"
    f.write_bytes(text.encode())
    new = "Use for alpha work. Also triggers on \"beta: gamma\" and 'quotes'. Do NOT use for delta (→ epsilon)."
    backup = write_description(f, new)
    assert backup.name == "SKILL.md.bak" and backup.read_bytes() == text.encode()
    after = f.read_bytes().decode()
    skill = read_skill_file(f)
    assert skill.description == new and skill.body == "# Alpha\n---\nBody: keep me."
    assert skill.frontmatter["metadata"] == {"owner": "me"} and skill.frontmatter["allowed-tools"] == "Read"
    old_lines, new_lines = text.split("\r\n"), after.split("\r\n")
    assert old_lines[:3] == new_lines[:3] and old_lines[6:] == new_lines[4:]  # only the description lines differ
    assert new_lines[3].startswith("description: ")
    assert write_description(f, "Use for alpha work.").name == "SKILL.md.bak.1"
    with pytest.raises(CatalogError):
        write_description(f, "x" * 1025)
    assert read_skill_file(f).description == "Use for alpha work."


def test_edits_parse_as_intended():
    review = read_skill_file(SKILLS / "review" / "SKILL.md").description
    names = ["ask", "cook", "fix", "test", "review"]
    dropped = _remove_item(review, "is this idiomatic")
    assert dropped is not None and "is this idiomatic" not in parse_description(dropped, names).triggers
    assert len(parse_description(dropped, names).triggers) == len(parse_description(review, names).triggers) - 1
    no_rule = _remove_item(review, "for running the test suite")
    assert no_rule is not None and [r.redirect for r in parse_description(no_rule, names).rules] == \
        ["ask", "cook", "fix"]
    added = _insert_positive(review, "Also triggers on \"second opinion\".")
    parsed = parse_description(added, names)
    assert "second opinion" in parsed.triggers and added.endswith("(→ test).")
    assert parsed.rules == parse_description(review, names).rules
    assert _remove_item(review, "not in the description") is None
    assert _remove_item("Use for alpha work. Do NOT use for migrations (→ beta).", "migrations") == "Use for alpha work."


def test_cli_tune_skips_the_test_split_and_writes_on_request(tmp_path, encoder):
    skills = _copy_skills(tmp_path)
    f = skills / "diagnose" / "SKILL.md"
    write_description(f, VAGUE["diagnose"])
    f.with_name("SKILL.md.bak").unlink()
    degraded = f.read_bytes()
    lines = EVAL.read_text().splitlines()
    rows = [json.loads(x) for x in lines]
    train_lines = [x for x, r in zip(lines, rows, strict=True) if r["split"] == "train"][::3]
    test_lines = [x for x, r in zip(lines, rows, strict=True) if r["split"] == "test"][::3]
    data = tmp_path / "mixed.jsonl"
    data.write_text("\n".join(train_lines[:100] + test_lines + train_lines[100:]) + "\n")
    r = CliRunner().invoke(main, ["tune", "diagnose", "--skills", str(skills), "--data", str(data), "--json",
                                  "--write", "--no-reader"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["n_examples"] == len(train_lines) and out["test_lines_skipped"] == len(test_lines)
    assert out["applied"] and out["written"] == str(f)
    assert f.with_name("SKILL.md.bak").read_bytes() == degraded
    assert read_skill_file(f).description == out["proposed"] != VAGUE["diagnose"]
    # the same proposal as tuning on the train lines alone; the test lines, read as train, would change it
    router = Router(with_description(load_catalog(skills), "diagnose", VAGUE["diagnose"]), encoder, reader=None)
    only_train = [e for e in load_examples(data) if e.split == "train"]
    assert tune_skill(router, "diagnose", only_train).proposed == out["proposed"]
    leaked = [dataclasses.replace(e, split="train") for e in load_examples(data)]
    assert tune_skill(router, "diagnose", leaked).proposed != out["proposed"]
    with pytest.raises(ValueError, match="test split"):
        tune_skill(router, "diagnose", load_examples(data))


def test_cli_tune_errors(tmp_path):
    r = CliRunner().invoke(main, ["tune", "nope", "--skills", str(SKILLS)])
    assert r.exit_code == 2 and "no skill named 'nope'" in r.output and "diagnose" in r.output
    r = CliRunner().invoke(main, ["tune", "backend-fastapi-python", "--skills", str(SKILLS)])
    assert r.exit_code == 2 and "additive" in r.output
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "fix the login bug", "skill": "fix", "split": "train"}\n{"prompt": "x"\n')
    r = CliRunner().invoke(main, ["tune", "fix", "--skills", str(SKILLS), "--data", str(bad)])
    assert r.exit_code == 1 and f"{bad}:2" in r.output

"""explain and lint, for skill authors."""

import json

from click.testing import CliRunner

from skillroute import Router
from skillroute.authoring._explain import explain
from skillroute.authoring._lint import lint
from skillroute.cli import main

from .conftest import SKILLS, write_skill


def test_explain_gives_every_skill_its_facet_rule_and_margin(catalog, encoder):
    r = Router(catalog, encoder)
    ex = explain(r, "review this PR and flag anything wrong before I merge")
    assert {s["skill"] for s in ex["skills"]} == set(catalog.names)
    top = ex["skills"][0]
    assert top["skill"] == ex["zero_shot_winner"] == ex["decision"]["skill"] == "review"
    assert top["best_facet"] in catalog["review"].triggers
    assert ex["zero_shot_margin"] > 0
    scores = [s["score"] for s in ex["skills"]]
    assert scores == sorted(scores, reverse=True)


def test_explain_shows_a_fired_rule_and_its_redirect(tmp_path, encoder):
    write_skill(tmp_path, "helper", "Help with database work: schema design, queries, indexes and performance. "
                "Do NOT use for writing schema migration scripts (→ migrator).")
    write_skill(tmp_path, "migrator", "Handle data pipeline and ETL jobs.")
    ex = explain(Router.from_path(tmp_path, encoder=encoder), "write a migration script for the new schema")
    by = {s["skill"]: s for s in ex["skills"]}
    assert by["helper"]["rule"]["redirect"] == "migrator"
    assert by["migrator"]["boosted_by_rules_of"] == ["helper"]


def test_explain_cli():
    r = CliRunner().invoke(main, ["explain", "--skills", str(SKILLS), "--json", "why does useEffect run twice?"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["mode"] == "fitted"
    r = CliRunner().invoke(main, ["explain", "--skills", str(SKILLS), "--zero-shot", "why does useEffect run twice?"])
    assert "on the general reader" in r.output and "leads by" in r.output


def test_lint_shipped_catalog_has_no_errors(encoder):
    findings, _ = lint([str(SKILLS)], encoder)
    assert not [f for f in findings if f.severity == "error"]


def test_lint_finds_format_chars_redirects_overlap_and_budget(tmp_path, encoder):
    write_skill(tmp_path, "alpha", "Use when the user wants to fix broken login forms and repair authentication bugs. "
                "Do NOT use for billing -> beta.")
    write_skill(tmp_path, "gamma", "Use when the user wants to repair broken login forms and fix authentication bugs.")
    write_skill(tmp_path, "delta", "Use for delta work. Do NOT use for epsilon work (→ epsilon).")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "SKILL.md").write_text("---\nname: Bad Name\ndescription: x\n---\n")
    findings, _ = lint([str(tmp_path)], encoder, budget=150)
    codes = {(f.code, f.severity) for f in findings}
    assert ("format", "error") in codes and ("chars", "error") in codes and ("redirect", "error") in codes
    assert ("overlap", "warning") in codes and ("budget", "warning") in codes
    overlap = next(f for f in findings if f.code == "overlap")
    assert "login forms" in overlap.message and "no rule tells the two apart" in overlap.message
    r = CliRunner().invoke(main, ["lint", "--skills", str(tmp_path)])
    assert r.exit_code == 1 and "errors" in r.output


def test_lint_strict_fails_on_warnings(tmp_path):
    write_skill(tmp_path, "alpha", "Use for alpha work. " + "Longer text here. " * 10)
    assert CliRunner().invoke(main, ["lint", "--skills", str(tmp_path), "--budget", "100"]).exit_code == 0
    assert CliRunner().invoke(main, ["lint", "--skills", str(tmp_path), "--budget", "100", "--strict"]).exit_code == 1


def test_compare_a_catalog_with_its_git_revision_and_an_edit(tmp_path, monkeypatch):
    import shutil

    from .conftest import EVAL, ROOT

    monkeypatch.chdir(ROOT)
    data = tmp_path / "d.jsonl"
    data.write_text("\n".join(EVAL.read_text().splitlines()[:40]) + "\n")
    r = CliRunner().invoke(main, ["compare", "HEAD:skills", str(SKILLS), "--data", str(data), "--split", "all",
                                  "--json", str(tmp_path / "same.json")])
    assert r.exit_code == 0, r.output
    same = json.loads((tmp_path / "same.json").read_text())
    assert same["fixed"] == [] and same["broken"] == [] and same["overall"]["top1"]["delta"] == 0
    edited = tmp_path / "skills"
    shutil.copytree(SKILLS, edited)
    # cook, the label of most of these prompts, rewritten into another trade: its decisions must move
    write_skill(edited.parent, "cook", "Use for knitting patterns, yarn weights and needle sizes.", folder="skills/cook")
    r = CliRunner().invoke(main, ["compare", str(SKILLS), str(edited), "--data", str(data), "--split", "all",
                                  "--json", str(tmp_path / "diff.json")])
    assert r.exit_code == 0, r.output
    diff = json.loads((tmp_path / "diff.json").read_text())
    changed = diff["fixed"] + diff["broken"] + diff["changed_wrong_to_wrong"]
    assert changed and all(c["a"] != c["b"] for c in changed)
    assert any(v["delta"] != 0 for v in diff["per_skill"].values())


def test_listing_budget_is_the_hosts_with_its_source(tmp_path):
    from skillroute.authoring._lint import host_budget

    home, project = tmp_path / "home", tmp_path / "project"
    assert host_budget(project, environ={}, home=home) == (8000, "Claude Code's default, 1% of a 200,000-token "
                                                          "context (skillListingBudgetFraction)")
    (home / ".claude").mkdir(parents=True)
    (home / ".claude" / "settings.json").write_text('{"skillListingBudgetFraction": 0.02}')
    assert host_budget(project, environ={}, home=home)[0] == 16000
    (project / ".claude").mkdir(parents=True)
    (project / ".claude" / "settings.json").write_text('{"skillListingBudgetFraction": 0.015}')  # project wins
    budget, source = host_budget(project, context_tokens=1_000_000, environ={}, home=home)
    assert budget == 60000 and str(project / ".claude" / "settings.json") in source
    assert host_budget(project, environ={"SLASH_COMMAND_TOOL_CHAR_BUDGET": "12345"}, home=home) == (
        12345, "$SLASH_COMMAND_TOOL_CHAR_BUDGET")


def test_the_shipped_catalog_passes_its_own_strict_lint():
    """With the budget this project sets for Claude Code (.claude/settings.json), nothing is cut."""
    r = CliRunner().invoke(main, ["lint", "--skills", str(SKILLS), "--strict"])
    assert r.exit_code == 0, r.output

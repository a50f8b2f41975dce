import json

from click.testing import CliRunner

from skillroute.cli import main

from .conftest import SKILLS


def run(args, input=None):
    return CliRunner().invoke(main, args, input=input, catch_exceptions=False)


def test_route_human_and_json():
    r = run(["route", "--skills", str(SKILLS), "review this PR and flag anything wrong before I merge"])
    assert r.exit_code == 0 and "skill:      review" in r.output
    r = run(["route", "--json", "--skills", str(SKILLS), "review this PR and flag anything wrong before I merge"])
    d = json.loads(r.stdout)
    assert d["skill"] == "review" and isinstance(d["also"], list) and d["reasons"]
    assert len(d["ranked"]) == 12 and all(len(x) == 2 for x in d["ranked"])


def test_route_batch_keeps_one_output_line_per_input_line():
    lines = ('{"prompt": "review this PR and flag anything wrong before I merge"}\nthanks!\n\n/fix the login page\n'
             '{"prompt": 3}\n{"prompt": "why is the parser\\ud800 slow on big files?"}\nsplit\u2028here stays one line\n')
    r = run(["route", "--json", "--skills", str(SKILLS)], input=lines)
    assert r.exit_code == 0
    out = [json.loads(x) for x in r.output.splitlines()]
    assert len(out) == 7  # the empty line and the bad line get error objects in their place
    assert [d.get("skill", "ERR") for d in out[:5]] == ["review", None, "ERR", "fix", "ERR"]
    assert out[2] == {"error": "the request is empty", "line": 3}
    assert out[4]["line"] == 5 and "'prompt'" in out[4]["error"]
    assert out[5]["skill"] is not None  # a lone surrogate is replaced, not a crash
    assert "skill" in out[6]


def test_route_strict_stops_at_a_bad_line():
    r = CliRunner().invoke(main, ["route", "--json", "--strict", "--skills", str(SKILLS)], input='{"prompt": 3}\n')
    assert r.exit_code != 0 and "line 1" in r.output


def test_missing_directory_is_a_clear_error(tmp_path):
    r = CliRunner().invoke(main, ["route", "--skills", str(tmp_path / "nope"), "hi"])
    assert r.exit_code == 1
    assert "CatalogError" in r.output and "does not exist" in r.output


def test_bad_catalog_is_a_clear_error(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "SKILL.md").write_text("---\nname: x\ndescription: [oops\n---\n")
    r = CliRunner().invoke(main, ["skills", "--skills", str(tmp_path)])
    assert r.exit_code == 1 and "SKILL.md" in r.output and "malformed YAML" in r.output


def test_empty_text_is_a_usage_error():
    r = CliRunner().invoke(main, ["route", "--skills", str(SKILLS), "  "])
    assert r.exit_code == 2


def test_skills_lists_kinds_triggers_and_rules():
    r = run(["skills", "--skills", str(SKILLS)])
    assert "backend-fastapi-python  [additive]" in r.output
    assert "- not: still making decisions  → give-plan" in r.output
    data = json.loads(run(["skills", "--json", "--skills", str(SKILLS)]).output)
    assert {s["name"] for s in data["skills"]} >= {"ask", "cook"}


def test_doctor_names_each_problem_with_its_fix(tmp_path, monkeypatch):
    from .conftest import write_skill

    project = tmp_path / "proj"
    write_skill(project / ".claude" / "skills", "deploy-app", "Use when shipping the app to staging.")
    (project / ".claude" / "settings.json").write_text(json.dumps({"hooks": {"UserPromptSubmit": [
        {"hooks": [{"type": "command", "command": "skillroute hook", "timeout": 5}]}]}}))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SKILLROUTE_SKILLS", raising=False)
    monkeypatch.setenv("SKILLROUTE_SERVER", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.chdir(project)
    r = CliRunner().invoke(main, ["doctor"])
    assert r.exit_code == 1, r.output
    assert "ok      catalog: 1 skills" in r.output and "none: the description router routes" in r.output
    assert "PROBLEM hook settings" in r.output and "timeout 5" in r.output and "deadline" in r.output
    assert "the hook routes in-process" in r.output
    (project / ".claude" / "settings.json").write_text(json.dumps({"hooks": {"UserPromptSubmit": [
        {"hooks": [{"type": "command", "command": "skillroute hook", "timeout": 10}]}]}}))
    r = CliRunner().invoke(main, ["doctor"])
    assert "PROBLEM hook settings" not in r.output and "ok      hook settings" in r.output


def test_help_lists_every_command_with_a_whole_summary():
    r = CliRunner().invoke(main, ["--help"], terminal_width=80)
    listing = r.output.split("Commands:")[1]
    assert "..." not in listing and len(listing.strip().splitlines()) == len(main.commands)

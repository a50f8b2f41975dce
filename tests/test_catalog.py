import pytest

from skillroute import CatalogError, load_catalog
from skillroute.core._catalog import default_skill_dirs, read_skill_file

from .conftest import SKILLS, write_skill

ROSTER = {"ask", "cook", "diagnose", "fix", "docs", "discuss", "docs-seeker", "agent-browser", "give-plan",
          "research", "review", "test", "backend-fastapi-python"}


def test_shipped_catalog_has_the_roster(catalog):
    assert set(catalog.names) == ROSTER
    assert [s.name for s in catalog.additive] == ["backend-fastapi-python"]
    assert len(catalog.exclusive) == 12
    assert catalog.errors == () and catalog.warnings == ()


def test_seed_descriptions_are_verbatim(catalog):
    seed = SKILLS.parent.parent / "shared" / "seed" / "skill-descriptions.txt"
    if not seed.exists():
        pytest.skip("the seed file lives beside the checkout, in ../shared")
    text = seed.read_text().replace('\\"', '"')
    for name in ["agent-browser", "ask", "cook", "docs", "diagnose", "discuss", "docs-seeker", "fix",
                 "backend-fastapi-python"]:
        assert catalog[name].description in text, name
    assert catalog["backend-fastapi-python"].body.startswith("# Backend FastAPI Python")
    assert catalog["backend-fastapi-python"].body.rstrip().endswith("[auth.md](./references/auth.md) |")


def test_unknown_keys_kept_and_disabled(tmp_path):
    write_skill(tmp_path, "alpha", "Use for alpha work.", extra="disable-model-invocation: true\nlicense: MIT\n"
                "x-custom: 3\n")
    c = load_catalog(tmp_path)
    s = c["alpha"]
    assert s.disabled is True
    assert s.frontmatter["x-custom"] == 3 and s.frontmatter["license"] == "MIT"


@pytest.mark.parametrize("content, line, fragment", [
    ("no frontmatter here\n", 1, "no YAML frontmatter"),
    ("---\nname: bad\ndescription: x\n", 1, "not closed"),
    ("---\nname: bad\ndescription: [unclosed\n---\n", None, "malformed YAML"),
    ("---\n- a\n- b\n---\n", 2, "must be a mapping"),
    ("---\ndescription: hi\n---\n", 2, "no 'name'"),
    ("---\nname: Bad_Name\ndescription: hi\n---\n", 2, "breaks the Agent Skills rules"),
    ("---\nname: other\ndescription: hi\n---\n", 2, "differs from its folder"),
    ("---\nname: bad\ndescription: ''\n---\n", 3, "non-empty string 'description'"),
    ("---\nname: bad\ndescription: " + "x" * 1100 + "\n---\n", 3, "over the 1024"),
    ("---\nname: bad\ndescription: hi\nmetadata: [1, 2]\n---\n", 4, "'metadata' must be a mapping"),
    ("---\nname: bad\ndescription: hi\nmetadata:\n  updated: 2026-03-06\n---\n", 4, "metadata key 'updated'"),
    ("---\nname: bad\ndescription: hi\nmetadata:\n  skillroute-kind: both\n---\n", 4, "skillroute-kind"),
    ("---\nname: bad\ndescription: hi\ndisable-model-invocation: maybe\n---\n", 4, "true or false"),
])
def test_bad_skill_files_name_file_and_line(tmp_path, content, line, fragment):
    d = tmp_path / "bad"
    d.mkdir()
    f = d / "SKILL.md"
    f.write_text(content)
    with pytest.raises(CatalogError) as info:
        load_catalog(tmp_path, strict=True)
    err = info.value
    assert fragment in str(err)
    assert err.path == f and str(f) in str(err)
    if line is not None:
        assert err.line == line
    else:
        assert err.line is not None  # YAML errors carry the line of the problem


def test_binary_and_huge_files(tmp_path):
    d = tmp_path / "bin"
    d.mkdir()
    (d / "SKILL.md").write_bytes(b"---\nname: bin\x00\x01\n---\n")
    with pytest.raises(CatalogError, match="binary"):
        read_skill_file(d / "SKILL.md")
    (d / "SKILL.md").write_bytes(b"---\nname: bin\ndescription: x\n---\n" + b"a" * 1_100_000)
    with pytest.raises(CatalogError, match="byte limit"):
        read_skill_file(d / "SKILL.md")
    (d / "SKILL.md").write_bytes(b"---\nname: bin\ndescription: \xff\xfe\n---\n")
    with pytest.raises(CatalogError, match="UTF-8"):
        read_skill_file(d / "SKILL.md")


def test_lenient_loads_good_skills_and_reports_bad(tmp_path):
    write_skill(tmp_path, "good", "Use for good things.")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "SKILL.md").write_text("nothing")
    c = load_catalog(tmp_path)  # lenient is the default
    assert c.names == ["good"]
    assert len(c.errors) == 1 and "broken" in str(c.errors[0])
    assert "1 skill(s) left out" in c.problems() and "broken/SKILL.md:1" in c.problems()
    with pytest.raises(CatalogError, match="no YAML frontmatter"):
        load_catalog(tmp_path, strict=True)


def test_lenient_repairs_what_a_host_still_loads(tmp_path):
    """Each repair is kept in the skill's notes, naming file, line and field; the skill routes."""
    files = {
        "renamed": "---\nname: other-name\ndescription: Use for renamed things.\n---\n",
        "long": "---\nname: long\ndescription: " + "word " * 260 + "\n---\n",
        "nameless": "---\ndescription: Use for nameless things.\n---\n",
        "bodyonly": "---\nname: bodyonly\n---\n# Title\n\nConverts spreadsheets to charts.\n\nMore.\n",
        "dated": "---\nname: dated\ndescription: Use for dated things.\nmetadata:\n  updated: 2026-03-06\n"
                 "  tags: [a, b]\n  skillroute-kind: additive\n---\n",
        "pretty-name": "---\nname: Pretty Name\ndescription: Use for pretty things.\n---\n",
    }
    for folder, text in files.items():
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "SKILL.md").write_text(text)
    c = load_catalog(tmp_path)
    assert c.errors == ()
    assert sorted(c.names) == ["bodyonly", "dated", "long", "nameless", "other-name", "pretty-name"]
    assert len(c["long"].description) <= 1024
    assert c["bodyonly"].description == "Converts spreadsheets to charts."
    assert c["dated"].kind == "additive"  # its own key still read beside values it ignores
    notes = " ".join(c.warnings)
    for fragment in ("renamed/SKILL.md:2: name 'other-name' differs", "long/SKILL.md:3: description is",
                     "nameless/SKILL.md:2: frontmatter has no 'name'", "bodyonly/SKILL.md:2: frontmatter has no "
                     "'description'", "pretty-name/SKILL.md:2: name 'Pretty Name' breaks", "routed as 'pretty-name'"):
        assert fragment in notes, fragment
    assert "dated" not in notes  # metadata it does not read is no problem


def test_unreadable_yaml_values_name_the_file(tmp_path):
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "SKILL.md").write_text("---\nname: bad\ndescription: hi\nupdated: 2024-02-30\n---\n")
    write_skill(tmp_path, "good", "Use for good things.")
    c = load_catalog(tmp_path)
    assert c.names == ["good"] and "bad/SKILL.md" in str(c.errors[0])


def test_discovery_at_any_depth_like_claude_code(tmp_path):
    """Plugins, marketplaces and nested catalogs are found; a skill's own subfolders are resources."""
    write_skill(tmp_path / "plugins" / "db" / "skills", "postgres", "Use for Postgres schemas.")
    write_skill(tmp_path / "plugins" / "sec" / "skills", "threats", "Use for threat models.")
    write_skill(tmp_path / "deep" / "a" / "b" / "c", "deep-one", "Use for deep things.")
    write_skill(tmp_path / "plugins" / "db" / "skills" / "postgres" / "examples", "inner", "Use for examples.")
    write_skill(tmp_path / "node_modules" / "pkg", "vendored", "Use for vendored things.")
    write_skill(tmp_path / ".git" / "x", "gitted", "Use for git internals.")
    (tmp_path / "loop").mkdir()
    (tmp_path / "loop" / "again").symlink_to(tmp_path, target_is_directory=True)  # a link loop ends
    c = load_catalog(tmp_path)
    assert sorted(c.names) == ["deep-one", "postgres", "threats"]
    assert c.warnings == ()  # the loop's second view of the same skills is not a duplicate
    assert load_catalog(tmp_path / "plugins" / "db" / "skills" / "postgres").names == ["postgres"]


def test_first_directory_wins_with_one_note(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    write_skill(a, "dup", "Use for the first.")
    write_skill(b, "dup", "Use for the second.")
    write_skill(b, "other", "Use for other things.")
    c = load_catalog(a, b)
    assert c["dup"].description == "Use for the first."
    assert "other" in c
    assert len(c.warnings) == 1
    assert str(a / "dup" / "SKILL.md") in c.warnings[0] and str(b / "dup" / "SKILL.md") in c.warnings[0]


def test_default_dirs_follow_claude_code_precedence(tmp_path, monkeypatch):
    home, project = tmp_path / "home", tmp_path / "project"
    write_skill(home / ".claude" / "skills", "shared", "Use for the personal version.")
    write_skill(project / ".claude" / "skills", "shared", "Use for the project version.")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("SKILLROUTE_SKILLS", raising=False)
    dirs = default_skill_dirs(project)
    assert dirs == [home / ".claude" / "skills", project / ".claude" / "skills"]
    assert load_catalog(*dirs)["shared"].description == "Use for the personal version."
    monkeypatch.setenv("SKILLROUTE_SKILLS", str(project / ".claude" / "skills"))
    assert default_skill_dirs(project) == [project / ".claude" / "skills"]
    monkeypatch.delenv("SKILLROUTE_SKILLS")
    monkeypatch.setenv("HOME", str(tmp_path / "nohome"))
    with pytest.raises(CatalogError, match=r"SKILLROUTE_SKILLS"):
        default_skill_dirs(tmp_path / "empty")


def test_missing_directory_and_empty_directory(tmp_path):
    with pytest.raises(CatalogError, match="does not exist"):
        load_catalog(tmp_path / "nope")
    with pytest.raises(CatalogError, match="no skills found"):
        load_catalog(tmp_path)


def test_redirect_to_unknown_skill_is_reported(tmp_path):
    write_skill(tmp_path, "alpha", "Use for alpha work. Do NOT use for beta work (→ beta-skill).")
    c = load_catalog(tmp_path)
    assert any("beta-skill" in w and "not in the catalog" in w for w in c.warnings)
    assert c["alpha"].rules[0].redirect == "beta-skill"  # kept, reported, not dropped


def test_crlf_and_bom_are_accepted(tmp_path):
    d = tmp_path / "win"
    d.mkdir()
    (d / "SKILL.md").write_bytes("\ufeff---\r\nname: win\r\ndescription: Use for windows files.\r\n---\r\nBody\r\n"
                                 .encode("utf-8"))
    assert load_catalog(tmp_path)["win"].description == "Use for windows files."


def test_a_template_placeholder_is_left_out_of_routing(tmp_path):
    """A template skill ("Replace with description …", as anthropics/skills ships one) is still loaded and
    invocable, but never routed to: it describes nothing and would win random routes."""
    from skillroute import Router, load_catalog

    from .conftest import write_skill

    write_skill(tmp_path, "template-skill", "Replace with description of the skill and when Claude should use it.")
    write_skill(tmp_path, "todo-finder", "Finds TODO comments in the code and turns them into tracked issues.")
    write_skill(tmp_path, "release-notes", "Use when the user asks to write release notes from the merged PRs.")
    catalog = load_catalog(tmp_path)
    assert catalog["template-skill"].triggers == () and catalog["todo-finder"].triggers  # "TODO" inside is fine
    assert "template's placeholder" in catalog.problems()
    r = Router.from_path(tmp_path, fitted=None)
    d = r.route("set up a new skill for our release checklist")
    assert "template-skill" not in [n for n, _ in d.ranked]
    assert r.route("/template-skill do it").skill == "template-skill"  # still invocable by name


# ---------------------------------------------------------------- the parsed-catalog cache (large catalogs)

def _big_catalog(root, n=210):
    for i in range(n):
        rule = f" Do NOT use for reports (→ skill-{(i + 1) % n:03d})." if i % 3 == 0 else ""
        write_skill(root, f"skill-{i:03d}", f"Use when the user wants to tidy pile {i}, sort pile {i} or count it."
                    f"{rule}", extra="metadata:\n  skillroute-kind: additive\n" if i == 5 else "")
    (root / "bad").mkdir()
    (root / "bad" / "SKILL.md").write_text("no frontmatter here\n")


def _same(a, b):
    assert [(s.name, s.description, s.path, s.kind, s.disabled, s.frontmatter, s.body, s.notes, s.parsed)
            for s in a] == [(s.name, s.description, s.path, s.kind, s.disabled, s.frontmatter, s.body, s.notes,
                             s.parsed) for s in b]
    assert [str(e) for e in a.errors] == [str(e) for e in b.errors]
    assert a.warnings == b.warnings
    assert a.fingerprint() == b.fingerprint()


def test_a_large_catalog_loads_the_same_from_its_parsed_cache(tmp_path, monkeypatch):
    from skillroute.core import _catalog_cache

    monkeypatch.setenv("SKILLROUTE_CACHE", str(tmp_path / "cache"))
    _big_catalog(tmp_path / "skills")
    first = load_catalog(tmp_path / "skills")
    saved = list((tmp_path / "cache" / "catalogs").glob("*.json"))
    assert len(saved) == 1
    parses = []
    monkeypatch.setattr("skillroute.core._catalog.parse_description",
                        lambda *a, **k: parses.append(1) or _catalog_cache.ParsedDescription((), ()))
    second = load_catalog(tmp_path / "skills")
    assert not parses  # read from the cache: nothing parsed again
    _same(first, second)
    assert second["skill-000"].rules[0].redirect == "skill-001"


def test_an_edited_skill_file_is_parsed_again(tmp_path, monkeypatch):
    monkeypatch.setenv("SKILLROUTE_CACHE", str(tmp_path / "cache"))
    _big_catalog(tmp_path / "skills")
    load_catalog(tmp_path / "skills")
    write_skill(tmp_path / "skills", "skill-007", "Use when the user wants to water the plants.")
    again = load_catalog(tmp_path / "skills")
    assert "water the plants" in " ".join(again["skill-007"].triggers)


def test_a_damaged_cache_file_means_a_normal_load(tmp_path, monkeypatch):
    monkeypatch.setenv("SKILLROUTE_CACHE", str(tmp_path / "cache"))
    _big_catalog(tmp_path / "skills")
    first = load_catalog(tmp_path / "skills")
    for f in (tmp_path / "cache" / "catalogs").glob("*.json"):
        f.write_text('{"skills": [{"name": 3}]')
    _same(first, load_catalog(tmp_path / "skills"))


def test_a_frontmatter_json_cannot_hold_is_not_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("SKILLROUTE_CACHE", str(tmp_path / "cache"))
    _big_catalog(tmp_path / "skills")
    write_skill(tmp_path / "skills", "skill-001", "Use when the user wants to sort mail.", extra="created: 2025-01-02\n")
    cat = load_catalog(tmp_path / "skills")
    assert str(cat["skill-001"].frontmatter["created"]) == "2025-01-02"
    assert not list((tmp_path / "cache" / "catalogs").glob("*.json"))

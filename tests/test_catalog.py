import warnings

import pytest

from skillroute import CatalogError, load_catalog
from skillroute.catalog import read_skill_file

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
    ("---\nname: bad\ndescription: hi\nmetadata: [1, 2]\n---\n", 4, "'metadata' must map"),
    ("---\nname: bad\ndescription: hi\nmetadata:\n  skillroute-kind: both\n---\n", 4, "skillroute-kind"),
    ("---\nname: bad\ndescription: hi\ndisable-model-invocation: maybe\n---\n", 4, "true or false"),
])
def test_bad_skill_files_name_file_and_line(tmp_path, content, line, fragment):
    d = tmp_path / "bad"
    d.mkdir()
    f = d / "SKILL.md"
    f.write_text(content)
    with pytest.raises(CatalogError) as info:
        load_catalog(tmp_path)
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
    c = load_catalog(tmp_path, lenient=True)
    assert c.names == ["good"]
    assert len(c.errors) == 1 and "broken" in str(c.errors[0])


def test_first_directory_wins_with_a_warning(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    write_skill(a, "dup", "Use for the first.")
    write_skill(b, "dup", "Use for the second.")
    write_skill(b, "other", "Use for other things.")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        c = load_catalog(a, b)
    assert c["dup"].description == "Use for the first."
    assert "other" in c
    msg = " ".join(str(w.message) for w in caught)
    assert str(a / "dup" / "SKILL.md") in msg and str(b / "dup" / "SKILL.md") in msg


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

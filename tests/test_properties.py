"""Property-based tests (Hypothesis): any text gives a parse, a decision or a named error, never a traceback.

Over the description parser, the SKILL.md reader, the JSONL reader, the request views and the router: the
inputs are drawn at random (unicode of every category, surrogates, control characters, YAML and JSON
fragments), and each property is what a user of the library relies on.
"""

import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skillroute import CatalogError, DataError, Router
from skillroute.core._catalog import read_skill_file
from skillroute.core._dataset import load_examples
from skillroute.core._query import normalize_request, read_request
from skillroute.core._rules import parse_description

ANY_TEXT = st.text(st.characters(codec=None, categories=None), max_size=400)  # surrogates and controls too
PROSE = st.text(st.characters(categories=("L", "N", "P", "Zs", "S", "Cc")), max_size=300)
SLOW = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@given(ANY_TEXT)
@settings(max_examples=300, deadline=None)
def test_any_description_parses_into_text_it_holds(text):
    parsed = parse_description(text, ["fix", "cook"])
    flat = " ".join(text.split())
    for r in parsed.rules:
        assert r.text and r.clause in flat
        assert r.redirect is None or r.redirect in ("fix", "cook") or r.redirect.replace("-", "").isalnum()
    assert len({t.lower() for t in parsed.triggers}) == len(parsed.triggers)


@given(ANY_TEXT)
@settings(max_examples=300, deadline=None)
def test_any_request_gives_at_most_three_views_of_safe_text(text):
    safe = normalize_request(text)
    safe.encode("utf-8")  # no lone surrogate survives
    assert len(safe) <= 16_001
    body, views = read_request(safe)
    assert 1 <= len(views) <= 3 and all(isinstance(v, str) for v in views)
    if safe.strip():
        assert all(v.strip() for v in views)


FRONT_VALUES = st.one_of(ANY_TEXT, st.integers(), st.floats(allow_nan=True), st.booleans(), st.none(),
                         st.lists(st.text(max_size=20), max_size=3), st.sampled_from(["2024-02-30", "[unclosed",
                                                                                       "{a: b", "&anchor x", "*alias"]))


@given(name=FRONT_VALUES, description=FRONT_VALUES, body=ANY_TEXT, raw=st.booleans())
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_skill_file_loads_or_names_the_file(tmp_path_factory, name, description, body, raw):
    folder = tmp_path_factory.mktemp("cat") / "some-skill"
    folder.mkdir()
    path = folder / "SKILL.md"
    if raw:  # the values pasted into the frontmatter as text, YAML and all
        front = f"name: {name}\ndescription: {description}\n"
    else:
        front = json.dumps({"name": name, "description": description}, default=str) + "\n"
    path.write_text(f"---\n{front}---\n{body}", encoding="utf-8", errors="surrogatepass")
    for strict in (True, False):
        try:
            skill = read_skill_file(path, strict=strict)
        except CatalogError as exc:
            assert str(path) in str(exc)
        else:
            assert isinstance(skill.name, str) and isinstance(skill.description, str)


@given(st.lists(st.one_of(ANY_TEXT, st.builds(json.dumps, st.dictionaries(
    st.sampled_from(["prompt", "skill", "also", "acceptable", "tags", "split"]),
    st.one_of(ANY_TEXT, st.integers(), st.lists(st.text(max_size=10), max_size=2), st.none())))), max_size=6))
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_jsonl_file_reads_or_names_file_line_and_field(tmp_path_factory, lines):
    path = tmp_path_factory.mktemp("data") / "d.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8", errors="surrogatepass")
    try:
        examples = load_examples(path, exclusive=["fix", "cook"], additive=["docs-seeker"])
    except DataError as exc:
        assert str(path) in str(exc) and exc.line is not None
    else:
        assert all(e.skill in ("fix", "cook", "none") for e in examples)
    skipped: list = []
    kept = load_examples(path, exclusive=["fix", "cook"], additive=["docs-seeker"], lenient=True, skipped=skipped)
    assert all(isinstance(e, DataError) for e in skipped) and len(kept) <= len(lines)


@pytest.fixture(scope="module", params=["description router", "fitted router"])
def any_router(request, catalog, encoder):
    from .conftest import SKILLS

    return Router(catalog, encoder) if request.param == "description router" else Router.from_path(SKILLS)


@given(st.lists(st.one_of(ANY_TEXT, PROSE), min_size=1, max_size=4))
@SLOW
def test_any_request_gets_a_finite_decision_in_valid_json(any_router, texts):
    zero_shot = any_router
    routable = [t for t in texts if t.strip()]
    if not routable:
        with pytest.raises(ValueError, match="empty request"):
            zero_shot.route(texts[0])
        return
    decisions = zero_shot.route_many(routable)
    assert len(decisions) == len(routable)
    for d in decisions:
        assert d.skill is None or d.skill in zero_shot.catalog
        assert 0.0 <= d.confidence <= 1.0
        assert all(math.isfinite(s) for _, s in d.ranked)
        json.loads(json.dumps(d.to_dict(), allow_nan=False))  # strict JSON: no NaN, no Infinity

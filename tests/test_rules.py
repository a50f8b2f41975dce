"""The description parser: hand-written descriptions with the facets and rules they must give, and properties
that hold on every shipped description (redirects found, rules quoted from the text, facets kept apart)."""

import re

import pytest

from skillroute.core._rules import parse_description, split_sentences

# A few facets each description must yield (sentences, quoted trigger phrases, list items).
EXPECTED_FACETS = {
    "agent-browser": ["open a website", "fill out a form", "scrape data from a page", "filling forms"],
    "ask": ["why", "what does this do", "what's the difference", "what are the tradeoffs",
            "The key signal is the user wants to UNDERSTAND something"],
    "backend-fastapi-python": ["building FastAPI endpoints", "running Alembic migrations", "debugging 422 errors",
                               "async SQLAlchemy sessions", "role-based access"],
    "cook": ["build this", "wire up", "adding an API endpoint", "implementing a search/filter"],
    "diagnose": ["why is this happening?", "works locally but not in staging/production",
                 "inconsistent or intermittent failures", "stale data", "The key signal is confusion about root cause"],
    "discuss": ["debate", "should I do X or Y", "I'm torn between", "sanity check my thinking",
                "The user must be asking for help reasoning through a choice"],
    "docs": ["turn this into a doc", "document how X works", "onboarding guides", "architecture notes",
             "The trigger: user wants knowledge captured in a file for future reference"],
    "docs-seeker": ["check function signatures or required fields", "find feature-specific docs"],
    "fix": ["CORS problems", "off-by-one mistakes", "incorrect results", "a reproducible failing test", "a prior diagnosis to implement"],
    "give-plan": ["plan this out", "break this into tasks", "don't code yet, plan first",
                  "The output is a plan the user can approve or edit"],
    "research": ["find every place we do X", "survey the libraries for", "dependency inventories"],
    "review": ["review this PR", "look over my diff", "is this idiomatic", "race conditions"],
    "test": ["run the tests", "add a regression test", "coverage reports", "fixtures and mocks"],
}

NEGATIVE_WORDS = ("Do NOT", "Not for", "not change it", "no implementation", "not a request")


@pytest.mark.parametrize("name", sorted(EXPECTED_FACETS))
def test_rules_of_every_shipped_description_come_from_its_text(catalog, name):
    skill = catalog[name]
    arrows = set(re.findall(r"→\s*([a-z0-9-]+)", skill.description))
    assert arrows <= {r.redirect for r in skill.rules}  # every "(→ skill)" is some rule's redirect
    flat = " ".join(skill.description.split())
    for r in skill.rules:
        assert r.text in flat and r.clause in flat  # quoted from the description, nothing invented
        assert r.text not in skill.triggers


def test_several_redirected_items_joined_by_or_are_separate_rules():
    p = parse_description("Plan a change before code is written. Do NOT use for writing code (→ cook) or for "
                          "choosing between options (→ discuss).")
    assert [(r.text, r.redirect) for r in p.rules] == [("writing code", "cook"), ("choosing between options", "discuss")]


@pytest.mark.parametrize("description, facets", [
    ("Query the billing database. Triggers include: invoices, refunds, payment failures.",
     ["invoices, refunds, payment failures", "invoices", "refunds", "payment failures"]),
    ('Manage releases. Keywords: "changelog", "version bump", tags.', ["changelog", "version bump", "tags"]),
    ("Use when: the build is red, CI fails.", ["the build is red", "CI fails"]),
])
def test_an_explicit_trigger_list_gives_each_item(description, facets):
    triggers = parse_description(description).triggers
    assert all(f in triggers for f in facets), triggers
    assert not any(t.lower().startswith(("triggers", "keywords", "use when")) for t in triggers)


@pytest.mark.parametrize("name", sorted(EXPECTED_FACETS))
def test_facets_of_every_shipped_description(catalog, name):
    triggers = catalog[name].triggers
    for facet in EXPECTED_FACETS[name]:
        assert facet in triggers, facet
    # the negative text never leaks into the positive facets
    for t in triggers:
        assert not any(w in t for w in NEGATIVE_WORDS), t
    assert len(set(t.lower() for t in triggers)) == len(triggers)


def test_bare_proper_names_are_not_facets(catalog):
    # "Stripe", "FastAPI" alone would pull every FastAPI request toward docs-seeker
    assert "FastAPI" not in catalog["docs-seeker"].triggers
    assert "Stripe" not in catalog["docs-seeker"].triggers


def test_redirect_forms():
    p = parse_description("Use for alpha. Do NOT use for beta (→ b), gamma (-> c), or delta — use d for that.",
                          ["b", "c", "d"])
    assert [(r.text, r.redirect) for r in p.rules] == [("beta", "b"), ("gamma", "c"), ("delta", "d")]
    assert p.triggers == ("alpha",)  # "Use for" is boilerplate


def test_tail_negation_is_a_rule_only_in_the_do_dont_convention():
    with_convention = parse_description("The signal is that the user wants a file, not just a chat. "
                                        "Do NOT use for slides.")
    assert with_convention.triggers == ("The signal is that the user wants a file",)
    assert [r.text for r in with_convention.rules] == ["just a chat", "slides"]
    # a contrast in a description that never uses the convention is no rule ("not performative agreement")
    contrast = parse_description("Use when receiving review feedback, before acting on it - requires rigor and "
                                 "verification, not performative agreement")
    assert contrast.rules == ()
    assert contrast.triggers == ("receiving review feedback, before acting on it - requires rigor and verification",)
    # unless the tail names a kind of request
    request = parse_description("Helps weigh options for a choice the user faces — not asking to build anything")
    assert [r.text for r in request.rules] == ["build anything"]


@pytest.mark.parametrize("sentence, facet", [
    ("Use this skill when the user asks to create a poster or a flyer.", "create a poster or a flyer"),
    ("This skill should be used when writing or refactoring React code.", "writing or refactoring React code"),
    ("You should use this skill when the user wants to merge PDFs.", "merge PDFs"),
    ("Triggers on tasks involving Terraform modules.", "Terraform modules"),
    ("When Claude needs to fill a PDF form.", "fill a PDF form"),
    ("Use Playwright to test the pages.", "Use Playwright to test the pages"),  # an instruction, not boilerplate
])
def test_boilerplate_lead_ins_leave_the_trigger(sentence, facet):
    assert parse_description(sentence).triggers[0] == facet


def test_a_pure_boilerplate_sentence_is_no_facet():
    assert parse_description("Converts audio to text. Use this skill.").triggers == ("Converts audio to text",)


def test_a_sentence_shared_by_many_skills_is_left_out(tmp_path):
    from skillroute import load_catalog

    from .conftest import write_skill

    for name, topic in [("mail-a", "Gmail"), ("mail-b", "Outlook"), ("mail-c", "Zoho Mail")]:
        write_skill(tmp_path, name, f"Automate {topic} tasks. Always search tools first for current schemas.")
    c = load_catalog(tmp_path)
    assert c["mail-b"].triggers == ("Automate Outlook tasks",)


def test_sentence_split_keeps_quotes():
    s = split_sentences('Use it. Triggers include "open it. now", and more. Done')
    assert s[0] == "Use it." and s[-1] == "Done"

"""The description parser on all 13 shipped descriptions: every rule (with its redirect) and key facets."""

import pytest

from skillroute.core._rules import parse_description, split_sentences

EXPECTED_RULES = {
    "agent-browser": [],
    "ask": [('implementation', None), ('change it', None), ('build', None), ('fix', 'fix'), ('plan', None), ('review', 'review'), ('research', 'research'), ('add/modify code', None)],
    "backend-fastapi-python": [('frontend', None), ('Docker', None), ('CI/CD', None), ('infrastructure', None)],
    "cook": [('pure research', 'research'), ('debugging', None), ('documentation', None), ('explanation', None)],
    "diagnose": [('a request to implement a known fix', 'fix'), ('feature requests', None), ('known fixes', None), ('planning', None), ('documentation tasks', None)],
    "discuss": [('build', None), ('fix', 'fix'), ('evaluate', None), ('plan', None), ('modify something', None)],
    "docs": [('just a conversation', None), ('still making decisions', 'give-plan'), ('just asking for explanation without a file', 'ask'), ('writing code', 'cook')],
    "docs-seeker": [],
    "fix": [('new features', None), ('pure explanation', None), ('architecture discussion', None), ('broad research', 'research'), ('bug reports where the main need is figuring out why the behavior happens', 'diagnose')],
    "give-plan": [('code', None), ('the user is still choosing between options', 'discuss'), ('wants the code written now', 'cook'), ('wants the plan saved as a document file', 'docs')],
    "research": [('one question about how a piece of code works', 'ask'), ("reading one library's official API reference", 'docs-seeker'), ('choosing between the options found', 'discuss'), ('finding the cause of a failure', 'diagnose')],
    "review": [('explaining what code does', 'ask'), ('making the changes', 'cook'), ('repairing a known bug', 'fix'), ('running the test suite', 'test')],
    "test": [('repairing the code that a failing test points at', 'fix'), ('clicking through a live web app in a browser', 'agent-browser'), ('judging code quality', 'review')],
}

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


@pytest.mark.parametrize("name", sorted(EXPECTED_RULES))
def test_rules_of_every_shipped_description(catalog, name):
    got = [(r.text, r.redirect) for r in catalog[name].rules]
    assert got == EXPECTED_RULES[name]


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

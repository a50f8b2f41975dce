"""Routing with the real model: explicit invocation, disabled and additive skills, none, batch = single."""

import asyncio
import threading

import pytest

from skillroute import Router, load_catalog

from .conftest import write_skill

# One clear-cut request per skill (written for these tests, not taken from the eval set).
CLEAR_CUT = {
    "agent-browser": "go to our staging site in a browser, sign in as the demo user and grab a screenshot of the billing page",
    "ask": "what is the purpose of the retry decorator in utils/net.py? just want to understand it",
    "cook": "implement a CSV export feature for the invoices module",
    "diagnose": "our cache hit rate dropped from 90% to 40% overnight and nobody changed anything, why is this happening?",
    "fix": "the /orders endpoint returns 500 since we added the discount column, traceback points at services/orders.py:88",
    "docs": "turn what we figured out about the deploy process into a runbook in docs/ so nobody has to rediscover it",
    "discuss": "I'm torn between Postgres and DynamoDB for the events table, help me decide",
    "docs-seeker": "look up the official Stripe API reference for the required fields of a PaymentIntent",
    "give-plan": "give me a step by step plan for moving auth to OAuth, which files change and in what order, no code yet",
    "research": "survey the libraries available for PDF generation in Python and report what options exist",
    "review": "review this PR and flag anything wrong before I merge",
    "test": "write unit tests for the invoice total calculation and run the test suite",
}


@pytest.fixture(scope="module")
def base_router(catalog, encoder):
    """The description router on the base model alone (the figures these prompts were written against)."""
    return Router(catalog, encoder, reader=None)


@pytest.mark.parametrize("skill", sorted(CLEAR_CUT))
def test_clear_cut_prompt_per_skill(base_router, skill):
    d = base_router.route(CLEAR_CUT[skill])
    assert d.skill == skill, (d.ranked[:3], d.reasons)


def test_decision_shape(router, catalog):
    d = router.route(CLEAR_CUT["fix"])
    assert 0.0 <= d.confidence <= 1.0
    assert [n for n, _ in d.ranked] and len(d.ranked) == len(catalog.exclusive)
    scores = [s for _, s in d.ranked]
    assert scores == sorted(scores, reverse=True)
    assert d.reasons and "fix" in d.reasons[0]
    as_dict = d.to_dict()
    assert set(as_dict) >= {"skill", "also", "confidence", "ranked", "reasons"}


def test_the_packaged_general_reader_reads_by_default_and_routes_most_clear_cut_prompts(router, base_router):
    assert router.describe() == "description router, general reader"
    assert base_router.describe() == "description router, base encoder"
    decisions = router.route_many([CLEAR_CUT[s] for s in sorted(CLEAR_CUT)])
    right = sum(d.skill == s for d, s in zip(decisions, sorted(CLEAR_CUT), strict=True))
    assert right >= len(CLEAR_CUT) - 2, [(s, d.skill) for d, s in zip(decisions, sorted(CLEAR_CUT), strict=True)]


def test_additive_skill_switches_on_beside_the_workflow_skill(base_router):
    d = base_router.route("add a FastAPI endpoint that returns the current user's orders, with a Pydantic response "
                     "schema and the get_current_user dependency")
    assert d.skill == "cook"
    assert d.also == ["backend-fastapi-python"]
    assert any("additive" in r for r in d.reasons)


def test_additive_skill_stays_off_for_frontend(router):
    d = router.route("make the navbar sticky on mobile in components/Header.tsx")
    assert "backend-fastapi-python" not in d.also


def test_no_skill_for_chit_chat(router):
    for text in ["thanks!", "write me a haiku about autumn leaves"]:
        d = router.route(text)
        assert d.skill is None, (text, d.ranked[:3])
        assert d.reasons[0].startswith("no skill")


def test_explicit_invocation(router):
    d = router.route("/review please look at src/app.py")
    assert d.skill == "review" and d.explicit and d.confidence == 1.0
    d = router.route("/discuss")
    assert d.skill == "discuss" and d.explicit
    # a leading slash that names no skill is just text
    d = router.route("/health returns 200 even when the database is down")
    assert not d.explicit


def test_disabled_skill_is_never_chosen_automatically_but_can_be_invoked(tmp_path, encoder):
    write_skill(tmp_path, "deploy", "Deploy the application to production. Use when the user asks to ship, "
                "release or deploy the app.", extra="disable-model-invocation: true\n")
    write_skill(tmp_path, "chat", "Answer general questions about code and explain how things work.")
    r = Router(load_catalog(tmp_path), encoder)
    d = r.route("deploy the app to production now")
    assert d.skill != "deploy" and "deploy" not in [n for n, _ in d.ranked]
    d = r.route("/deploy now")
    assert d.skill == "deploy" and d.explicit


def test_rules_push_off_and_redirect(tmp_path, encoder):
    write_skill(tmp_path, "helper", "Help with database work: schema design, queries, indexes and performance. "
                "Do NOT use for writing schema migration scripts (→ migrator).")
    write_skill(tmp_path, "migrator", "Handle data pipeline and ETL jobs.")
    c = load_catalog(tmp_path)
    text = "write a migration script for the new schema"
    with_rules = Router(c, encoder).route(text)
    without = Router(c, encoder, rules=False).route(text)
    assert without.skill == "helper"
    assert with_rules.skill == "migrator"
    assert with_rules.skill_without_rules == "helper"
    hit = with_rules.rule_hits[0]
    assert hit.skill == "helper" and hit.redirect == "migrator"
    assert any("rule of helper fired" in r for r in with_rules.reasons)


def test_batch_equals_single(router):
    texts = list(CLEAR_CUT.values()) + ["thanks!", "/fix the login page", "x " * 2000]
    batch = router.route_many(texts)
    for t, b in zip(texts, batch, strict=True):
        s = router.route(t)
        assert (s.skill, s.also) == (b.skill, b.also)
        assert [n for n, _ in s.ranked] == [n for n, _ in b.ranked]
        for (_, x), (_, y) in zip(s.ranked, b.ranked, strict=True):
            assert x == pytest.approx(y, abs=1e-3)


def test_empty_and_bad_input(router):
    for bad in ["", "   \n\t"]:
        with pytest.raises(ValueError):
            router.route(bad)
    with pytest.raises(TypeError):
        router.route_many("one string")


def test_longer_than_the_window_is_truncated_not_crashed(router):
    text = "please fix the crash in billing/invoice.py line 40. " + "log line with noise\n" * 3000
    d = router.route(text)
    assert d.ranked


def test_concurrent_routes_agree_with_sequential(router):
    texts = list(CLEAR_CUT.values()) * 3
    expected = [router.route(t).skill for t in texts]
    got: list = [None] * len(texts)

    def work(i):
        got[i] = router.route(texts[i]).skill

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(texts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got == expected


def test_async_route(router):
    d = asyncio.run(router.aroute(CLEAR_CUT["cook"]))
    assert d.skill == "cook"


def test_shortlist(router):
    top = router.shortlist(CLEAR_CUT["review"], 3)
    assert len(top) == 3 and top[0][0] == "review"
    with pytest.raises(ValueError):
        router.shortlist("x", 0)


def test_a_rule_only_description_is_left_out_not_taking_over(tmp_path, encoder):
    """Issue: 'Do NOT use for debugging (→ diagnose).' alone gave diagnose +Infinity for every request."""
    import json
    import math

    from .conftest import write_skill

    write_skill(tmp_path, "diagnose", "Use when the cause of a failure is unknown and needs investigating.")
    write_skill(tmp_path, "cook", "Use when the user wants new code written: features, endpoints, refactors.")
    write_skill(tmp_path, "odd", "Do NOT use for debugging (→ diagnose).")
    c = load_catalog(tmp_path)
    assert any("odd/SKILL.md" in w and "no positive trigger" in w for w in c.warnings)
    r = Router(c, encoder)
    for text in ["add a CSV export button to the reports page", "why does the cron job run twice since monday?"]:
        d = r.route(text)
        assert d.skill != "odd" and all(math.isfinite(s) for _, s in d.ranked)
        assert 0.0 <= d.confidence <= 1.0
        json.loads(json.dumps(d.to_dict(), allow_nan=False))
    assert r.route("/odd please").skill == "odd"  # still invocable by name

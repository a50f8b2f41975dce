"""Parse a trigger description into positive trigger facets and negative do/don't rules.

Pure functions over text. The negative clauses are kept apart from the positive facets on
purpose: embedding "Do NOT use for debugging" inside a skill's positive vector pulls debugging
requests toward that very skill.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Rule", "ParsedDescription", "parse_description", "split_sentences", "strip_boilerplate", "is_placeholder"]


@dataclass(frozen=True)
class Rule:
    """One negative item of a description: a kind of request the skill must not take."""

    text: str  # the item itself, e.g. "debugging"
    phrase: str  # what is embedded: the item with its lead-in, e.g. "requests to fix"
    redirect: str | None  # the skill the description sends such requests to, if it names one
    clause: str  # the whole sentence the item came from


@dataclass(frozen=True)
class ParsedDescription:
    """The positive trigger facets and the negative rules of one description."""

    triggers: tuple[str, ...]
    rules: tuple[Rule, ...]


# what a template or an unfinished skill says instead of a description (anthropics/skills ships one)
_PLACEHOLDER = re.compile(r"^\W*(?:replace (?:this )?with\b|todo\b|tbd\b|lorem ipsum|description goes here|"
                          r"describe (?:what|when) (?:this|the) skill|your description\b)|^\W*$|^\[[^\]]*\]\W*$",
                          re.IGNORECASE)


def is_placeholder(description: str) -> bool:
    """A description that is a template's placeholder ("Replace with description of the skill…", "TODO")."""
    return bool(_PLACEHOLDER.search(description.strip()))


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'(“‘])")
_NEG_START = re.compile(
    r"^(?:do not|don't|never)\s+(?:use|trigger|activate|invoke)\b(?:\s+(?:this|the)\s+skill)?\s*"
    r"(?:for|when|on|if|in)?\s*",
    re.IGNORECASE,
)
_NOT_FOR = re.compile(r"^not\s+(?:for|when)\s+", re.IGNORECASE)
# "…, not X" / "… — not X" / "… — no X" at the end of a sentence.
_TAIL_NEG = re.compile(r"^(?P<pos>.+?)(?:\s*[—–]\s*|,\s+)(?:not|no)\s+(?P<neg>[^—–]+?)[.!]?$", re.IGNORECASE)
# a dash tail inside a negative sentence that restates the positive or names a redirect
_DASH_TAIL = re.compile(r"\s*[—–]\s*(?P<tail>.*)$")
_USE_INSTEAD = re.compile(
    r"\buse\s+(?P<name>[a-z0-9][a-z0-9-]*)\s+(?:for that|for those|instead)\b", re.IGNORECASE
)
_ARROW = re.compile(r"\(?\s*(?:→|->)\s*(?P<name>[A-Za-z0-9][A-Za-z0-9-]*)\s*\)?")
_AFTER_ARROW = re.compile(r"(\(\s*(?:→|->)\s*[A-Za-z0-9][A-Za-z0-9-]*\s*\))\s+(?=(?:or|and)\s)")
# a sentence that is an explicit list of triggers: "Triggers include: invoices, refunds, payment failures"
_TRIGGER_LIST = re.compile(
    r"^(?:(?:trigger(?:s| phrases| words)?|keywords?)(?:\s+(?:include|includes|including|are))?|"
    r"(?:use|invoke)\s+(?:when|for))\s*:\s*", re.IGNORECASE)
_QUOTED = re.compile(r"\"([^\"]+)\"|“([^”]+)”|(?<!\w)'(.+?)'(?!\w)")
_LEADS = re.compile(
    r"^(?:requests? to|asking to|asked to|questions? about|requests? for|tasks? like)\s+", re.IGNORECASE
)
# Lead-ins that say "this is a trigger" rather than what triggers it: "Use this skill when the user asks to …",
# "This skill should be used when …", "Triggers on tasks involving …". They are common to every skill of a
# catalog, so in a facet they only pull unrelated skills together; the facet keeps what follows them.
_BOILERPLATE = re.compile(
    r"^(?:(?:you|claude|the agent|agents?)\s+(?:should|must|can|may)\s+(?:always\s+)?(?:use|invoke|load)\s+"
    r"(?:this|it)(?:\s+skill)?|this skill (?:should|must|can|may) be (?:used|invoked|loaded|activated)|"
    r"(?:use|invoke|load|activate|apply)(?:\s+(?:this skill|this|it|me))?(?=\s+(?:whenever|when|if|any\s?time|"
    r"for|before|after|while|during|on)\b)|triggers?(?:\s+(?:on|for|when))?(?:\s+tasks?\s+involving)?|"
    r"(?:when|whenever)\s+(?:claude|the agent|you)\s+(?:needs?|wants?)\s+to)"
    r"\s*(?:whenever|when(?:ever)?|if|any\s?time|for|before|after|while|during|on)?\s*(?:that\s+)?",
    re.IGNORECASE,
)
_ACTOR = re.compile(
    r"^(?:the user|users|a user|someone|you)\s+(?:explicitly\s+)?(?:asks?|wants?|needs?|requests?|mentions?)"
    r"(?:\s+(?:to|for|about))?\s+",
    re.IGNORECASE,
)
# the lead of a tail negation that names a kind of request ("— not asking to build …", ", not a request to …")
_REQUEST_LEAD = re.compile(r"^(?:asking|a request|requests?|for|when|used for)\b", re.IGNORECASE)
_LIST_LEAD = re.compile(
    r"^.*?(?::\s+|\s[—–]\s+(?:whether it's\s+)?|\b(?:for|like|include|including|such as)\s+)", re.IGNORECASE
)


def split_sentences(text: str) -> list[str]:
    """Split description text into sentences, keeping quoted phrases and parentheses intact."""
    text = " ".join(text.split())
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


_LIST_MARKS = re.compile(r"[\",;()“”]")


def _split_top_level(text: str) -> list[str]:
    """Split a list on commas and a final 'or'/'and', ignoring separators inside () and quotes. It steps
    from mark to mark (quotes, brackets, separators), not character by character: 10,000 skills load faster."""
    items: list[str] = []
    depth = 0
    quote: str | None = None
    last = 0
    for m in _LIST_MARKS.finditer(text):
        ch = m.group()
        if quote:
            if ch == quote or (quote == "“" and ch == "”"):
                quote = None
        elif ch in "\"“":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
        elif ch in ",;" and depth == 0:
            items.append(text[last:m.start()])
            last = m.end()
    items.append(text[last:])
    return _clean_items(items)


_LEADING_JOIN = re.compile(r"^\s*(?:or|and)\s+")


def _clean_items(items: list[str]) -> list[str]:
    out = []
    for item in items:
        item = _LEADING_JOIN.sub("", item.strip()).strip(" .")
        if item:
            out.append(item)
    return out


def _negative_items(body: str, clause: str, names: frozenset[str]) -> list[Rule]:
    tail_redirect = None
    m = _DASH_TAIL.search(body)
    if m:
        tail = m.group("tail")
        use = _USE_INSTEAD.search(tail)
        if use:
            tail_redirect = use.group("name")
        body = body[: m.start()]
    # a parenthetical aside that is not an arrow is context, not an item
    body = re.sub(r"\((?!\s*(?:→|->))[^)]*\)", "", body)
    # items joined by "or"/"and" after a redirect are separate items: "writing code (→ cook) or planning (→ x)"
    body = _AFTER_ARROW.sub(r"\1, ", body)
    lead = ""
    lm = _LEADS.match(body)
    if lm:
        lead = lm.group(0)
        body = body[lm.end():]
    rules: list[Rule] = []
    items = _split_top_level(body)
    for i, item in enumerate(items):
        item = re.sub(r"^(?:for|when)\s+", "", item, flags=re.IGNORECASE)
        redirect = None
        am = _ARROW.search(item)
        if am:
            redirect = am.group("name")
            item = (item[: am.start()] + item[am.end():]).strip(" ,.")
        if redirect is None and tail_redirect and i == len(items) - 1:
            redirect = tail_redirect
        if redirect is None and names:
            words = re.findall(r"[a-z0-9-]+", item.lower())
            if words and words[-1] in names:
                redirect = words[-1]
        item = " ".join(item.split())
        if not item:
            continue
        rules.append(Rule(text=item, phrase=f"{lead}{item}".strip(), redirect=redirect, clause=clause))
    return rules


def _is_list_facet(item: str) -> bool:
    """A list item worth a facet of its own: not a bare proper name ("Stripe", "API") nor a quote holder."""
    if len(item) <= 2 or any(q in item for q in "\"“'"):
        return False
    return len(item.split()) > 1


def _positive_facets(sentence: str) -> list[str]:
    lm = _TRIGGER_LIST.match(sentence)
    if lm:  # an explicit list of triggers: each item (even one word) is a facet, quotes taken off
        items = [i.strip("\"“”'") for i in _split_top_level(sentence[lm.end():])]
        return [sentence[lm.end():]] + [i for i in items if len(i) > 2]
    facets = [sentence]
    quoted = [next(g for g in m.groups() if g) for m in _QUOTED.finditer(sentence)]
    facets.extend(q.strip() for q in quoted if len(q.strip()) > 2)
    listed = sentence.split(":", 1)[1] if ":" in sentence else sentence
    items = _split_top_level(listed)
    if len(items) >= 4:
        items[0] = _LIST_LEAD.sub("", items[0], count=1)
        facets.extend(i for i in items if _is_list_facet(i))
    return facets


def strip_boilerplate(sentence: str) -> str:
    """A trigger sentence without its "Use this skill when the user asks to" lead-in ("" if nothing is left)."""
    if re.fullmatch(r"(?:use|invoke|load|activate|apply)\s+(?:this skill|this|it|me)\W*", sentence, re.IGNORECASE):
        return ""
    m = _BOILERPLATE.match(sentence)
    if not m or m.end() == 0:
        return sentence
    rest = _ACTOR.sub("", sentence[m.end():], count=1).strip(" ,:;-—–")
    return rest if len(rest.split()) >= 1 and re.search(r"\w", rest) else ""


def parse_description(text: str, skill_names: Iterable[str] = ()) -> ParsedDescription:
    """Parse a description into trigger facets and negative rules.

    ``skill_names`` lets an item that names a catalog skill ("requests to … review") redirect to it. A tail
    such as ", not performative agreement" is a rule only where the description uses the do/don't convention
    (a "Do NOT …"/"Not for …" sentence or a "→ skill" redirect) or the tail names a kind of request ("— not
    asking to build …"); elsewhere it is a contrast inside a trigger, and stays out of both.
    """
    names = skill_names if isinstance(skill_names, frozenset) else frozenset(skill_names)
    sentences = split_sentences(text)
    convention = _ARROW.search(text) is not None or any(
        _NEG_START.match(s) or _NOT_FOR.match(s) for s in sentences)
    triggers: list[str] = []
    rules: list[Rule] = []
    for sentence in sentences:
        core = sentence.rstrip(".!")
        m = _NEG_START.match(core) or _NOT_FOR.match(core)
        if m:
            rules.extend(_negative_items(core[m.end():], sentence, names))
            continue
        tm = _TAIL_NEG.match(core)
        if tm and len(tm.group("pos").split()) >= 3:
            if convention or _REQUEST_LEAD.match(tm.group("neg")):
                rules.extend(_negative_items(tm.group("neg"), sentence, names))
            core = tm.group("pos").strip()
        if _TRIGGER_LIST.match(core):
            triggers.extend(_positive_facets(core))
            continue
        core = strip_boilerplate(core)
        if core:
            triggers.extend(f for f in _positive_facets(core) if strip_boilerplate(f))
    seen: set[str] = set()
    unique = []
    for t in triggers:
        key = t.lower()
        if key not in seen:
            seen.add(key)
            unique.append(t)
    return ParsedDescription(triggers=tuple(unique), rules=tuple(rules))

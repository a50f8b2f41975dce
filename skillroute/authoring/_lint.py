"""Lint a catalog's descriptions: placeholders, overlaps and near-duplicates between skills, lengths and the
host's listing budget, with the fix for each finding.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..core._catalog import MAX_DESCRIPTION, Catalog, load_catalog
from ..core._rules import is_placeholder

__all__ = ["Finding", "lint", "host_budget", "DEFAULT_LISTING_BUDGET", "PER_DESCRIPTION_LIMIT"]

PER_DESCRIPTION_LIMIT = 1536  # Claude Code's skillListingMaxDescChars default: a longer description is cut
DEFAULT_LISTING_BUDGET = 8000  # Claude Code's fallback; its default is 1% of the context window
DEFAULT_CONTEXT_TOKENS = 200_000
CHARS_PER_TOKEN = 4  # the usual rough rate for English text


def host_budget(project: str | Path | None = None, context_tokens: int = DEFAULT_CONTEXT_TOKENS,
                environ: dict[str, str] | None = None, home: str | Path | None = None) -> tuple[int, str]:
    """The characters Claude Code gives the whole skill listing, and where that figure comes from.

    ``SLASH_COMMAND_TOOL_CHAR_BUDGET`` when set; else ``skillListingBudgetFraction`` (default 0.01) of the
    context window, read from the project's ``.claude/settings.local.json``, ``.claude/settings.json`` and
    then the user's ``~/.claude/settings.json``, as Claude Code gives them precedence.
    """
    import json
    import os

    env = os.environ if environ is None else environ
    raw = env.get("SLASH_COMMAND_TOOL_CHAR_BUDGET", "").strip()
    if raw.isdigit() and int(raw) > 0:
        return int(raw), "$SLASH_COMMAND_TOOL_CHAR_BUDGET"
    root = Path(project) if project is not None else Path.cwd()
    user = (Path(home) if home is not None else Path.home()) / ".claude" / "settings.json"
    for path in (root / ".claude" / "settings.local.json", root / ".claude" / "settings.json", user):
        try:
            value = json.loads(path.read_text()).get("skillListingBudgetFraction")
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value <= 1:
            return (round(value * context_tokens * CHARS_PER_TOKEN),
                    f"skillListingBudgetFraction {value} in {path}, of a {context_tokens:,}-token context")
    return (round(0.01 * context_tokens * CHARS_PER_TOKEN),
            f"Claude Code's default, 1% of a {context_tokens:,}-token context (skillListingBudgetFraction)")


@dataclass(frozen=True)
class Finding:
    """One lint finding: severity (error, warning, info), the file, what is wrong and what to do."""

    severity: str
    path: str
    message: str
    suggestion: str
    code: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def lint(dirs: list[str], encoder=None, *, overlap: float = 0.80, duplicate: float = 0.92,
         budget: int = DEFAULT_LISTING_BUDGET, conventions: bool = False,
         budget_source: str = "--budget") -> tuple[list[Finding], Catalog]:
    """Format rules (Agent Skills) and routing findings for the catalog in ``dirs``.

    ``conventions`` adds the notes on this project's do/don't convention (a skill with no "Do NOT … (→ x)"
    rule), which the Agent Skills format does not ask for.
    """
    catalog = load_catalog(*dirs)
    out: list[Finding] = []
    for err in catalog.errors:
        out.append(Finding("error", str(err.path), err.reason + (f" (line {err.line})" if err.line else ""),
                           "fix the frontmatter so the skill loads", "format"))
    for note in catalog.warnings:
        if " is defined twice: " in note:
            out.append(Finding("warning", note.split(": ", 1)[0] if note.startswith("/") else "", note,
                               "rename one of the two skills", "duplicate"))
    names = set(catalog.names)
    for s in catalog:
        p = str(s.path)
        for note in s.notes:  # loaded, but breaks the Agent Skills format that hosts validate
            out.append(Finding("error", p, note.split(": ", 1)[1] if note.startswith(p) else note,
                               "fix the frontmatter; hosts that validate the format reject this skill", "format"))
        if is_placeholder(s.description):
            out.append(Finding("warning", p, f"the description is a template's placeholder (\"{s.description[:80]}\"); "
                               "the skill is left out of routing",
                               "write what the skill does and when to use it", "placeholder"))
        elif not s.triggers:
            out.append(Finding("error", p, "the description holds no positive trigger (only rules or boilerplate); "
                               "the skill is left out of routing",
                               "say what the skill is for before saying what it is not for", "no-trigger"))
        if re.search(r"[<>]", s.description):
            arrow = "->" in s.description
            out.append(Finding("error", p, "the description contains '<' or '>', which skill-creator's validator "
                               "rejects", "write a redirect as '→' (not '->') and drop angle brackets" if arrow
                               else "remove the angle brackets", "chars"))
        for r in s.rules:
            if r.redirect and r.redirect not in names:
                out.append(Finding("error", p, f"rule '{r.text}' redirects to '{r.redirect}', not in the catalog",
                                   "point the redirect at an existing skill or add that skill", "redirect"))
        if len(s.description) > 0.8 * MAX_DESCRIPTION or len(s.triggers) > 30:
            out.append(Finding("info", p, f"long description ({len(s.description)} characters, "
                               f"{len(s.triggers)} facets): facets dilute each other",
                               "keep the distinguishing triggers; move detail to the SKILL.md body", "length"))
        if conventions and not s.rules and s.kind == "exclusive":
            out.append(Finding("info", p, "no 'Do NOT use for … (→ other-skill)' rule",
                               "name the neighbouring requests this skill must leave to another skill", "no-rules"))
    if encoder is not None and len(catalog):
        out += _overlaps(catalog, encoder, overlap, duplicate)
    out += _budget(catalog, budget, budget_source)
    order = {"error": 0, "warning": 1, "info": 2}
    return sorted(out, key=lambda f: (order[f.severity], f.path, f.code)), catalog


def _overlaps(catalog: Catalog, encoder, overlap: float, duplicate: float) -> list[Finding]:
    from ..core._cache import EmbeddingCache

    facets = [(s, t) for s in catalog for t in s.triggers if len(t.split()) >= 2]
    if not facets:
        return []
    vec = EmbeddingCache(encoder).embed([t for _, t in facets])
    sims = vec @ vec.T
    out: list[Finding] = []
    seen_pairs: set[tuple[str, str]] = set()
    for i in range(len(facets)):
        for j in np.flatnonzero(sims[i, i + 1:] >= min(overlap, duplicate)) + i + 1:
            (a, ta), (b, tb) = facets[i], facets[j]
            sim = float(sims[i, j])
            if ta.lower() == tb.lower() and a.name != b.name:
                continue  # the same sentence in two descriptions: reported once, below
            if a.name == b.name:
                if sim >= duplicate and not (ta.startswith(tb) or tb.startswith(ta)):  # a sentence and its list
                    out.append(Finding("info", str(a.path), f"near-duplicate facets ({sim:.2f}): \"{ta}\" / \"{tb}\"",
                                       "keep one of them", "duplicate-facet"))
                continue
            if sim < overlap or (a.name, b.name) in seen_pairs:
                continue
            seen_pairs.add((a.name, b.name))
            distinguished = any(r.redirect == b.name for r in a.rules) or any(r.redirect == a.name for r in b.rules)
            out.append(Finding(
                "info" if distinguished else "warning", str(a.path),
                f"triggers overlap with {b.name} ({sim:.2f}): \"{ta}\" / \"{tb}\"" +
                ("" if distinguished else "; no rule tells the two apart"),
                "a rule separates them already" if distinguished else
                f"add 'Do NOT use for … (→ {b.name})' here, or the reverse in {b.name}", "overlap"))
    shared: dict[str, set[str]] = {}
    for sk, t in facets:
        shared.setdefault(t.lower(), set()).add(sk.name)
    for text, owners in shared.items():
        if len(owners) >= 2:
            out.append(Finding("info", "", f"{len(owners)} skills share the trigger \"{text[:80]}\" "
                               f"({', '.join(sorted(owners)[:5])}{', …' if len(owners) > 5 else ''})",
                               "a shared sentence tells none of them apart; keep each skill's own words",
                               "shared-facet"))
    return out


def _budget(catalog: Catalog, budget: int, source: str = "--budget") -> list[Finding]:
    out = []
    total = 0
    cut = []
    for s in catalog:
        shown = s.description[:PER_DESCRIPTION_LIMIT]
        if len(s.description) > PER_DESCRIPTION_LIMIT:
            out.append(Finding("warning", str(s.path), f"the host shows only the first {PER_DESCRIPTION_LIMIT} "
                               "characters of a description", "shorten it", "budget"))
        total += len(s.name) + 2 + len(shown) + 1
        if total > budget:
            cut.append(s.name)
    if cut:
        first = catalog[cut[0]]
        out.append(Finding("warning", str(Path(first.path).parent.parent),
                           f"the listing is {total} characters, over the {budget}-character budget ({source}); "
                           f"the host keeps the descriptions of the skills used most and cuts the rest to bare "
                           f"names; without usage data, from the end of the listing: {', '.join(cut)}",
                           "shorten descriptions, or raise skillListingBudgetFraction in .claude/settings.json "
                           f"(this listing needs {total / budget * 0.01:.3f} of a context like this one)", "budget"))
    return out

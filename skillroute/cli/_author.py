"""Authoring commands: lint and tune."""

from __future__ import annotations

import json
import sys

import click

from ._app import backend_option, catalog_dirs, main, make_router, skills_option, strict_option
from ._render import _print_tune


@main.command(short_help="Check descriptions: format, budget, overlaps.")
@skills_option
@click.option("--strict", is_flag=True, help="Exit 1 on warnings too (default: on errors only).")
@click.option("--budget", type=click.IntRange(100), default=None,
              help="Characters the host gives the whole skill listing (default: Claude Code's, from "
                   "$SLASH_COMMAND_TOOL_CHAR_BUDGET or skillListingBudgetFraction in .claude/settings.json).")
@click.option("--context-tokens", type=click.IntRange(1000), default=200_000, show_default=True,
              help="The host's context window, for a budget given as a fraction of it.")
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
@click.option("--conventions", is_flag=True, help="Also note skills without a 'Do NOT use for … (→ other)' rule "
              "(skillroute's convention, not the format's).")
@click.option("--verbose", is_flag=True, help="Print every finding (default: at most 5 of each kind, then a count).")
@backend_option
def lint(skill_dirs, strict, budget, context_tokens, as_json, conventions, verbose, model, backend) -> None:
    """Check descriptions: Agent Skills format, hosts' characters and budget, overlapping triggers, redirects."""
    from ..authoring._lint import host_budget
    from ..authoring._lint import lint as lint_fn
    from ..core._encoder import load_encoder

    source = "--budget"
    if budget is None:
        budget, source = host_budget(context_tokens=context_tokens)
    findings, _ = lint_fn(catalog_dirs(skill_dirs), load_encoder(model, backend), budget=budget,
                          conventions=conventions, budget_source=source)
    if as_json:
        click.echo(json.dumps([f.to_dict() for f in findings], ensure_ascii=False, indent=1))
    else:
        shown: dict[tuple[str, str], int] = {}
        for f in findings:
            key = (f.severity, f.code)
            shown[key] = shown.get(key, 0) + 1
            if verbose or shown[key] <= 5:
                click.echo(f"{f.severity:7} {f.path}: {f.message}\n        → {f.suggestion}")
        for (severity, code), n in shown.items():
            if not verbose and n > 5:
                click.echo(f"{severity:7} … and {n - 5} more '{code}' findings (--verbose lists them all)")
        counts = {s: sum(f.severity == s for f in findings) for s in ("error", "warning", "info")}
        click.echo(f"{counts['error']} errors, {counts['warning']} warnings, {counts['info']} notes")
    if any(f.severity == "error" for f in findings) or (strict and any(f.severity == "warning" for f in findings)):
        sys.exit(1)


@main.command("tune", short_help="Propose a better description for one skill.")
@click.argument("skill")
@skills_option
@strict_option
@backend_option
@click.option("--data", type=click.Path(dir_okay=False), default="eval/prompts.jsonl", show_default=True,
              help="Labelled prompts (JSONL); lines of the test split are skipped, never read for tuning.")
@click.option("--folds", type=click.IntRange(2, 20), default=5, show_default=True,
              help="Cross-fitting folds: each fold's edit text is drawn without that fold, then scored on it.")
@click.option("--max-edits", type=click.IntRange(0, 10), default=5, show_default=True)
@click.option("--min-gain", type=click.IntRange(1), default=2, show_default=True,
              help="Apply an edit only when it gains at least this many held-out prompts (net).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the whole result as JSON.")
@click.option("--write", is_flag=True, help="Write the proposed description into SKILL.md (a .bak copy is kept).")
def tune_cmd(skill, skill_dirs, model, backend, data, folds, max_edits, min_gain, seed, as_json, write) -> None:
    """Propose a better description for SKILL from labelled prompts (zero-shot routing, cross-fitted edits)."""
    import time

    from ..authoring._tune import tune_skill, write_description
    from ..core._dataset import load_examples

    t0 = time.perf_counter()
    router = make_router(skill_dirs, model, backend, fitted=None)
    cat = router.catalog
    if skill not in cat:
        raise click.BadParameter(f"no skill named {skill!r}; the catalog has: {', '.join(cat.names)}",
                                 param_hint="SKILL")
    if cat[skill].kind != "exclusive":
        raise click.BadParameter(f"{skill!r} is additive; tune works on exclusive skills", param_hint="SKILL")
    rows = load_examples(data, exclusive=[s.name for s in cat.exclusive], additive=[s.name for s in cat.additive])
    examples = [e for e in rows if e.split != "test"]
    skipped = len(rows) - len(examples)
    if len(examples) < 4:
        raise click.UsageError(f"{data}: too few labelled lines outside the test split ({len(examples)})")
    click.echo(f"tuning {skill} on {len(examples)} prompts of {data}"
               + (f" ({skipped} test-split lines skipped)" if skipped else "") + " …", err=True)
    res = tune_skill(router, skill, examples, folds=folds, max_edits=max_edits, min_net=min_gain, seed=seed)
    written = backup = stale = None
    if write and res.applied:
        from ..core._router import FITTED_SUBDIR

        written = cat[skill].path
        backup = write_description(written, res.proposed)
        fitted = written.parent.parent / FITTED_SUBDIR
        stale = fitted if (fitted / "meta.json").is_file() else None
    seconds = time.perf_counter() - t0
    if as_json:
        out = res.to_dict()
        out.update({"data": str(data), "test_lines_skipped": skipped, "seconds": round(seconds, 2),
                    "written": str(written) if written else None, "backup": str(backup) if backup else None,
                    "fitted_head_to_refit": str(stale) if stale else None})
        click.echo(json.dumps(out, ensure_ascii=False, indent=1))
        return
    _print_tune(res, seconds)
    if written:
        click.echo(f"wrote {written} (the old file is {backup})")
        if stale:
            click.echo(f"{stale} was fitted on the old description: {skill} now routes by its description until "
                       f"you refit (skillroute fit --skills {written.parent.parent} --out {stale})")
    elif write:
        click.echo("nothing written: no edit was proposed")
    elif res.applied:
        click.echo("run again with --write to apply it to SKILL.md (a .bak copy is kept)")

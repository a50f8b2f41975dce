"""Routing commands: route, skills, warm, explain."""

from __future__ import annotations

import json
import sys

import click

from ._app import (
    _fitted_arg,
    _strict,
    backend_option,
    catalog_dirs,
    fitted_option,
    main,
    make_router,
    skills_option,
    strict_option,
)
from ._render import _BadLine, _read_batch, format_decision


@main.command(short_help="Route a request (or each line of stdin).")
@click.argument("text", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the decision as JSON (one line per prompt in batch mode).")
@skills_option
@strict_option
@backend_option
@fitted_option
def route(text: str | None, as_json: bool, skill_dirs: tuple[str, ...], model: str | None,
          backend: str | None, fitted_dir: str | None, zero_shot: bool) -> None:
    """Route TEXT; without TEXT, route each line of stdin ({"prompt": ...} objects or plain lines), one
    output per input line (an error object for a bad or empty line; --strict stops there instead)."""
    if text is not None and not text.strip():
        raise click.BadParameter("the request is empty", param_hint="TEXT")
    batch = None
    if text is None:
        if sys.stdin.isatty():
            raise click.UsageError("give a request as TEXT, or pipe prompts on stdin")
        batch = _read_batch(sys.stdin, _strict())
    router = make_router(skill_dirs, model, backend, fitted=_fitted_arg(fitted_dir, zero_shot))
    if batch is None:
        d = router.route(text)  # type: ignore[arg-type]
        click.echo(json.dumps(d.to_dict(), ensure_ascii=False) if as_json else format_decision(d))
        return
    good = iter(router.route_many([p for p in batch if isinstance(p, str)]))
    for item in batch:  # one output per input line, in order: a bad line gets an error object
        if isinstance(item, _BadLine):
            err = {"error": item.problem, "line": item.line}
            click.echo(json.dumps(err) if as_json else f"line {item.line}: error: {item.problem}\n")
            continue
        d = next(good)
        if as_json:
            click.echo(json.dumps(d.to_dict(), ensure_ascii=False))
        else:
            click.echo(format_decision(d) + "\n")


@main.command("skills", short_help="List the catalog and where each skill came from.")
@skills_option
@strict_option
@click.option("--json", "as_json", is_flag=True, help="Print the catalog as JSON.")
@click.option("--verbose", is_flag=True, help="List every skipped file and note (default: the first few).")
def skills_cmd(skill_dirs: tuple[str, ...], as_json: bool, verbose: bool) -> None:
    """List the catalog: each skill's kind, where it came from, its parsed triggers and rules."""
    from ..core._catalog import load_catalog

    catalog = load_catalog(*catalog_dirs(skill_dirs), strict=_strict())
    if as_json:
        out = [{"name": s.name, "kind": s.kind, "disabled": s.disabled, "path": str(s.path),
                "triggers": list(s.triggers),
                "rules": [{"text": r.text, "redirect": r.redirect} for r in s.rules]} for s in catalog]
        click.echo(json.dumps({"skills": out, "errors": [str(e) for e in catalog.errors],
                               "warnings": list(catalog.warnings)}, ensure_ascii=False, indent=2))
        return
    for s in catalog:
        flag = " (disabled: explicit invocation only)" if s.disabled else ""
        click.echo(f"{s.name}  [{s.kind}]{flag}  {s.path}")
        for t in s.triggers:
            click.echo(f"  + {t}")
        for r in s.rules:
            click.echo(f"  - not: {r.text}" + (f"  → {r.redirect}" if r.redirect else ""))
    click.echo(f"{len(catalog)} skills ({len(catalog.exclusive)} exclusive, {len(catalog.additive)} additive)", err=True)
    if verbose:
        for e in catalog.errors:
            click.echo(f"left out: {e}", err=True)
        for w in catalog.warnings:
            click.echo(f"warning: {w}", err=True)
    elif catalog.problems():
        click.echo(f"warning: {catalog.problems()}", err=True)


@main.command(short_help="Build the encoder and embed the catalog now.")
@skills_option
@strict_option
@backend_option
@click.option("--quantize", is_flag=True, help="Also make the int8 (dynamically quantised) ONNX export.")
def warm(skill_dirs: tuple[str, ...], model: str | None, backend: str | None, quantize: bool) -> None:
    """Make the ONNX export and embed the catalog's triggers into the cache, so later calls start fast."""
    from ..core._encoder import OnnxEncoder, export_onnx, resolve_model

    source = resolve_model(model)
    if backend != "torch" and source.sha256 is not None:
        click.echo(f"onnx export: {export_onnx(source)}")
        if quantize:
            click.echo(f"int8 export: {export_onnx(source, quantize=True)}")
    router = make_router(skill_dirs, model, backend).warm()  # a fitted delta is merged and exported here
    enc = router._get_encoder()
    tuned = " (base + the fitted router's fine-tune delta)" if router.head_ is not None and \
        router.head_.meta.get("adapter") else ""
    click.echo(f"catalog: {len(router.catalog)} skills embedded with {type(enc).__name__} ({enc.name}){tuned}")
    if quantize and not isinstance(enc, OnnxEncoder):
        click.echo("note: --quantize applies to the onnx backend only", err=True)


@main.command(short_help="Explain one decision skill by skill.")
@click.argument("text")
@click.option("--json", "as_json", is_flag=True, help="Print the explanation as JSON.")
@skills_option
@strict_option
@backend_option
@fitted_option
def explain(text, as_json, skill_dirs, model, backend, fitted_dir, zero_shot) -> None:
    """For every skill: its score, best-matching trigger, the rules that fired, and why the winner won."""
    from ..authoring._explain import explain as explain_fn

    if not text.strip():
        raise click.BadParameter("the request is empty", param_hint="TEXT")
    router = make_router(skill_dirs, model, backend, fitted=_fitted_arg(fitted_dir, zero_shot))
    ex = explain_fn(router, text)
    if as_json:
        click.echo(json.dumps(ex, ensure_ascii=False, indent=1))
        return
    from rich.console import Console
    from rich.table import Table

    con = Console(width=140)
    d = ex["decision"]
    con.print(f"decision of the {ex['router']}: [bold]{d['skill'] or '(none)'}[/bold]  also: {', '.join(d['also']) or '-'}  "
              f"confidence {d['confidence']:.2f}")
    for r in d["reasons"]:
        con.print(f"  - {r}", highlight=False)
    on = "its fine-tuned encoder" if "fine-tuned" in ex["router"] else "the " + ex["router"].split(", ")[1]
    t = Table(title=f"description scores on {on} (floor {ex['thresholds']['floor']}, additive threshold "
                    f"{ex['thresholds']['additive_threshold']}, rule margin {ex['thresholds']['rule_margin']})")
    for c in ("skill", "score", "triggers", "lexical", "best trigger facet", "rule that fired", "fitted p"):
        t.add_column(c, overflow="fold")
    for r in ex["skills"]:
        rule = "" if r["rule"] is None else (f"'{r['rule']['text']}' {r['rule']['similarity']:.2f} > "
                                             f"{r['rule']['trigger_similarity']:.2f}" +
                                             (f" → {r['rule']['redirect']}" if r["rule"]["redirect"] else ""))
        if r["boosted_by_rules_of"]:
            rule += f" (pushed up by {', '.join(r['boosted_by_rules_of'])})"
        t.add_row(r["skill"] + (" [additive]" if r["kind"] == "additive" else ""), f"{r['score']:.3f}",
                  f"{r['trigger_score'] - r['lexical']:.3f}", f"{r['lexical']:.3f}", r["best_facet"] or "", rule,
                  "" if r["fitted_probability"] is None else f"{r['fitted_probability']:.2f}")
    con.print(t)
    if ex["zero_shot_margin"] is not None:
        con.print(f"by the descriptions alone, on {on}: {ex['zero_shot_winner']} leads by "
                  f"{ex['zero_shot_margin']:.3f} (margin needed {ex['thresholds']['margin']})"
                  + ("; `--zero-shot` shows the description router alone" if "fine-tuned" in on else ""))

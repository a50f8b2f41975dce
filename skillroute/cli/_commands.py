"""The ``skillroute`` command line: route, skills, warm (and more in later modules)."""

from __future__ import annotations

import json
import os
import sys
import warnings
from pathlib import Path
from typing import Any

import click

from ..errors import SkillrouteError, require
from ..harness._hook import DEFAULT_DEADLINE_S, DEFAULT_THRESHOLD

def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    click.echo(f"warning: {message}", err=True)


class _Group(click.Group):
    """Print skillroute's own errors as `Error: Name: message` on stderr and exit 1, without a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        warnings.showwarning = _show_warning  # one plain line per warning, not Python's file:line format
        try:
            return super().invoke(ctx)
        except SkillrouteError as exc:
            click.echo(f"Error: {type(exc).__name__}: {exc}", err=True)
            ctx.exit(1)


def _remember_strict(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    ctx.meta["skillroute.strict"] = value


def strict_option(f):
    return click.option("--strict", is_flag=True, expose_value=False, callback=_remember_strict,
                        help="Fail on the first bad SKILL.md (default: leave it out with one warning).")(f)


def skills_option(f):
    return click.option("--skills", "skill_dirs", multiple=True, type=click.Path(file_okay=False),
                        help="A skill directory, searched at any depth for SKILL.md (plugins and marketplaces "
                             "too); repeatable, the first wins a name. Default: $SKILLROUTE_SKILLS, else "
                             "./skills, ~/.claude/skills and ./.claude/skills that exist.")(f)


def catalog_dirs(skill_dirs: tuple[str, ...]) -> list:
    from ..core._catalog import default_skill_dirs

    return list(skill_dirs) or default_skill_dirs()


def backend_option(f):
    f = click.option("--backend", type=click.Choice(["auto", "onnx", "torch"]), default=None,
                     help="Encoder backend (default: $SKILLROUTE_BACKEND or auto).")(f)
    return click.option("--model", default=None, help="Model folder or hub name (default: $SKILLROUTE_MODEL or "
                                                      "the packaged all-MiniLM-L6-v2).")(f)


def _strict() -> bool:
    ctx = click.get_current_context(silent=True)
    return bool(ctx and ctx.meta.get("skillroute.strict", False))


def make_router(skill_dirs: tuple[str, ...], model: str | None, backend: str | None, strict: bool | None = None,
                **kwargs: Any):
    from ..core._router import Router

    strict = _strict() if strict is None else strict
    return Router.from_path(*catalog_dirs(skill_dirs), model=model, backend=backend, strict=strict, **kwargs)


def fitted_option(f):
    f = click.option("--zero-shot", is_flag=True, help="Route from the descriptions alone, ignoring a fitted router.")(f)
    return click.option("--fitted", "fitted_dir", type=click.Path(file_okay=False),
                        help="A fitted-router folder (default: the catalog's .skillroute/fitted when it matches).")(f)


def _fitted_arg(fitted_dir: str | None, zero_shot: bool):
    if zero_shot and fitted_dir:
        raise click.UsageError("--zero-shot and --fitted exclude each other")
    return None if zero_shot else (fitted_dir or "auto")


@click.group(cls=_Group)
@click.version_option(package_name="skillroute")
def main() -> None:
    """Decide which skill of a coding agent should handle a request."""


def _read_batch(stream, strict: bool) -> list:
    """One entry per input line: the prompt, or an error message for a line that holds none.

    Lines are split on newlines only (a U+2028 inside a prompt is not a line break). ``strict`` stops at
    the first bad line instead.
    """
    out: list = []
    for n, line in enumerate(stream.read().split("\n"), start=1):
        line = line.rstrip("\r")
        problem = None
        prompt = line
        if line.lstrip().startswith("{"):
            try:
                obj = json.loads(line)
            except (json.JSONDecodeError, RecursionError) as exc:
                problem = f"malformed JSON ({getattr(exc, 'msg', 'nested too deeply')})"
                obj = None
            if obj is not None:
                prompt = obj.get("prompt") if isinstance(obj, dict) else None
                if not isinstance(prompt, str):
                    problem = "a JSON line needs a string field 'prompt'"
        if problem is None and not (prompt or "").strip():
            problem = "the request is empty"
        if problem is not None:
            if strict:
                raise click.BadParameter(f"stdin line {n}: {problem}")
            out.append(_BadLine(n, problem))
        else:
            out.append(prompt)
    while out and isinstance(out[-1], _BadLine) and out[-1].problem == "the request is empty":
        out.pop()  # the newline that ends the input is no line of its own
    return out


class _BadLine:
    def __init__(self, line: int, problem: str):
        self.line, self.problem = line, problem


def format_decision(d) -> str:
    lines = [f"skill:      {d.skill or '(none)'}" + ("  [explicit]" if d.explicit else ""),
             f"also:       {', '.join(d.also) or '-'}",
             f"confidence: {d.confidence:.2f}",
             "ranked:     " + ", ".join(f"{n} {s:.2f}" for n, s in d.ranked[:5])]
    lines += [f"  - {r}" for r in d.reasons]
    return "\n".join(lines)


@main.command()
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


@main.command("skills")
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


@main.command()
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


@main.command("eval")
@skills_option
@strict_option
@backend_option
@click.option("--data", type=click.Path(dir_okay=False), multiple=True, default=("eval/prompts.jsonl",),
              show_default=True, help="Labelled prompts (JSONL, ROSTER.md format); repeatable: each set is "
              "reported on its own, in one run.")
@click.option("--split", type=click.Choice(["test", "train", "all"]), default="test", show_default=True,
              help="Which lines of each set (a set without splits is read whole).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Write every figure and decision as JSON.")
@click.option("--errors", "errors_path", type=click.Path(dir_okay=False), help="Write the misroutes as JSONL.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False), help="Write an HTML report.")
@click.option("--min-accuracy", type=click.FloatRange(0, 1), help="Exit 1 when top-1 falls under this.")
@click.option("--no-rules", is_flag=True, help="Route with the do/don't rules switched off (ablation).")
@click.option("--lenient", is_flag=True, help="Skip malformed lines (counted) instead of failing.")
@click.option("--quiet", is_flag=True, help="Print only the headline figures.")
@click.option("--cv", "cv_folds", type=click.IntRange(2, 20), help="Also: stratified K-fold on the train split, "
              "refitting per fold (mean ± std).")
@click.option("--leave-skills-out", "lso_groups", type=click.IntRange(2, 12),
              help="Also: hold G groups of skills out of fitting; their test prompts fitted vs zero-shot.")
@click.option("--baselines", is_flag=True, help="Also: train and score the baseline routers on the same split.")
@click.option("--no-setfit", is_flag=True, help="Skip the SetFit-style baseline (a fine-tune: slow on a CPU).")
@click.option("--refit-finetune", is_flag=True, help="In --cv and --leave-skills-out, fine-tune the encoder again "
              "in every fold (minutes each); by default they refit the head on the base encoder.")
@fitted_option
def eval_cmd(skill_dirs, model, backend, data, split, json_path, errors_path, report_path, min_accuracy,
             no_rules, lenient, quiet, cv_folds, lso_groups, baselines, no_setfit, refit_finetune, fitted_dir,
             zero_shot) -> None:
    """Route the labelled prompts of --data and report how well the catalog routes."""
    from ..core._dataset import load_examples
    from ..evaluation._evaluate import RoutingEvaluator, write_errors

    router = make_router(skill_dirs, model, backend, rules=not no_rules, fitted=_fitted_arg(fitted_dir, zero_shot))
    cat = router.catalog
    mode = "zero-shot" if router.head_ is None else (
        "fitted, fine-tuned encoder" if router.head_.meta.get("adapter") else "fitted")
    failed = []
    for n, path in enumerate(data):
        skipped: list = []
        examples = load_examples(path, exclusive=[s.name for s in cat.exclusive],
                                 additive=[s.name for s in cat.additive], split=split, lenient=lenient,
                                 skipped=skipped)
        part = split if any(e.split for e in examples) else "all"
        if not examples:
            raise click.UsageError(f"{path}: no examples in split '{split}'")
        result = RoutingEvaluator(examples, name=f"{Path(path).name}:{part}, {mode}", show_progress=not quiet)(router)
        result["skipped_lines"] = [str(e) for e in skipped]
        _print_summary(result, quiet)
        if n == 0 and (cv_folds or lso_groups or baselines):
            _studies(router, path, cat, result, cv_folds, lso_groups, baselines, no_setfit, refit_finetune)
        suffix = "" if len(data) == 1 else f".{Path(path).stem}"
        if json_path:
            Path(_suffixed(json_path, suffix)).write_text(json.dumps(result, ensure_ascii=False, indent=1))
        if errors_path:
            write_errors(result, _suffixed(errors_path, suffix))
        if report_path:
            from ..evaluation._report import render_html

            Path(_suffixed(report_path, suffix)).write_text(render_html(result, title=f"skillroute eval: "
                                                                                      f"{result['name']}"))
        if min_accuracy is not None and result["top1"] < min_accuracy:
            failed.append(f"{result['name']}: top-1 {result['top1']:.3f}")
    if failed:
        click.echo(f"FAIL: under --min-accuracy {min_accuracy:.3f}: " + "; ".join(failed), err=True)
        sys.exit(1)


def _suffixed(path: str, suffix: str) -> str:
    """``report.json`` with suffix ``.real`` → ``report.real.json`` (one output file per data set)."""
    p = Path(path)
    return str(p.with_name(p.stem + suffix + p.suffix)) if suffix else path


@main.command()
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
    con.print(f"decision ({ex['mode']}): [bold]{d['skill'] or '(none)'}[/bold]  also: {', '.join(d['also']) or '-'}  "
              f"confidence {d['confidence']:.2f}")
    for r in d["reasons"]:
        con.print(f"  - {r}", highlight=False)
    t = Table(title=f"zero-shot scores (floor {ex['thresholds']['floor']}, additive threshold "
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
        con.print(f"zero-shot winner {ex['zero_shot_winner']} leads by {ex['zero_shot_margin']:.3f} "
                  f"(margin needed {ex['thresholds']['margin']})")


@main.command()
@skills_option
@click.option("--strict", is_flag=True, help="Exit 1 on warnings too (default: on errors only).")
@click.option("--budget", type=click.IntRange(100), default=8000, show_default=True,
              help="Characters the host gives the whole skill listing (~1%% of the context window).")
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
@click.option("--conventions", is_flag=True, help="Also note skills without a 'Do NOT use for … (→ other)' rule "
              "(skillroute's convention, not the format's).")
@click.option("--verbose", is_flag=True, help="Print every finding (default: at most 5 of each kind, then a count).")
@backend_option
def lint(skill_dirs, strict, budget, as_json, conventions, verbose, model, backend) -> None:
    """Check descriptions: Agent Skills format, hosts' characters and budget, overlapping triggers, redirects."""
    from ..authoring._lint import lint as lint_fn
    from ..core._encoder import load_encoder

    findings, _ = lint_fn(catalog_dirs(skill_dirs), load_encoder(model, backend), budget=budget,
                          conventions=conventions)
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


@main.command()
@click.argument("catalog_a")
@click.argument("catalog_b")
@click.option("--data", type=click.Path(dir_okay=False), default="eval/prompts.jsonl", show_default=True)
@click.option("--split", type=click.Choice(["test", "train", "all"]), default="test", show_default=True)
@click.option("--fitted", "use_fitted", is_flag=True, help="Use each catalog's fitted head (default: zero-shot, "
              "so the descriptions' edits are what is compared).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Write the comparison as JSON.")
@backend_option
def compare(catalog_a, catalog_b, data, split, use_fitted, json_path, model, backend) -> None:
    """Compare two catalogs (a folder, or REV:path from git, e.g. HEAD:skills) on the same labelled prompts."""
    import tempfile

    from ..authoring._explain import checkout_catalog
    from ..authoring._explain import compare as compare_fn
    from ..core._dataset import load_examples
    from ..core._encoder import load_encoder

    encoder = load_encoder(model, backend)
    with tempfile.TemporaryDirectory() as tmp:
        routers = []
        for spec in (catalog_a, catalog_b):
            folder = checkout_catalog(spec, Path(tmp))
            from ..core._router import Router

            routers.append(Router.from_path(folder, encoder=encoder, fitted="auto" if use_fitted else None))
        cat = routers[1].catalog
        examples = load_examples(data, split=split, exclusive=[s.name for s in cat.exclusive] +
                                 [s.name for s in routers[0].catalog.exclusive],
                                 additive=[s.name for s in cat.additive] + [s.name for s in routers[0].catalog.additive])
        result = compare_fn(routers[0], routers[1], examples)
    if json_path:
        Path(json_path).write_text(json.dumps(result, ensure_ascii=False, indent=1))
    o = result["overall"]
    click.echo(f"A = {catalog_a}   B = {catalog_b}   ({len(examples)} prompts, split {split})")
    for k, v in o.items():
        click.echo(f"  {k:14} A {v['a']:.3f}  B {v['b']:.3f}  Δ {v['delta']:+.3f}")
    click.echo("  per skill F1 Δ: " + ", ".join(f"{n} {v['delta']:+.2f}" for n, v in result["per_skill"].items()
                                                if abs(v["delta"]) >= 0.005) or "  per skill: no change")
    for title, rows in (("fixed", result["fixed"]), ("broken", result["broken"])):
        click.echo(f"{title} ({len(rows)}):")
        for r in rows:
            click.echo(f"  line {r['line']}: {r['a'] or 'none'} → {r['b'] or 'none'} (expected {r['expected']}): "
                       f"{' '.join(r['prompt'].split())[:100]}")
    if result["changed_wrong_to_wrong"]:
        click.echo(f"changed but wrong both times: {len(result['changed_wrong_to_wrong'])}")


@main.command("tune")
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

    from ..core._dataset import load_examples
    from ..authoring._tune import tune_skill, write_description

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


def _print_tune(res, seconds: float) -> None:
    from rich.console import Console
    from rich.table import Table

    def clip(s: str, n: int = 90) -> str:
        return s if len(s) <= n else s[: n - 1] + "…"

    con = Console(width=140)
    con.print(f"[bold]{res.skill}[/bold]: {res.n_examples} prompts, {res.folds} folds; zero-shot top-1 "
              f"{res.top1_before:.3f} today", highlight=False)
    t = Table(title="misroutes of this skill, clustered")
    for c in ("kind", "n", "routed to / right skill", "what decided most of them", "examples"):
        t.add_column(c, overflow="fold")
    for c in res.clusters:
        t.add_row(c.kind, str(c.size), ", ".join(f"{n} {k}" for n, k in c.routed_to[:3]), c.cause,
                  "\n".join(f"{'line ' + str(ln) + ': ' if ln else ''}{clip(p)}"
                            for ln, p in zip(c.lines[:2], c.prompts[:2], strict=True)))
    con.print(t)
    t = Table(title="what each facet and rule contributes (top-1 with it minus without it)")
    for c in ("kind", "facet or rule", "contribution", "fixed / broken if removed"):
        t.add_column(c, overflow="fold")
    for f in res.facets:
        t.add_row(f.kind, clip(f.text, 80), f"{f.contribution * 100:+.1f} pt",
                  f"{f.fixed_by_removal} / {f.broken_by_removal}")
    con.print(t)
    t = Table(title="candidate edits (held-out = each fold's text drawn without it; best 12 per round)")
    for c in ("round", "edit", "held-out net", "held-out Δ", "train Δ", "drawn from", "text"):
        t.add_column(c, overflow="fold")
    chosen = {(e.round, e.text) for e in res.applied}
    shown: dict[int, int] = {}
    for e in res.candidates:
        shown[e.round] = shown.get(e.round, 0) + 1
        if shown[e.round] > 12 and (e.round, e.text) not in chosen:
            continue
        mark = "✓ " if (e.round, e.text) in chosen else ""
        t.add_row(str(e.round), mark + e.kind, f"{e.cv_net:+d}", f"{e.cv_gain * 100:+.1f} pt",
                  f"{e.train_gain * 100:+.1f} pt", e.source, clip(e.text, 80))
    con.print(t)
    if res.applied:
        con.print("[bold]proposed description[/bold]:")
        con.print(res.proposed, highlight=False)
        con.print(res.diff, highlight=False, markup=False)
    t = Table(title=f"top-1 on these prompts: {res.top1_before:.3f} → {res.top1_after:.3f} "
                    "(chosen on them: optimistic; see held-out Δ)")
    for c in ("skill", "support", "precision", "recall", "F1"):
        t.add_column(c)
    for f in res.figures:
        t.add_row(f.skill, str(f.support), *(f"{b:.2f} → {a:.2f}" for b, a in zip(f.before, f.after, strict=True)))
    con.print(t)
    for n in res.notes:
        con.print(f"note: {n}", highlight=False)
    con.print(f"took {seconds:.1f} s", highlight=False)


@main.command()
@skills_option
@strict_option
@backend_option
@fitted_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (loopback by default).")
@click.option("--port", type=click.IntRange(1, 65535), default=8765, show_default=True)
@click.option("--reload-interval", type=float, default=1.0, show_default=True,
              help="Seconds between checks for changed SKILL.md files (0: never reload).")
def serve(skill_dirs, model, backend, fitted_dir, zero_shot, host, port, reload_interval) -> None:
    """Serve routing over HTTP with the model kept warm: POST /route, /route/batch, /shortlist; GET /skills, /health."""
    require("serve", "uvicorn", "starlette")
    import uvicorn

    from ..harness._server import LOOPBACK_HOSTS, create_app

    dirs = catalog_dirs(skill_dirs)
    fitted = _fitted_arg(fitted_dir, zero_shot)
    strict = _strict()
    loopback = host in LOOPBACK_HOSTS
    if not loopback:
        click.echo(f"warning: bound to {host}, beyond loopback: anyone who can reach this address can use "
                   "the server, and the Host check is off", err=True)
    app = create_app(dirs, lambda d: make_router(tuple(d), model, backend, strict=strict, fitted=fitted),
                     reload_interval, allowed_hosts=LOOPBACK_HOSTS if loopback else None)
    click.echo(f"skillroute serving {len(app.state.holder.router.catalog)} skills on http://{host}:{port}", err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")


@main.command()
@click.option("--skills", "skill_dirs", multiple=True, type=click.Path(file_okay=False),
              help="Skill directory, repeatable; default: as `route` finds it from the prompt's working folder "
                   "($SKILLROUTE_SKILLS, else ./skills, ~/.claude/skills, ./.claude/skills).")
@click.option("--threshold", type=click.FloatRange(0, 1), default=DEFAULT_THRESHOLD, show_default=True,
              help="Say nothing below this confidence (measured so that few wrong picks reach it; README).")
@click.option("--server", default=None, help="A running `skillroute serve` (default: $SKILLROUTE_SERVER or "
                                             "http://127.0.0.1:8765; 'none' to always route in-process).")
@click.option("--log", "log_path", type=click.Path(dir_okay=False), default=None,
              help="Log file (default: the cache folder's hook.log).")
@click.option("--deadline", type=click.FloatRange(0.1, 600), default=DEFAULT_DEADLINE_S, show_default=True,
              help="Seconds after which the hook says nothing and exits (keep it under the host's timeout); a "
                   "catalog still being embedded then goes on in a background `skillroute warm`.")
def hook(skill_dirs, threshold, server, log_path, deadline) -> None:
    """Claude Code UserPromptSubmit hook: read the hook JSON on stdin, print context naming the skill.

    Never fails the prompt: any error prints nothing, exits 0 and is logged."""
    from ..core._encoder import cache_dir
    from ..harness._hook import run_hook
    from ..harness._server import server_url

    url = None if (server or "").lower() == "none" else (server or server_url())
    out, cut_short = run_hook(sys.stdin.read(), dirs=list(skill_dirs), threshold=threshold,
                              log_path=Path(log_path) if log_path else cache_dir() / "hook.log", server=url,
                              deadline=deadline)
    if out:
        click.echo(out)
    if cut_short:  # the worker thread may be inside native code: leave now, as the deadline promised
        sys.stdout.flush()
        os._exit(0)


@main.command("fit")
@skills_option
@strict_option
@backend_option
@click.option("--data", type=click.Path(dir_okay=False), multiple=True, default=("eval/prompts.jsonl",),
              show_default=True, help="Labelled prompts; repeatable (the sets are joined).")
@click.option("--split", type=click.Choice(["train", "all"]), default="train", show_default=True,
              help="Which labelled lines to learn from; the test split is never read.")
@click.option("--base", "base_dir", type=click.Path(file_okay=False, exists=True), default=None,
              help="Reuse the fine-tune delta of this fitted router (e.g. skills/.skillroute/fitted) and refit "
                   "only the head: a minute, not twenty.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), required=True,
              help="Folder for the artifact (head.npz + meta.json); the catalog's DIR/.skillroute/fitted is "
                   "picked up by default.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--no-finetune", is_flag=True, help="Fit the head alone on the frozen encoder (seconds, not minutes).")
@click.option("--steps", type=click.IntRange(1), default=None,
              help="Fine-tune steps of 32 prompts (default: the measured recipe's).")
def fit_cmd(skill_dirs, model, backend, data, split, base_dir, out_dir, seed, no_finetune, steps) -> None:
    """Fit the router on labelled prompts: a description-reading LoRA fine-tune of the encoder, then the
    classifier head and its thresholds."""
    import dataclasses
    import time

    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from ..core._dataset import load_examples
    from ..core._delta import FinetuneConfig

    router = make_router(skill_dirs, model, backend, fitted=None)
    cat = router.catalog
    examples = [e for path in data for e in load_examples(path, exclusive=[s.name for s in cat.exclusive],
                                                           additive=[s.name for s in cat.additive])]
    adapter = None
    if base_dir is not None:
        from ..core._delta import LoraDelta

        adapter = LoraDelta.load(base_dir)
        no_finetune = True
    if split == "train":
        examples = [e for e in examples if e.split == "train"]
    else:  # "all" still never reads the test split
        examples = [e for e in examples if e.split != "test"]
    if not examples:
        raise click.UsageError(f"{data}: no labelled lines outside the test split")
    t = time.perf_counter()
    click.echo(f"fitting on {len(examples)} prompts of {', '.join(data)} …", err=True)
    config = FinetuneConfig(seed=seed)
    if steps is not None:
        config = dataclasses.replace(config, steps=steps)
    with Progress(TextColumn("fine-tune"), BarColumn(), TextColumn("{task.completed}/{task.total} steps"),
                  TextColumn("loss {task.fields[loss]:.3f}"), TimeElapsedColumn(), TimeRemainingColumn(),
                  transient=True, disable=no_finetune) as bar:
        task = bar.add_task("fine-tune", total=config.steps, loss=float("nan"))
        router.set_params(seed=seed, finetune=not no_finetune, finetune_config=config)
        router.fit(examples, adapter=adapter, progress=lambda step, loss: bar.update(task, completed=step, loss=loss))
    path = router.save_fitted(out_dir)
    m = router.head_.meta
    if base_dir is not None:
        tuned = f"the fine-tune delta of {base_dir} reused, "
    elif m.get("adapter"):
        tuned = (f"fine-tuned {m['adapter']['parameters']:,} LoRA parameters ({config.steps} steps, final loss "
                 f"{m['adapter']['final_loss']:.3f}), ")
    else:
        tuned = ""
    caveat = " (optimistic: the encoder was fine-tuned on these prompts)" if m.get("adapter") else ""
    click.echo(f"saved {path} in {time.perf_counter() - t:.1f} s: {tuned}{len(router.head_.classes)} classes, "
               f"C={m['C']}, out-of-fold top-1 {m['oof_top1']:.3f}{caveat}, temperature "
               f"{router.head_.temperature:.2f}, none floor {router.head_.none_floor:.2f}")


def _studies(router, data, cat, result, cv_folds, lso_groups, baselines, no_setfit=False,
             refit_finetune=False) -> None:
    """The refit studies; each reads the train split for fitting and never fits on the test split."""
    from rich.console import Console
    from rich.table import Table

    from ..core._dataset import load_examples

    kw = dict(exclusive=[s.name for s in cat.exclusive], additive=[s.name for s in cat.additive])
    train = load_examples(data, split="train", **kw)
    test = load_examples(data, split="test", **kw)
    if not any(e.split for e in train):  # a set without splits is read whole: it has nothing to fit on
        raise click.UsageError(f"{data}: the studies need a set with train and test splits (--data first)")
    con = Console(width=110)
    if cv_folds:
        from ..evaluation._validation import cross_validate

        cv = result["cv"] = cross_validate(router, train, k=cv_folds, finetune=refit_finetune)
        how = "fine-tune + head" if refit_finetune else "head on the base encoder"
        con.print(f"cross-validation on the train split ({cv_folds} folds, {how} refit per fold): top-1 "
                  f"{cv['top1_mean']:.3f} ± {cv['top1_std']:.3f}")
    if lso_groups:
        from ..evaluation._validation import leave_skills_out

        lso = result["leave_skills_out"] = leave_skills_out(router, train, test, groups=lso_groups,
                                                             finetune=refit_finetune)
        t = Table(title="leave-skills-out (test prompts of the held-out skills)")
        for c in ("held out", "n", "fitted top-1", "zero-shot top-1"):
            t.add_column(c)
        for g in lso["groups"]:
            t.add_row(", ".join(g["held_out"]), str(g["n"]), f"{g['fitted_top1']:.3f}", f"{g['zero_shot_top1']:.3f}")
        t.add_row("all", str(sum(g["n"] for g in lso["groups"])), f"{lso['fitted_top1']:.3f}",
                  f"{lso['zero_shot_top1']:.3f}")
        con.print(t)
    if baselines:
        from ..evaluation._baselines import BASELINES, run_baselines

        names = [n for n in BASELINES if not (no_setfit and n.startswith("SetFit"))]
        res = result["baselines"] = run_baselines(train, test, router.encoder, cat, names=names)
        t = Table(title="baselines (fitted on the train split, scored on the test split)")
        for c in ("router", "top-1", "recall@3", "macro-F1"):
            t.add_column(c)
        t.add_row(f"skillroute ({result['name'].split(', ')[-1]})", f"{result['top1']:.3f}",
                  f"{result['recall_at_3']:.3f}", f"{result['macro_f1']:.3f}")
        for name, r in res.items():
            t.add_row(name, f"{r['top1']:.3f}", f"{r['recall_at_3']:.3f}", f"{r['macro_f1']:.3f}")
        con.print(t)


def _print_summary(r: dict, quiet: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    con = Console(width=110)
    pct = lambda x: "–" if x is None else f"{x:.3f}"  # noqa: E731
    head = Table(title=f"skillroute eval — {r['name']} ({r['n']} prompts)", show_header=False)
    for k, v in [("top-1", pct(r["top1"])), ("top-1 weighted (real-prompt mix)", pct(r["top1_weighted"])),
                 ("recall@3", pct(r["recall_at_3"])), ("macro-F1", pct(r["macro_f1"])),
                 ("none precision / recall / F1", f"{pct(r['none']['precision'])} / {pct(r['none']['recall'])} / "
                                                 f"{pct(r['none']['f1'])}"),
                 ("additive precision / recall / F1", "–" if not r["additive"] else
                  f"{pct(r['additive']['precision'])} / {pct(r['additive']['recall'])} / {pct(r['additive']['f1'])}"),
                 ("explicit invocation accuracy", f"{pct(r['explicit_accuracy'])} (n={r['explicit_n']})"),
                 ("expected calibration error", pct(r["ece"])),
                 ("latency p50 / p95 (ms)", f"{r['latency_ms_p50']:.1f} / {r['latency_ms_p95']:.1f}"),
                 ("throughput (prompts/s, batched)", f"{r['throughput_per_s']:.1f}"),
                 ("rules: wrong→right / right→wrong / net", f"{r['rules']['wrong_to_right']} / "
                                                           f"{r['rules']['right_to_wrong']} / {r['rules']['net']:+d}")]:
        head.add_row(k, v)
    con.print(head)
    if quiet:
        return
    per = Table(title="per skill")
    for c in ("skill", "precision", "recall", "F1", "support", "confused with"):
        per.add_column(c)
    for lab in r["labels"]:
        s = r["per_skill"][lab]
        per.add_row(lab, pct(s["precision"]), pct(s["recall"]), pct(s["f1"]), str(s["support"]),
                    ", ".join(f"{p} ({n})" for p, n in r["confused_with"].get(lab, [])))
    con.print(per)
    tags = Table(title="top-1 per tag")
    tags.add_column("tag")
    tags.add_column("n")
    tags.add_column("top-1")
    for t, v in r["per_tag"].items():
        tags.add_row(t, str(v["n"]), pct(v["top1"]))
    con.print(tags)
    con.print("most confused (expected → predicted): " + ", ".join(
        f"{m['true']}→{m['predicted']} {m['count']}" for m in r["most_confused"][:8]))



@main.command()
@click.option("--skills", "skill_dirs", multiple=True, type=click.Path(file_okay=False),
              help="A skill directory (default: found as `route` finds it).")
def doctor(skill_dirs: tuple[str, ...]) -> None:
    """Check the setup: the catalog, the fitted router, the cache, a server, the hook's settings; with fixes."""
    from ..harness._doctor import run_checks

    checks = run_checks(list(skill_dirs))
    for c in checks:
        click.echo(f"{'ok     ' if c.ok else 'PROBLEM'} {c.name}: {c.detail}")
        if c.fix:
            click.echo(f"        → {c.fix}")
    bad = sum(not c.ok for c in checks)
    click.echo(f"{bad} problem(s)" if bad else "no problem found")
    if bad:
        sys.exit(1)


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@click.option("--since", type=click.DateTime(), default=None, help="Only prompts typed on or after this date.")
@click.option("--out", "out_path", type=click.Path(dir_okay=False), default=None,
              help="Write JSONL here (default: stdout).")
def harvest(paths: tuple[str, ...], since, out_path: str | None) -> None:
    """Extract the prompts you typed from agent logs: Claude Code transcripts (default: ~/.claude/projects),
    aider's .aider.input.history, SpecStory and Cursor exports. Nothing leaves the machine; keys are masked."""
    from ..harness._harvest import harvest as harvest_fn

    roots = list(paths) or [str(Path.home() / ".claude" / "projects")]
    if not paths and not Path(roots[0]).is_dir():
        raise click.UsageError(f"no Claude Code history at {roots[0]}; give the log files or folders to read")
    out = open(out_path, "w", encoding="utf-8") if out_path else sys.stdout  # noqa: SIM115 - stdout is not ours
    n = labelled = 0
    try:
        for turn in harvest_fn(roots, since=since):
            row = turn.to_json()
            row["skill"] = row.pop("label", None)
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
            labelled += row["skill"] is not None
    finally:
        if out_path:
            out.close()
    click.echo(f"{n} prompts ({labelled} with the skill the host used or the user named)", err=True)


if __name__ == "__main__":  # pragma: no cover
    main()

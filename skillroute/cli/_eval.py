"""Measuring commands: eval (with its refit studies) and compare."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ._app import _fitted_arg, backend_option, fitted_option, main, make_router, skills_option, strict_option
from ._render import _print_summary


@main.command("eval", short_help="Measure routing on labelled prompts.")
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
    mode = router.describe()
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


@main.command(short_help="Compare two catalogs on labelled prompts.")
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

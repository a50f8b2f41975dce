"""The fit command."""

from __future__ import annotations

import click

from ._app import backend_option, main, make_router, skills_option, strict_option


@main.command("fit", short_help="Fit the router on labelled prompts.")
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

"""Harness commands: serve, hook, doctor, harvest."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from ..errors import require
from ..harness._hook import DEFAULT_DEADLINE_S, DEFAULT_THRESHOLD
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


@main.command(short_help="Serve routing over HTTP, model kept warm.")
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
    from ..harness._token import issue_token

    dirs = catalog_dirs(skill_dirs)
    fitted = _fitted_arg(fitted_dir, zero_shot)
    strict = _strict()
    loopback = host in LOOPBACK_HOSTS
    if not loopback:
        click.echo(f"warning: bound to {host}, beyond loopback: anyone who can reach this address can use "
                   "the server, and the Host check is off", err=True)
    app = create_app(dirs, lambda d: make_router(tuple(d), model, backend, strict=strict, fitted=fitted),
                     reload_interval, allowed_hosts=LOOPBACK_HOSTS if loopback else None, token=issue_token(port))
    click.echo(f"skillroute serving {len(app.state.holder.router.catalog)} skills on http://{host}:{port}", err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")


@main.command(short_help="Claude Code UserPromptSubmit hook.")
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
    from ..core._storage import cache_dir
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


@main.command(short_help="Check the setup; each problem with its fix.")
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


@main.command(short_help="Extract the prompts you typed from agent logs.")
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


@main.command(short_help="How often the router picks what the host picked.")
@click.option("--data", "data_path", type=click.Path(dir_okay=False, exists=True), required=True,
              help="A history harvested by `skillroute harvest` (its lines with label_source 'host' count).")
@skills_option
@strict_option
@backend_option
@fitted_option
@click.option("--threshold", type=click.FloatRange(0, 1), default=DEFAULT_THRESHOLD, show_default=True,
              help="Also report agreement on the decisions at or above this confidence (what the hook says).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def agree(data_path, skill_dirs, model, backend, fitted_dir, zero_shot, threshold, as_json) -> None:
    """Route the prompts of a harvested history for which the host's LLM invoked a skill, and report how
    often the router picks the same one: overall, per skill, the confusions and every disagreement."""
    from ..harness._agree import agreement, read_host_labels
    from ._render import print_agreement

    rows = read_host_labels(data_path)
    if not rows:
        raise click.UsageError(f"{data_path}: no prompt carries a host label (label_source 'host'): the history "
                               "shows no skill the agent invoked")
    router = make_router(skill_dirs, model, backend, fitted=_fitted_arg(fitted_dir, zero_shot))
    report = agreement(router, rows, threshold=threshold)
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=1))
    else:
        print_agreement(report, router.describe())


@main.command(short_help="Label harvested prompts, least certain first.")
@click.option("--data", "data_path", type=click.Path(dir_okay=False, exists=True), required=True,
              help="Prompts to label (JSONL, e.g. from `skillroute harvest`); lines that have a skill are left out.")
@click.option("--out", "out_path", type=click.Path(dir_okay=False), required=True,
              help="Where labels go (JSONL, appended at each key press; run again to resume).")
@skills_option
@strict_option
@backend_option
@fitted_option
def label(data_path, out_path, skill_dirs, model, backend, fitted_dir, zero_shot) -> None:
    """A keyboard queue: each prompt with the router's top three and its reasons; one key per skill (0 is
    none), s skips, u undoes, q quits. The prompts the router is least sure of come first."""
    from ..harness._label import queue, read_unlabelled
    from ._render import show_label_item

    rows = read_unlabelled(data_path)
    if not rows:
        raise click.UsageError(f"{data_path}: every prompt has a skill already; nothing to label")
    router = make_router(skill_dirs, model, backend, fitted=_fitted_arg(fitted_dir, zero_shot))
    counts = queue(router, rows, out_path, click.getchar, show_label_item)
    click.echo(f"{counts['labelled']} labelled, {counts['skipped']} skipped; labels in {out_path}")

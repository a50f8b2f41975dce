"""How results look in a terminal: decisions, eval summaries, tune reports (rich), and stdin batches read."""

from __future__ import annotations

import json

import click


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


def print_agreement(report, router_name: str) -> None:
    """`skillroute agree`'s report: the overall rate, per skill, the confusions and the disagreements."""
    from rich.console import Console
    from rich.table import Table

    con = Console(width=140)
    con.print(f"[bold]{router_name}[/bold] vs the host on {report.n} prompts where the host invoked a skill of this "
              f"catalog: agreement {report.rate:.3f} ({report.agreed}/{report.n}); at confidence ≥ "
              f"{report.threshold:.2f} (what the hook says): {report.rate_confident:.3f} "
              f"({report.agreed_confident}/{report.n_confident})")
    if report.not_in_catalog:
        con.print("host skills this catalog lacks (not compared): " +
                  ", ".join(f"{s} ({n})" for s, n in report.not_in_catalog.items()), highlight=False)
    t = Table(title="per skill the host invoked")
    for c in ("skill", "prompts", "agreed", "rate"):
        t.add_column(c)
    for s, v in report.per_skill.items():
        t.add_row(s, str(v["n"]), str(v["agreed"]), f"{v['rate']:.3f}")
    con.print(t)
    if report.confusions:
        con.print("confusions (host → router): " + ", ".join(f"{h} → {p} {c}" for h, p, c in report.confusions[:10]),
                  highlight=False)
    for d in report.disagreements[:20]:
        prompt = " ".join(d["prompt"].split())
        con.print(f"  line {d['line']}: host {d['host']}, router {d['router'] or 'none'} ({d['confidence']:.2f}): "
                  f"{prompt[:100]}", highlight=False)
    if len(report.disagreements) > 20:
        con.print(f"  … and {len(report.disagreements) - 20} more (--json lists them all)")


def show_label_item(row: dict, decision, keys: dict[str, str], position: int, total: int) -> None:
    """One prompt of the label queue: the text, the router's top three and reasons, and the keys."""
    import click

    click.clear()
    text = row["prompt"] if len(row["prompt"]) <= 1200 else row["prompt"][:1200] + " …"
    click.echo(f"[{position}/{total}] router's confidence {decision.confidence:.2f}\n")
    click.echo(text + "\n")
    top = ", ".join(f"{n} {s:.2f}" for n, s in decision.ranked[:3])
    click.echo(f"router: {decision.skill or 'none'}  (top 3: {top})")
    for reason in decision.reasons[:3]:
        click.echo(f"  - {reason[:150]}")
    legend = "  ".join(f"{k}={v}" for k, v in keys.items())
    click.echo(f"\n{legend}\ns=skip  u=undo  q=quit")

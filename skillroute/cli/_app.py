"""The command group and the options every command shares: catalog folders, model, backend, fitted router."""

from __future__ import annotations

import warnings
from typing import Any

import click

from ..errors import SkillrouteError


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


def _remember_no_reader(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    ctx.meta["skillroute.no_reader"] = value


def backend_option(f):
    f = click.option("--no-reader", is_flag=True, expose_value=False, callback=_remember_no_reader,
                     help="Read descriptions with the base model alone, without the packaged general reader.")(f)
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
    ctx = click.get_current_context(silent=True)
    if ctx is not None and ctx.meta.get("skillroute.no_reader"):
        kwargs.setdefault("reader", None)
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


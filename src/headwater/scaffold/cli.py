"""``headwater init [PATH] [--template NAME] [--force] [--list]``: a thin skin over :func:`scaffold`.

Registered on the main group by ``headwater.cli`` (``main.add_command(init)``); it can also run alone:
``python -c "from headwater.scaffold.cli import init; init()" my_connector --template csv``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from headwater.scaffold import TEMPLATES, ScaffoldError, list_templates, next_steps, scaffold

__all__ = ["init"]

CONTEXT = {"help_option_names": ["-h", "--help"]}


def _shown(path: Path) -> str:
    """A path as the user would type it: relative to the working directory when it is below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _print_templates() -> None:
    width = max(len(name) for name in TEMPLATES)
    for name, description in list_templates():
        click.echo(f"{name:<{width}}  {description}")


@click.command(context_settings=CONTEXT)
@click.argument("path", required=False, default=".", type=click.Path(file_okay=False, path_type=str))
@click.option("-t", "--template", default="basic", show_default=True, metavar="NAME",
              type=click.Choice(list(TEMPLATES), case_sensitive=False),
              help=f"The project template: {', '.join(TEMPLATES)} (see --list).")
@click.option("-f", "--force", is_flag=True,
              help="Overwrite files the template creates if they exist (other files are left alone).")
@click.option("--list", "list_only", is_flag=True, help="List the templates with a description and exit.")
def init(path: str, template: str, force: bool, list_only: bool) -> None:
    """Create a connector project in PATH (default: here) from a template.

    \b
    Every project has connector.py, configuration.json, requirements.txt, README.md,
    tests/test_connector.py and .gitignore, plus a local source to debug against.
    Existing files are never overwritten without --force.
    \b
    Examples:
      headwater init my_connector
      headwater init my_api --template rest-api
      headwater init --list
    """
    if list_only:
        _print_templates()
        return
    try:
        created = scaffold(path, template, force=force)
    except ScaffoldError as exc:
        click.echo(f"error: {exc.message}", err=True)
        # sys.exit, not ctx.exit: headwater's entry point runs click with standalone_mode=False, where
        # ctx.exit(n) becomes a return value instead of the process's exit status.
        sys.exit(exc.exit_code)
    root = Path(path)
    click.echo(f"created {_shown(root)}{os.sep} from the {template!r} template:")
    for file in created:
        click.echo(f"  {_shown(file)}")
    click.echo("next steps:")
    for step in next_steps(_shown(root), template):
        click.echo(f"  {step}")
    click.echo(f"see {_shown(root / 'README.md')} for how to configure, debug and test it")

"""``headwater vendor PROJECT [--force]``: a thin skin over :func:`headwater.vendor.vendor`.

Registered on the ``headwater`` group lazily (``"vendor": ("headwater.vendor_cli", "vendor")`` in
``LAZY_COMMANDS``); runs alone too::

    python -c "from headwater.vendor_cli import vendor; vendor()" my_connector --force
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from headwater._version import __version__
from headwater.vendor import PACKAGE, VendorError
from headwater.vendor import vendor as vendor_helpers

__all__ = ["vendor"]


def _shown(path: Path) -> str:
    """A path as the user would type it: relative to the working directory when it is below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


@click.command("vendor", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("project", required=False, default=".", type=click.Path(file_okay=False, path_type=str))
@click.option("-f", "--force", is_flag=True,
              help=f"Replace an existing {PACKAGE}/ copy (how to update it to this headwater's version).")
def vendor(project: str, force: bool) -> None:
    """Copy headwater's connector helpers into PROJECT (default: here) as headwater_helpers/.

    \b
    headwater.http and headwater.incremental are copied with the headwater modules they
    need, their imports rewritten, so a connector importing them from headwater_helpers
    deploys where only requests and the Connector SDK are installed:
      from headwater_helpers.http import HttpClient
      from headwater_helpers.incremental import Cursor
    An existing copy is never overwritten without --force.
    \b
    Examples:
      headwater vendor my_connector
      headwater vendor my_connector --force    # update the copy
    """
    try:
        result = vendor_helpers(project, force=force)
    except VendorError as exc:
        click.echo(f"error: {exc.message}", err=True)
        # sys.exit, not ctx.exit: headwater's entry point runs click with standalone_mode=False.
        sys.exit(exc.exit_code)
    click.echo(f"vendored headwater {__version__}'s helpers into {_shown(result.package)}:")
    for path in result.written:
        click.echo(f"  {_shown(path)}")
    for path in result.removed:
        click.echo(f"  removed {_shown(path)} (no longer part of the copy)")
    click.echo(f"import them from {PACKAGE}: `from {PACKAGE}.http import HttpClient`, "
               f"`from {PACKAGE}.incremental import Cursor`")
    click.echo(f"update later with: headwater vendor --force {_shown(Path(project))}")

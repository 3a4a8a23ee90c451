"""``python -m headwater`` runs the command line."""

from headwater.cli import run

run()

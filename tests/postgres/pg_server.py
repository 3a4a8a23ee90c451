"""The test PostgreSQL server, now :mod:`headwater.testing.postgres` (shared with benchmarks/); re-exported
here so that the tests' ``from pg_server import EmbeddedServer, ServerError, free_port`` keeps working."""

from headwater.testing.postgres import *  # noqa: F403
from headwater.testing.postgres import __all__ as __all__

"""The ``target`` fixture as a pytest plugin: a test module that says
``pytest_plugins = ["destinations.plugin"]`` gets it (defined in ``tests/engine_helpers.py``).

Registering this module, rather than ``engine_helpers`` itself, keeps pytest from warning that a module
the tests already imported cannot have its assertions rewritten. Nothing imports this module.
"""

from __future__ import annotations

from engine_helpers import target

__all__ = ["target"]

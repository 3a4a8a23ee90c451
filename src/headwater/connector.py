"""The ``Connector`` object a connector module declares (API-4, API-11 to API-14)::

    connector = Connector(update=update, schema=schema)

    if __name__ == "__main__":
        connector.debug()
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

__all__ = ["Connector"]


class Connector:
    """Holds a connector's ``update`` and optional ``schema`` function; building one has no side effects."""

    def __init__(
        self,
        update: Callable[..., Any],
        schema: Callable[..., Any] | None = None,
        configuration_form: Callable[..., Any] | None = None,
    ) -> None:
        self.update = update
        self.schema = schema
        self.configuration_form = configuration_form

    # Names used by the SDK's own front end, kept for connectors that read them.
    @property
    def update_method(self) -> Callable[..., Any]:
        return self.update

    @property
    def schema_method(self) -> Callable[..., Any] | None:
        return self.schema

    def debug(
        self,
        project_path: str | None = None,
        configuration: dict[str, Any] | None = None,
        state: dict[str, Any] | None = None,
        naming: str | None = None,
        log_level: Any = None,
        state_path: str | None = None,
    ) -> None:
        """Run one sync in this process, like ``headwater debug`` on ``project_path`` (API-13).

        Returns ``None`` on success; on failure prints what ``headwater debug`` prints and raises
        ``SystemExit(1)``.
        """
        # The connector surface sits below the engine and the runner, and the runner loads connectors:
        # this one call upwards goes by name, so that no module of the surface imports the runner.
        runner = importlib.import_module("headwater.runner")
        code = runner.debug_connector(
            self,
            project_path=project_path,
            configuration=configuration,
            state=state,
            naming=naming,
            log_level=log_level,
            state_path=state_path,
        )
        if code != 0:
            raise SystemExit(code)

    def deploy(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError(
            "headwater does not deploy connectors; use headwater run in your own infrastructure "
            "or Fivetran's tooling to deploy"
        )

    def run(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError("Connector.run() (production/Iceberg) is not part of headwater v1")

    def generate_configuration(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError(
            "headwater v1 does not collect configuration from a setup form; write configuration.json"
        )

    def __repr__(self) -> str:
        name = getattr(self.update, "__name__", repr(self.update))
        return f"Connector(update={name})"

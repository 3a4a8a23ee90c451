"""``ConfigurationForm`` (API-50): holds fields and setup tests; headwater v1 does not show it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["ConfigurationForm"]


class ConfigurationForm:
    """A setup form: fields plus connection tests."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.fields: list[Any] = list(args)
        self.tests: list[tuple[str, Callable[..., Any]]] = []
        self.options = kwargs

    def add_field(self, field: Any) -> ConfigurationForm:
        self.fields.append(field)
        return self

    def add_test(self, label: str, func: Callable[..., Any]) -> ConfigurationForm:
        self.tests.append((label, func))
        return self

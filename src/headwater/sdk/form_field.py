"""Setup-form fields (API-50): constructible, stored as given, never rendered by headwater."""

from __future__ import annotations

from typing import Any

__all__ = ["DropdownField", "DropdownFieldParam", "TextField", "ToggleField"]


class _Field:
    def __init__(self, name: str, label: str, *args: Any, **kwargs: Any) -> None:
        self.name = name
        self.label = label
        self.args = args
        self.options = kwargs
        self.required = bool(kwargs.get("required", False))
        self.description = kwargs.get("description")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, label={self.label!r})"


class TextField(_Field):
    """A text input; ``TextField.password`` and ``TextField.plain_text`` name its kinds."""

    plain_text = "PlainText"
    password = "Password"

    def __init__(self, name: str, label: str, text_field_type: str = plain_text, **kwargs: Any) -> None:
        super().__init__(name, label, **kwargs)
        self.text_field_type = text_field_type


class DropdownFieldParam:
    """One choice of a :class:`DropdownField`."""

    def __init__(self, value: str, label: str | None = None, **kwargs: Any) -> None:
        self.value = value
        self.label = label if label is not None else value
        self.options = kwargs


class DropdownField(_Field):
    """A choice among :class:`DropdownFieldParam` values."""

    def __init__(self, name: str, label: str, fields: list[DropdownFieldParam] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(name, label, **kwargs)
        self.fields = list(fields or [])


class ToggleField(_Field):
    """An on/off switch."""

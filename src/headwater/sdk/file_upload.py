"""``FileUpload`` and ``ByteStream`` (API-35): importable and constructible; uploads are not supported."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

__all__ = ["ByteStream", "FileUpload"]


@runtime_checkable
class ByteStream(Protocol):
    """Anything with ``read(size)`` returning bytes."""

    def read(self, size: int = -1) -> bytes: ...


class FileUpload:
    """A file to upload with a row; passing one as ``file=`` raises NotImplementedError in headwater v1."""

    def __init__(self, path: str, stream: Any, expected_bytes: int | None = None) -> None:
        self.path = path
        self.stream = stream
        self.expected_bytes = expected_bytes

    def __repr__(self) -> str:
        return f"FileUpload(path={self.path!r})"

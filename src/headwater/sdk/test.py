"""``Test`` results for setup tests (API-50); headwater v1 never runs setup tests."""

from __future__ import annotations

__all__ = ["Test"]


class Test:
    """The outcome of a connection test: ``Test.success()`` or ``Test.failure("why")``."""

    __test__ = False  # not a pytest test class

    def __init__(self, success: bool, message: str | None = None) -> None:
        self.success_flag = success
        self.message = message

    @staticmethod
    def success() -> Test:
        return Test(True)

    @staticmethod
    def failure(message: str) -> Test:
        return Test(False, message)

    def __repr__(self) -> str:
        return "Test.success()" if self.success_flag else f"Test.failure({self.message!r})"

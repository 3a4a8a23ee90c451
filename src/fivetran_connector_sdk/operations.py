"""Re-export of headwater.operations (API-2)."""
from headwater.operations import Operations  # noqa: F401

__all__ = ["Operations"]

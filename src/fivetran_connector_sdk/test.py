"""Re-export of headwater.sdk.test (API-2)."""
from headwater.sdk.test import *  # noqa: F401,F403
from headwater.sdk.test import __all__  # noqa: F401

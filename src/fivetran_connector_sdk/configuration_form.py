"""Re-export of headwater.sdk.configuration_form (API-2)."""
from headwater.sdk.configuration_form import *  # noqa: F401,F403
from headwater.sdk.configuration_form import __all__  # noqa: F401

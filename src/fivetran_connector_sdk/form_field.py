"""Re-export of headwater.sdk.form_field (API-2)."""
from headwater.sdk.form_field import *  # noqa: F401,F403
from headwater.sdk.form_field import __all__  # noqa: F401

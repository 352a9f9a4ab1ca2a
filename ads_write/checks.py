"""The command side's settings checks (Django system checks, run with adplatform/checks.py's)."""

from django.conf import settings
from django.core import checks

from adplatform.checks import TAG, errors_unless


@checks.register(TAG)
def intake_mode_is_known(app_configs=None, **kwargs):
    from .services.intake import INTAKE_MODES

    mode = settings.AD_INTAKE_MODE
    return errors_unless(
        mode in INTAKE_MODES,
        f"AD_INTAKE_MODE must be one of {', '.join(INTAKE_MODES)}, not {mode!r}.",
        id="ads_write.E001",
    )

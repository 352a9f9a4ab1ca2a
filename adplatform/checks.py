"""Settings that would break a guarantee, as Django system checks (registered by the kernel's
AppConfig; an app's own, such as ads_write/checks.py, carry the same tag). `manage.py check` and every management command run them; web processes
(wsgi.py), Celery workers and beat (celery.py) refuse to start on an error, through
`refuse_unsafe_settings`. Each check has an id, for the docs and the tests."""

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

TAG = "adplatform_settings"


def errors_unless(sound: bool, message: str, *, id: str) -> list[checks.Error]:
    return [] if sound else [checks.Error(message, id=id)]


@checks.register(TAG)
def audit_chain_count(app_configs=None, **kwargs):
    # Each entry stores its chain's number in a smallint.
    chains = settings.AUDIT_CHAINS
    return errors_unless(
        1 <= chains <= 32767, f"AUDIT_CHAINS ({chains}) must be between 1 and 32767.", id="adplatform.E001"
    )


@checks.register(TAG)
def broker_leases_outlast_renewals(app_configs=None, **kwargs):
    # Only Redis has leases (the folder broker and RabbitMQ have no visibility timeout).
    if "visibility_timeout" not in settings.CELERY_BROKER_TRANSPORT_OPTIONS:
        return []
    timeout, renew = settings.BROKER_VISIBILITY_TIMEOUT, settings.BROKER_LEASE_RENEW_INTERVAL
    return errors_unless(
        renew > 0 and timeout > 3 * renew,
        f"BROKER_VISIBILITY_TIMEOUT ({timeout} s) must exceed 3 × BROKER_LEASE_RENEW_INTERVAL "
        f"(3 × {renew} s, and that above 0), or live workers' messages are duplicated.",
        id="adplatform.E002",
    )


@checks.register(TAG)
def report_claim_outlasts_sending(app_configs=None, **kwargs):
    limit, claim = settings.REPORT_SEND_TIME_LIMIT, settings.REPORT_CLAIM_TIMEOUT
    return errors_unless(
        limit < claim,
        f"REPORT_CLAIM_TIMEOUT ({claim} s) must exceed REPORT_SEND_TIME_LIMIT ({limit} s), "
        "or a report still being sent is taken over and sent twice.",
        id="adplatform.E003",
    )


@checks.register(TAG)
def read_model_sweep_covers_every_change(app_configs=None, **kwargs):
    lookback, grace = settings.READ_MODEL_SWEEP_LOOKBACK, settings.READ_MODEL_SWEEP_GRACE
    interval = settings.READ_MODEL_SWEEP_INTERVAL
    return errors_unless(
        lookback > grace + interval,
        f"READ_MODEL_SWEEP_LOOKBACK ({lookback} s) must exceed READ_MODEL_SWEEP_GRACE "
        f"+ READ_MODEL_SWEEP_INTERVAL ({grace} + {interval} s), or changes slip past the sweep.",
        id="adplatform.E004",
    )


@checks.register(TAG)
def audit_key_id_names_a_key(app_configs=None, **kwargs):
    key_id = settings.AUDIT_HMAC_KEY_ID
    return errors_unless(
        key_id in settings.AUDIT_HMAC_KEYS,
        f"AUDIT_HMAC_KEY_ID ({key_id!r}) must name one of AUDIT_HMAC_KEYS.",
        id="adplatform.E005",
    )


def refuse_unsafe_settings() -> None:
    """Raise ImproperlyConfigured naming every error of the checks above."""
    errors = [message for message in checks.run_checks(tags=[TAG]) if message.is_serious()]
    if errors:
        raise ImproperlyConfigured("\n".join(f"({e.id}) {e.msg}" for e in errors))

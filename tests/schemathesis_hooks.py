"""schemathesis hooks for tests/test_schemathesis.py (loaded through SCHEMATHESIS_HOOKS).

Registering a webhook resolves its URL's host name, and the suite reaches no network: any
URL schemathesis makes up for POST /api/v1/webhooks gets the host 127.0.0.1 (an address,
resolved without DNS; the server under test allows private networks).

A valid Idempotency-Key that schemathesis generates is made unique per call: its data
generator repeats values, and a repeated key with the same body replays the first answer (as
the contract says), which the stateful phase would take for a create that made nothing (a
webhook id it deleted already). Invalid keys are kept: they test the 400."""

import re
import uuid
from urllib.parse import urlsplit, urlunsplit

import schemathesis

_VALID_KEY = re.compile(r"[\x20-\x7e]{1,255}")


@schemathesis.hook
def before_call(context, case, kwargs):
    key = (case.headers or {}).get("Idempotency-Key")
    if isinstance(key, str) and _VALID_KEY.fullmatch(key):
        case.headers["Idempotency-Key"] = f"st-{uuid.uuid4().hex}"
    if case.operation.label != "POST /api/v1/webhooks" or not isinstance(case.body, dict):
        return
    url = case.body.get("url")
    if isinstance(url, str) and "://" in url:
        try:
            parts = urlsplit(url)
            case.body["url"] = urlunsplit((parts.scheme, "127.0.0.1", parts.path, parts.query, ""))
        except ValueError:
            case.body["url"] = "https://127.0.0.1/hooks"

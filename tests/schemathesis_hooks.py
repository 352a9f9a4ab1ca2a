"""schemathesis hooks for tests/test_schemathesis.py (loaded through SCHEMATHESIS_HOOKS).

Registering a webhook resolves its URL's host name, and the suite reaches no network: any
URL schemathesis makes up for POST /api/v1/webhooks gets the host 127.0.0.1 (an address,
resolved without DNS; the server under test allows private networks)."""

from urllib.parse import urlsplit, urlunsplit

import schemathesis


@schemathesis.hook
def before_call(context, case, kwargs):
    if case.operation.label != "POST /api/v1/webhooks" or not isinstance(case.body, dict):
        return
    url = case.body.get("url")
    if isinstance(url, str) and "://" in url:
        try:
            parts = urlsplit(url)
            case.body["url"] = urlunsplit((parts.scheme, "127.0.0.1", parts.path, parts.query, ""))
        except ValueError:
            case.body["url"] = "https://127.0.0.1/hooks"

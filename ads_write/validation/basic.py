"""Basic validation (AD_POLICY.md, "The ad"): pure functions that run on the request path.

`validate_basic(payload)` returns the normalised ad (trimmed strings, Decimal price, aware
datetimes) and every field error at once, each with a stable code.
"""

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from urllib.parse import urlsplit

import pycountry

from ..fields import FIELDS_BY_NAME, SUBMITTED_FIELDS, Kind, names
from .domains import parse_url
from .normalize import is_blank

REQUIRED = "BASIC.REQUIRED"
TOO_LONG = "BASIC.TOO_LONG"
INVALID_URL = "BASIC.INVALID_URL"
INVALID_CODE = "BASIC.INVALID_CODE"
INVALID_VALUE = "BASIC.INVALID_VALUE"
UNKNOWN_FIELD = "BASIC.UNKNOWN_FIELD"

TAXONOMY = frozenset(
    "apparel electronics home grocery beauty toys sports automotive travel finance alcohol "
    "tobacco gambling pharmacy firearms political dating other".split()
)
COUNTRIES = frozenset(c.alpha_2 for c in pycountry.countries)
LANGUAGES = frozenset(lang.alpha_2 for lang in pycountry.languages if hasattr(lang, "alpha_2"))
CURRENCIES = frozenset(c.alpha_3 for c in pycountry.currencies)

# field -> (max length, required); the text fields of the ad, trimmed before checking.
TEXT_FIELDS = {
    field.name: (field.max_length, field.required)
    for field in SUBMITTED_FIELDS
    if field.kind in (Kind.TEXT, Kind.HOST_PATH)
}
FIELDS = frozenset(names(SUBMITTED_FIELDS))
PRICE_FIELDS = frozenset({"amount", "currency"})
_CODES = {
    "country": (COUNTRIES, "an ISO 3166-1 alpha-2 code in upper case, like US"),
    "language": (LANGUAGES, "an ISO 639-1 code in lower case, like en"),
    "category": (TAXONOMY, "one of: " + ", ".join(sorted(TAXONOMY))),
}
# field -> (allowed codes, what a valid one looks like)
CODE_FIELDS = tuple((name, *_CODES[name]) for name in names(SUBMITTED_FIELDS, Kind.CODE))
MAX_URL_LENGTH = FIELDS_BY_NAME["landing_url"].max_length
MIN_AGE, MAX_AGE = FIELDS_BY_NAME["target_min_age"].min_value, FIELDS_BY_NAME["target_min_age"].max_value
DATETIME_FIELDS = names(SUBMITTED_FIELDS, Kind.DATETIME)
MAX_PRICE = Decimal("999999999999.99")
CENT = Decimal("0.01")


@dataclass(frozen=True)
class FieldError:
    field: str
    code: str
    message: str

    def as_dict(self) -> dict:
        return {"field": self.field, "code": self.code, "message": self.message}


@dataclass(frozen=True)
class BasicResult:
    ad: dict
    errors: tuple[FieldError, ...]

    @property
    def ok(self) -> bool:
        return not self.errors


# Unicode category Cc is exactly these 65 code points; a regex scans ~50x faster than
# asking unicodedata per character, which matters on the batch intake path.
_CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# A host name: dot-separated labels of 1 to 63 letters and digits in any script (what
# str.isalnum() accepts; `_` is excluded apart) or hyphens, not starting or ending with a
# hyphen; trailing dots allowed. One regex, since it runs for every ad of a batch.
_LABEL = r"[^\W_](?:[\w-]{0,61}[^\W_])?"
_HOSTNAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*\.*")


def has_control_characters(text: str) -> bool:
    return _CONTROL_CHARACTER.search(text) is not None


def _is_hostname(host: str) -> bool:
    return len(host) <= 253 and "_" not in host and _HOSTNAME.fullmatch(host) is not None


def _check_landing_url(value: str) -> str | None:
    try:
        parts = urlsplit(value)
        _ = parts.port  # raises ValueError on a bad port
    except ValueError:
        return "is not a valid URL"
    if parts.scheme != "https":
        return "must be an absolute https:// URL"
    host = parts.hostname
    if not host or " " in value:
        return "must name a host"
    if not (_is_hostname(host) or ":" in host):  # ":" = an IPv6 literal, judged by the fraud rules
        return "has an invalid host"
    if parse_url(value) is None:  # what no browser can open, the fraud rules could not judge either
        return "is not a URL a browser can open"
    return None


def _check_display_url(value: str) -> str | None:
    candidate = value if "://" in value else f"https://{value}"
    try:
        parts = urlsplit(candidate)
    except ValueError:
        return "is not a valid host and path"
    host = parts.hostname
    if parts.scheme not in ("http", "https") or not host or " " in value:
        return "must be a host with an optional path, like example.com/shoes"
    if not _is_hostname(host):
        return "has an invalid host"
    if parse_url(candidate) is None:
        # A browser reads no host in it (`shop.example:chairs`), so the domain rules could not
        # compare it with the landing page's, though a reader sees one.
        return "has an invalid host"
    return None


def _parse_datetime(value) -> datetime | None:
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if "T" not in text and " " not in text:
        return None  # a bare date is not a date-time
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# A decimal string as the policy and the schema say: ASCII digits, and decimals after a point.
# Not what Decimal() also reads ("1e3", "+5", "Infinity", " 1_000 ", "١٠" in Arabic-Indic
# digits), nor a JSON number (a float: 0.1 + 0.2 is not 0.3).
_DECIMAL_STRING = re.compile(r"[0-9]+(\.[0-9]+)?")


def _parse_amount(value) -> Decimal | None:
    if not isinstance(value, str) or not _DECIMAL_STRING.fullmatch(value):
        return None
    try:
        amount = Decimal(value)
    except InvalidOperation:
        return None
    return amount if amount.is_finite() else None


def validate_basic(payload, *, now: datetime | None = None) -> BasicResult:
    """Check one ad's JSON object against the basic rules. Never raises on any input."""
    if not isinstance(payload, dict):
        return BasicResult({}, (FieldError("", INVALID_VALUE, "The ad must be a JSON object."),))
    now = now or datetime.now(UTC)
    errors: list[FieldError] = []
    ad: dict = {}

    def fail(field, code, message):
        errors.append(FieldError(field, code, message))

    for name in payload:
        if name not in FIELDS:
            fail(str(name), UNKNOWN_FIELD, f"Unknown field '{name}'.")

    for name, (max_length, required) in TEXT_FIELDS.items():
        value = payload.get(name)
        if value is None:
            if required:
                fail(name, REQUIRED, "This field is required.")
            continue
        if not isinstance(value, str):
            fail(name, INVALID_VALUE, "Must be a string.")
            continue
        value = value.strip()
        if has_control_characters(value):
            fail(name, INVALID_VALUE, "Must not contain control characters.")
        elif required and is_blank(value):
            # Zero-width characters, soft hyphens, Hangul fillers... render as nothing: blank.
            fail(name, REQUIRED, "This field is required and may not be blank.")
        elif len(value) > max_length:
            fail(name, TOO_LONG, f"At most {max_length} characters after trimming (got {len(value)}).")
        else:
            ad[name] = value
    if ad.get("display_url") and (problem := _check_display_url(ad["display_url"])):
        del ad["display_url"]
        fail("display_url", INVALID_URL, f"display_url {problem}.")

    landing_url = payload.get("landing_url")
    if landing_url is None or (isinstance(landing_url, str) and not landing_url.strip()):
        fail("landing_url", REQUIRED, "This field is required.")
    elif not isinstance(landing_url, str):
        fail("landing_url", INVALID_VALUE, "Must be a string.")
    elif len(landing_url.strip()) > MAX_URL_LENGTH:
        fail("landing_url", TOO_LONG, f"At most {MAX_URL_LENGTH} characters.")
    elif has_control_characters(landing_url):
        fail("landing_url", INVALID_VALUE, "Must not contain control characters.")
    elif problem := _check_landing_url(landing_url.strip()):
        fail("landing_url", INVALID_URL, f"landing_url {problem}.")
    else:
        ad["landing_url"] = landing_url.strip()

    for name, allowed, shape in CODE_FIELDS:
        value = payload.get(name)
        if value is None or value == "":
            fail(name, REQUIRED, "This field is required.")
        elif not isinstance(value, str) or value not in allowed:
            fail(name, INVALID_CODE, f"Must be {shape}.")
        else:
            ad[name] = value

    price = payload.get("price")
    if price is not None:
        if not isinstance(price, dict):
            fail("price", INVALID_VALUE, "Must be an object {amount, currency}.")
        else:
            for key in price:
                if key not in PRICE_FIELDS:
                    fail(f"price.{key}", UNKNOWN_FIELD, f"Unknown field 'price.{key}'.")
            amount = _parse_amount(price.get("amount"))
            currency = price.get("currency")
            if price.get("amount") is None:
                fail("price.amount", REQUIRED, "This field is required.")
            elif amount is None or amount <= 0 or amount > MAX_PRICE:
                fail("price.amount", INVALID_VALUE, "Must be a decimal string greater than 0.")
            elif amount.as_tuple().exponent < -2:
                fail("price.amount", INVALID_VALUE, "At most 2 decimal places.")
            if currency is None or currency == "":
                fail("price.currency", REQUIRED, "This field is required.")
            elif not isinstance(currency, str) or currency not in CURRENCIES:
                fail("price.currency", INVALID_CODE, "Must be an ISO 4217 code in upper case, like USD.")
            if not any(e.field.startswith("price") for e in errors):
                ad["price"] = {"amount": amount.quantize(CENT), "currency": currency}

    age = payload.get("target_min_age")
    if age is not None:
        if isinstance(age, bool) or not isinstance(age, int) or not MIN_AGE <= age <= MAX_AGE:
            fail("target_min_age", INVALID_VALUE, f"Must be a whole number from {MIN_AGE} to {MAX_AGE}.")
        else:
            ad["target_min_age"] = age

    for name in DATETIME_FIELDS:
        value = payload.get(name)
        if value is None:
            continue
        parsed = _parse_datetime(value)
        if parsed is None:
            fail(name, INVALID_VALUE, "Must be an ISO 8601 date-time, like 2026-12-01T00:00:00Z.")
        else:
            ad[name] = parsed
    if "ends_at" in ad:
        if ad["ends_at"] <= now:
            fail("ends_at", INVALID_VALUE, "Must be in the future.")
        elif "starts_at" in ad and ad["starts_at"] >= ad["ends_at"]:
            fail("ends_at", INVALID_VALUE, "Must be after starts_at.")

    return BasicResult(ad, tuple(errors))

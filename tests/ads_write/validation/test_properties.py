"""Property-based tests: for any ad that passes basic validation (every field, URLs with
ports, user info, queries, IP literals), with any facts (the external validator's findings
and failures included), evaluate never raises and its verdict is consistent with its findings."""

import json

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ads_write.validation import engine
from ads_write.validation.basic import TAXONOMY, validate_basic
from ads_write.validation.engine import AdFacts, evaluate, outcome
from ads_write.validation.external import finding_from_service

RULES = {rule.code: rule for rule in engine.RULES}
FIELDS = {
    None,
    "headline",
    "description",
    "landing_url",
    "display_url",
    "category",
    "country",
    "target_min_age",
    "advertiser_license",
    "disclosure",
    "paid_for_by",
    "price.amount",
}

# Words and marks the rules look for, mixed with ordinary text.
TRIGGERS = [
    "free",
    "scam",
    "scampi",
    "damn",
    "#1",
    "#10",
    "number one",
    "world's best",
    "world\u2019s best",
    "guaranteed",
    "acmephone",
    "AcmePhone",
    "zephyrshoes",
    "loan",
    "loans",
    "rate",
    "credit",
    "APR",
    "%",
    "no prescription",
    "no rx",
    "!",
    "!!",
    "?!",
    "555-1234",
    "+44 20 7946 0958",
    "123456",
    "\U0001f33b",
    "\u2764\ufe0f",
    "\u00ae",
    "SALE",
    "HUGE",
    "\u0430",
    "\u65e5\u672c",
]
# Any character but controls (basic validation refuses those) and lone surrogates.
plain = st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=10)
words = st.one_of(st.sampled_from(TRIGGERS), plain)
texts = st.lists(words, min_size=1, max_size=8).map(" ".join)
labels = st.one_of(
    st.sampled_from(
        [
            "www",
            "shop",
            "a",
            "b",
            "nimbus-store",
            "xn--nmbus-store-ocb",
            "bit",
            "free-prizes",
            "\u0430pple",
            "b\u00fccher",
        ]
    ),
    st.from_regex(r"[a-z0-9][a-z0-9-]{0,10}[a-z0-9]", fullmatch=True),
)
suffixes = st.sampled_from(["example", "co.uk", "com", "github.io", "ly", "co", "\u0440\u0444", "io"])
names = st.builds(lambda parts, suffix: ".".join([*parts, suffix]), st.lists(labels, min_size=1, max_size=3), suffixes)
hosts = st.one_of(
    names,
    names.map(str.upper),
    names.map(lambda name: name + "."),  # the root dot
    st.sampled_from(
        [
            "203.0.113.7",
            "[2001:db8::1]",
            "[::ffff:192.0.2.1]",
            "2130706433",
            "0x7f.1",
            "bit.ly",
            "t.co",
            "phish-bank.example",
        ]
    ),
)
authorities = st.builds(
    lambda userinfo, host, port: f"{userinfo}{host}{port}",
    st.sampled_from(["", "user@", "user:pass@"]),
    hosts,
    st.sampled_from(["", ":443", ":8443"]),
)
paths = st.from_regex(r"(/[a-z0-9/]{0,12})?(\?[a-z]=[a-z0-9]{0,5})?(#[a-z]{0,5})?", fullmatch=True)
optional = lambda strategy: st.one_of(st.none(), strategy)  # noqa: E731

payloads = st.fixed_dictionaries(
    {
        "headline": texts,
        "description": texts,
        "landing_url": st.builds(lambda authority, path: f"https://{authority}{path}", authorities, paths),
        "country": st.sampled_from(["US", "GB", "SA", "IS", "JP", "KR", "CN", "SG", "IR", "DE"]),
        "language": st.sampled_from(["en", "de", "ja"]),
        "category": st.sampled_from(sorted(TAXONOMY)),
    },
    optional={
        "display_url": st.one_of(
            names,
            st.builds(
                lambda scheme, host, path: f"{scheme}{host}{path}",
                st.sampled_from(["", "https://", "http://"]),
                st.one_of(names, st.sampled_from(["203.0.113.7", "bit.ly"])),
                paths,
            ),
        ),
        "external_ref": plain,
        "starts_at": st.sampled_from(["2030-01-01T00:00:00Z", "2031-06-01T12:30:00+02:00"]),
        "ends_at": st.sampled_from(["2032-01-01T00:00:00Z", "2040-12-31T23:59:59-05:00"]),
        "price": st.fixed_dictionaries(
            {
                "amount": st.decimals(min_value="0.01", max_value="100000", places=2).map(str),
                "currency": st.sampled_from(["USD", "EUR", "JPY"]),
            }
        ),
        "target_min_age": st.integers(min_value=10, max_value=100),
        "disclosure": texts,
        "advertiser_license": plain,
        "paid_for_by": plain,
    },
)
facts = st.builds(
    AdFacts,
    retailer_name=st.sampled_from(["Acme", "Zephyr", "Nimbus", "", "acme"]),
    duplicate_elsewhere=st.booleans(),
    recent_submissions=st.integers(min_value=0, max_value=2000),
    velocity_limit=st.one_of(st.none(), st.integers(min_value=0, max_value=1000)),
    external_findings=st.lists(
        st.builds(
            finding_from_service,
            st.fixed_dictionaries(
                {
                    "code": st.sampled_from(["COUNTERFEIT", "EXTERNAL.REPLICA"]),
                    "severity": st.sampled_from(["reject", "review"]),
                },
                optional={"message": plain, "field": st.sampled_from(["headline", "description"])},
            ),
        ),
        max_size=2,
    ).map(tuple),
    external_error=st.sampled_from(["", "HTTP 503 (after 3 attempts)", "circuit breaker open"]),
)


def basic_ad(payload) -> dict:
    result = validate_basic(payload)
    assume(result.ok)
    return result.ad


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(payload=payloads, facts=facts)
def test_evaluate_never_raises_and_is_consistent(payload, facts):
    ad = basic_ad(payload)
    verdict = evaluate(ad, facts=facts)
    assert verdict.status == outcome(verdict.findings)
    assert verdict.status in ("approved", "rejected", "needs_review")
    assert verdict.ruleset_version == engine.RULESET_VERSION
    for finding in verdict.findings:
        rule = RULES.get(finding.code) or RULES["EXTERNAL.*"]  # the service names its own codes
        assert finding.severity in rule.severity.split(" or ")
        assert finding.category == rule.category
        assert finding.field in FIELDS
        assert finding.message
        json.dumps(finding.as_dict())
    assert evaluate(ad, facts=facts) == verdict  # deterministic


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(payload=payloads, facts=facts)
def test_a_review_fact_never_lightens_the_verdict(payload, facts):
    ad = basic_ad(payload)
    plain = evaluate(ad, facts=facts)
    held = evaluate(ad, facts=AdFacts(**{**facts.__dict__, "duplicate_elsewhere": True}))
    assert held.status != "approved"
    if plain.status == "rejected":
        assert held.status == "rejected"
    assert {f.code for f in plain.findings} <= {f.code for f in held.findings}

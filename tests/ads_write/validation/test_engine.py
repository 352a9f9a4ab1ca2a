import json
from pathlib import Path

import pytest

from ads_write.validation import engine
from ads_write.validation.engine import AdFacts, RuleFinding, evaluate, outcome
from ads_write.validation.ruleset import DEFAULT_RULESET, current_ruleset, load_ruleset

from .support import codes, judge


def finding(severity: str) -> RuleFinding:
    return RuleFinding(code="POLICY.X", category="policy", severity=severity, message="x")


def test_outcome_precedence():
    assert outcome([]) == "approved"
    assert outcome([finding("review")]) == "needs_review"
    assert outcome([finding("reject")]) == "rejected"
    assert outcome([finding("review"), finding("reject"), finding("review")]) == "rejected"


def test_every_finding_is_reported_together():
    verdict = judge(
        retailer="Nimbus",
        category="finance",
        headline="FREE LOANS!! Call 555-1234 \U0001f4b0",
        description="The world's best scam-proof credit for your AcmePhone.",
        landing_url="https://bit.ly/abc",
        display_url="nimbus-store.example",
        price={"amount": "10.00", "currency": "USD"},
        facts={"duplicate_elsewhere": True, "recent_submissions": 700},
    )
    assert codes(verdict) == {
        "COMPLIANCE.FINANCE_DISCLOSURE",
        "FRAUD.URL_SHORTENER",
        "FRAUD.DOMAIN_MISMATCH",
        "FRAUD.DUPLICATE_CONTENT",
        "FRAUD.VELOCITY",
        "POLICY.EXCESSIVE_CAPS",
        "POLICY.EXCESSIVE_PUNCTUATION",
        "POLICY.MISLEADING_FREE",
        "POLICY.PROHIBITED_WORDS",  # scam-proof: "scam" is a whole word before the hyphen
        "POLICY.PHONE_NUMBER",
        "POLICY.EMOJI",
        "POLICY.SUPERLATIVE_CLAIM",
        "POLICY.TRADEMARK",
    }
    assert verdict.status == "rejected"
    # Reported in the order of the rules: compliance, fraud, policy, external.
    order = [rule.code for rule in engine.RULES]
    assert [f.code for f in verdict.findings] == sorted((f.code for f in verdict.findings), key=order.index)


def test_review_findings_alone_hold_the_ad():
    verdict = judge(headline="Guaranteed comfort", category="electronics", price={"amount": "1.00", "currency": "USD"})
    assert codes(verdict) == {"POLICY.SUPERLATIVE_CLAIM", "FRAUD.PRICE_FLOOR"}
    assert verdict.status == "needs_review"


def test_findings_are_json_ready_and_well_formed():
    verdict = judge(
        category="alcohol",
        headline="CHEAP WHISKY!!",
        price={"amount": "9.99", "currency": "EUR"},
        landing_url="https://[2001:db8::1]/",
        display_url="whisky.example",
    )
    assert verdict.findings
    for f in verdict.findings:
        assert f.category == f.code.split(".")[0].lower()
        assert f.severity in ("reject", "review")
        assert f.message and f.message[0].isupper() and len(f.message) <= 500
        json.dumps(f.as_dict())
    json.dumps(verdict.as_dict())


def test_every_verdict_carries_the_ruleset_version():
    assert judge().ruleset_version == current_ruleset().version == "2026-11.1"
    assert engine.RULESET_VERSION == "2026-11.1"
    from ads_write.validation.engine import RULESET_VERSION

    assert RULESET_VERSION == "2026-11.1"


def test_evaluate_takes_the_basic_dict_with_facts_defaults():
    ad = {
        "headline": "Chairs",
        "description": "Teak.",
        "landing_url": "https://x.example/",
        "country": "GB",
        "language": "en",
        "category": "home",
    }
    assert evaluate(ad, facts=AdFacts()).status == "approved"


def test_ruleset_is_data_picked_by_settings(settings, tmp_path):
    data = json.loads(Path(DEFAULT_RULESET).read_text())
    data["version"] = "test-1"
    data["policy"]["prohibited_words"].append("teak")
    data["fraud"]["price_floors"]["home"] = "100.00"
    path = tmp_path / "test-1.json"
    path.write_text(json.dumps(data))
    settings.AD_RULESET = str(path)

    verdict = judge(headline="Teak garden chairs", price={"amount": "99.99", "currency": "GBP"})
    assert verdict.ruleset_version == "test-1"
    assert engine.RULESET_VERSION == "test-1"
    assert codes(verdict) == {"POLICY.PROHIBITED_WORDS", "FRAUD.PRICE_FLOOR"}
    assert current_ruleset() is current_ruleset()  # loaded once


def test_ruleset_default_file_holds_the_policy_lists():
    rules = load_ruleset(DEFAULT_RULESET)
    assert rules.prohibited_categories == {"tobacco", "firearms"}
    assert rules.blocked_domains == {
        "malware-downloads.example",
        "free-prizes.example",
        "cheap-meds-online.example",
        "phish-bank.example",
    }
    assert rules.velocity_limit == 600 and rules.velocity_window.total_seconds() == 60
    assert rules.duplicate_window.days == 30
    assert rules.brand_owners == {"acmephone": "Acme", "zephyrshoes": "Zephyr"}


def test_rule_codes_are_unique_and_named_after_their_check():
    rule_codes = [rule.code for rule in engine.RULES]
    assert len(rule_codes) == len(set(rule_codes))
    for rule in engine.RULES:
        if rule.code.startswith("EXTERNAL."):
            continue
        assert rule.check.__name__ == "rule_" + rule.code.split(".", 1)[1].lower()
        assert rule.severity in ("reject", "review")


@pytest.mark.parametrize("rule", engine.RULES, ids=lambda rule: rule.code)
def test_each_rule_example_gives_its_finding_and_no_other(rule):
    from ads_write.validation.docs import example_findings

    found = example_findings(rule)
    assert found
    if rule.code == "EXTERNAL.*":
        assert all(f.category == "external" for f in found)
    else:
        assert {f.code for f in found} == {rule.code}
        assert all(f.severity == rule.severity for f in found)

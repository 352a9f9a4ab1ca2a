"""Detailed validation: runs every rule over an ad and turns the findings into a verdict.

FIRST SLICE ONLY — the detailed-validation issue completes the rules (compliance, fraud,
policy, external) and the ruleset data; the interface below is what the pipeline calls.
"""

import dataclasses
from dataclasses import dataclass

RULESET_VERSION = "2026-11.0"

APPROVED, REJECTED, NEEDS_REVIEW = "approved", "rejected", "needs_review"
REJECT, REVIEW = "reject", "review"


@dataclass(frozen=True)
class Finding:
    code: str
    category: str  # compliance | fraud | policy | external
    severity: str  # reject | review
    message: str
    field: str | None = None
    evidence: dict = dataclasses.field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "code": self.code,
            "category": self.category,
            "severity": self.severity,
            "message": self.message,
            "field": self.field,
            "evidence": self.evidence,
        }


@dataclass(frozen=True)
class Verdict:
    status: str
    findings: tuple[Finding, ...]
    ruleset_version: str


@dataclass(frozen=True)
class AdFacts:
    """What the stateful rules need to know about an ad, gathered in bulk before evaluation."""

    retailer_name: str = ""
    duplicate_elsewhere: bool = False
    recent_submissions: int = 0
    velocity_limit: int = 600


def outcome(findings) -> str:
    severities = {f.severity for f in findings}
    if REJECT in severities:
        return REJECTED
    if REVIEW in severities:
        return NEEDS_REVIEW
    return APPROVED


def evaluate(ad: dict, *, facts: AdFacts) -> Verdict:
    """Judge one ad (the normalised dict of basic validation). Pure: no I/O."""
    findings = []
    if ad.get("category") in ("tobacco", "firearms"):
        findings.append(
            Finding("COMPLIANCE.PROHIBITED_CATEGORY", "compliance", REJECT, "Category is prohibited.", "category", {"category": ad["category"]})
        )
    headline = ad.get("headline", "")
    if headline.count("!") > 1:
        findings.append(Finding("POLICY.EXCESSIVE_PUNCTUATION", "policy", REJECT, "Too many exclamation marks.", "headline"))
    return Verdict(outcome(findings), tuple(findings), RULESET_VERSION)


def evaluate_many(ads: list) -> dict:
    """Judge a batch of stored ads (ads_write.models.Ad): gather the stateful facts for all
    of them at once, then evaluate each. Returns {ad.id: Verdict}."""
    return {ad.id: evaluate(ad_input(ad), facts=AdFacts(retailer_name=ad.retailer.name)) for ad in ads}


def ad_input(ad) -> dict:
    """The normalised dict (as basic validation returns it) from a stored Ad."""
    data = {
        name: getattr(ad, name)
        for name in (
            "external_ref", "headline", "description", "landing_url", "display_url", "country", "language",
            "category", "target_min_age", "starts_at", "ends_at", "disclosure", "advertiser_license", "paid_for_by",
        )
        if getattr(ad, name) not in (None, "")
    }
    if ad.price_amount is not None:
        data["price"] = {"amount": ad.price_amount, "currency": ad.price_currency}
    return data

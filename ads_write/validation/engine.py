"""Detailed validation: runs every rule over an ad and turns the findings into a verdict.

The rules live by category in `compliance`, `fraud`, `policy` and `external`; their lists and
limits in the versioned ruleset (`ruleset`, rulesets/*.json). `evaluate` is pure; the
stateful facts (duplicates, velocity) and the external validator's answers are gathered for a
whole batch first, by `evaluate_many`.
"""

from dataclasses import dataclass, replace

from ..fields import SUBMITTED_FIELDS, Kind
from . import compliance, external, fraud, policy
from .rules import REJECT, REVIEW, AdContext, AdFacts, Rule, RuleFinding
from .ruleset import Ruleset, current_ruleset

__all__ = [
    "APPROVED",
    "NEEDS_REVIEW",
    "REJECTED",
    "REJECT",
    "REVIEW",
    "RULES",
    "RULESET_VERSION",  # noqa: F822 (module __getattr__ below: the ruleset is data)
    "AdFacts",
    "RuleFinding",
    "Rule",
    "Evaluation",
    "ad_input",
    "evaluate",
    "evaluate_many",
    "outcome",
]

APPROVED, REJECTED, NEEDS_REVIEW = "approved", "rejected", "needs_review"

# Every rule, in the order its findings are reported.
RULES: tuple[Rule, ...] = compliance.RULES + fraud.RULES + policy.RULES + external.RULES


def __getattr__(name: str):
    # RULESET_VERSION is the version of the ruleset settings name, read when first asked for
    # (the file is data, so it is not a constant of the code).
    if name == "RULESET_VERSION":
        return current_ruleset().version
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass(frozen=True)
class Evaluation:
    """What the engine concluded about one ad, before anything is stored (the stored record
    is ads_write.models.Verdict)."""

    status: str
    findings: tuple[RuleFinding, ...]
    ruleset_version: str

    def as_dict(self) -> dict:
        return {
            "status": self.status,
            "findings": [f.as_dict() for f in self.findings],
            "ruleset_version": self.ruleset_version,
        }


def outcome(findings) -> str:
    severities = {f.severity for f in findings}
    if REJECT in severities:
        return REJECTED
    if REVIEW in severities:
        return NEEDS_REVIEW
    return APPROVED


def evaluate(ad: dict, *, facts: AdFacts, ruleset: Ruleset | None = None) -> Evaluation:
    """Judge one ad (the normalised dict of basic validation). Pure: no I/O. Every finding
    is reported, not just the first."""
    ruleset = ruleset or current_ruleset()
    ctx = AdContext.build(ad, facts=facts, ruleset=ruleset)
    findings = []
    for rule in RULES:
        findings.extend(rule.check(ctx))
    return Evaluation(outcome(findings), tuple(findings), ruleset.version)


def evaluate_many(ads: list, *, ruleset: Ruleset | None = None) -> dict:
    """Judge a batch of stored ads (ads_write.models.Ad): gather the stateful facts for all
    of them at once (and the external validator's answers, when it is configured), then
    evaluate each, by `ruleset` or the current one. Returns {ad.id: Evaluation}.

    Call it outside any transaction: the content fingerprints are inserted and compared in a
    transaction of their own, which must commit (releasing its advisory locks) for the next
    worker with the same content to see them (facts.duplicate_ads)."""
    from .facts import gather_facts  # needs Django's models; the pure engine does not

    ruleset = ruleset or current_ruleset()
    inputs = {ad.id: ad_input(ad) for ad in ads}
    # The external validator's calls are in flight while the facts are gathered.
    asked = external.ads_check_start(inputs) if external.is_configured() else None
    facts = gather_facts(ads, ruleset=ruleset)
    if asked is not None:
        answers = {ad_id: future.result() for ad_id, future in asked.items()}
        facts = {
            ad_id: replace(facts[ad_id], external_findings=answers[ad_id][0], external_error=answers[ad_id][1])
            for ad_id in inputs
        }
    return {ad_id: evaluate(ad, facts=facts[ad_id], ruleset=ruleset) for ad_id, ad in inputs.items()}


# The submitted fields stored in one column of their own (all but the price).
_SINGLE_COLUMN_INPUT = tuple(field.name for field in SUBMITTED_FIELDS if field.kind is not Kind.PRICE)


def ad_input(ad) -> dict:
    """The normalised dict (as basic validation returns it) from a stored Ad."""
    data = {name: getattr(ad, name) for name in _SINGLE_COLUMN_INPUT if getattr(ad, name) not in (None, "")}
    if ad.price_amount is not None:
        data["price"] = {"amount": ad.price_amount, "currency": ad.price_currency}
    return data

"""Helpers for the rules tests: judge an ad given as a client would post it."""

from ads_write.validation.basic import validate_basic
from ads_write.validation.docs import CLEAN_AD
from ads_write.validation.engine import AdFacts, Evaluation, evaluate

# The ad docs/rules.md starts every example from: it passes every rule.
CLEAN = CLEAN_AD


def payload(**fields) -> dict:
    """The clean ad with `fields` over it; field=None drops a field."""
    ad = {**CLEAN, **fields}
    return {name: value for name, value in ad.items() if value is not None}


def judge(*, retailer: str = "Nimbus", facts: dict | None = None, **fields) -> Evaluation:
    basic = validate_basic(payload(**fields))
    assert basic.ok, basic.errors
    return evaluate(basic.ad, facts=AdFacts(retailer_name=retailer, **(facts or {})))


def codes(verdict: Evaluation) -> set[str]:
    return {f.code for f in verdict.findings}


def only(verdict: Evaluation, code: str) -> list:
    """The findings of one code."""
    return [f for f in verdict.findings if f.code == code]

"""The labelled corpus (tests/data/ad_corpus.json): each ad as a client posts it, with the
status and the exact set of finding codes the policy gives it. The same corpus runs through
the real HTTP → Celery → read-API pipeline in the pipeline tests."""

import json
from collections import Counter
from pathlib import Path

import pytest

from ads_write.validation import engine
from ads_write.validation.basic import validate_basic
from ads_write.validation.engine import AdFacts, evaluate

CORPUS = json.loads((Path(__file__).resolve().parents[2] / "data" / "ad_corpus.json").read_text(encoding="utf-8"))
STATEFUL = {"FRAUD.DUPLICATE_CONTENT", "FRAUD.VELOCITY", "EXTERNAL.*", "EXTERNAL.UNAVAILABLE"}


@pytest.mark.parametrize("item", CORPUS, ids=[item["name"] for item in CORPUS])
def test_corpus_item(item):
    basic = validate_basic(item["ad"])
    assert basic.ok, basic.errors
    verdict = evaluate(basic.ad, facts=AdFacts(retailer_name=item["retailer"]))
    assert sorted({f.code for f in verdict.findings}) == sorted(item["expected_codes"])
    assert verdict.status == item["expected_status"]


def test_corpus_covers_every_rule_and_clean_ads():
    assert len(CORPUS) >= 150
    seen = Counter(code for item in CORPUS for code in item["expected_codes"])
    for rule in engine.RULES:
        if rule.code not in STATEFUL:
            assert seen[rule.code] >= 3, f"{rule.code} has {seen[rule.code]} corpus ads"
    assert sum(1 for item in CORPUS if item["expected_status"] == "approved") >= 30
    assert {item["expected_status"] for item in CORPUS} == {"approved", "rejected", "needs_review"}
    assert {item["retailer"] for item in CORPUS} == {"Acme", "Zephyr", "Nimbus"}


def test_corpus_content_is_unique_and_dates_fixed():
    contents = [(item["ad"]["headline"].casefold(), item["ad"]["description"].casefold()) for item in CORPUS]
    assert len(set(contents)) == len(contents)
    names = [item["name"] for item in CORPUS]
    assert len(set(names)) == len(names)
    for item in CORPUS:
        for field in ("starts_at", "ends_at"):
            assert item["ad"].get(field, "2030")[:4] >= "2030"

import pytest

from .support import codes, judge, only

PROHIBITED = "COMPLIANCE.PROHIBITED_CATEGORY"
BANNED = "COMPLIANCE.CATEGORY_BANNED_IN_COUNTRY"
MIN_AGE = "COMPLIANCE.MIN_AGE"
LICENSE = "COMPLIANCE.LICENSE_REQUIRED"
RX = "COMPLIANCE.RX_WITHOUT_PRESCRIPTION"
FINANCE = "COMPLIANCE.FINANCE_DISCLOSURE"
SPONSOR = "COMPLIANCE.POLITICAL_SPONSOR"


def test_clean_ad_is_approved():
    verdict = judge()
    assert verdict.status == "approved"
    assert verdict.findings == ()


@pytest.mark.parametrize("category", ["tobacco", "firearms"])
def test_prohibited_categories_anywhere(category):
    verdict = judge(category=category, country="US")
    assert codes(verdict) == {PROHIBITED}
    [finding] = verdict.findings
    assert (finding.severity, finding.category, finding.field) == ("reject", "compliance", "category")
    assert finding.evidence == {"category": category}


@pytest.mark.parametrize(
    "category,country,banned",
    [
        ("alcohol", "SA", True),
        ("alcohol", "KW", True),
        ("alcohol", "QA", True),
        ("alcohol", "IR", True),
        ("alcohol", "LY", True),
        ("alcohol", "CN", False),
        ("alcohol", "GB", False),
        ("gambling", "SA", True),
        ("gambling", "CN", True),
        ("gambling", "SG", True),
        ("gambling", "GB", False),
        ("dating", "SA", True),
        ("dating", "IR", True),
        ("dating", "KW", False),
        ("home", "SA", False),
    ],
)
def test_category_banned_in_country(category, country, banned):
    verdict = judge(category=category, country=country, target_min_age=30, advertiser_license="L-1")
    assert (BANNED in codes(verdict)) is banned
    if banned:
        assert only(verdict, BANNED)[0].evidence == {"category": category, "country": country}


@pytest.mark.parametrize(
    "category,country,legal_age",
    [
        ("alcohol", "US", 21),
        ("alcohol", "IS", 20),
        ("alcohol", "JP", 20),
        ("alcohol", "KR", 19),
        ("alcohol", "GB", 18),
        ("alcohol", "DE", 18),
        ("gambling", "US", 21),
        ("gambling", "GB", 18),
        ("gambling", "JP", 18),
        ("dating", "US", 18),
        ("dating", "GB", 18),
    ],
)
def test_min_age_at_and_below_the_legal_age(category, country, legal_age):
    extra = {"advertiser_license": "L-1"}
    assert MIN_AGE not in codes(judge(category=category, country=country, target_min_age=legal_age, **extra))
    assert MIN_AGE not in codes(judge(category=category, country=country, target_min_age=legal_age + 1, **extra))
    below = judge(category=category, country=country, target_min_age=legal_age - 1, **extra)
    assert codes(below) == {MIN_AGE}
    assert only(below, MIN_AGE)[0].evidence == {
        "category": category,
        "country": country,
        "required_age": legal_age,
        "target_min_age": legal_age - 1,
    }


@pytest.mark.parametrize("category", ["alcohol", "gambling", "dating"])
def test_min_age_missing(category):
    verdict = judge(category=category, advertiser_license="L-1")
    [finding] = only(verdict, MIN_AGE)
    assert finding.field == "target_min_age"
    assert finding.evidence["target_min_age"] is None
    assert "no target_min_age" in finding.message


def test_min_age_only_for_age_restricted_categories():
    assert codes(judge(category="apparel", country="US")) == set()
    assert codes(judge(category="apparel", country="US", target_min_age=13)) == set()


@pytest.mark.parametrize("category", ["gambling", "pharmacy"])
def test_license_required(category):
    missing = judge(category=category, target_min_age=21, country="GB")
    assert codes(missing) == {LICENSE}
    assert only(missing, LICENSE)[0].field == "advertiser_license"
    assert codes(judge(category=category, target_min_age=21, country="GB", advertiser_license="GC-000123")) == set()


@pytest.mark.parametrize(
    "text,flagged",
    [
        ("Antibiotics, no prescription needed", True),
        ("Buy sleeping pills WITHOUT PRESCRIPTION", True),
        ("Diet pills, no   rx required", True),
        ("Order with your prescription", False),
        ("No rxn to worry about", False),  # whole words only
        ("Prescription glasses, no waiting", False),
    ],
)
def test_rx_without_prescription(text, flagged):
    verdict = judge(category="pharmacy", advertiser_license="PH-1", headline=text)
    assert (RX in codes(verdict)) is flagged


def test_rx_phrases_only_matter_for_pharmacy_and_report_each_field():
    assert codes(judge(category="other", headline="No prescription sunglasses")) == set()
    verdict = judge(
        category="pharmacy",
        advertiser_license="PH-1",
        headline="Pills, no prescription",
        description="No Rx, fast shipping.",
    )
    assert [(f.field, f.evidence["phrases"]) for f in only(verdict, RX)] == [
        ("headline", ["no prescription"]),
        ("description", ["no rx"]),
    ]


@pytest.mark.parametrize(
    "headline,disclosure,flagged",
    [
        ("Personal loans in minutes", None, True),
        ("Personal loans in minutes", "Representative 19.9% APR.", False),
        ("Personal loans in minutes", "representative 19.9% apr, variable", False),  # case-insensitive
        ("Personal loans in minutes", "Terms apply. Offer ends April 2030.", True),  # APR as a word, not in April
        ("Personal loans in minutes", "Typical 12%APR", False),
        ("Cashback card with 2% back", None, True),
        ("Low rates on savings", None, True),
        ("A credit card for travel", None, True),
        ("Compare APR offers", None, True),
        ("Pay in 3 with us", None, False),
        ("Accredited financial advisers", None, False),  # credit inside a word
        ("Top rated financial advisers", None, False),  # rate inside a word
    ],
)
def test_finance_disclosure(headline, disclosure, flagged):
    verdict = judge(category="finance", headline=headline, disclosure=disclosure)
    assert (FINANCE in codes(verdict)) is flagged
    if flagged:
        [finding] = only(verdict, FINANCE)
        assert finding.field == "disclosure"
        assert finding.evidence["required"] == "APR"


def test_finance_disclosure_reads_the_description_too_and_only_for_finance():
    verdict = judge(category="finance", description="Borrow at a fixed rate of 4.5% for 5 years.")
    assert only(verdict, FINANCE)[0].evidence["terms"] == ["rate", "%"]
    assert codes(judge(category="home", headline="50% off garden chairs")) == set()


def test_political_sponsor():
    assert codes(judge(category="political", headline="Vote for cleaner rivers")) == {SPONSOR}
    assert (
        codes(judge(category="political", headline="Vote for cleaner rivers", paid_for_by="Friends of Rivers")) == set()
    )

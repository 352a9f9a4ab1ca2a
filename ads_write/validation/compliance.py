"""Compliance rules (AD_POLICY.md, "Compliance"): what the law or the platform allows per
category and country."""

from .normalize import skeleton
from .rules import REJECT, AdContext, Rule, RuleFinding, hit_evidence, written


def rule_prohibited_category(ctx: AdContext) -> list[RuleFinding]:
    if ctx.category not in ctx.ruleset.prohibited_categories:
        return []
    return [
        PROHIBITED_CATEGORY.finding(
            f"Ads in the category '{ctx.category}' are not accepted on this platform in any country.",
            field="category",
            evidence={"category": ctx.category},
        )
    ]


def rule_category_banned_in_country(ctx: AdContext) -> list[RuleFinding]:
    if ctx.country not in ctx.ruleset.banned_in_country.get(ctx.category, ()):
        return []
    return [
        CATEGORY_BANNED_IN_COUNTRY.finding(
            f"Ads in the category '{ctx.category}' are not allowed in {ctx.country}.",
            field="country",
            evidence={"category": ctx.category, "country": ctx.country},
        )
    ]


def rule_min_age(ctx: AdContext) -> list[RuleFinding]:
    legal_age = ctx.ruleset.legal_ages.get(ctx.category)
    if legal_age is None:
        return []
    required = legal_age.for_country(ctx.country)
    target = ctx.ad.get("target_min_age")
    if target is not None and target >= required:
        return []
    problem = "no target_min_age is set" if target is None else f"target_min_age is {target}"
    return [
        MIN_AGE.finding(
            f"Ads in the category '{ctx.category}' in {ctx.country} must target people aged {required} or over, but {problem}.",
            field="target_min_age",
            evidence={
                "category": ctx.category,
                "country": ctx.country,
                "required_age": required,
                "target_min_age": target,
            },
        )
    ]


def rule_license_required(ctx: AdContext) -> list[RuleFinding]:
    if ctx.category not in ctx.ruleset.license_required or ctx.given("advertiser_license"):
        return []
    return [
        LICENSE_REQUIRED.finding(
            f"The category '{ctx.category}' is regulated: give your licence number in advertiser_license.",
            field="advertiser_license",
            evidence={"category": ctx.category},
        )
    ]


def rule_rx_without_prescription(ctx: AdContext) -> list[RuleFinding]:
    if ctx.category not in ctx.ruleset.rx_categories:
        return []
    return [
        RX_WITHOUT_PRESCRIPTION.finding(
            f"The {name} offers prescription medicine without a prescription ({written(hits)}), which is not allowed.",
            field=name,
            evidence=hit_evidence("phrases", hits),
        )
        for name, hits in ctx.matches(ctx.ruleset.rx_phrases)
    ]


def rule_finance_disclosure(ctx: AdContext) -> list[RuleFinding]:
    rules = ctx.ruleset
    if ctx.category not in rules.finance_categories:
        return []
    mentions = ctx.matches(rules.finance_terms)
    if not mentions or rules.finance_required.pattern.search(skeleton(ctx.ad.get("disclosure", ""))):
        return []
    hits = list({hit.text: hit for _, found in mentions for hit in found}.values())
    return [
        FINANCE_DISCLOSURE.finding(
            f"The ad mentions {written(hits)}, so its disclosure must state the {rules.finance_required_term} "
            f"(for example 'Representative 19.9% {rules.finance_required_term}').",
            field="disclosure",
            evidence={**hit_evidence("terms", hits), "required": rules.finance_required_term},
        )
    ]


def rule_political_sponsor(ctx: AdContext) -> list[RuleFinding]:
    if ctx.category not in ctx.ruleset.sponsor_required or ctx.given("paid_for_by"):
        return []
    return [
        POLITICAL_SPONSOR.finding(
            "Political ads must say who paid for them: fill in paid_for_by.",
            field="paid_for_by",
            evidence={"category": ctx.category},
        )
    ]


# Each rule's record: code, severity, its check above (which makes findings through it) and
# the documentation docs/rules.md is generated from.
PROHIBITED_CATEGORY = Rule(
    code="COMPLIANCE.PROHIBITED_CATEGORY",
    severity=REJECT,
    check=rule_prohibited_category,
    summary="The category is prohibited everywhere (ruleset `compliance.prohibited_categories`).",
    example={"category": "tobacco", "headline": "Hand-rolled cigars from Cuba"},
    disguises="Reads the category code, which basic validation checks exactly: there is no text to disguise.",
)
CATEGORY_BANNED_IN_COUNTRY = Rule(
    code="COMPLIANCE.CATEGORY_BANNED_IN_COUNTRY",
    severity=REJECT,
    check=rule_category_banned_in_country,
    summary="The category is banned in the ad's country (ruleset `compliance.banned_in_country`).",
    example={"category": "dating", "country": "SA", "target_min_age": 21, "headline": "Meet someone new tonight"},
    disguises="Reads the category and country codes, which basic validation checks exactly: there is no text to disguise.",
)
MIN_AGE = Rule(
    code="COMPLIANCE.MIN_AGE",
    severity=REJECT,
    check=rule_min_age,
    summary=(
        "The category has a legal age and `target_min_age` is missing or below the age for the ad's "
        "country (ruleset `compliance.min_age`: a default, and exceptions by country)."
    ),
    example={"category": "alcohol", "country": "US", "target_min_age": 18, "headline": "Small-batch bourbon"},
    disguises="Reads codes and a whole number, which basic validation checks exactly: there is no text to disguise.",
)
LICENSE_REQUIRED = Rule(
    code="COMPLIANCE.LICENSE_REQUIRED",
    severity=REJECT,
    check=rule_license_required,
    summary="A regulated category without `advertiser_license` (ruleset `compliance.license_required`).",
    example={"category": "pharmacy", "headline": "Allergy relief tablets"},
    disguises="A licence made only of invisible characters (zero-width spaces, soft hyphens, Hangul fillers, bidi controls) or of characters that draw a blank (braille blank U+2800) is missing.",
    disguise_example={
        "category": "pharmacy",
        "headline": "Allergy relief tablets",
        "advertiser_license": "\u200b\u200b\u200b",
    },
)
RX_WITHOUT_PRESCRIPTION = Rule(
    code="COMPLIANCE.RX_WITHOUT_PRESCRIPTION",
    severity=REJECT,
    check=rule_rx_without_prescription,
    summary=(
        "A pharmacy ad's headline or description offers prescription drugs without one: a phrase of "
        "`compliance.rx_without_prescription.phrases`, as whole words, case-insensitive."
    ),
    example={
        "category": "pharmacy",
        "advertiser_license": "PH-20431",
        "headline": "Antibiotics, no prescription needed",
    },
    disguises="Reads the normalised key: full-width and other compatibility forms (NFKC), invisible characters inside or between words, a braille blank (U+2800) for the space, confusable letters (Cyrillic `о` in `prescriptiоn`), small capitals, text written backwards under a right-to-left override, any case.",
    disguise_example={
        "category": "pharmacy",
        "advertiser_license": "PH-20431",
        "headline": "Antibiotics, n\u200bo prescripti\u043en needed",
    },
)
FINANCE_DISCLOSURE = Rule(
    code="COMPLIANCE.FINANCE_DISCLOSURE",
    severity=REJECT,
    check=rule_finance_disclosure,
    summary=(
        "A finance ad's headline or description mentions a rate, a percent sign, a loan, credit or APR "
        "(`compliance.finance_disclosure.terms`, whole words) and `disclosure` does not contain the word "
        "APR (case-insensitive)."
    ),
    example={
        "category": "finance",
        "headline": "Car loans at 3.9%",
        "description": "Decide in minutes, borrow up to 25,000.",
    },
    disguises="Reads the normalised key: full-width `％` and the Arabic percent sign are `%`, confusable letters (`lоans` with a Cyrillic `о`), invisible characters; a rate in words (`percent`, `per cent`) is a term of the ruleset. An `APR` in the disclosure is read the same way.",
    disguise_example={
        "category": "finance",
        "headline": "Car l\u043eans at 3.9\uff05",
        "description": "Decide in minutes, borrow up to 25,000.",
    },
)
POLITICAL_SPONSOR = Rule(
    code="COMPLIANCE.POLITICAL_SPONSOR",
    severity=REJECT,
    check=rule_political_sponsor,
    summary="A political ad without `paid_for_by` (ruleset `compliance.sponsor_required`).",
    example={"category": "political", "headline": "Vote for cleaner rivers"},
    disguises="A `paid_for_by` made only of invisible characters or blank-drawing ones (U+2800, U+1D159) is missing.",
    disguise_example={
        "category": "political",
        "headline": "Vote for cleaner rivers",
        "paid_for_by": "\u200b\u200b\u200b",
    },
)

RULES = (
    PROHIBITED_CATEGORY,
    CATEGORY_BANNED_IN_COUNTRY,
    MIN_AGE,
    LICENSE_REQUIRED,
    RX_WITHOUT_PRESCRIPTION,
    FINANCE_DISCLOSURE,
    POLITICAL_SPONSOR,
)

"""Company ad policy (AD_POLICY.md, "Company ad policy"): how an ad may be written."""

import re

from .rules import REJECT, REVIEW, AdContext, Finding, Rule, quoted

_RUN_OF_MARKS = re.compile(r"[!?]{2,}")
# Emoji and pictographs: the emoji blocks (pictographs, emoticons, transport, flags' regional
# indicators, supplemental symbols), Miscellaneous Symbols and Dingbats, the few emoji of other
# blocks (watch, hourglass, star...), and the emoji presentation selector. Not © ® ™, which
# brands use in plain text.
_EMOJI = re.compile(
    "["
    "\U0001f000-\U0001faff"
    "\u2600-\u27bf"
    "\u231a\u231b\u2328\u23cf\u23e9-\u23f3\u23f8-\u23fa"
    "\u2b05-\u2b07\u2b1b\u2b1c\u2b50\u2b55"
    "\u3030\u303d\u3297\u3299"
    "\ufe0f"
    "]"
)


def rule_excessive_caps(ctx: AdContext) -> list[Finding]:
    headline = ctx.ad.get("headline", "")
    letters = capitals = 0
    for ch in headline:
        if ch.isalpha():
            letters += 1
            capitals += ch.isupper()
    if letters < ctx.ruleset.caps_min_letters or capitals * 2 <= letters:
        return []
    return [
        EXCESSIVE_CAPS.finding(
            f"The headline is mostly capital letters ({capitals} of {letters}); write it in normal case.",
            field="headline",
            evidence={"capitals": capitals, "letters": letters},
        )
    ]


def rule_excessive_punctuation(ctx: AdContext) -> list[Finding]:
    findings = []
    for name, text in ctx.texts:
        runs = list(dict.fromkeys(_RUN_OF_MARKS.findall(text)))
        exclamations = text.count("!") if name == "headline" else 0
        if exclamations > 1:
            message = f"The headline has {exclamations} exclamation marks; at most one is allowed."
        elif runs:
            message = f"The {name} has repeated punctuation ({quoted(runs)}); use a single ! or ?."
        else:
            continue
        evidence = {"runs": runs}
        if name == "headline":
            evidence["exclamation_marks"] = exclamations
        findings.append(EXCESSIVE_PUNCTUATION.finding(message, field=name, evidence=evidence))
    return findings


def rule_prohibited_words(ctx: AdContext) -> list[Finding]:
    return [
        PROHIBITED_WORDS.finding(
            f"The {name} uses {quoted(words)}, which our ad policy does not allow.",
            field=name,
            evidence={"words": words},
        )
        for name, words in ctx.matches(ctx.ruleset.prohibited_words)
    ]


def rule_misleading_free(ctx: AdContext) -> list[Finding]:
    price = ctx.ad.get("price")
    if price is None or price["amount"] <= 0:
        return []
    amount = f"{price['amount']} {price['currency']}"
    return [
        MISLEADING_FREE.finding(
            f"The {name} says {quoted(words)} but the ad has a price of {amount}: do not call a paid offer free.",
            field=name,
            evidence={"words": words, "amount": str(price["amount"]), "currency": price["currency"]},
        )
        for name, words in ctx.matches(ctx.ruleset.free_words)
    ]


def rule_phone_number(ctx: AdContext) -> list[Finding]:
    return [
        PHONE_NUMBER.finding(
            f"The {name} contains a phone number ({quoted(numbers)}); ads must send people to the landing page instead.",
            field=name,
            evidence={"numbers": numbers},
        )
        for name, numbers in ctx.matches(ctx.ruleset.phone_number)
    ]


def rule_emoji(ctx: AdContext) -> list[Finding]:
    found = list(dict.fromkeys(_EMOJI.findall(ctx.ad.get("headline", ""))))
    if not found:
        return []
    return [
        EMOJI.finding(
            f"The headline contains emoji or pictographs ({' '.join(found)}); use words only.",
            field="headline",
            evidence={"characters": found, "code_points": [f"U+{ord(ch):04X}" for ch in found]},
        )
    ]


def rule_superlative_claim(ctx: AdContext) -> list[Finding]:
    return [
        SUPERLATIVE_CLAIM.finding(
            f"The {name} makes a claim ({quoted(phrases)}) that must be substantiated; it will be checked by staff.",
            field=name,
            evidence={"phrases": phrases},
        )
        for name, phrases in ctx.matches(ctx.ruleset.superlatives)
    ]


def rule_trademark(ctx: AdContext) -> list[Finding]:
    owners = ctx.ruleset.brand_owners
    retailer = ctx.facts.retailer_name.strip().casefold()
    findings = []
    for name, terms in ctx.matches(ctx.ruleset.brands):
        foreign = [term for term in terms if owners[term].casefold() != retailer]
        if foreign:
            findings.append(
                TRADEMARK.finding(
                    f"The {name} uses the brand {quoted(foreign)}, a trademark of "
                    f"{', '.join(dict.fromkeys(owners[t] for t in foreign))}; it will be checked by staff.",
                    field=name,
                    evidence={"terms": foreign, "owners": [owners[t] for t in foreign]},
                )
            )
    return findings


# Each rule's record: code, severity, its check above (which makes findings through it) and
# the documentation docs/rules.md is generated from.
EXCESSIVE_CAPS = Rule(
    code="POLICY.EXCESSIVE_CAPS",
    severity=REJECT,
    check=rule_excessive_caps,
    summary=(
        "The headline has at least `policy.caps_min_letters` letters and more than half of them are "
        "capitals (exactly half is not more than half)."
    ),
    example={"headline": "HUGE SALE on teak"},
)
EXCESSIVE_PUNCTUATION = Rule(
    code="POLICY.EXCESSIVE_PUNCTUATION",
    severity=REJECT,
    check=rule_excessive_punctuation,
    summary="The headline has more than one `!`, or the headline or description has a run of two or more `!`/`?`.",
    example={"headline": "Garden chairs! Today only!"},
)
PROHIBITED_WORDS = Rule(
    code="POLICY.PROHIBITED_WORDS",
    severity=REJECT,
    check=rule_prohibited_words,
    summary=(
        "The headline or description uses a word of `policy.prohibited_words`, as a whole word, "
        "case-insensitive (`scam` is, `scampi` is not)."
    ),
    example={"description": "Other shops are a scam; our chairs are real teak."},
)
MISLEADING_FREE = Rule(
    code="POLICY.MISLEADING_FREE",
    severity=REJECT,
    check=rule_misleading_free,
    summary='A word of `policy.free_words` ("free", whole word) is in the headline or description and `price.amount` > 0.',
    example={"headline": "Free garden chairs", "price": {"amount": "49.00", "currency": "GBP"}},
)
PHONE_NUMBER = Rule(
    code="POLICY.PHONE_NUMBER",
    severity=REJECT,
    check=rule_phone_number,
    summary=(
        "The headline or description has a phone number: `policy.phone_min_digits` or more digits, "
        "optionally with `+`, spaces, dots, dashes and parentheses between; not glued to a word before it."
    ),
    example={"description": "Order by phone: +44 20 7946 0958."},
)
EMOJI = Rule(
    code="POLICY.EMOJI",
    severity=REJECT,
    check=rule_emoji,
    summary="The headline has an emoji or pictograph (the description may).",
    example={"headline": "Garden chairs \U0001f33b"},
)
SUPERLATIVE_CLAIM = Rule(
    code="POLICY.SUPERLATIVE_CLAIM",
    severity=REVIEW,
    check=rule_superlative_claim,
    summary=(
        "The headline or description makes an unsupported claim: a phrase of `policy.superlatives` "
        "(whole words, either apostrophe)."
    ),
    example={"headline": "The world's best garden chairs"},
)
TRADEMARK = Rule(
    code="POLICY.TRADEMARK",
    severity=REVIEW,
    check=rule_trademark,
    summary=(
        "The headline or description uses a protected brand term (`policy.brands`, whole word) whose owner "
        "is another retailer; the owner's own ads pass."
    ),
    example={"headline": "Cases for your AcmePhone"},
    example_retailer="Nimbus",
)

RULES = (
    EXCESSIVE_CAPS,
    EXCESSIVE_PUNCTUATION,
    PROHIBITED_WORDS,
    MISLEADING_FREE,
    PHONE_NUMBER,
    EMOJI,
    SUPERLATIVE_CLAIM,
    TRADEMARK,
)

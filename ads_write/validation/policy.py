"""Company ad policy (AD_POLICY.md, "Company ad policy"): how an ad may be written."""

import re

from .normalize import skeleton
from .rules import REJECT, REVIEW, AdContext, Rule, RuleFinding, hit_evidence, written

_RUN_OF_MARKS = re.compile(r"[!?]{2,}")
# Emoji and pictographs: the emoji blocks (pictographs, emoticons, transport, flags' regional
# indicators, supplemental symbols), Miscellaneous Symbols and Dingbats, the few emoji of other
# blocks (watch, hourglass, star, the emoji squares and triangles of Geometric Shapes such as
# ◾ U+25FE...), keycaps (U+20E3) and the other emoji (© ® ™ ‼ ↔...) when U+FE0F asks for
# their emoji presentation; not © ® ™ in plain text, which brands use. Read in the original
# text: NFKC would turn ‼ and Ⓜ into plain characters. A U+FE0F anywhere else shows nothing.
_EMOJI = re.compile(
    "["
    "\U0001f000-\U0001faff"
    "\u2600-\u27bf"
    "\u231a\u231b\u2328\u23cf\u23e9-\u23f3\u23f8-\u23fa"
    "\u25aa\u25ab\u25b6\u25c0\u25fb-\u25fe"
    "\u2b05-\u2b07\u2b1b\u2b1c\u2b50\u2b55"
    "\u3030\u303d\u3297\u3299"
    "\u20e3"
    "]"
    # the text-default emoji outside those ranges, in emoji presentation
    "|[\u00a9\u00ae\u203c\u2049\u2122\u2139\u2194-\u2199\u21a9\u21aa\u24c2\u2934\u2935]\ufe0f"
)


def rule_excessive_caps(ctx: AdContext) -> list[RuleFinding]:
    # The clean text: circled and full-width capitals are capitals, Hangul fillers (letters to
    # str.isalpha) and other invisible padding are gone.
    headline = ctx.text("headline")
    letters = capitals = 0
    for ch in headline.clean if headline else "":
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


def rule_excessive_punctuation(ctx: AdContext) -> list[RuleFinding]:
    # Read in the key: `‼`, `！` and `ǃ` (a click letter drawn as !) are exclamation marks there,
    # and zero-width characters between marks are gone.
    findings = []
    for text in ctx.texts:
        name = text.field
        runs = {}
        for match in _RUN_OF_MARKS.finditer(text.key):
            runs.setdefault(match.group(), text.key_hit(match, match.group()))
        exclamations = text.key.count("!") if name == "headline" else 0
        if exclamations > 1:
            message = f"The headline has {exclamations} exclamation marks; at most one is allowed."
        elif runs:
            message = f"The {name} has repeated punctuation ({written(list(runs.values()))}); use a single ! or ?."
        else:
            continue
        evidence = hit_evidence("runs", list(runs.values()))
        if name == "headline":
            evidence["exclamation_marks"] = exclamations
            if look_alikes := _read_as_exclamation_marks(text.original):
                evidence["read_as_exclamation_marks"] = look_alikes
        findings.append(EXCESSIVE_PUNCTUATION.finding(message, field=name, evidence=evidence))
    return findings


def _read_as_exclamation_marks(original: str) -> list[str]:
    """The characters of the original (as U+XXXX) that the key reads as `!` but are not `!`."""
    if original.isascii():
        return []
    return sorted({f"U+{ord(ch):04X}" for ch in original if ch != "!" and "!" in skeleton(ch)})


def rule_prohibited_words(ctx: AdContext) -> list[RuleFinding]:
    return [
        PROHIBITED_WORDS.finding(
            f"The {name} uses {written(hits)}, which our ad policy does not allow.",
            field=name,
            evidence=hit_evidence("words", hits),
        )
        for name, hits in ctx.matches(ctx.ruleset.prohibited_words)
    ]


def rule_misleading_free(ctx: AdContext) -> list[RuleFinding]:
    price = ctx.ad.get("price")
    if price is None or price["amount"] <= 0:
        return []
    amount = f"{price['amount']} {price['currency']}"
    return [
        MISLEADING_FREE.finding(
            f"The {name} says {written(hits)} but the ad has a price of {amount}: do not call a paid offer free.",
            field=name,
            evidence={**hit_evidence("words", hits), "amount": str(price["amount"]), "currency": price["currency"]},
        )
        for name, hits in ctx.matches(ctx.ruleset.free_words)
    ]


def rule_phone_number(ctx: AdContext) -> list[RuleFinding]:
    return [
        PHONE_NUMBER.finding(
            f"The {name} contains a phone number ({written(hits)}); ads must send people to the landing page instead.",
            field=name,
            evidence=hit_evidence("numbers", hits),
        )
        for name, hits in ctx.clean_matches(ctx.ruleset.phone_number)
    ]


def rule_emoji(ctx: AdContext) -> list[RuleFinding]:
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


def rule_superlative_claim(ctx: AdContext) -> list[RuleFinding]:
    return [
        SUPERLATIVE_CLAIM.finding(
            f"The {name} makes a claim ({written(hits)}) that must be substantiated; it will be checked by staff.",
            field=name,
            evidence=hit_evidence("phrases", hits),
        )
        for name, hits in ctx.matches(ctx.ruleset.superlatives)
    ]


def rule_trademark(ctx: AdContext) -> list[RuleFinding]:
    owners = ctx.ruleset.brand_owners
    retailer = ctx.facts.retailer_name.strip().casefold()
    findings = []
    for name, hits in ctx.matches(ctx.ruleset.brands):
        foreign = [hit for hit in hits if owners[hit.text].casefold() != retailer]
        if foreign:
            findings.append(
                TRADEMARK.finding(
                    f"The {name} uses the brand {written(foreign)}, a trademark of "
                    f"{', '.join(dict.fromkeys(owners[hit.text] for hit in foreign))}; it will be checked by staff.",
                    field=name,
                    evidence={**hit_evidence("terms", foreign), "owners": [owners[hit.text] for hit in foreign]},
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
    disguises="Counts letters in the clean text: circled, full-width and mathematical capitals (NFKC), small capitals (`ʙɪɢ ꜱᴀʟᴇ`) and negative circled or squared letters are capitals, and invisible padding (the Hangul filler U+3164, a letter to Unicode) is not counted.",
    disguise_example={"headline": "\u24bd\u24ca\u24bc\u24ba SALE on teak"},
)
EXCESSIVE_PUNCTUATION = Rule(
    code="POLICY.EXCESSIVE_PUNCTUATION",
    severity=REJECT,
    check=rule_excessive_punctuation,
    summary="The headline has more than one `!`, or the headline or description has a run of two or more `!`/`?`.",
    example={"headline": "Garden chairs! Today only!"},
    disguises="Reads the normalised key: `‼` is `!!`, `！` is `!`, `ǃ` (U+01C3, a click letter drawn as `!`) is `!`, the emoji `❗` `❕` `❓` `❔` are `!` and `?`, `‽` is `?!`, and invisible characters between marks are gone (`!\\u200b!`).",
    disguise_example={"headline": "Garden chairs\u203c"},
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
    disguises="Reads the normalised key: Cyrillic or Greek look-alikes (`ѕсаm`), full-width letters (`ｓｃａｍ`), small capitals (`ꜱᴄᴀᴍ`), negative circled or parenthesized letters, a strike-through (`s̶c̶a̶m̶`), zero-width joiners, soft hyphens and combining grapheme joiners inside the word, the word written backwards under a right-to-left override (U+202E `macs` is drawn `scam`). Whole words still: `scampi` passes.",
    disguise_example={"description": "Other shops are a \u0455\u0441\u0430m; our chairs are real teak."},
)
MISLEADING_FREE = Rule(
    code="POLICY.MISLEADING_FREE",
    severity=REJECT,
    check=rule_misleading_free,
    summary='A word of `policy.free_words` ("free", whole word) is in the headline or description and `price.amount` > 0.',
    example={"headline": "Free garden chairs", "price": {"amount": "49.00", "currency": "GBP"}},
    disguises="Reads the normalised key: `Frее` with Cyrillic `е`, full-width letters, invisible characters inside the word.",
    disguise_example={"headline": "Fr\u0435\u0435 garden chairs", "price": {"amount": "49.00", "currency": "GBP"}},
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
    disguises="Reads the clean text: zero-width characters between digits are gone, full-width, Arabic-Indic and keycap digits (`0️⃣`) are digits, a braille blank (U+2800) is a space, and a gap may be ` - `, any Unicode dash or a character drawn as one (`˗` U+02D7).",
    disguise_example={"description": "Order by phone: 020\u200b7946\u200b0958."},
)
EMOJI = Rule(
    code="POLICY.EMOJI",
    severity=REJECT,
    check=rule_emoji,
    summary="The headline has an emoji or pictograph (the description may).",
    example={"headline": "Garden chairs \U0001f33b"},
    disguises="Reads the original headline, where emoji cannot hide: invisible characters around them change nothing; the emoji squares of Geometric Shapes (◾ U+25FE) count.",
    disguise_example={"headline": "Garden chairs \u25fe"},
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
    disguises="Reads the normalised key: any apostrophe (`’`, `‘`, `ʼ`, and the spacing accents `´` and `` ` ``), full-width `＃`, confusable letters and invisible characters.",
    disguise_example={"headline": "The world\u02bcs best garden chairs"},
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
    disguises="Reads the normalised key: confusable letters (`ɑcmephone` with a Latin alpha, Cyrillic look-alikes), full-width letters, invisible characters inside the word.",
    disguise_example={"headline": "Cases for your \u0251cmephone"},
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

import pytest

from .support import codes, judge, only

CAPS = "POLICY.EXCESSIVE_CAPS"
PUNCTUATION = "POLICY.EXCESSIVE_PUNCTUATION"
WORDS = "POLICY.PROHIBITED_WORDS"
FREE = "POLICY.MISLEADING_FREE"
PHONE = "POLICY.PHONE_NUMBER"
EMOJI = "POLICY.EMOJI"
SUPERLATIVE = "POLICY.SUPERLATIVE_CLAIM"
TRADEMARK = "POLICY.TRADEMARK"


@pytest.mark.parametrize(
    "headline,flagged",
    [
        ("ABCDEFGh", True),  # 8 letters, 7 capitals
        ("ABCDefgh", False),  # 8 letters, exactly half
        ("ABCDEFG", False),  # 7 letters: too short to judge, all capitals or not
        ("ABCDEFG!", False),  # punctuation is not a letter
        ("ABCDE fgH", True),  # 8 letters, 6 capitals
        ("BIG SALE 2030 on teak", True),  # 7 capitals of 13 letters
        ("BIG SALE on teaks", False),  # 7 of 14
        ("New TV and DVD sets", False),
        ("\u00c9T\u00c9 SOLDES \u00e0 gogo", True),  # capitals with accents count
    ],
)
def test_excessive_caps(headline, flagged):
    verdict = judge(headline=headline)
    assert (CAPS in codes(verdict)) is flagged


def test_excessive_caps_evidence_and_description_not_read():
    [finding] = only(judge(headline="ABCDEFGh"), CAPS)
    assert finding.evidence == {"capitals": 7, "letters": 8}
    assert finding.field == "headline"
    assert codes(judge(description="ALL CAPITALS IN THE DESCRIPTION ARE ALLOWED")) == set()


@pytest.mark.parametrize(
    "headline,description,fields",
    [
        ("Garden chairs!", "Weatherproof! Sturdy!", []),  # one ! in the headline, single marks in the description
        ("Garden chairs! Today only!", "Weatherproof.", ["headline"]),  # more than one ! in the headline
        ("Garden chairs?!", "Weatherproof.", ["headline"]),  # a run of two
        ("Garden chairs??", "Weatherproof.", ["headline"]),
        ("Garden chairs", "Really?? Yes!!", ["description"]),
        ("Garden chairs!!", "Weatherproof!?", ["headline", "description"]),
        ("Garden chairs? Yes.", "Why? Because.", []),
    ],
)
def test_excessive_punctuation(headline, description, fields):
    verdict = judge(headline=headline, description=description)
    assert [f.field for f in only(verdict, PUNCTUATION)] == fields


@pytest.mark.parametrize(
    "text,words",
    [
        ("Garden chairs, no scam", ["scam"]),
        ("Scampi and chips for two", []),  # whole words only
        ("SCAM-free garden chairs", ["scam"]),
        ("Damn good chairs, not crap", ["damn", "crap"]),
        ("Idiotproof assembly", []),
        ("Don't be an idiot: buy teak", ["idiot"]),
        ("Crapshoot prices", []),
    ],
)
def test_prohibited_words(text, words):
    verdict = judge(headline=text)
    found = only(verdict, WORDS)
    assert [w for f in found for w in f.evidence["words"]] == words


def test_prohibited_words_in_each_field():
    verdict = judge(headline="No scam here", description="Damn fine chairs.")
    assert [(f.field, f.evidence["words"]) for f in only(verdict, WORDS)] == [
        ("headline", ["scam"]),
        ("description", ["damn"]),
    ]


@pytest.mark.parametrize(
    "text,price,flagged",
    [
        ("Free delivery on garden chairs", {"amount": "49.00", "currency": "GBP"}, True),
        ("Free delivery on garden chairs", None, False),  # no price, nothing misleading
        ("FREE gift with every chair", {"amount": "0.01", "currency": "GBP"}, True),
        ("Freedom to sit anywhere", {"amount": "49.00", "currency": "GBP"}, False),  # whole word only
        ("Carefree garden chairs", {"amount": "49.00", "currency": "GBP"}, False),
        ("Gluten-free snacks", {"amount": "3.50", "currency": "GBP"}, True),
    ],
)
def test_misleading_free(text, price, flagged):
    verdict = judge(headline=text, price=price)
    assert (FREE in codes(verdict)) is flagged
    if flagged:
        evidence = only(verdict, FREE)[0].evidence
        assert evidence["words"] == ["free"]
        assert evidence["amount"] == price["amount"]


@pytest.mark.parametrize(
    "text,numbers",
    [
        ("Call 555-1234 today", ["555-1234"]),  # 7 digits with a dash
        ("Call 555-123 today", []),  # 6 digits
        ("Call 5551234", ["5551234"]),
        ("Call 123456", []),
        ("Call +44 20 7946 0958", ["+44 20 7946 0958"]),
        ("Call (555) 123-4567", ["(555) 123-4567"]),
        ("Call 555.123.4567", ["555.123.4567"]),
        ("Call +1 (800) 555 0199 or 0800 123 456", ["+1 (800) 555 0199", "0800 123 456"]),
        ("Only 1,299.99 for the set", []),  # a comma is not a phone separator
        ("Model SKU1234567 in stock", []),  # glued to a word: a code, not a number to call
        ("Sizes 36 to 46", []),
    ],
)
def test_phone_number(text, numbers):
    verdict = judge(description=text)
    found = only(verdict, PHONE)
    assert [n for f in found for n in f.evidence["numbers"]] == numbers
    assert all(f.field == "description" for f in found)


def test_phone_number_in_headline():
    assert [f.field for f in only(judge(headline="Ring 0161 496 0000"), PHONE)] == ["headline"]


@pytest.mark.parametrize(
    "headline,flagged",
    [
        ("Garden chairs \U0001f33b", True),
        ("Garden chairs \u2600", True),  # sun, Miscellaneous Symbols
        ("Garden chairs \u2764\ufe0f", True),  # heart + emoji presentation
        ("Garden chairs \u2b50", True),  # star
        ("Flags \U0001f1ec\U0001f1e7", True),  # regional indicators
        ("Garden chairs \U0001f468\u200d\U0001f469\u200d\U0001f467", True),  # a ZWJ family
        ("AcmeChairs\u00ae and Nimbus\u2122 chairs", False),  # ® and ™ are not emoji
        ("Garden chairs \u2013 50% off", False),  # en dash
        ("\u65e5\u672c\u306e\u6905\u5b50", False),  # Japanese text
    ],
)
def test_emoji_in_headline(headline, flagged):
    verdict = judge(headline=headline)
    assert (EMOJI in codes(verdict)) is flagged


def test_emoji_in_description_is_allowed():
    assert codes(judge(description="Weatherproof chairs \U0001f33b\u2600\ufe0f")) == set()
    [finding] = only(judge(headline="Chairs \U0001f33b\U0001f33b"), EMOJI)
    assert finding.evidence == {"characters": ["\U0001f33b"], "code_points": ["U+1F33B"]}


@pytest.mark.parametrize(
    "text,phrases",
    [
        ("The #1 garden chair", ["#1"]),
        ("Rated #10 by readers", []),
        ("Number one for comfort", ["number one"]),
        ("Number   One for comfort", ["number one"]),
        ("Best in the world, they say", ["best in the world"]),
        ("The world's best chairs", ["world's best"]),
        ("The world\u2019s best chairs", ["world's best"]),  # typographic apostrophe
        ("Comfort GUARANTEED", ["guaranteed"]),
        ("Guarantee of comfort", []),
        ("One number to remember", []),
        ("Best chairs in the world", []),
    ],
)
def test_superlative_claim(text, phrases):
    verdict = judge(headline=text)
    found = only(verdict, SUPERLATIVE)
    assert [p for f in found for p in f.evidence["phrases"]] == phrases
    assert all(f.severity == "review" for f in found)


@pytest.mark.parametrize(
    "retailer,headline,terms",
    [
        ("Nimbus", "Cases for your AcmePhone", ["acmephone"]),
        ("Acme", "Cases for your AcmePhone", []),  # the owner's own ad
        ("acme", "Cases for your AcmePhone", []),  # owner compared without case
        ("Zephyr", "Cases for your AcmePhone", ["acmephone"]),
        ("Acme", "Laces for ZephyrShoes", ["zephyrshoes"]),
        ("Zephyr", "Laces for ZephyrShoes", []),
        ("Nimbus", "AcmePhones in stock", []),  # whole word only
        ("Nimbus", "AcmePhone and ZephyrShoes bundle", ["acmephone", "zephyrshoes"]),
    ],
)
def test_trademark(retailer, headline, terms):
    verdict = judge(retailer=retailer, headline=headline)
    found = only(verdict, TRADEMARK)
    assert [t for f in found for t in f.evidence["terms"]] == terms
    assert all(f.severity == "review" for f in found)


def test_trademark_evidence_names_the_owner():
    [finding] = only(judge(retailer="Zephyr", description="Fits every acmephone"), TRADEMARK)
    assert finding.field == "description"
    assert finding.evidence == {"terms": ["acmephone"], "owners": ["Acme"]}
    assert "Acme" in finding.message

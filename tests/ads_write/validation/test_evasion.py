"""Issue 14: disguised violations get the verdict of the undisguised text, and look-alike
legitimate ads stay approved.

Each example of the issue is a named case beside its plain form; property-based tests insert
random invisible characters and swap random confusable letters into violating texts."""

import string
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ads_write.validation import normalize
from ads_write.validation.basic import validate_basic
from ads_write.validation.domains import parse_host
from ads_write.validation.policy import _EMOJI

from .support import codes, judge, only, payload

PHARMACY = {"category": "pharmacy", "advertiser_license": "PH-20431"}
FINANCE = {"category": "finance", "description": "Decide in minutes."}
PRICED = {"price": {"amount": "49.00", "currency": "GBP"}}
FILLERS = "\u3164" * 9

# (name, disguised fields, plain fields, the code the plain text gets)
ISSUE_EXAMPLES = [
    ("scam in Cyrillic look-alikes", {"headline": "No \u0455\u0441\u0430m here"}, {"headline": "No scam here"}),
    ("scam in full-width letters", {"headline": "No \uff53\uff43\uff41\uff4d here"}, {"headline": "No scam here"}),
    ("scam with a zero-width joiner", {"headline": "No sc\u200dam here"}, {"headline": "No scam here"}),
    ("scam with a soft hyphen", {"headline": "No sc\u00adam here"}, {"headline": "No scam here"}),
    ("scam with a combining grapheme joiner", {"headline": "No sc\u034fam here"}, {"headline": "No scam here"}),
    (
        "no prescription with a Cyrillic o",
        {**PHARMACY, "headline": "Antibiotics, no prescripti\u043en"},
        {**PHARMACY, "headline": "Antibiotics, no prescription"},
    ),
    (
        "no prescription with a zero-width space in a word",
        {**PHARMACY, "headline": "Antibiotics, n\u200bo prescription"},
        {**PHARMACY, "headline": "Antibiotics, no prescription"},
    ),
    (
        "no prescription with a zero-width space for the space",
        {**PHARMACY, "headline": "Antibiotics, no\u200bprescription"},
        {**PHARMACY, "headline": "Antibiotics, no prescription"},
    ),
    (
        "licence of zero-width spaces",
        {"category": "pharmacy", "advertiser_license": "\u200b\u200b\u200b"},
        {"category": "pharmacy"},
    ),
    (
        "paid_for_by of zero-width spaces",
        {"category": "political", "paid_for_by": "\u200b\u200c\u200d\ufeff"},
        {"category": "political"},
    ),
    (
        "full-width percent",
        {**FINANCE, "headline": "Car finance at 3.9\uff05"},
        {**FINANCE, "headline": "Car finance at 3.9%"},
    ),
    (
        "loans with a Cyrillic o",
        {**FINANCE, "headline": "Personal l\u043eans"},
        {**FINANCE, "headline": "Personal loans"},
    ),
    (
        "blocked host in full-width letters",
        {"landing_url": "https://\uff46\uff52\uff45\uff45-\uff50\uff52\uff49\uff5a\uff45\uff53.example/claim"},
        {"landing_url": "https://free-prizes.example/claim"},
    ),
    (
        "shortener in full-width letters",
        {"landing_url": "https://\uff42\uff49\uff54.\uff4c\uff59/x"},
        {"landing_url": "https://bit.ly/x"},
    ),
    ("shortener with a long s", {"landing_url": "https://i\u017f.gd/x"}, {"landing_url": "https://is.gd/x"}),
    (
        "shortener with a mathematical b",
        {"landing_url": "https://\U0001d41bit.ly/x"},
        {"landing_url": "https://bit.ly/x"},
    ),
    (
        "shortener before a backslash and user info",
        {"landing_url": "https://bit.ly\\@shop.example/x"},
        {"landing_url": "https://bit.ly/@shop.example/x"},
    ),
    (
        "display URL with user info",
        {"landing_url": "https://other.example/x", "display_url": "shop.example@other.example/x"},
        None,
    ),
    (
        "whole-script Cyrillic look-alike host",
        {"landing_url": "https://\u0430\u0440\u0440\u04cf\u0435.\u0440\u0444/"},
        None,
    ),
    ("host with a Latin alpha", {"landing_url": "https://\u0251cmephone.example/"}, None),
    ("host with a dotless i", {"landing_url": "https://n\u0131mbus-store.example/"}, None),
    ("double exclamation mark sign", {"headline": "Garden chairs\u203c"}, {"headline": "Garden chairs!!"}),
    ("full-width exclamation marks", {"headline": "Garden chairs\uff01\uff01"}, {"headline": "Garden chairs!!"}),
    (
        "exclamation marks split by zero-width spaces",
        {"description": "Weatherproof!\u200b!\u200b!"},
        {"description": "Weatherproof!!!"},
    ),
    (
        "retroflex clicks for exclamation marks",
        {"headline": "Garden chairs\u01c3\u01c3"},
        {"headline": "Garden chairs!!"},
    ),
    ("capitals padded with Hangul fillers", {"headline": f"BIG SALE{FILLERS} now"}, {"headline": "BIG SALE now"}),
    (
        "capitals as circled letters",
        {"headline": "\u24b7\u24be\u24bc \u24c8\u24b6\u24c1\u24ba now"},
        {"headline": "BIG SALE now"},
    ),
    (
        "free with a Cyrillic e",
        {**PRICED, "headline": "Fr\u0435\u0435 garden chairs"},
        {**PRICED, "headline": "Free garden chairs"},
    ),
    (
        "superlative with a left quotation mark",
        {"headline": "The world\u2018s best chairs"},
        {"headline": "The world's best chairs"},
    ),
    (
        "superlative with a modifier apostrophe",
        {"headline": "The world\u02bcs best chairs"},
        {"headline": "The world's best chairs"},
    ),
    (
        "superlative with a full-width number sign",
        {"headline": "\uff03\uff11 garden chairs"},
        {"headline": "#1 garden chairs"},
    ),
    (
        "phone split by zero-width spaces",
        {"description": "Call 020\u200b7946\u200b0958 today."},
        {"description": "Call 02079460958 today."},
    ),
    (
        "phone split by spaced dashes",
        {"description": "Call 555 - 0199 - 12 today."},
        {"description": "Call 555-0199-12 today."},
    ),
    (
        "black medium small square as emoji",
        {"headline": "Garden chairs \u25fe"},
        {"headline": "Garden chairs \U0001f33b"},
    ),
    (
        "rate in words",
        {**FINANCE, "headline": "Car finance at 3.9 percent a year"},
        {**FINANCE, "headline": "Car finance at 3.9% a year"},
    ),
]
# What the policy gives the undisguised form, for the cases without one to judge (the URL
# cases that a reader would see as another site).
EXPECTED = {
    "display URL with user info": ("rejected", {"FRAUD.URL_USERINFO"}),
    "whole-script Cyrillic look-alike host": ("needs_review", {"FRAUD.PUNYCODE_DOMAIN"}),
    "host with a Latin alpha": ("needs_review", {"FRAUD.PUNYCODE_DOMAIN"}),
    "host with a dotless i": ("needs_review", {"FRAUD.PUNYCODE_DOMAIN"}),
}


@pytest.mark.parametrize("disguised,plain", [case[1:] for case in ISSUE_EXAMPLES], ids=[c[0] for c in ISSUE_EXAMPLES])
def test_each_issue_example_gets_the_verdict_of_its_plain_form(request, disguised, plain):
    verdict = judge(**disguised)
    if plain is None:
        status, expected = EXPECTED[request.node.callspec.id]
    else:
        undisguised = judge(**plain)
        status, expected = undisguised.status, codes(undisguised)
    assert expected, "the plain form must break a rule"
    assert (verdict.status, codes(verdict)) == (status, expected), verdict.findings


# Disguises the issue did not list, found when it was audited; each beside its plain form.
MORE_DISGUISES = [
    (
        "scam reversed by a right-to-left override",
        {"headline": "No \u202emacs\u202c here"},
        {"headline": "No scam here"},
    ),
    ("override to the end of the text", {"headline": "Here no \u202emacs"}, {"headline": "Here no scam"}),
    ("scam in small capitals", {"headline": "No \ua731\u1d04\u1d00\u1d0d here"}, {"headline": "No scam here"}),
    (
        "scam in negative circled letters",
        {"description": "No \U0001f162\U0001f152\U0001f150\U0001f15c here"},
        {"description": "No scam here"},
    ),
    (
        "scam in parenthesized letters",
        {"description": "No \u24ae\u249e\u249c\u24a8 here"},
        {"description": "No scam here"},
    ),
    ("scam struck through", {"headline": "No s\u0336c\u0336a\u0336m\u0336 here"}, {"headline": "No scam here"}),
    (
        "no prescription with a braille blank for the space",
        {**PHARMACY, "headline": "Antibiotics, no\u2800prescription"},
        {**PHARMACY, "headline": "Antibiotics, no prescription"},
    ),
    (
        "licence of braille blanks",
        {"category": "pharmacy", "advertiser_license": "\u2800\u2800"},
        {"category": "pharmacy"},
    ),
    (
        "paid_for_by of a null notehead",
        {"category": "political", "paid_for_by": "\U0001d159"},
        {"category": "political"},
    ),
    (
        "phone split by braille blanks",
        {"description": "Call 020\u28007946\u28000958 today."},
        {"description": "Call 020 7946 0958 today."},
    ),
    (
        "phone split by modifier minus signs",
        {"description": "Call 020\u02d77946\u02d70958 today."},
        {"description": "Call 020-7946-0958 today."},
    ),
    (
        "phone in keycap digits",
        {"description": "Call " + "".join(f"{d}\ufe0f\u20e3" for d in "02079460958") + " today."},
        {"description": "Call 02079460958 today."},
    ),
    (
        "capitals in small capitals",
        {"headline": "\u0299\u026a\u0262 \ua731\u1d00\u029f\u1d07 now"},
        {"headline": "BIG SALE now"},
    ),
    ("heavy exclamation mark emoji", {"description": "Weatherproof\u2757\u2757"}, {"description": "Weatherproof!!"}),
    ("interrobang", {"description": "Weatherproof\u203d"}, {"description": "Weatherproof?!"}),
    (
        "superlative with an acute accent",
        {"headline": "The world\u00b4s best chairs"},
        {"headline": "The world's best chairs"},
    ),
    ("host in small capitals", {"landing_url": "https://\u1d00cmephone.example/"}, None),
    # Already seen through before the audit; kept so that they stay so.
    ("scam with a word joiner", {"headline": "No sc\u2060am here"}, {"headline": "No scam here"}),
    ("scam with a Mongolian vowel separator", {"headline": "No sc\u180eam here"}, {"headline": "No scam here"}),
    ("scam with a byte order mark", {"headline": "No sc\ufeffam here"}, {"headline": "No scam here"}),
    ("scam with a variation selector", {"headline": "No sc\U000e0100am here"}, {"headline": "No scam here"}),
    (
        "scam in mathematical bold",
        {"headline": "No \U0001d42c\U0001d41c\U0001d41a\U0001d426 here"},
        {"headline": "No scam here"},
    ),
    ("idiot with an Armenian o", {"headline": "No idi\u0585t here"}, {"headline": "No idiot here"}),
    ("scam with a Cherokee s", {"headline": "No \uabaacam here"}, {"headline": "No scam here"}),
    (
        "superlative with a grave accent",
        {"headline": "The world`s best chairs"},
        {"headline": "The world's best chairs"},
    ),
    (
        "phone in Arabic-Indic digits",
        {"description": "Call \u0660\u0662\u0660\u0667\u0669\u0664\u0666\u0660\u0669\u0665\u0668 today."},
        {"description": "Call 02079460958 today."},
    ),
    ("IPv4 in decimal", {"landing_url": "https://3405803783/x"}, {"landing_url": "https://203.0.113.7/x"}),
    ("IPv4 in hex", {"landing_url": "https://0xcb.0x0.0x71.0x7/x"}, {"landing_url": "https://203.0.113.7/x"}),
    ("IPv4 in octal", {"landing_url": "https://0313.0.0161.07/x"}, {"landing_url": "https://203.0.113.7/x"}),
    ("IPv4-mapped IPv6", {"landing_url": "https://[::ffff:cb00:7107]/x"}, {"landing_url": "https://203.0.113.7/x"}),
    ("shortener with trailing dots", {"landing_url": "https://BIT.LY../x"}, {"landing_url": "https://bit.ly/x"}),
]
EXPECTED["host in small capitals"] = ("needs_review", {"FRAUD.PUNYCODE_DOMAIN"})


@pytest.mark.parametrize("disguised,plain", [case[1:] for case in MORE_DISGUISES], ids=[c[0] for c in MORE_DISGUISES])
def test_other_disguises_get_the_verdict_of_their_plain_form(request, disguised, plain):
    test_each_issue_example_gets_the_verdict_of_its_plain_form(request, disguised, plain)


def test_an_override_is_quoted_from_the_override_on_and_a_struck_word_whole():
    [finding] = only(judge(headline="No \u202emacs\u202c here"), "POLICY.PROHIBITED_WORDS")
    assert finding.evidence == {"words": ["scam"], "original": ["\u202emacs"]}
    assert "'scam' (written '<U+202E>macs')" in finding.message
    [finding] = only(judge(headline="No s\u0336c\u0336a\u0336m\u0336 here"), "POLICY.PROHIBITED_WORDS")
    assert finding.evidence["original"] == ["s\u0336c\u0336a\u0336m\u0336"]


def test_findings_quote_the_original_and_name_the_normalised_form():
    [finding] = only(judge(headline="No \u0455\u0441\u0430m here"), "POLICY.PROHIBITED_WORDS")
    assert finding.evidence == {"words": ["scam"], "original": ["\u0455\u0441\u0430m"]}
    assert "'scam' (written '\u0455\u0441\u0430m')" in finding.message

    [finding] = only(judge(headline="No sc\u200dam here"), "POLICY.PROHIBITED_WORDS")
    assert finding.evidence["original"] == ["sc\u200dam"]
    assert "written 'sc<U+200D>am'" in finding.message  # the invisible character made visible

    [finding] = only(judge(description="Call 020\u200b7946\u200b0958 today."), "POLICY.PHONE_NUMBER")
    assert finding.evidence == {"numbers": ["02079460958"], "original": ["020\u200b7946\u200b0958"]}

    [finding] = only(judge(headline="Garden chairs\u01c3\u01c3"), "POLICY.EXCESSIVE_PUNCTUATION")
    assert finding.evidence["runs"] == ["!!"] and finding.evidence["original"] == ["\u01c3\u01c3"]
    assert finding.evidence["read_as_exclamation_marks"] == ["U+01C3"]

    [finding] = only(judge(headline="The AcmePhone case"), "POLICY.TRADEMARK")
    assert finding.evidence == {"terms": ["acmephone"], "owners": ["Acme"]}  # plain text: as before


def test_punycode_evidence_names_the_look_alike():
    [finding] = only(judge(landing_url="https://\u0430\u0440\u0440\u04cf\u0435.\u0440\u0444/"), "FRAUD.PUNYCODE_DOMAIN")
    assert finding.evidence == {
        "host": "\u0430\u0440\u0440\u04cf\u0435.\u0440\u0444",
        "dns_name": "xn--80ak6aa92e.xn--p1ai",
        "looks_like": "appie.\u0440\u0444",
    }


@pytest.mark.parametrize(
    "url,display,code",
    [
        ("https://login:secret@www.nimbus-store.example/", None, "FRAUD.URL_USERINFO"),
        ("https://www.nimbus-store.example/", "acme-store.example@nimbus-store.example", "FRAUD.URL_USERINFO"),
        ("https://bit.ly\\@shop.example/x", None, "FRAUD.URL_SHORTENER"),  # the \ ends the host: no user info
    ],
)
def test_user_info_is_flagged_wherever_a_browser_finds_it(url, display, code):
    verdict = judge(landing_url=url, display_url=display)
    assert codes(verdict) == {code}


# --- look-alike legitimate ads ----------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        {"headline": "Scampi night at the clubhouse"},
        {"headline": "Scunthorpe fans: crapshoot odds, idiotproof chairs"},
        {"headline": "Darn good hammocks"},  # darn is not damn, though m's skeleton is rn
        {"headline": "Summer hammocks, 100% cotton"},
        {"headline": "Accredited advisers, top rated", "category": "finance"},
        {"headline": "Un caf\u00e9 rat\u00e9 ? Jamais.", "category": "finance"},  # raté is not rate
        {"headline": "Sizes 36 - 44 in stock"},  # four digits are no phone number
        {"headline": "Nimbus\u00ae chairs \u00a9 2030"},
        {"headline": "Weatherproof chairs, \uff11\uff10 colours"},  # full-width digits, no claim
        {"headline": "Cartwheel shoes", "advertiser_license": "\u200bPH-1", "category": "pharmacy"},
        {
            "headline": "\u041f\u043b\u0435\u0434\u044b \u0438\u0437 \u0448\u0435\u0440\u0441\u0442\u0438",
            "description": "\u0414\u043e\u0441\u0442\u0430\u0432\u043a\u0430 \u0437\u0430 \u0434\u0432\u0430 \u0434\u043d\u044f.",
            "landing_url": "https://\u043c\u0430\u0433\u0430\u0437\u0438\u043d.\u0440\u0444/pledy",
            "country": "RU",
            "language": "ru",
        },
        {"landing_url": "https://xn--80aairftm.xn--p1ai/pledy", "country": "RU", "language": "ru"},  # the same, as xn--
        {
            "landing_url": "https://\u043f\u0440\u0438\u043c\u0435\u0440.\u0440\u0444/",
            "country": "RU",
            "language": "ru",
        },
        {"landing_url": "https://\u65e5\u672c\u306e\u304a\u8336.example/sets", "country": "JP", "language": "ja"},
        {"landing_url": "https://\ud55c\uad6d.kr/", "country": "KR", "language": "ko"},
        {"headline": "\u65e5\u672c\u306e\u304a\u8336\u3001\u65b0\u8336\u5165\u8377", "country": "JP", "language": "ja"},
        # Arabic, written right to left with its own digits and percent sign (not a finance ad).
        {
            "headline": "\u062e\u0635\u0645 \u0663\u0660\u066a \u0639\u0644\u0649 \u0627\u0644\u0643\u0631\u0627\u0633\u064a",
            "description": "\u062a\u0648\u0635\u064a\u0644 \u062e\u0644\u0627\u0644 \u064a\u0648\u0645\u064a\u0646 \u0662\u0660\u0662\u0666.",
            "country": "AE",
            "language": "ar",
        },
        {"description": "Steps 1\ufe0f\u20e3 2\ufe0f\u20e3 3\ufe0f\u20e3: pick, pay, sit."},  # three digits: no phone
        {"headline": "Scampi night \u202e\u05e9\u05dc\u05d5\u05dd\u202c"},  # an override around Hebrew
        {"headline": "Sizes 36\u280044 in stock"},  # a braille blank is a space: four digits, no phone
    ],
)
def test_look_alike_legitimate_ads_stay_approved(fields):
    verdict = judge(**fields)
    assert verdict.status == "approved", verdict.findings


@pytest.mark.parametrize(
    "host,flagged",
    [
        ("\u043c\u0430\u0433\u0430\u0437\u0438\u043d.\u0440\u0444", False),
        ("xn--80aairftm.xn--p1ai", False),
        ("\u0430\u0440\u0440\u04cf\u0435.\u0440\u0444", True),
        ("xn--80ak6aa92e.xn--p1ai", True),
        ("n\u0131mbus-store.example", True),
        ("xn--nmbus-store-zzb.example", True),
        ("b\u00fccher.example", True),  # reads as bucher.example
        ("xn--bcher-kva.example", True),
    ],
)
def test_a_host_is_judged_the_same_in_unicode_and_as_xn(host, flagged):
    assert bool(parse_host(host).look_alike or parse_host(host).mixed_scripts) is flagged
    assert ("FRAUD.PUNYCODE_DOMAIN" in codes(judge(landing_url=f"https://{host}/"))) is flagged


# --- basic validation: invisible text is blank --------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["\u200b", "\u200b\u200c\u200d", "\u3164\u3164", " \u00ad \ufeff ", "\u2060\u034f", "\u2800\u2800", "\U0001d159"],
)
def test_required_text_of_invisible_characters_is_missing(text):
    result = validate_basic(payload(headline=text, description=text))
    assert {(e.field, e.code) for e in result.errors} == {
        ("headline", "BASIC.REQUIRED"),
        ("description", "BASIC.REQUIRED"),
    }


def test_invisible_optional_text_passes_basic_validation_and_counts_as_missing_later():
    result = validate_basic(payload(category="political", paid_for_by="\u200b"))
    assert result.ok
    assert codes(judge(category="political", paid_for_by="\u200b")) == {"COMPLIANCE.POLITICAL_SPONSOR"}
    assert codes(judge(category="political", paid_for_by="\u200bCitizens for Rivers")) == set()


# --- the normalisation itself ---------------------------------------------------------------------

# Default_Ignorable_Code_Point, from DerivedCoreProperties.txt (Unicode 14-16 agree on it).
DEFAULT_IGNORABLE = [
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x061C, 0x061C),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x206F),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
]
PREPENDED_CONCATENATION_MARKS = {*range(0x600, 0x606), 0x6DD, 0x70F, 0x890, 0x891, 0x8E2, 0x110BD, 0x110CD}


def test_invisible_characters_are_the_default_ignorables_and_format_characters():
    invisible = {cp for a, b in normalize.INVISIBLE_RANGES for cp in range(a, b + 1)}
    ignorable = {cp for a, b in DEFAULT_IGNORABLE for cp in range(a, b + 1)}
    fmt = {cp for cp in range(0x110000) if unicodedata.category(chr(cp)) == "Cf"}
    assert invisible == (ignorable | fmt) - PREPENDED_CONCATENATION_MARKS


@pytest.mark.parametrize(
    "character,prototype",
    [("\u0455", "s"), ("\u0430", "a"), ("\u01c3", "!"), ("\u0131", "i"), ("\u0251", "a"), ("\u017f", "s"), ("m", "rn")],
)
def test_skeleton_uses_unicode_prototypes(character, prototype):
    assert normalize.skeleton(character) == prototype


@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(blacklist_categories=("Cs",)), max_size=40))
def test_skeleton_is_idempotent_and_its_ascii_shortcut_agrees(text):
    key = normalize.skeleton(text)
    assert normalize.skeleton(key) == key
    assert normalize.skeleton(text) == text.translate(normalize.KEY_TABLE)


@pytest.mark.parametrize(
    "character,key",
    [
        ("\u2030", "o/oo"),  # ‰: its TR 39 prototype º/₀₀ is not NFKC-normal
        ("\u0432", "b"),  # Cyrillic в: its prototype is the small capital ʙ
        ("\u2260", "="),  # ≠ decomposes to = and an overlay
        ("\u00f8", "o"),  # ø: TR 39 draws it as o with an overlay
        ("\u00e9", "e\u0301"),  # accents stay
    ],
)
def test_the_key_of_a_key_is_itself(character, key):
    assert normalize.skeleton(character) == key
    assert normalize.skeleton(key) == key


@settings(max_examples=200, deadline=None)
@given(st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=60))
def test_ascii_text_is_its_own_clean_form_and_duplicate_fold(text):
    assert normalize.clean(text) == text
    assert normalize.fold(text) == text  # duplicate-content hashes of ASCII ads do not move


def test_duplicate_content_sees_through_look_alikes():
    from ads_write.validation.facts import normalise_text

    assert normalise_text("Other shops are a \u0455\u0441\u0430m") == normalise_text("Other shops are a scam")
    assert normalise_text("Other \uff53hops\u200b are a scam!") == "other shops are a scam"


# --- properties: disguises do not change verdicts ---------------------------------------------------

# Violating texts (field, text, extra fields) whose verdict must survive any disguise.
VIOLATIONS = [
    ({"headline": "No scam here, idiot"}, {}),
    ({"headline": "Antibiotics, no prescription"}, PHARMACY),
    ({"headline": "Personal loans and credit"}, FINANCE),
    ({"headline": "Free garden chairs"}, PRICED),
    ({"headline": "The world's best chairs, guaranteed"}, {}),
    ({"headline": "Cases for your acmephone"}, {}),
    ({"description": "Damn fine chairs, number one in town."}, {}),
    ({"headline": "Garden chairs!! Today"}, {}),
    ({"description": "Call 0207 946 0958 now."}, {}),
    ({"headline": "GARDEN CHAIRS today"}, {}),
]
# Not the right-to-left override: it shows nothing itself but draws the text after it reversed
# (its own property test is below).
INVISIBLES = sorted(
    {chr(cp) for a, b in normalize.INVISIBLE_RANGES for cp in range(a, min(b, a + 40) + 1)} - {"\u202e"}
)


def _same_class(ch: str, other: str) -> bool:
    """`other` may stand for `ch` for every rule: same key, and the same kind of character in
    the clean text (letter of the same case, digit, or mark) and no emoji."""
    a, b = normalize.clean(ch), normalize.clean(other)
    return (
        normalize.skeleton(other) == normalize.skeleton(ch)
        and len(b) == len(a) == 1
        and (b.isalpha(), b.isupper(), b.isdigit(), b == "!") == (a.isalpha(), a.isupper(), a.isdigit(), a == "!")
        and not _EMOJI.search(other)
    )


def _look_alikes() -> dict[str, list[str]]:
    normalize.skeleton("\u0430")  # loads the prototypes
    found = {ch: [] for ch in string.ascii_letters + string.digits + "!'#"}
    for source, target in normalize._PROTOTYPES.items():
        for ch in found:
            if len(source) == 1 and source != ch and target in (ch, ch.lower(), normalize.skeleton(ch)):
                if _same_class(ch, source):
                    found[ch].append(source)
    # Latin letters that only their Unicode names relate to ASCII (small capitals, negative
    # circled and squared, parenthesized): normalize reads them by name.
    styled = [
        chr(cp)
        for a, b in ((0x0260, 0x02AF), (0x1D00, 0x1D2B), (0xA730, 0xA7FF), (0x2474, 0x24E9))
        for cp in range(a, b + 1)
    ]
    styled += [chr(cp) for cp in range(0x1F110, 0x1F18A)]
    for source in styled:
        for ch in found:
            if source not in found[ch] and normalize._styled_letter(source) and _same_class(ch, source):
                found[ch].append(source)
    return {ch: sorted(others) for ch, others in found.items() if others}


LOOK_ALIKES = _look_alikes()


def _field(violation):
    fields, _ = violation
    [(name, text)] = fields.items()
    return name, text


@st.composite
def disguised(draw, *, swap: bool, insert: bool):
    violation = draw(st.sampled_from(VIOLATIONS))
    name, text = _field(violation)
    chars = list(text)
    if swap:
        for i, ch in enumerate(chars):
            if ch in LOOK_ALIKES and draw(st.booleans()):
                chars[i] = draw(st.sampled_from(LOOK_ALIKES[ch]))
    if insert:
        for _ in range(draw(st.integers(min_value=1, max_value=6))):
            chars.insert(draw(st.integers(min_value=0, max_value=len(chars))), draw(st.sampled_from(INVISIBLES)))
    return violation, "".join(chars)


def _check(violation, text):
    fields, extra = violation
    name, plain = _field(violation)
    expected = judge(**extra, **{name: plain})
    assert expected.status != "approved"
    got = judge(**extra, **{name: text})
    assert (got.status, codes(got)) == (expected.status, codes(expected)), (text, got.findings)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(disguised(swap=False, insert=True))
def test_inserting_invisible_characters_does_not_change_the_verdict(case):
    _check(*case)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(disguised(swap=True, insert=False))
def test_swapping_confusable_letters_does_not_change_the_verdict(case):
    _check(*case)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(disguised(swap=True, insert=True))
def test_both_disguises_at_once_do_not_change_the_verdict(case):
    _check(*case)


@st.composite
def overridden(draw):
    """A violating text with a random part written backwards inside a right-to-left override,
    so that it is drawn as the plain text."""
    violation = draw(st.sampled_from(VIOLATIONS))
    _, text = _field(violation)
    start = draw(st.integers(min_value=0, max_value=len(text) - 1))
    end = draw(st.integers(min_value=start + 1, max_value=len(text)))
    pop = "\u202c" if end < len(text) or draw(st.booleans()) else ""
    return violation, text[:start] + "\u202e" + text[start:end][::-1] + pop + text[end:]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(overridden())
def test_text_written_backwards_under_an_override_gets_the_verdict_of_what_is_drawn(case):
    _check(*case)


def test_there_are_look_alikes_to_swap():
    assert {"a", "c", "e", "o", "p", "s", "x"} <= set(LOOK_ALIKES)
    assert "\u0430" in LOOK_ALIKES["a"] and "\u0455" in LOOK_ALIKES["s"]
    assert "\u1d00" in LOOK_ALIKES["A"] and "\u249c" in LOOK_ALIKES["a"]  # small capital, parenthesized

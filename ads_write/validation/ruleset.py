"""The ruleset: the policy's lists and limits as versioned data (rulesets/<version>.json), so
compliance staff change them without code. Loaded and compiled once per process.

`settings.AD_RULESET` names the file (default: rulesets/2026-11.json beside this module).
"""

import json
import re
import threading
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .domains import parse_host
from .normalize import MARKS, drawn_as, skeleton

DEFAULT_RULESET = Path(__file__).resolve().parent / "rulesets" / "2026-11.json"


@dataclass(frozen=True)
class PhraseList:
    """A list of the ruleset's words or phrases, matched in the normalised key of a text
    (normalize.skeleton): `ѕсаm` and `ｓｃａｍ` match `scam`. `phrase_of` names the ruleset's
    phrase a match stands for."""

    pattern: re.Pattern
    phrases: dict[str, str]  # key of a phrase (words joined by one space) -> the phrase as listed

    def phrase_of(self, matched: str) -> str:
        key = " ".join(matched.split())
        return self.phrases.get(key, key)


@dataclass(frozen=True)
class LegalAge:
    default: int
    by_country: dict[str, int]

    def for_country(self, country: str) -> int:
        return self.by_country.get(country, self.default)


@dataclass(frozen=True)
class Ruleset:
    version: str
    data: dict  # the file as loaded, for the rules documentation
    # compliance
    prohibited_categories: frozenset[str]
    banned_in_country: dict[str, frozenset[str]]
    legal_ages: dict[str, LegalAge]
    license_required: frozenset[str]
    rx_categories: frozenset[str]
    rx_phrases: PhraseList
    finance_categories: frozenset[str]
    finance_terms: PhraseList
    finance_required_term: str
    finance_required: PhraseList
    sponsor_required: frozenset[str]
    # fraud
    blocked_domains: frozenset[str]
    url_shorteners: frozenset[str]
    price_floors: dict[str, Decimal]
    duplicate_window: timedelta
    velocity_limit: int
    velocity_window: timedelta
    # policy
    caps_min_letters: int
    prohibited_words: PhraseList
    free_words: PhraseList
    superlatives: PhraseList
    phone_number: re.Pattern
    brand_owners: dict[str, str]  # brand term (lower case) -> owner retailer name
    brands: PhraseList


def phrase_pattern(phrases) -> PhraseList:
    """One regex finding any of `phrases` in a text's key: as whole words where a phrase starts
    or ends with a letter or digit (`scam` but not `scampi`; a word does not end before a
    combining mark: `rate` is not in `raté`), any run of whitespace, or none, between words."""
    keys = {}
    for phrase in phrases:
        keys.setdefault(" ".join(skeleton(phrase).split()), phrase.lower())
    words, others = [], []
    # Longest first, so "world's best" wins over a shorter phrase it contains.
    for key in sorted(keys, key=len, reverse=True):
        # Words may also be run together: `no\u200bprescription` reads as two words and its key
        # has no space left between them.
        body = r"\s*".join(re.escape(word) for word in key.split())
        if key[0].isalnum() and key[-1].isalnum():
            words.append(body)
        else:
            start = rf"\b(?<![{MARKS}])" if key[0].isalnum() else ""
            end = rf"(?![\w{MARKS}])" if key[-1].isalnum() else ""
            others.append(f"{start}{body}{end}")
    # The phrases bounded by words on both sides share one pair of checks: a check per
    # alternative costs three times as much on every text.
    alternatives = [rf"\b(?<![{MARKS}])(?:{'|'.join(words)})(?![\w{MARKS}])"] if words else []
    alternatives += others
    if not alternatives:
        return PhraseList(re.compile(r"(?!x)x"), {})  # matches nothing
    return PhraseList(re.compile("|".join(alternatives)), keys)


def phone_pattern(min_digits: int) -> re.Pattern:
    # A digit run of `min_digits`+ digits, each gap at most three of: space, dot, dash (any
    # Unicode dash or minus, or a character drawn as one: `˗`), parentheses, so `555 - 0199` is
    # one number; an optional leading + or (. Not glued to a word before it (SKU1234567). Read in
    # the clean text, where zero-width characters are gone and full-width digits are ASCII.
    look_alikes = re.escape(drawn_as("-") + drawn_as("."))
    gap = rf"[\s.\-\u2010-\u2015\u2212(){look_alikes}]"
    return re.compile(rf"(?<!\w)[+(]?\d(?:{gap}{{0,3}}\d){{{min_digits - 1},}}")


def compile_ruleset(data: dict) -> Ruleset:
    compliance, fraud, policy = data["compliance"], data["fraud"], data["policy"]
    rx = compliance["rx_without_prescription"]
    finance = compliance["finance_disclosure"]
    brands = {term.lower(): owner for term, owner in policy["brands"].items()}
    return Ruleset(
        version=data["version"],
        data=data,
        prohibited_categories=frozenset(compliance["prohibited_categories"]),
        banned_in_country={cat: frozenset(codes) for cat, codes in compliance["banned_in_country"].items()},
        legal_ages={
            cat: LegalAge(default=age["default"], by_country=dict(age["by_country"]))
            for cat, age in compliance["min_age"].items()
        },
        license_required=frozenset(compliance["license_required"]),
        rx_categories=frozenset(rx["categories"]),
        rx_phrases=phrase_pattern(rx["phrases"]),
        finance_categories=frozenset(finance["categories"]),
        finance_terms=phrase_pattern(finance["terms"]),
        finance_required_term=finance["required_term"],
        finance_required=phrase_pattern([finance["required_term"]]),
        sponsor_required=frozenset(compliance["sponsor_required"]),
        # Compared by registrable domain, like the landing host.
        blocked_domains=frozenset(parse_host(d).site for d in fraud["blocked_domains"]),
        url_shorteners=frozenset(parse_host(d).site for d in fraud["url_shorteners"]),
        price_floors={cat: Decimal(floor) for cat, floor in fraud["price_floors"].items()},
        duplicate_window=timedelta(days=fraud["duplicate_window_days"]),
        velocity_limit=fraud["velocity"]["default_limit"],
        velocity_window=timedelta(seconds=fraud["velocity"]["window_seconds"]),
        caps_min_letters=policy["caps_min_letters"],
        prohibited_words=phrase_pattern(policy["prohibited_words"]),
        free_words=phrase_pattern(policy["free_words"]),
        superlatives=phrase_pattern(policy["superlatives"]),
        phone_number=phone_pattern(policy["phone_min_digits"]),
        brand_owners=brands,
        brands=phrase_pattern(brands),
    )


def load_ruleset(path: str | Path) -> Ruleset:
    with open(path, encoding="utf-8") as f:
        return compile_ruleset(json.load(f))


_cache: dict[str, Ruleset] = {}
_cache_lock = threading.Lock()


def ruleset_path() -> str:
    try:
        return str(getattr(settings, "AD_RULESET", "") or DEFAULT_RULESET)
    except ImproperlyConfigured:  # outside Django (docs, benchmark): the default file
        return str(DEFAULT_RULESET)


def current_ruleset() -> Ruleset:
    """The ruleset named by settings, loaded once per process (per file)."""
    path = ruleset_path()
    ruleset = _cache.get(path)
    if ruleset is None:
        with _cache_lock:
            ruleset = _cache.get(path) or load_ruleset(path)
            _cache[path] = ruleset
    return ruleset


def ruleset_named(name: str) -> Ruleset:
    """A ruleset by its version (a file in rulesets/ whose `version` or file name is `name`),
    or by the path of its file. Raises LookupError when there is none."""
    path = Path(name)
    if path.suffix == ".json" and path.is_file():
        return load_ruleset(path)
    for candidate in sorted(DEFAULT_RULESET.parent.glob("*.json")):
        if candidate.stem == name:
            return load_ruleset(candidate)
        with open(candidate, encoding="utf-8") as f:
            if json.load(f).get("version") == name:
                return load_ruleset(candidate)
    raise LookupError(f"no ruleset {name!r} in {DEFAULT_RULESET.parent} (nor a file of that name)")

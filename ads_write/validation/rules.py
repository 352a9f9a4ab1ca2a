"""What every rule shares: findings, the facts gathered before evaluation, the rule record
(code, severity, documentation, check) and the per-ad context the checks read.

A check is a small function `rule_<name>(ctx) -> list[RuleFinding]`; each module (compliance,
fraud, policy, external) lists its rules in `RULES`, in the order they are reported.
"""

import dataclasses
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from .domains import Host, Url, display_url, parse_url
from .normalize import Hit, Text, is_blank, show
from .ruleset import PhraseList, Ruleset

REJECT, REVIEW = "reject", "review"
SEVERITIES = (REJECT, REVIEW)
# The text fields the text rules read (AD_POLICY.md: "headline and description").
TEXT_FIELDS = ("headline", "description")
MAX_MESSAGE = 500


@dataclass(frozen=True)
class RuleFinding:
    """One rule's objection to one ad, as the engine reports it (stored as
    ads_write.models.Finding)."""

    code: str
    category: str  # compliance | fraud | policy | external
    severity: str  # reject | review
    message: str
    field: str | None = None
    evidence: dict = dataclasses.field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "code": self.code,
            "category": self.category,
            "severity": self.severity,
            "message": self.message,
            "field": self.field,
            "evidence": self.evidence,
        }


@dataclass(frozen=True)
class AdFacts:
    """What the stateful rules need to know about an ad, gathered in bulk before evaluation
    (facts.gather_facts, external.ads_check_start)."""

    retailer_name: str = ""
    duplicate_elsewhere: bool = False
    recent_submissions: int = 0
    velocity_limit: int | None = None  # None: the ruleset's default
    retailer_id: uuid.UUID | None = None
    external_findings: tuple[RuleFinding, ...] = ()
    external_error: str = ""  # why the configured external validator gave no answer


@dataclass(frozen=True)
class Rule:
    code: str
    severity: str  # reject | review; "reject or review" for findings the external service decides
    check: Callable[["AdContext"], list[RuleFinding]]
    summary: str  # what triggers it, for docs/rules.md
    example: dict  # fields that trigger it, over docs' clean ad (raw JSON, as a client posts)
    example_facts: dict = dataclasses.field(default_factory=dict)  # AdFacts fields for a stateful example
    example_retailer: str = "Nimbus"
    # The disguises the rule sees through (normalize, domains), for docs/rules.md, with an
    # example whose findings the document shows: fields over docs' clean ad, as `example`.
    disguises: str = ""
    disguise_example: dict = dataclasses.field(default_factory=dict)

    @property
    def category(self) -> str:
        return self.code.split(".", 1)[0].lower()

    def finding(self, message: str, *, field: str | None = None, evidence: dict | None = None) -> RuleFinding:
        # Findings are stored with a message of at most 500 characters; quoting a long text could pass it.
        return RuleFinding(self.code, self.category, self.severity, message[:MAX_MESSAGE], field, evidence or {})


@dataclass(frozen=True)
class AdContext:
    """One ad as the checks read it, with what several of them need worked out once: each text
    field normalised (normalize.Text: NFKC, invisible characters removed, confusable skeleton)
    and each URL parsed as a browser parses it."""

    ad: dict
    facts: AdFacts
    ruleset: Ruleset
    texts: tuple[Text, ...]  # headline and description, where given
    landing_url: Url | None
    display: Url | None

    @classmethod
    def build(cls, ad: dict, *, facts: AdFacts, ruleset: Ruleset) -> "AdContext":
        texts = tuple(Text(name, ad[name]) for name in TEXT_FIELDS if ad.get(name))
        landing = parse_url(ad["landing_url"]) if ad.get("landing_url") else None
        display = display_url(ad["display_url"]) if ad.get("display_url") else None
        return cls(ad=ad, facts=facts, ruleset=ruleset, texts=texts, landing_url=landing, display=display)

    @property
    def landing(self) -> Host | None:
        return self.landing_url.host if self.landing_url else None

    @property
    def category(self) -> str:
        return self.ad.get("category", "")

    @property
    def country(self) -> str:
        return self.ad.get("country", "")

    def text(self, name: str) -> Text | None:
        for text in self.texts:
            if text.field == name:
                return text
        return None

    def given(self, name: str) -> bool:
        """The field has visible text: one of only zero-width characters is missing."""
        return not is_blank(self.ad.get(name))

    def matches(self, phrases: PhraseList) -> list[tuple[str, list[Hit]]]:
        """(field, distinct hits in order) for each text field where a phrase of the list
        matches its key; each hit names the ruleset's phrase and quotes the original."""
        found = []
        for text in self.texts:
            hits = {}
            for match in phrases.pattern.finditer(text.key):
                phrase = phrases.phrase_of(match.group())
                if phrase not in hits:
                    hits[phrase] = text.key_hit(match, phrase)
            if hits:
                found.append((text.field, list(hits.values())))
        return found

    def clean_matches(self, pattern) -> list[tuple[str, list[Hit]]]:
        """As `matches`, for a pattern read in the clean text (NFKC, no invisible characters)."""
        found = []
        for text in self.texts:
            hits = {}
            for match in pattern.finditer(text.clean):
                hit = text.clean_hit(match)
                hits.setdefault(" ".join(hit.text.split()), hit)
            if hits:
                found.append((text.field, [Hit(form, hit.original) for form, hit in hits.items()]))
        return found


def written(hits: list[Hit]) -> str:
    """'a', 'b' and 'c', each with how the ad wrote it when that differs: 'scam' (written 'ѕсаm')."""
    items = [f"'{hit.text}' (written '{show(hit.original)}')" if hit.disguised else f"'{hit.text}'" for hit in hits]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def hit_evidence(key: str, hits: list[Hit]) -> dict:
    """Evidence of text hits: `key` lists the normalised forms the policy names (as before);
    `original` quotes the ad's own characters, when any was written otherwise."""
    evidence = {key: [hit.text for hit in hits]}
    if any(hit.disguised for hit in hits):
        evidence["original"] = [hit.original for hit in hits]
    return evidence

"""What every rule shares: findings, the facts gathered before evaluation, the rule record
(code, severity, documentation, check) and the per-ad context the checks read.

A check is a small function `rule_<name>(ctx) -> list[Finding]`; each module (compliance,
fraud, policy, external) lists its rules in `RULES`, in the order they are reported.
"""

import dataclasses
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from .domains import Host, display_host, landing_host
from .ruleset import Ruleset

REJECT, REVIEW = "reject", "review"
SEVERITIES = (REJECT, REVIEW)
# The text fields the text rules read (AD_POLICY.md: "headline and description").
TEXT_FIELDS = ("headline", "description")
MAX_MESSAGE = 500


@dataclass(frozen=True)
class Finding:
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
    (facts.gather_facts, external.ads_check)."""

    retailer_name: str = ""
    duplicate_elsewhere: bool = False
    recent_submissions: int = 0
    velocity_limit: int | None = None  # None: the ruleset's default
    retailer_id: uuid.UUID | None = None
    external_findings: tuple[Finding, ...] = ()
    external_error: str = ""  # why the configured external validator gave no answer


@dataclass(frozen=True)
class Rule:
    code: str
    severity: str  # reject | review; "reject or review" for findings the external service decides
    check: Callable[["AdContext"], list[Finding]]
    summary: str  # what triggers it, for docs/rules.md
    example: dict  # fields that trigger it, over docs' clean ad (raw JSON, as a client posts)
    example_facts: dict = dataclasses.field(default_factory=dict)  # AdFacts fields for a stateful example
    example_retailer: str = "Nimbus"

    @property
    def category(self) -> str:
        return self.code.split(".", 1)[0].lower()

    def finding(self, message: str, *, field: str | None = None, evidence: dict | None = None) -> Finding:
        # Findings are stored with a message of at most 500 characters; quoting a long text could pass it.
        return Finding(self.code, self.category, self.severity, message[:MAX_MESSAGE], field, evidence or {})


@dataclass(frozen=True)
class AdContext:
    """One ad as the checks read it, with what several of them need worked out once."""

    ad: dict
    facts: AdFacts
    ruleset: Ruleset
    texts: tuple[tuple[str, str], ...]  # (field, lower-cased text), apostrophes folded to '
    landing: Host | None
    display: Host | None

    @classmethod
    def build(cls, ad: dict, *, facts: AdFacts, ruleset: Ruleset) -> "AdContext":
        texts = tuple((name, ad[name].lower().replace("\u2019", "'")) for name in TEXT_FIELDS if ad.get(name))
        landing = landing_host(ad["landing_url"]) if ad.get("landing_url") else None
        display = display_host(ad["display_url"]) if ad.get("display_url") else None
        return cls(ad=ad, facts=facts, ruleset=ruleset, texts=texts, landing=landing, display=display)

    @property
    def category(self) -> str:
        return self.ad.get("category", "")

    @property
    def country(self) -> str:
        return self.ad.get("country", "")

    def matches(self, pattern) -> list[tuple[str, list[str]]]:
        """(field, distinct matches in order) for each text field where `pattern` matches."""
        found = []
        for name, text in self.texts:
            hits = pattern.findall(text)
            if hits:
                found.append((name, list(dict.fromkeys(" ".join(hit.split()) for hit in hits))))
        return found


def quoted(words: list[str]) -> str:
    """'a', 'b' and 'c' — for messages."""
    items = [f"'{w}'" for w in words]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]

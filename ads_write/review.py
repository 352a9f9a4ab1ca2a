"""What a reviewer needs on a held ad's page, worked out from the ad and its findings: each
finding's rule text (the same records docs/rules.md is generated from), its evidence as
highlighted spans of the ad's own text, the hosts of its URLs with their confusable letters
and `xn--` form, the ads it duplicates; and the catalogue of reason codes a decision cites.

Everything an ad holds is the retailer's text, so it is HTML-escaped here piece by piece and
only the <mark> around the matched spans is ours."""

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urlsplit

import idna
from django.db.models import Subquery
from django.utils import formats, timezone
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

from .models import Ad, ContentFingerprint, Finding, Verdict
from .validation.domains import _script, parse_host
from .validation.engine import RULES
from .validation.rules import REJECT, TEXT_FIELDS

RULE_TEXT = {rule.code: rule.summary for rule in RULES}
# The ad's text fields a finding's evidence is looked for in, when the finding names none.
SEARCHED_FIELDS = (*TEXT_FIELDS, "disclosure", "display_url", "landing_url")
DUPLICATE_CODE = "FRAUD.DUPLICATE_CONTENT"


@dataclass(frozen=True)
class ReasonCode:
    code: str
    status: str  # the decision it supports: approved | rejected
    label: str
    policy: str  # the AD_POLICY.md section it applies


# The reasons a decision cites, each tied to the policy (AD_POLICY.md): the free text says
# why in this case, the code makes decisions comparable.
REASON_CODES = (
    ReasonCode("FINDING_NOT_APPLICABLE", "approved", "The finding does not apply to this ad (false positive)", "all"),
    ReasonCode("CLAIM_SUBSTANTIATED", "approved", "The claim is substantiated by evidence on file", "policy"),
    ReasonCode("LICENSED_ADVERTISER", "approved", "A licensed advertiser; the disclosures are adequate", "compliance"),
    ReasonCode("DOMAIN_VERIFIED", "approved", "The domain is verified as the retailer's own", "fraud"),
    ReasonCode("DUPLICATE_LEGITIMATE", "approved", "Shared content is legitimate (same brand, syndication)", "fraud"),
    ReasonCode("PROHIBITED_CONTENT", "rejected", "Prohibited category or content for the country or age", "compliance"),
    ReasonCode("MISSING_DISCLOSURE", "rejected", "A required disclosure or licence is missing", "compliance"),
    ReasonCode("MISLEADING_CLAIM", "rejected", "Misleading or unsubstantiated claim", "policy"),
    ReasonCode("DECEPTIVE_DOMAIN", "rejected", "Deceptive, impersonating or mismatched domain", "fraud"),
    ReasonCode("COPIED_CONTENT", "rejected", "Content copied from another retailer", "fraud"),
    ReasonCode("STYLE_POLICY", "rejected", "Capitals, punctuation, phone numbers or trademark terms", "policy"),
)
REASON_CODE_BY_NAME = {reason.code: reason for reason in REASON_CODES}
DISPOSITIONS = ("upheld", "overruled")


def iso_time(value) -> str:
    """A time as the admin shows every time: ISO 8601 with the offset (DATETIME_FORMAT)."""
    return formats.date_format(timezone.localtime(value), "DATETIME_FORMAT")


def reason_choices(status: str | None = None) -> list[tuple[str, str]]:
    return [(r.code, r.label) for r in REASON_CODES if status is None or r.status == status]


# --- evidence as highlighted text -----------------------------------------------------------
def evidence_needles(evidence) -> list[str]:
    """The strings of a finding's evidence that may appear in the ad's text (words, phrases,
    terms, characters, hosts), longest first so that a phrase wins over a word in it."""
    found: list[str] = []

    def walk(value):
        if isinstance(value, str):
            if value.strip() and not value.startswith("U+"):
                found.append(value)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(item)

    walk(evidence or {})
    return sorted(set(found), key=len, reverse=True)


def highlight(text: str, needles: list[str]) -> SafeString:
    """`text`, escaped, with every case-insensitive occurrence of a needle in <mark>."""
    if not text:
        return SafeString("")
    needles = [n for n in needles if n]
    if not needles:
        return escape(text)
    pattern = re.compile("|".join(re.escape(n) for n in needles), re.IGNORECASE)
    pieces, last = [], 0
    for match in pattern.finditer(text):
        pieces.append(escape(text[last : match.start()]))
        pieces.append(format_html('<mark class="evidence">{}</mark>', match.group(0)))
        last = match.end()
    pieces.append(escape(text[last:]))
    return mark_safe("".join(pieces))  # every piece above is escaped or format_html'd


# --- hosts --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Confusable:
    char: str
    code_point: str
    name: str
    script: str


@dataclass(frozen=True)
class HostReport:
    host: str
    path: str
    ascii: str  # the xn-- form, as DNS sees it
    confusables: tuple[Confusable, ...] = ()
    scripts: tuple[str, ...] = ()

    @property
    def is_idn(self) -> bool:
        return self.ascii != self.host


def host_report(url: str) -> HostReport | None:
    """The host and path of a URL (a display URL may come without a scheme), with every
    non-ASCII letter of the host named with its Unicode script, and the host's `xn--` form."""
    if not url:
        return None
    try:
        parts = urlsplit(url if "://" in url else f"https://{url}")
        host = (parts.hostname or "").rstrip(".")
    except ValueError:
        return None
    if not host:
        return None
    try:
        ascii_form = idna.encode(host, uts46=True).decode("ascii")
    except idna.IDNAError:  # not valid IDNA 2008 (mixed scripts can be): the plain punycode form
        ascii_form = parse_host(host).ascii
    confusables = tuple(
        Confusable(ch, f"U+{ord(ch):04X}", unicodedata.name(ch, "?"), _script(ch).title())
        for ch in dict.fromkeys(host)
        if not ch.isascii()
    )
    scripts = tuple(sorted({_script(ch).title() for ch in host if ch.isalpha()}))
    return HostReport(host=host, path=parts.path or "/", ascii=ascii_form, confusables=confusables, scripts=scripts)


def host_markup(report: HostReport) -> SafeString:
    """The host with each non-ASCII letter marked (and titled with its script)."""
    pieces = []
    for ch in report.host:
        if ch.isascii():
            pieces.append(escape(ch))
        else:
            pieces.append(
                format_html(
                    '<mark class="confusable" title="{} ({})">{}</mark>', unicodedata.name(ch, "?"), _script(ch), ch
                )
            )
    return mark_safe("".join(pieces))


# --- the page -----------------------------------------------------------------------------
@dataclass
class FindingView:
    finding: Finding
    rule_text: str
    needles: list[str]
    duplicates: list[Ad] = field(default_factory=list)

    @property
    def is_reject(self) -> bool:
        return self.finding.severity == REJECT


def duplicates_of(ad: Ad, *, window_days: int = 30) -> list[Ad]:
    """The other retailers' ads with the same content (headline + description + landing
    domain) within the duplicate window: the ads a FRAUD.DUPLICATE_CONTENT finding means."""
    mine = ContentFingerprint.objects.filter(ad_id=ad.id).first()
    if mine is None:
        return []
    window = timedelta(days=window_days)
    others = (
        ContentFingerprint.objects.filter(
            content_hash=mine.content_hash,
            submitted_at__gte=mine.submitted_at - window,
            submitted_at__lte=mine.submitted_at + window,
        )
        .exclude(retailer_id=mine.retailer_id)
        .values_list("ad_id", flat=True)[:20]
    )
    return list(Ad.objects.filter(id__in=list(others)).select_related("retailer").order_by("submitted_at"))


def latest_engine_verdict(ad_ref):
    """The version of the ad's latest engine verdict, as a subquery (`ad_ref`: the ad, or an
    OuterRef to it): a change or a revalidation judges the ad again, and only that judgement's
    findings are the ones staff decide on."""
    engine = Verdict.objects.filter(ad=ad_ref, source=Verdict.Source.ENGINE)
    return Subquery(engine.order_by("-version").values("version")[:1])


def current_findings(ad: Ad) -> list[Finding]:
    """The findings of the ad's latest engine verdict (the ones a decision disposes of)."""
    return list(
        Finding.objects.filter(
            verdict__ad=ad, verdict__source=Verdict.Source.ENGINE, verdict__version=latest_engine_verdict(ad)
        ).order_by("id")
    )


def finding_views(ad: Ad, findings: list[Finding]) -> list[FindingView]:
    """Each finding with its rule's text and the pieces of its evidence found in the ad's
    own text (the rest of the evidence is shown as it is)."""
    text = " ".join(getattr(ad, name) or "" for name in SEARCHED_FIELDS).lower()
    views = []
    for finding in findings:
        needles = [n for n in evidence_needles(finding.evidence) if n.lower() in text]
        view = FindingView(finding, RULE_TEXT.get(finding.code, ""), needles)
        if finding.code == DUPLICATE_CODE:
            view.duplicates = duplicates_of(ad, window_days=finding.evidence.get("window_days", 30))
        views.append(view)
    return views


def highlighted_fields(ad: Ad, views: list[FindingView]) -> list[tuple[str, SafeString, list[str]]]:
    """The ad's text fields, each with the evidence of the findings on it (or on no field)
    highlighted: (field, markup, codes of the findings that marked it)."""
    rows = []
    for name in SEARCHED_FIELDS:
        text = getattr(ad, name) or ""
        if not text:
            continue
        relevant = [v for v in views if v.finding.field in (name, None, "")]
        needles = [n for v in relevant for n in v.needles if n.lower() in text.lower()]
        codes = sorted({v.finding.code for v in relevant if any(n.lower() in text.lower() for n in v.needles)})
        rows.append((name, highlight(text, needles), codes))
    return rows

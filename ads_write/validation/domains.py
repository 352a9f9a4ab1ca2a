"""Hosts of landing and display URLs, as a browser reads them, compared by registrable domain
(public suffix aware).

URLs are parsed by the WHATWG URL standard (`ada-url`, the parser of Node.js), as browsers do:
`\\` is a `/` in an https URL (`https://bit.ly\\@shop.example/x` goes to bit.ly), user info is
split off (`shop.example@other.example` goes to other.example), and the host is mapped by IDNA
UTS 46 (`ｂｉｔ.ｌｙ`, `iſ.gd` and `𝐛it.ly` are `bit.ly`; `2130706433` is 127.0.0.1).

`shop.example.co.uk` and `example.co.uk` are one site; `a.github.io` and `b.github.io` are two
(the list's private section). Unknown TLDs get the list's default rule, so
`www.nimbus-store.example` is `nimbus-store.example`. IP hosts are recognised first: the list
knows nothing of them.
"""

import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import ada_url
import idna
from publicsuffixlist import PublicSuffixList

from .normalize import skeleton

# One instance per process: it parses the whole list (~60 ms) when made.
_PSL = PublicSuffixList()

# Scripts that UTS #39 ("highly restrictive") lets one name mix: Japanese, Chinese and Korean
# writing use Han with their own scripts, and Latin with any of them.
_ALLOWED_SCRIPT_MIXES = (
    frozenset({"LATIN", "HAN", "HIRAGANA", "KATAKANA"}),
    frozenset({"LATIN", "HAN", "BOPOMOFO"}),
    frozenset({"LATIN", "HAN", "HANGUL"}),
)
# Words of Unicode character names that say how a letter is drawn, not which script it is.
_STYLE_WORDS = frozenset({"FULLWIDTH", "HALFWIDTH", "SMALL", "CAPITAL", "MODIFIER"})


@dataclass(frozen=True)
class Host:
    name: str  # as the browser resolves it: lower case, no trailing dot, xn-- labels; an IP in its usual form
    is_ip: bool
    site: str  # registrable domain of `name`; the address itself for an IP, the name for a bare suffix

    @property
    def unicode(self) -> str:
        """The name as a browser may show it: xn-- labels decoded (kept when they do not decode)."""
        return ".".join(_label_unicode(label) for label in self.name.split("."))

    @property
    def has_punycode_label(self) -> bool:
        return any(label.startswith("xn--") for label in self.name.split("."))

    @property
    def mixed_scripts(self) -> tuple[str, ...]:
        """The scripts of the host's letters when they mix in a way a homoglyph attack would
        (e.g. Cyrillic among Latin); empty when they do not."""
        return () if self.is_ip else _mixed_scripts(self.unicode)

    @property
    def look_alike(self) -> str:
        """The ASCII name this host imitates when one of its labels is not ASCII but reads as
        ASCII: its confusable skeleton, accents left out, is ASCII (`аррӏе.рф` → `appie.рф`,
        `nımbus-store` and `nímbus-store` → `nimbus-store`); "" when none is. A label in a
        script of its own that reads as no Latin word (`магазин`) imitates nothing."""
        if self.is_ip or not self.has_punycode_label:
            return ""
        labels = [_label_unicode(label) for label in self.name.split(".")]
        shown = [_latin_look_alike(label) or label for label in labels]
        return ".".join(shown) if shown != labels else ""


@dataclass(frozen=True)
class Url:
    host: Host
    userinfo: str  # user name and password (`user:pass`) as written before the @; "" when none


@lru_cache(maxsize=16384)
def parse_url(url: str) -> Url | None:
    """The URL as a browser parses it, or None when a browser could not (no host, say)."""
    try:
        parts = ada_url.parse_url(url, attributes=("hostname", "username", "password", "host_type"))
    except ValueError:
        return None
    name = parts["hostname"]
    if not name:
        return None
    userinfo = parts["username"] + (":" + parts["password"] if parts["password"] else "")
    return Url(host=_host(name, is_ip=parts["host_type"] != ada_url.HostType.DEFAULT), userinfo=userinfo)


def landing_host(url: str) -> Host | None:
    parsed = parse_url(url)
    return parsed.host if parsed else None


def display_url(display: str) -> Url | None:
    """A display URL, which may come without a scheme (`example.com/shoes`)."""
    return parse_url(display if "://" in display else f"https://{display}")


def display_host(display: str) -> Host | None:
    parsed = display_url(display)
    return parsed.host if parsed else None


def parse_host(name: str) -> Host:
    """A host name (the ruleset's domains) as a browser reads it."""
    parsed = parse_url(f"https://[{name}]/" if ":" in name else f"https://{name}/")
    if parsed is None:
        raise ValueError(f"not a host name: {name!r}")
    return parsed.host


def _host(name: str, *, is_ip: bool) -> Host:
    if is_ip:
        name = name.strip("[]")
        return Host(name=name, is_ip=True, site=name)
    name = name.rstrip(".")
    return Host(name=name, is_ip=False, site=_PSL.privatesuffix(name) or name)


def registrable_domain(url: str) -> str:
    """The registrable domain of a URL's host, or "" when it has none."""
    host = landing_host(url)
    return host.site if host else ""


@lru_cache(maxsize=4096)
def _label_unicode(label: str) -> str:
    if not label.startswith("xn--"):
        return label
    try:
        return idna.decode(label)
    except idna.IDNAError:
        try:  # a label that is not valid IDNA 2008 may still be punycode a browser shows
            return label[4:].encode("ascii").decode("punycode")
        except UnicodeError:
            return label


def _latin_look_alike(label: str) -> str:
    """The ASCII label that a non-ASCII `label` reads as, if any: its skeleton without the
    combining marks (accents) that the skeleton keeps apart from their letters."""
    if label.isascii():
        return ""
    # Only the non-ASCII letters are replaced, so the name shown is readable (the skeleton of
    # ASCII `m` is `rn`).
    read = "".join(
        ch if ch.isascii() else "".join(c for c in skeleton(ch) if not unicodedata.combining(c))
        for ch in unicodedata.normalize("NFC", label)
    )
    return read if read.isascii() else ""


def _script(ch: str) -> str:
    name = unicodedata.name(ch, "")
    for word in name.split():
        if word not in _STYLE_WORDS:
            return "HAN" if word == "CJK" else word
    return "UNKNOWN"


def _mixed_scripts(name: str) -> tuple[str, ...]:
    if name.isascii():
        return ()
    scripts = frozenset(_script(ch) for ch in name if ch.isalpha())
    if len(scripts) <= 1 or any(scripts <= allowed for allowed in _ALLOWED_SCRIPT_MIXES):
        return ()
    return tuple(sorted(scripts))

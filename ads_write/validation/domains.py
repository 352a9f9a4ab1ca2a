"""Hosts of landing and display URLs, compared by registrable domain (public suffix aware).

`shop.example.co.uk` and `example.co.uk` are one site; `a.github.io` and `b.github.io` are two
(the list's private section). Unknown TLDs get the list's default rule, so
`www.nimbus-store.example` is `nimbus-store.example`. IP literals are recognised first: the
list knows nothing of them.
"""

import ipaddress
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

from publicsuffixlist import PublicSuffixList

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
    name: str  # lower case, no trailing dot, as written (may hold Unicode)
    ascii: str  # the DNS form: non-ASCII labels as xn-- punycode
    is_ip: bool
    site: str  # registrable domain of `ascii`; the address itself for an IP, the name for a bare suffix

    @property
    def has_punycode_label(self) -> bool:
        return any(label.startswith("xn--") for label in self.name.split("."))

    @property
    def mixed_scripts(self) -> tuple[str, ...]:
        """The scripts of the host's letters when they mix in a way a homoglyph attack would
        (e.g. Cyrillic among Latin); empty when they do not."""
        return _mixed_scripts(self.name)


def landing_host(url: str) -> Host | None:
    try:
        name = urlsplit(url).hostname
    except ValueError:
        return None
    return parse_host(name) if name else None


def display_host(display_url: str) -> Host | None:
    """The host of a display URL, which may come without a scheme (`example.com/shoes`)."""
    candidate = display_url if "://" in display_url else f"https://{display_url}"
    return landing_host(candidate)


@lru_cache(maxsize=16384)
def parse_host(name: str) -> Host:
    name = name.lower().rstrip(".")
    if _is_ip(name):
        return Host(name=name, ascii=name, is_ip=True, site=name)
    ascii_name = _to_ascii(name)
    return Host(name=name, ascii=ascii_name, is_ip=False, site=_PSL.privatesuffix(ascii_name) or ascii_name)


def registrable_domain(url: str) -> str:
    """The registrable domain of a URL's host, or "" when it has none."""
    host = landing_host(url)
    return host.site if host else ""


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        pass
    # Browsers (WHATWG URL) read a host whose last label is a number as IPv4 in any form:
    # 2130706433, 0x7f.1, 127.1 all reach 127.0.0.1.
    last = name.rsplit(".", 1)[-1]
    return last.isdigit() or (last[:2] == "0x" and all(ch in "0123456789abcdef" for ch in last[2:]))


def _to_ascii(name: str) -> str:
    if name.isascii():
        return name
    labels = []
    for label in name.split("."):
        if label.isascii():
            labels.append(label)
        else:
            try:
                labels.append("xn--" + label.encode("punycode").decode("ascii"))
            except UnicodeError:
                labels.append(label)
    return ".".join(labels)


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

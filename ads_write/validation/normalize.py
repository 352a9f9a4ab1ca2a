"""One normalisation of an ad's text, read by every text rule: what a reader sees, not the raw
code points a bad actor chose.

Three forms of each text:

- `original`: as the retailer sent it; findings quote it as evidence;
- `clean`: Unicode NFKC (full-width and mathematical letters, circled letters, `‼`, `％`
  become their plain forms) with the invisible characters removed (zero-width characters,
  soft hyphen, CGJ, bidi controls, variation selectors, Hangul fillers...). Case is kept, so the
  capitals and phone-number rules read it;
- `key`: `clean` case-folded and mapped to its confusable skeleton (Unicode TR 39: Cyrillic `ѕсаm`
  and Latin `scam` have one skeleton), for matching the ruleset's word lists and brands, and
  for punctuation (`ǃ`, a click letter, is drawn as `!`).

Both forms are made character by character (`str.translate` with a table that fills itself on
first sight of a character), so a text costs one C-level pass each; the per-character map back to
the original, for quoting, is worked out only for texts where a rule found something. The key is
kept decomposed (NFD, as TR 39 defines the skeleton): each original character maps to whole key
characters, so a match in the key always maps back to whole original characters.

The confusables data is Unicode's confusables.txt as `confusable-homoglyphs` ships it.
"""

import bisect
import re
import unicodedata
from dataclasses import dataclass
from functools import cached_property

# Characters that render as nothing: Default_Ignorable_Code_Point (DerivedCoreProperties.txt)
# and General_Category Cf, except the prepended concatenation marks (U+0600-0605, U+06DD,
# U+070F, U+0890-0891, U+08E2, U+110BD, U+110CD), which are Cf but visible. Written out (a
# test checks them against unicodedata) so that importing this costs nothing on the request path.
INVISIBLE_RANGES = (
    (0x00AD, 0x00AD),  # soft hyphen
    (0x034F, 0x034F),  # combining grapheme joiner
    (0x061C, 0x061C),  # Arabic letter mark
    (0x115F, 0x1160),  # Hangul choseong / jungseong fillers
    (0x17B4, 0x17B5),  # Khmer inherent vowels
    (0x180B, 0x180F),  # Mongolian free variation selectors, vowel separator
    (0x200B, 0x200F),  # zero-width space, non-joiner, joiner; LRM, RLM
    (0x202A, 0x202E),  # bidi embeddings and overrides
    (0x2060, 0x206F),  # word joiner, invisible operators, bidi isolates
    (0x3164, 0x3164),  # Hangul filler
    (0xFE00, 0xFE0F),  # variation selectors
    (0xFEFF, 0xFEFF),  # zero-width no-break space (BOM)
    (0xFFA0, 0xFFA0),  # halfwidth Hangul filler
    (0xFFF0, 0xFFFB),  # unassigned specials, interlinear annotation
    (0x13430, 0x13438),  # Egyptian hieroglyph format controls
    (0x1BCA0, 0x1BCA3),  # shorthand format controls
    (0x1D173, 0x1D17A),  # musical symbol format controls
    (0xE0000, 0xE0FFF),  # tags, variation selectors supplement
)
INVISIBLE = re.compile("[" + "".join(f"{chr(a)}-{chr(b)}" for a, b in INVISIBLE_RANGES) + "]")

# The combining marks canonical decomposition leaves in the key (Latin, Greek and Cyrillic
# letters decompose into a base and marks of these blocks): a word does not end before one.
MARKS = "\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"


def visible(text: str) -> str:
    """`text` without its invisible characters."""
    return INVISIBLE.sub("", text)


def is_blank(text: str | None) -> bool:
    """True for None, "", and a text of only whitespace and invisible characters."""
    return not text or not visible(text).strip()


# --- the confusable skeleton ------------------------------------------------------------------


def _prototypes() -> dict[str, str]:
    """{character: its TR 39 prototype} from confusable-homoglyphs' data.

    The package stores confusables.txt as a symmetric relation: each line `source → prototype`
    adds the prototype to the source's list and the source to the prototype's, in file order.
    A source is never a prototype (the mapping is idempotent), so a single character whose only
    entry points at a character listing many is a source; of two characters listing only each
    other, the source is the one stored first (its line added it first)."""
    from confusable_homoglyphs.confusables import confusables_data  # ~0.2 s to load: on first use

    def bare(chars: str) -> str:
        # Right-to-left characters come wrapped in LEFT-TO-RIGHT MARKs (the file's comment column).
        return chars.strip("\u200e") if len(chars) > 1 else chars

    listed: dict[str, list[str]] = {}
    for chars, entries in confusables_data.items():
        listed.setdefault(bare(chars), [bare(entry["c"]) for entry in entries])
    order = {chars: i for i, chars in enumerate(listed)}
    prototypes = {}
    for chars, targets in listed.items():
        if len(chars) != 1 or len(targets) != 1:
            continue
        target = targets[0]
        if listed.get(target) == [chars] and order[target] < order[chars]:
            continue  # `chars` is the prototype of `target`
        prototypes[chars] = target
    # Where an ASCII character's prototype is not ASCII (% → º/₀), the ASCII character stands
    # for its class instead: the classes, and so what matches what, do not change, but `12%APR`
    # keeps a word boundary before `apr` (₀ is a digit).
    for ascii_char in [c for c, target in prototypes.items() if c.isascii() and not target.isascii()]:
        target = prototypes.pop(ascii_char)
        for chars in [c for c, t in prototypes.items() if t == target]:
            prototypes[chars] = ascii_char
    return prototypes


class _LazyTable(dict):
    """A str.translate table that works out a character's entry the first time it is asked for."""

    def __init__(self, convert):
        super().__init__()
        self._convert = convert

    def __missing__(self, code_point: int) -> str:
        value = self[code_point] = self._convert(chr(code_point))
        return value


_PROTOTYPES: dict[str, str] | None = None


def _map(text: str) -> str:
    global _PROTOTYPES
    if _PROTOTYPES is None:
        _PROTOTYPES = _prototypes()
    return "".join(_PROTOTYPES.get(ch, ch) for ch in text)


def _clean_char(ch: str) -> str:
    if INVISIBLE.match(ch):
        return ""
    return visible(unicodedata.normalize("NFKC", ch))


def _key_char(ch: str) -> str:
    text = _clean_char(ch).casefold()
    # TR 39: skeleton = NFD, prototypes, NFD. Prototypes may be capitals (0 → O) and case
    # folding may give a character with a prototype, so fold and map once more.
    text = unicodedata.normalize("NFD", _map(unicodedata.normalize("NFD", text)))
    text = unicodedata.normalize("NFD", _map(text.casefold()))
    return text


def _fold_char(ch: str) -> str:
    text = _clean_char(ch)
    if text.isascii():
        return text
    return unicodedata.normalize("NFC", _key_char(ch))


CLEAN_TABLE = _LazyTable(_clean_char)
KEY_TABLE = _LazyTable(_key_char)
FOLD_TABLE = _LazyTable(_fold_char)


def clean(text: str) -> str:
    """NFKC without invisible characters, case kept."""
    return text if text.isascii() else text.translate(CLEAN_TABLE)


# The ASCII characters whose key is not their lower case, worked out once from KEY_TABLE (a
# test checks it): an ASCII text takes a few str.replace calls, 3x faster than translate.
_ASCII_KEYS = None


def skeleton(text: str) -> str:
    """The matching key: case-folded confusable skeleton of the clean text (decomposed)."""
    global _ASCII_KEYS
    if not text.isascii():
        return text.translate(KEY_TABLE)
    if _ASCII_KEYS is None:
        _ASCII_KEYS = tuple(
            (chr(c), KEY_TABLE[c])
            for c in range(128)
            if chr(c).islower() or not chr(c).isalpha()
            if KEY_TABLE[c] != chr(c)
        )
    key = text.lower()
    for ch, replacement in _ASCII_KEYS:
        if ch in key:
            key = key.replace(ch, replacement)
    return key


def fold(text: str) -> str:
    """`text` with each non-ASCII character replaced by its plain form (NFKC, or its confusable
    skeleton) and invisible characters removed; ASCII characters are kept as they are, so an
    ASCII text is unchanged (the duplicate-content hashes of ASCII ads stay what they were)."""
    return text if text.isascii() else text.translate(FOLD_TABLE)


def show(text: str) -> str:
    """`text` for a message, its invisible characters written as <U+200B>."""
    return INVISIBLE.sub(lambda m: f"<U+{ord(m.group()):04X}>", text)


# --- a text as the rules read it ------------------------------------------------------------


@dataclass(frozen=True)
class Hit:
    """One match of a rule: `text` as the rule reads it (the normalised form), `original` the
    ad's own characters it came from."""

    text: str
    original: str

    @property
    def disguised(self) -> bool:
        return " ".join(self.original.casefold().split()) != self.text.casefold()


class Text:
    """One field's text in its three forms (module docstring); `key` and `clean` are computed
    once per ad, the maps back to the original only when a rule quotes it."""

    def __init__(self, field: str, original: str):
        self.field = field
        self.original = original
        self.clean = clean(original)
        self.key = skeleton(original)

    def __repr__(self) -> str:
        return f"Text({self.field!r}, {self.original!r})"

    @cached_property
    def _key_ends(self) -> list[int]:
        return _ends(self.original, KEY_TABLE)

    @cached_property
    def _clean_ends(self) -> list[int]:
        if self.clean is self.original:
            return list(range(1, len(self.original) + 1))
        return _ends(self.original, CLEAN_TABLE)

    def original_of_key(self, start: int, end: int) -> str:
        """The original characters that the key's [start, end) comes from."""
        return _span(self.original, self._key_ends, start, end)

    def original_of_clean(self, start: int, end: int) -> str:
        return _span(self.original, self._clean_ends, start, end)

    def key_hit(self, match: re.Match, text: str) -> Hit:
        return Hit(text, self.original_of_key(match.start(), match.end()))

    def clean_hit(self, match: re.Match) -> Hit:
        return Hit(match.group(), self.original_of_clean(match.start(), match.end()))


def _ends(original: str, table: _LazyTable) -> list[int]:
    """For each original character, where its piece of the translated text ends."""
    ends, position = [], 0
    for ch in original:
        position += len(table[ord(ch)])
        ends.append(position)
    return ends


def _span(original: str, ends: list[int], start: int, end: int) -> str:
    # The first character whose piece ends after `start`, the last whose piece starts before `end`.
    first = bisect.bisect_right(ends, start)
    last = bisect.bisect_left(ends, end)
    return original[first : last + 1]

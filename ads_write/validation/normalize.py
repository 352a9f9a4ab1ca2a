"""One normalisation of an ad's text, read by every text rule: what a reader sees, not the raw
code points a bad actor chose.

Three forms of each text:

- `original`: as the retailer sent it; findings quote it as evidence;
- `clean`: Unicode NFKC (full-width and mathematical letters, circled letters, `‼`, `％`
  become their plain forms) with the invisible characters removed (zero-width characters,
  soft hyphen, CGJ, bidi controls, variation selectors, Hangul fillers...). Also what NFKC does
  not cover: characters that draw a blank (U+2800) are spaces; Latin letters that Unicode names
  only as styled (small capitals `ᴀ`, negative circled or squared `🅐`, parenthesized `⒜`) are
  their letter; marks drawn over or around a letter (strike-through U+0336, keycap U+20E3) are
  dropped. Case is kept, so the capitals and phone-number rules read it;
- `key`: `clean` case-folded and mapped to its confusable skeleton (Unicode TR 39: Cyrillic `ѕсаm`
  and Latin `scam` have one skeleton), for matching the ruleset's word lists and brands, and
  for punctuation (`ǃ`, a click letter, is drawn as `!`; `❗` is an exclamation mark). Overlays
  are dropped here too, also those TR 39 draws letters with (`ø` is `o̸`, so it reads as `o`),
  while accents stay (`raté` is not `rate`).

Text under a right-to-left override (U+202E) is drawn reversed (`\u202emacs` shows `scam`), so
the clean form and the key read it in the order it is drawn.

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
# Characters that are not whitespace to Unicode but draw an empty glyph the width of a letter:
# they read as a space (a licence of them is blank; `no⠀prescription` is two words).
BLANKS = frozenset("\u2800\U0001d159")  # braille pattern blank, musical symbol null notehead
# Latin letters Unicode only names as styled, which NFKC leaves alone (or makes `(a)`).
_STYLED_LETTER = re.compile(
    r"(?:LATIN LETTER SMALL CAPITAL|(?:(?:NEGATIVE )?(?:CIRCLED|SQUARED)|PARENTHESIZED) LATIN (CAPITAL|SMALL) LETTER) "
    r"([A-Z])"
)
# Punctuation drawn as an emoji or a ligature, which neither NFKC nor TR 39 relates to `!`/`?`.
_READ_AS = {"\u2757": "!", "\u2755": "!", "\u2762": "!", "\u2753": "?", "\u2754": "?", "\u203d": "?!"}
# Right-to-left override up to its pop (or the end of the paragraph): drawn in reverse order.
_OVERRIDE = re.compile("\u202e[^\u202a-\u202e\n\u2029]*")

# The combining marks canonical decomposition leaves in the key (Latin, Greek and Cyrillic
# letters decompose into a base and marks of these blocks): a word does not end before one.
MARKS = "\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"


def visible(text: str) -> str:
    """`text` without its invisible characters."""
    return INVISIBLE.sub("", text)


def is_blank(text: str | None) -> bool:
    """True for None, "", and a text of only whitespace, blank and invisible characters."""
    return not text or not clean(text).strip()


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


def _loaded_prototypes() -> dict[str, str]:
    global _PROTOTYPES
    if _PROTOTYPES is None:
        _PROTOTYPES = _prototypes()
    return _PROTOTYPES


def _map(text: str) -> str:
    prototypes = _loaded_prototypes()
    return "".join(prototypes.get(ch, ch) for ch in text)


def drawn_as(prototype: str) -> str:
    """The characters TR 39 says are drawn as `prototype` (`˗` and `⁃` for `-`), for patterns
    that read the clean text."""
    return "".join(sorted(ch for ch, target in _loaded_prototypes().items() if target == prototype))


def _styled_letter(ch: str) -> str:
    match = _STYLED_LETTER.fullmatch(unicodedata.name(ch, ""))
    if match is None:
        return ""
    case, letter = match.groups()
    return letter.lower() if case == "SMALL" else letter


def _drawn_over(ch: str) -> bool:
    """A mark drawn through (overlay) or around (enclosing) its letter, which stays readable."""
    return unicodedata.combining(ch) == 1 or unicodedata.category(ch) == "Me"


def _clean_char(ch: str) -> str:
    if INVISIBLE.match(ch):
        return ""
    if ch in BLANKS:
        return " "
    if styled := _styled_letter(ch):
        return styled
    return "".join(c for c in visible(unicodedata.normalize("NFKC", ch)) if not _drawn_over(c))


def _key_char(ch: str) -> str:
    # The key of a key must be itself, but a step may give characters with keys of their own:
    # prototypes that are small capitals (Cyrillic в is drawn as ʙ, which reads as b) or not in
    # NFKC (‰ → º/₀₀), a decomposition that brings back an overlay (≠ → = U+0338). Repeat
    # until nothing changes (one more pass is the most any character needs).
    key = _key_step(ch)
    for _ in range(4):
        again = "".join(_key_step(c) for c in key)
        if again == key:
            break
        key = again
    return key


def _key_step(ch: str) -> str:
    if ch in _READ_AS:
        return _READ_AS[ch]
    text = _clean_char(ch)
    if len(text) > 1 and text[0] == " ":
        # A spacing accent (´, ΄): NFKC makes it a space and a combining mark, TR 39 (which
        # starts from NFD) reads the character itself: `world´s` is `world's`.
        text = ch
    text = text.casefold()
    # TR 39: skeleton = NFD, prototypes, NFD. Prototypes may be capitals (0 → O) and case
    # folding may give a character with a prototype, so fold and map once more.
    text = unicodedata.normalize("NFD", _map(unicodedata.normalize("NFD", text)))
    return unicodedata.normalize("NFD", _map(text.casefold()))


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
        # `drawn`: the original in the order it is drawn; `_order[i]` is where its i-th character
        # is in the original (None: the same order). Only an override changes it, which is rare.
        self.drawn, self._order, self._overrides = original, None, ()
        if not original.isascii() and "\u202e" in original:
            self.drawn, self._order, self._overrides = _drawn(original)
        self.clean = clean(self.drawn)
        self.key = skeleton(self.drawn)

    def __repr__(self) -> str:
        return f"Text({self.field!r}, {self.original!r})"

    @cached_property
    def _key_ends(self) -> list[int]:
        return _ends(self.drawn, KEY_TABLE)

    @cached_property
    def _clean_ends(self) -> list[int]:
        if self.clean is self.drawn:
            return list(range(1, len(self.drawn) + 1))
        return _ends(self.drawn, CLEAN_TABLE)

    def original_of_key(self, start: int, end: int) -> str:
        """The original characters that the key's [start, end) comes from."""
        return self._quote(*_span(self._key_ends, start, end))

    def original_of_clean(self, start: int, end: int) -> str:
        return self._quote(*_span(self._clean_ends, start, end))

    def _quote(self, first: int, last: int) -> str:
        """The original of the drawn characters [first, last], with the marks of its last
        letter that the normalised form dropped (`m̶`, a keycap's U+FE0F U+20E3); where an
        override reversed them, from the override on, so the quote shows why it reads otherwise."""
        drawn = self.drawn
        while last + 1 < len(drawn) and unicodedata.category(drawn[last + 1])[0] == "M":
            last += 1
        if self._order is None:
            return self.original[first : last + 1]
        positions = self._order[first : last + 1] or [first]
        low, high = min(positions), max(positions)
        for start, end in self._overrides:
            if start <= high and low < end:
                low = min(low, start)
        return self.original[low : high + 1]

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


def _span(ends: list[int], start: int, end: int) -> tuple[int, int]:
    # The first character whose piece ends after `start`, the last whose piece starts before `end`.
    return bisect.bisect_right(ends, start), bisect.bisect_left(ends, end)


def _drawn(original: str) -> tuple[str, list[int], tuple[tuple[int, int], ...]]:
    """`original` with each right-to-left override's run reversed, as it is drawn; where each
    character came from; the overrides' spans (the override character stays, invisible, first)."""
    pieces, order, overrides, position = [], [], [], 0
    for match in _OVERRIDE.finditer(original):
        start, end = match.span()
        pieces += [original[position:start], original[start], original[start + 1 : end][::-1]]
        order += [*range(position, start + 1), *range(end - 1, start, -1)]
        overrides.append((start, end))
        position = end
    pieces.append(original[position:])
    order += range(position, len(original))
    return "".join(pieces), order, tuple(overrides)

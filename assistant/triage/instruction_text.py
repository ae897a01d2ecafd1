"""Reading a mail's text as the instruction patterns are written.

The patterns in `rules/instructions.toml` are plain: no accents, plain apostrophes and
quotes, no look-alike letters, no "I G N O R E" spacing. `plain` reads a text that way
(and `_plain_with_offsets` keeps where each character came from, so what is cut is what
the customer wrote); `instructions.py` and `instruction_rules.py` build on it.
"""

from __future__ import annotations

import re
import unicodedata

from assistant.lookalikes import LOOKALIKE_LETTERS

# -- reading the text as the patterns are written --------------------------------------

# Look-alike letters an attacker may mix in ("ignоre" with a Cyrillic o), typographic
# apostrophes and quotes, and Unicode line breaks.
_CONFUSABLES = {
    **LOOKALIKE_LETTERS,
    **dict.fromkeys(map(ord, "’‘‛ʼ´′"), "'"),
    **dict.fromkeys(map(ord, "“”„‟″«»"), '"'),
    **dict.fromkeys(map(ord, "\u2028\u2029\x85"), "\n"),
    ord("ß"): "ss",
    ord("ẞ"): "SS",
}


class _Fold(dict):
    """Code point → its plain form (NFKC's compatibility mapping, no accents, no format
    characters such as zero-width spaces), worked out once per character."""

    def __missing__(self, code: int) -> str:
        char = chr(code)
        plain = _CONFUSABLES.get(code)
        if plain is None:
            if unicodedata.category(char) == "Cf":
                plain = ""
            else:
                decomposed = unicodedata.normalize("NFKD", char)
                plain = "".join(c for c in decomposed if not unicodedata.combining(c))
        self[code] = plain
        return plain


_FOLD = _Fold()
# "I G N O R E   A L L": single letters one separator apart, joined (words stay apart
# where the gap is wider).
_SPACED = re.compile(r"(?<!\w)\w(?!\w)(?:[ ._*\-]{1,3}\w(?!\w)){4,}")
_GAP = re.compile(r"[ ._*\-]+")


def _joined(run: str) -> str:
    return _GAP.sub(lambda gap: " " if len(gap.group()) > 1 else "", run)


def plain(text: str) -> str:
    """`text` as the patterns read it (see the head of rules/instructions.toml)."""
    if not text.isascii():
        text = text.translate(_FOLD)
    return _SPACED.sub(lambda run: _joined(run.group()), text)


def _plain_with_offsets(text: str) -> tuple[str, list[int]]:
    """`plain(text)`, and for each of its characters the index in `text` it came from."""
    chars: list[str] = []
    where: list[int] = []
    for index, char in enumerate(text):
        out = char if char.isascii() else _FOLD[ord(char)]
        chars.extend(out)
        where.extend([index] * len(out))
    folded = "".join(chars)
    if not _SPACED.search(folded):
        return folded, where
    kept_chars: list[str] = []
    kept_where: list[int] = []
    last = 0
    for run in _SPACED.finditer(folded):
        kept_chars.append(folded[last : run.start()])
        kept_where.extend(where[last : run.start()])
        position = run.start()
        for piece in re.split(r"([ ._*\-]+)", run.group()):
            if piece and _GAP.fullmatch(piece):
                if len(piece) > 1:
                    kept_chars.append(" ")
                    kept_where.append(where[position])
            elif piece:
                kept_chars.append(piece)
                kept_where.extend(where[position : position + len(piece)])
            position += len(piece)
        last = run.end()
    kept_chars.append(folded[last:])
    kept_where.extend(where[last:])
    return "".join(kept_chars), kept_where

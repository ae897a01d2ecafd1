"""Hostile text the way a reader sees it, with a map back to what was written.

The draft checks, and the redaction of card numbers before a prompt, look for links, addresses, amounts and claims however they are spelled: NFKC
turns full-width "＄５０" into "$50", invisible characters go, Cyrillic and Greek letters
that look Latin are read as Latin, and the contact view undoes
the usual obfuscations ("help [at] other [dot] example", "h t t p s : / / …", "hxxp").
Every character of a normal form remembers the span of the original it came from, so a
finding quotes — and the workspace highlights — the words the draft really contains.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

from assistant.lookalikes import LOOKALIKE_LETTERS

# Characters a reader never sees, which split a word for a regex: format characters
# (zero-width spaces, bidi marks, tags), variation selectors, Hangul fillers.
_FILLERS = frozenset({0x034F, 0x115F, 0x1160, 0x180B, 0x180C, 0x180D, 0x180E, 0x3164, 0xFFA0})
# Full stops of other scripts that IDNA reads as dots: "returns-help。com".
_DOTS = {ord("。"): ".", ord("｡"): ".", ord("．"): "."}


def invisible(char: str) -> bool:
    code = ord(char)
    return (
        unicodedata.category(char) == "Cf"
        or 0xFE00 <= code <= 0xFE0F
        or 0xE0100 <= code <= 0xE01EF
        or code in _FILLERS
    )


_DOT_WORDS = r"dot|period|full stop|punto|point|punkt|ponto|punt|kropka"
_AT_WORDS = r"at|arroba|chez|bei|presso|apenas"
_DEOBFUSCATIONS: tuple[tuple[re.Pattern[str], str], ...] = (
    # "h t t p s : / / e v i l . c o m": single characters between single spaces.
    (re.compile(r"(?<!\S)(?:\S[ \t]){3,}\S(?!\S)"), "<joined>"),
    (re.compile(r"\bhxxp", re.I), "http"),
    (re.compile(r"\s*[\[({<]\s*(?:\.|" + _DOT_WORDS + r")\s*[\])}>]\s*", re.I), "."),
    (re.compile(r"\s*[\[({<]\s*(?:@|" + _AT_WORDS + r")\s*[\])}>]\s*", re.I), "@"),
    # "help at other dot example": a bare "at" only where a bare "dot" follows.
    (re.compile(r"(?<=[\w.-]) (?:at|arroba) (?=[\w-]+ (?:" + _DOT_WORDS + r") \w)", re.I), "@"),
    (re.compile(r"(?<=\w) (?:" + _DOT_WORDS + r") (?=\w)", re.I), "."),
    (re.compile(r"(?<=\w)-dot-(?=\w)", re.I), "."),
    (re.compile(r"(?<=[^\W\d_]) +\. +(?=[^\W\d_]{2,}\b)"), "."),  # "returns-help . com"
    (re.compile(r"(?<=\d)[·•_~|](?=\d)"), " "),  # "555·019·9822"
)


@dataclass(frozen=True)
class NormalText:
    """`text` is a normal form; `origin[i]` is the (start, end) in `original` of `text[i]`."""

    original: str
    text: str
    origin: tuple[tuple[int, int], ...]

    @classmethod
    def of(cls, original: str) -> NormalText:
        """NFKC, character by character (so the map survives), without invisible ones."""
        if original.isascii():
            return cls(original, original, tuple((i, i + 1) for i in range(len(original))))
        chars: list[str] = []
        origin: list[tuple[int, int]] = []
        for index, char in enumerate(original):
            if invisible(char):
                continue
            char = LOOKALIKE_LETTERS.get(ord(char)) or _DOTS.get(ord(char)) or char
            if unicodedata.combining(char) and chars:
                composed = unicodedata.normalize("NFKC", chars[-1] + char)
                if len(composed) == 1:
                    chars[-1] = composed
                    origin[-1] = (origin[-1][0], index + 1)
                    continue
            for piece in unicodedata.normalize("NFKC", char):
                chars.append(piece)
                origin.append((index, index + 1))
        return cls(original, "".join(chars), tuple(origin))

    def substitute(self, pattern: re.Pattern[str], replace: Callable[[re.Match[str]], str]):
        """A new normal form with `pattern` replaced; replaced text maps to the whole match."""
        chars: list[str] = []
        origin: list[tuple[int, int]] = []
        last = 0
        for match in pattern.finditer(self.text):
            if match.start() == match.end():
                continue
            chars.append(self.text[last : match.start()])
            origin.extend(self.origin[last : match.start()])
            new = replace(match)
            span = (self.origin[match.start()][0], self.origin[match.end() - 1][1])
            chars.append(new)
            origin.extend([span] * len(new))
            last = match.end()
        chars.append(self.text[last:])
        origin.extend(self.origin[last:])
        return NormalText(self.original, "".join(chars), tuple(origin))

    def excerpt(self, start: int, end: int) -> str:
        """The original words behind `text[start:end]`."""
        if start >= end or not self.origin:
            return ""
        return self.original[self.origin[start][0] : self.origin[end - 1][1]]

    @cached_property
    def folded(self) -> str:
        """Lower case, same length as `text` (casefold can change lengths; lower() cannot
        for the scripts we serve, and where it would the text is kept)."""
        lowered = self.text.lower()
        return lowered if len(lowered) == len(self.text) else self.text

    @cached_property
    def deobfuscated(self) -> NormalText:
        """The contact view: spaced letters joined, "[dot]"/"(at)" and defanged forms undone."""
        current = self
        for pattern, replacement in _DEOBFUSCATIONS:
            current = current.substitute(pattern, _replacer(replacement))
        return current


def _replacer(replacement: str) -> Callable[[re.Match[str]], str]:
    if replacement == "<joined>":
        return lambda match: re.sub(r"[ \t]", "", match.group(0))
    return lambda match: replacement


def folded(text: str) -> str:
    """A text as the checks compare it with the mail and the policy: NFKC, lower case."""
    return NormalText.of(text).text.lower()

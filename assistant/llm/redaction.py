"""Card numbers, IBANs and passwords out of every prompt and log line (OWASP LLM02).

Customers paste them into mail. The agent sees the mail as written (it is stored as
written), but no LLM server and no log file gets them: each is replaced by a readable
placeholder, "[card number 1]", the same one whenever the same value comes back in one
text, so a model can still say "the card you mentioned". Matching reads the text as NFKC
(full-width digits are digits); everything that is not replaced stays as it was written.
The password wording lives in `templates/checks/secret_phrases.toml`, for a support lead.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from stdnum import iban, luhn

from assistant.normal_text import NormalText
from assistant.resources import shipped_dir

CARD, IBAN, PASSWORD = "card number", "IBAN", "password"
_PRIORITY = {IBAN: 0, CARD: 1, PASSWORD: 2}  # which wins where two finds overlap
_PLACEHOLDER = r"\[(?:card number|IBAN|password) \d+\]"

# Issuer prefixes of real card networks (from, to, lengths): an order number that happens to
# pass Luhn rarely starts like a card. Visa, Mastercard, Amex, Diners, Discover, JCB,
# UnionPay, RuPay, Maestro, Mir, Troy.
_NETWORKS: tuple[tuple[str, str, tuple[int, ...]], ...] = (
    ("4", "4", (13, 16, 19)),
    ("51", "55", (16,)),
    ("2221", "2720", (16,)),
    ("34", "34", (15,)),
    ("37", "37", (15,)),
    ("300", "305", tuple(range(14, 20))),
    ("36", "36", tuple(range(14, 20))),
    ("38", "39", tuple(range(14, 20))),
    ("3528", "3589", tuple(range(16, 20))),
    ("50", "50", tuple(range(13, 20))),
    ("56", "69", tuple(range(13, 20))),
    ("81", "82", (16,)),
    ("2200", "2204", tuple(range(16, 20))),
    ("9792", "9792", (16,)),
)
_DIGIT_RUN = re.compile(r"(?<![\w.,/-])[0-9]+(?:[ \-–][0-9]+)*(?!\w)")
_IBAN_RUN = re.compile(r"(?<!\w)[A-Z]{2}[0-9]{2}[A-Z0-9]*(?: [A-Z0-9]+)*(?!\w)", re.I)


class SecretPhrasesError(ValueError):
    """The password wording file is unusable; the message names the file and the list."""


@dataclass(frozen=True)
class Redacted:
    """The text with placeholders, and how many distinct values of each kind it replaced."""

    text: str
    counts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class _Find:
    start: int
    end: int
    kind: str
    value: str

    def __repr__(self) -> str:  # never the value itself
        return f"_Find({self.kind}, {self.start}-{self.end})"


class Redactor:
    """Numbers placeholders across several texts (a prompt's subject, body and translation),
    so one card is "[card number 1]" everywhere. It keeps digests, never the values."""

    def __init__(self) -> None:
        self._numbers: dict[tuple[str, str], int] = {}
        self.counts: dict[str, int] = {}

    def __call__(self, text: str) -> str:
        view, origin = _normal_view(text)
        parts, last = [], 0
        for find in _finds(view):
            start, end = find.start, find.end
            if origin:
                start, end = max(last, origin[start][0]), origin[end - 1][1]
            parts += [text[last:start], self._placeholder(find)]
            last = end
        return "".join(parts) + text[last:] if parts else text

    def _placeholder(self, find: _Find) -> str:
        key = (find.kind, hashlib.sha256(find.value.encode()).hexdigest())
        if key not in self._numbers:
            self.counts[find.kind] = self.counts.get(find.kind, 0) + 1
            self._numbers[key] = self.counts[find.kind]
        return f"[{find.kind} {self._numbers[key]}]"


def redact(text: str) -> Redacted:
    """`text` with every card number, IBAN and pasted password replaced by a placeholder."""
    redactor = Redactor()
    return Redacted(redactor(text), dict(redactor.counts))


def _normal_view(text: str) -> tuple[str, tuple[tuple[int, int], ...] | None]:
    """NFKC `text` without invisible characters (`NormalText`, as the draft checks read
    it), and for each of its characters the span of `text` it came from (None: the same
    text)."""
    view = NormalText.of(text)
    return (text, None) if view.text == text else (view.text, view.origin)


def _finds(view: str) -> list[_Find]:
    """Every find in `view`, in order, the higher priority one kept where two overlap."""
    found = sorted(
        [*_ibans(view), *_cards(view), *_passwords(view)],
        key=lambda f: (_PRIORITY[f.kind], f.start),
    )
    kept: list[_Find] = []
    for find in found:
        if all(find.end <= k.start or find.start >= k.end for k in kept):
            kept.append(find)
    return sorted(kept, key=lambda f: f.start)


def _groups(match: re.Match[str], splitter: str) -> list[tuple[int, int]]:
    """The (start, end) of each group of a spaced or dashed run, in view positions."""
    offset = match.start()
    return [(offset + g.start(), offset + g.end()) for g in re.finditer(splitter, match[0])]


def _cards(view: str) -> Iterator[_Find]:
    """Card numbers: whole groups of a digit run, 13 to 19 digits, a network's prefix, Luhn."""
    for run in _DIGIT_RUN.finditer(view):
        groups, first = _groups(run, r"[0-9]+"), 0
        while first < len(groups):
            for last in range(len(groups), first, -1):
                digits = "".join(view[a:b] for a, b in groups[first:last])
                if _is_card(digits):
                    yield _Find(groups[first][0], groups[last - 1][1], CARD, digits)
                    first = last - 1
                    break
            first += 1


def _is_card(digits: str) -> bool:
    if not 13 <= len(digits) <= 19 or not luhn.is_valid(digits):
        return False
    return any(
        low <= digits[: len(low)] <= high and len(digits) in lengths
        for low, high, lengths in _NETWORKS
    )


def _ibans(view: str) -> Iterator[_Find]:
    """IBANs, spaced or not: the longest run of groups that `stdnum.iban` validates."""
    for run in _IBAN_RUN.finditer(view):
        groups = _groups(run, r"\S+")[:12]  # 34 characters at most
        for last in range(len(groups), 0, -1):
            compact = "".join(view[a:b] for a, b in groups[:last]).upper()
            if 15 <= len(compact) <= 34 and iban.is_valid(compact):
                yield _Find(groups[0][0], groups[last - 1][1], IBAN, compact)
                break


def _passwords(view: str) -> Iterator[_Find]:
    """What follows "password:", "my password is" or "PIN 4821" (see secret_phrases.toml)."""
    phrases = _secret_phrases()
    for match in phrases.pattern.finditer(view):
        secret, start = match["secret"], match.start("secret")
        quoted = secret[0] in "\"'“«‘" and len(secret) > 2
        if not quoted:  # a full stop ends the sentence; "!" and "?" may end a password
            secret = secret.rstrip(".,;:)]}»\"'’")
        if secret and _is_secret(secret, match["sep"], quoted, phrases.ordinary):
            yield _Find(start, start + len(secret), PASSWORD, secret)


def _is_secret(word: str, sep: str, quoted: bool, ordinary: frozenset[str]) -> bool:
    """Always after "password:"; after "password is" unless an ordinary word ("wrong"); after
    a bare "pw" only with a digit, or letters and a symbol ("password reset" is no secret)."""
    if quoted or ":" in sep or "=" in sep:
        return True
    letters_only = word.replace("-", "").replace("'", "").isalpha()
    if sep.strip():  # a link word: "is", "est", "ist"
        return not letters_only or word.casefold() not in ordinary
    has_symbol = any(not c.isalnum() and c not in "-'" for c in word)
    return any(c.isdigit() for c in word) or (has_symbol and any(c.isalpha() for c in word))


@dataclass(frozen=True)
class SecretPhrases:
    """The compiled wording: one pattern for every language, and the ordinary words."""

    pattern: re.Pattern[str]
    ordinary: frozenset[str]


def secret_phrases_path() -> Path:
    return shipped_dir("templates") / "checks" / "secret_phrases.toml"


@lru_cache(maxsize=1)
def _secret_phrases() -> SecretPhrases:
    return load_secret_phrases(secret_phrases_path())


def load_secret_phrases(path: Path) -> SecretPhrases:
    """Read and check the wording file, once; a mistake is a `SecretPhrasesError`."""
    try:
        tables = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise SecretPhrasesError(f"{path}: cannot read it: {error}") from error
    words: dict[str, set[str]] = {"phrases": set(), "links": set(), "ordinary": set()}
    for language, table in tables.items():
        if not isinstance(table, dict) or set(table) - set(words) or "phrases" not in table:
            found = sorted(table) if isinstance(table, dict) else repr(table)
            raise SecretPhrasesError(
                f"{path}: [{language}] must be a table with a 'phrases' list and optional "
                f"'links' and 'ordinary' lists (found {found})"
            )
        for name, entries in table.items():
            if not isinstance(entries, list) or not all(
                isinstance(e, str) and e.strip() for e in entries
            ):
                raise SecretPhrasesError(f"{path}: [{language}] {name} must be a list of words")
            if name == "ordinary" and any(len(e.split()) > 1 for e in entries):
                raise SecretPhrasesError(f"{path}: [{language}] ordinary words are single words")
            words[name].update(unicodedata.normalize("NFKC", e).strip().casefold() for e in entries)
    if not words["phrases"]:
        raise SecretPhrasesError(f"{path}: no phrases at all")
    return SecretPhrases(_compile(words["phrases"], words["links"]), frozenset(words["ordinary"]))


def _alternatives(entries: set[str]) -> str:
    """Longest first ("pin code" before "pin"); a space matches spaces, ' either apostrophe."""

    def spelled(entry: str) -> str:
        return r"\s+".join(re.escape(w) for w in entry.split()).replace("'", "['’]")

    return "|".join(spelled(e) for e in sorted(entries, key=len, reverse=True))


def _compile(phrases: set[str], links: set[str]) -> re.Pattern[str]:
    link = rf"\s+(?:{_alternatives(links)})(?!\w)\s*[:=]?\s*" if links else r"(?!)"
    quoted = r"\"[^\"\n]{1,80}\"|“[^”\n]{1,80}”|«[^»\n]{1,80}»|‘[^’\n]{1,80}’|'[^'\n]{1,80}'"
    return re.compile(
        rf"(?<![\w\[])(?:{_alternatives(phrases)})(?!\w)"
        rf"(?P<sep>\s*[:=]\s*|{link}|\s+)"
        rf"(?!{_PLACEHOLDER})(?P<secret>{quoted}|\S{{1,80}})",
        re.I,
    )

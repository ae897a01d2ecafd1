"""The urgency and escalation rule files (`rules/*.toml`): read, validated, compiled.

A support lead edits the wording in the TOML files; this module turns it into regexes.
Everything here is about reading those files well: the text normalisation they are
written for, concepts that refer to each other by `{name}`, and an error that names the
file, the line and the problem when an entry is wrong.

Speed matters (the rules run on every inquiry): a concept's alternatives are grouped by
their leading letters (`_trie`) before compiling. Python's regex engine tries the
alternatives of a group one by one at every position; grouped, it compares one letter
per group instead, which makes urgency 7x faster here. The libraries that build such
tries (trieregex) take literal words only, and our alternatives are patterns.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from anyascii import anyascii

RULES_DIR = Path(__file__).resolve().parent / "rules"
LANGUAGE_KEYS = ("any", "en", "es", "fr", "de", "it", "pt", "nl")
_REFERENCE = re.compile(r"\{([a-z_][a-z0-9_]*)\}")


class RuleFileError(ValueError):
    """A rule file cannot be used: the message says which file, which line and why."""


# -- the text the rules are written for --------------------------------------------------


def _build_fold_table() -> dict[int, str]:
    """Accented Latin letters to plain ones (anyascii knows ß, æ, ł, đ...), typographic
    apostrophes to plain ones, and quotation marks to spaces (a quote never joins words
    a rule pairs)."""
    table: dict[int, str] = {}
    for code in range(0xC0, 0x250):
        plain = anyascii(chr(code)).lower()
        if plain and plain.isalpha() and plain != chr(code):
            table[code] = plain
    for char in "’‘`´":
        table[ord(char)] = "'"
    for char in '\u00a0«»“”„"':
        table[ord(char)] = " "
    return table


_FOLD = _build_fold_table()


@lru_cache(maxsize=256)
def normalize(text: str) -> str:
    """Lower case, accents removed, plain apostrophes: what every rule is written for.

    Cached: urgency and escalation rules both look at the same text."""
    folded = text.lower()
    if folded.isascii():  # the common case, and far faster than translate()
        return folded.replace('"', " ").replace("`", "'")
    # Composed first: "c" + combining cedilla is "ç", which the table folds.
    return unicodedata.normalize("NFC", folded).translate(_FOLD)


# -- compiling alternatives fast ---------------------------------------------------------


def structure(pattern: str, start: int = 0):
    """(index, character, group depth after it) for every unescaped character outside a
    character class: enough to find top-level `|` and a group's closing paren."""
    depth, i, in_class = 0, start, False
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            i += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        else:
            depth += (char == "(") - (char == ")")
            yield i, char, depth
        i += 1


def alternatives(pattern: str) -> list[str]:
    """Split a pattern at its top-level `|`."""
    parts, start = [], 0
    for i, char, depth in structure(pattern):
        if char == "|" and depth == 0:
            parts.append(pattern[start:i])
            start = i + 1
    parts.append(pattern[start:])
    return parts


def _matching_paren(pattern: str, start: int) -> int:
    for i, char, depth in structure(pattern, start):
        if char == ")" and depth == 0:
            return i
    raise ValueError(pattern)


def _expand(alternative: str) -> list[str]:
    """`(?:x|y)rest` -> `xrest`, `yrest` (when the group is not quantified), recursively."""
    alternative = alternative.removeprefix(r"\b")
    if not alternative.startswith("(?:"):
        return [alternative]
    end = _matching_paren(alternative, 0)
    rest = alternative[end + 1 :]
    inner = alternatives(alternative[3:end])
    if rest[:1] in ("?", "*", "+", "{"):
        return [alternative]
    if len(inner) * len(rest) > 4000:  # too long to copy: keep the group, but as a trie
        return [f"(?:{_trie([e for a in inner for e in _expand(a)])}){rest}"]
    return [e for a in inner for e in _expand(a + rest)]


def _trie(items: list[str]) -> str:
    """Group alternatives by their first letter: `abc|abd|xyz` -> `a(?:bc|bd)|xyz`."""
    groups: dict[str, list[str]] = {}
    others: list[str] = []
    for alternative in items:
        head = alternative[:1]
        if head.isalnum() and head.isascii() and alternative[1:2] not in ("?", "*", "+", "{"):
            groups.setdefault(head, []).append(alternative[1:])
        else:
            others.append(alternative)
    parts = [
        head + (rests[0] if len(rests) == 1 and "|" not in rests[0] else f"(?:{_trie(rests)})")
        if len(rests) > 1 or rests[0]
        else head
        for head, rests in groups.items()
    ]
    return "|".join(parts + others)


def word_start_regex(*patterns: str) -> re.Pattern[str]:
    """One compiled regex for all alternatives, each starting at a word boundary."""
    items = [e for p in patterns for a in alternatives(p) for e in _expand(a)]
    return re.compile(rf"\b(?:{_trie(items)})", re.S)


def rule_regex(file: RuleFile, where: str, *patterns: str) -> re.Pattern[str]:
    """`word_start_regex` of a file's patterns, each checked: valid, and never matching
    empty text (a pattern that matches nothing at all would fire on every mail)."""
    for pattern in patterns:
        compiled = compile_regex(file, where, pattern, pattern)
        if compiled.match(""):
            raise file.fail(where, f"{pattern!r} matches empty text, so every mail", pattern)
    try:
        return word_start_regex(*patterns)
    except re.error as error:  # valid alone, not together (inline flags, named groups)
        problem = f"the patterns cannot be joined: {error} (no inline flags or named groups)"
        raise file.fail(where, problem, where) from error


# -- reading a rule file -----------------------------------------------------------------


@dataclass
class RuleFile:
    """One TOML file, with what is needed to point at a line of it."""

    path: Path
    source: str
    data: dict[str, Any]

    def fail(self, where: str, problem: str, needle: object = None) -> RuleFileError:
        index = self.source.find(str(needle)) if needle not in (None, "") else -1
        if index < 0 and where:
            index = self.source.find(where.rsplit(".", 1)[-1])
        line = f", line {self.source.count(chr(10), 0, index) + 1}" if index >= 0 else ""
        return RuleFileError(f"{self.path}{line}: {where}: {problem}")

    def keys(
        self,
        data: dict,
        where: str,
        allowed: set[str],
        required: frozenset[str] | set[str] = frozenset(),
    ):
        for key in data:
            if key not in allowed:
                raise self.fail(where, f"unknown key {key!r} (allowed: {sorted(allowed)})", key)
        for key in required - set(data):
            raise self.fail(where, f"missing {key!r}")

    def text(self, data: dict, key: str, where: str) -> str:
        value = data.get(key)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(where, f"{key!r} must be a non-empty string", key)
        return value

    def by_language(self, data: Any, where: str) -> dict[str, list[str]]:
        """A table of language code -> list of patterns (`any` for every language)."""
        if not isinstance(data, dict):
            raise self.fail(where, "must be a table of language -> list of strings")
        for language, items in data.items():
            if language not in LANGUAGE_KEYS:
                raise self.fail(
                    where, f"unknown language {language!r} (use one of {LANGUAGE_KEYS})", language
                )
            if not items or not isinstance(items, list):
                raise self.fail(f"{where}.{language}", "must be a non-empty list", language)
            if not all(isinstance(i, str) and i for i in items):
                raise self.fail(
                    f"{where}.{language}", "must be a list of non-empty strings", language
                )
        if not data:
            raise self.fail(where, "is empty: it needs at least one language's list")
        return data

    def number(self, data: dict, key: str, where: str, positive: bool = False) -> int:
        value = data.get(key)
        if type(value) is not int or (positive and value <= 0):
            kind = "a positive whole number" if positive else "a whole number"
            raise self.fail(where, f"{key!r} must be {kind}", key)
        return value


def read_source(path: Path, error: type[ValueError] = RuleFileError) -> str:
    """A rule file's text; a missing or unreadable one raises `error` naming it."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{path}: missing from this install") from None
    except (OSError, UnicodeDecodeError) as problem:
        raise error(f"{path}: cannot be read: {problem}") from None


def read_rule_file(path: Path) -> RuleFile:
    source = read_source(path)
    try:
        data = tomllib.loads(source)
    except tomllib.TOMLDecodeError as error:
        raise RuleFileError(f"{path}: not valid TOML: {error}") from error
    return RuleFile(path, source, data)


class Concepts:
    """Named alternatives (`[concepts.name]`), with `{name}` references resolved, each
    reference wrapped in a group. Every file's concepts share one namespace."""

    def __init__(self) -> None:
        self._raw: dict[str, tuple[RuleFile, list[str]]] = {}
        self._resolved: dict[str, str] = {}

    def add(self, file: RuleFile, table: Any) -> None:
        if not isinstance(table, dict):
            raise file.fail("concepts", "must be a table of named concepts")
        for name, entries in table.items():
            if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
                raise file.fail(f"concepts.{name}", "a concept name is lower case a-z, 0-9, _")
            if name in self._raw:
                raise file.fail(
                    f"concepts.{name}", f"already defined in {self._raw[name][0].path.name}", name
                )
            lists = file.by_language(entries, f"concepts.{name}")
            self._raw[name] = (file, [item for items in lists.values() for item in items])

    def pattern(self, name: str, stack: tuple[str, ...] = ()) -> str:
        """The concept as one regex source (alternatives joined by `|`)."""
        if name in self._resolved:
            return self._resolved[name]
        file, items = self._raw[name]
        resolved = "|".join(
            self.expand(file, item, f"concepts.{name}", (*stack, name)) for item in items
        )
        self._compile_check(file, f"concepts.{name}", resolved, items[0])
        self._resolved[name] = resolved
        return resolved

    def expand(self, file: RuleFile, text: str, where: str, stack: tuple[str, ...] = ()) -> str:
        """`text` with every `{name}` replaced by `(?:that concept)`."""

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in self._raw:
                raise file.fail(where, f"refers to unknown concept {{{name}}}", match.group())
            if name in stack:
                raise file.fail(where, f"concept {{{name}}} refers to itself", match.group())
            return f"(?:{self.pattern(name, stack)})"

        return _REFERENCE.sub(replace, text)

    def names(self) -> set[str]:
        return set(self._raw)

    @staticmethod
    def _compile_check(file: RuleFile, where: str, pattern: str, needle: str) -> None:
        try:
            re.compile(pattern)
        except re.error as error:
            raise file.fail(where, f"not a valid pattern: {error}", needle) from error


def compile_regex(file: RuleFile, where: str, pattern: str, needle: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern, re.S)
    except re.error as error:
        raise file.fail(where, f"not a valid pattern: {error}", needle) from error


def examples(file: RuleFile, key: str) -> list[tuple[str, str]]:
    """(language, sentence) of an `[examples]` or `[not_examples]` table."""
    table = file.data.get(key, {})
    lists = file.by_language(table, key) if table else {}
    return [(language, text) for language, texts in lists.items() for text in texts]

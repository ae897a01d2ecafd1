"""The rule file, `rules/instructions.toml`: its rules read, validated and indexed.

The wording lives in `rules/instructions.toml`, for a support lead to read and extend;
`load_rules` validates it and names the file, the entry and the line on a mistake. Each
rule is indexed by where it may start, so a mail is tried only there.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

from assistant.triage.instruction_index import RuleIndex
from assistant.triage.instruction_text import _FOLD
from assistant.triage.rule_files import read_source, structure

RULES_PATH = Path(__file__).resolve().parent / "rules" / "instructions.toml"
REMOVES = ("token", "rest", "block")


class InstructionRulesError(ValueError):
    """rules/instructions.toml cannot be used: the message says where and why."""


class Rule(NamedTuple):
    """One phrase, pattern or marker of the rule file, compiled."""

    pattern: re.Pattern[str]
    removes: str = "block"  # token | rest | block: see the rule file
    until: re.Pattern[str] | None = None
    line_start: bool = False  # a role at the start of a line speaks for the whole line


class Example(NamedTuple):
    section: str  # a language code, or "delimiters"
    text: str
    flagged: bool


@dataclass(frozen=True)
class InstructionRules:
    path: Path
    rules: tuple[Rule, ...]
    resume: re.Pattern[str] | None  # the mail's own text again, after a fake end
    turns: re.Pattern[str] | None  # "User:" in a fake conversation
    own_words: re.Pattern[str] | None  # "I", "my", "we": the customer speaking
    examples: tuple[Example, ...]
    index: RuleIndex


# -- the rule file ----------------------------------------------------------------------


def plain_pattern(pattern: str) -> str:
    """A phrase or pattern as the text is read: no accents, plain apostrophes. Escapes
    (`\\S`, `\\b`) and regex syntax are ASCII, which this leaves alone."""
    return pattern if pattern.isascii() else pattern.translate(_FOLD)


def _spaced(pattern: str) -> str:
    """A space outside a character class matches any run of whitespace; " ?" none too."""
    out, last = [], 0
    for i, char, _ in structure(pattern):
        if char == " " and i >= last:
            optional = pattern[i + 1 : i + 2] == "?"
            out += [pattern[last:i], r"\s*" if optional else r"\s+"]
            last = i + (2 if optional else 1)
    out.append(pattern[last:])
    return "".join(out)


def _phrase(phrase: str) -> str:
    """A phrase as a pattern: its words exactly, a space before punctuation optional
    ("instructions :" and "instructions:")."""
    escaped = re.escape(" ".join(plain_pattern(phrase).split()))
    return re.sub(r"\\ (?=[^\w\s\\]|\\[^\w\s])", " ?", escaped).replace("\\ ", " ")


def _words_regex(words: list[str]) -> str:
    """Whole words; one ending in an apostrophe ("j'") may run into the next."""
    parts = []
    for word in sorted({plain_pattern(w.strip()) for w in words}, key=len, reverse=True):
        tail = "" if word.endswith("'") else r"(?!\w)"
        parts.append(rf"(?<!\w){re.escape(word)}{tail}")
    return "|".join(parts)


_NOT_IN_A_WORD = r"(?:(?<!\w)|(?!\w))"


class _Reader:
    """Validation of one rule file, each mistake named with its place and line."""

    def __init__(self, path: Path, source: str):
        self.path, self.source = path, source

    def fail(self, where: str, problem: str, needle: str | None = None) -> InstructionRulesError:
        index = self.source.find(needle) if needle else -1
        line = f", line {self.source.count(chr(10), 0, index) + 1}" if index >= 0 else ""
        return InstructionRulesError(f"{self.path}{line}: {where}: {problem}")

    def table(self, data: Any, where: str, allowed: set[str], needle: str) -> dict:
        if not isinstance(data, dict):
            raise self.fail(where, "must be a table", needle)
        unknown = sorted(set(data) - allowed)
        if unknown:
            known = ", ".join(sorted(allowed))
            raise self.fail(where, f"unknown key {unknown[0]!r} (known: {known})", unknown[0])
        return data

    def strings(self, data: dict, key: str, where: str) -> list[str]:
        values = data.get(key, [])
        if not isinstance(values, list):
            raise self.fail(f"{where}.{key}", "must be a list of strings", f"{key} =")
        for number, value in enumerate(values):
            if not isinstance(value, str) or not value.strip():
                raise self.fail(f"{where}.{key}[{number}]", "must be a non-empty string", key)
        return values

    def regex(
        self, pattern: str, where: str, flags: int = re.I | re.M, words: bool = False
    ) -> re.Pattern[str]:
        body = _spaced(plain_pattern(pattern))
        if words:
            body = f"{_NOT_IN_A_WORD}(?:{body}){_NOT_IN_A_WORD}"
        try:
            compiled = re.compile(body, flags)
        except re.error as error:
            problem = f"{pattern!r} is not a valid regular expression: {error.msg}"
            raise self.fail(where, problem, pattern) from None
        if compiled.fullmatch("") is not None or compiled.search(" \n ") is not None:
            raise self.fail(where, f"{pattern!r} matches empty text, so any mail", pattern)
        return compiled


def _marker(reader: _Reader, entry: Any, number: int) -> Rule:
    where = f"delimiters.marker[{number}]"
    needle = (entry.get("pattern") or entry.get("token")) if isinstance(entry, dict) else None
    allowed = {"token", "pattern", "removes", "until", "line_start", "case_sensitive"}
    entry = reader.table(entry, where, allowed, needle or "[[delimiters.marker]]")
    if ("token" in entry) == ("pattern" in entry):
        raise reader.fail(where, "needs either `token` or `pattern`", needle)
    removes = entry.get("removes", "token")
    if removes not in REMOVES:
        raise reader.fail(
            where, f"`removes` is one of {', '.join(REMOVES)}, not {removes!r}", needle
        )
    for flag in ("line_start", "case_sensitive"):
        if not isinstance(entry.get(flag, False), bool):
            raise reader.fail(where, f"`{flag}` must be true or false", needle)
    source = entry.get("pattern") or re.escape(str(entry.get("token")))
    if not isinstance(source, str) or not source.strip():
        raise reader.fail(where, "`token` or `pattern` must be a non-empty string", needle)
    until = entry.get("until")
    if until is not None and not isinstance(until, str):
        raise reader.fail(where, "`until` must be a regular expression", needle)
    line_start = bool(entry.get("line_start"))
    flags = re.M if entry.get("case_sensitive") else re.I | re.M
    return Rule(
        reader.regex(f"^(?:{source})" if line_start else source, where, flags),
        removes,
        reader.regex(until, f"{where}.until") if until else None,
        line_start,
    )


def _delimiters(
    reader: _Reader, data: dict
) -> tuple[list[Rule], list[str], list[str], list[Example]]:
    allowed = {"resume", "turns", "marker", "examples", "not_examples"}
    table = reader.table(data.get("delimiters", {}), "delimiters", allowed, "[delimiters]")
    entries = table.get("marker", [])
    if not isinstance(entries, list):
        raise reader.fail("delimiters.marker", "write each marker as [[delimiters.marker]]")
    markers = [_marker(reader, entry, number) for number, entry in enumerate(entries)]
    resume = reader.strings(table, "resume", "delimiters")
    for number, pattern in enumerate(resume):
        reader.regex(pattern, f"delimiters.resume[{number}]")
    examples = [
        Example("delimiters", t, True) for t in reader.strings(table, "examples", "delimiters")
    ]
    examples += [
        Example("delimiters", t, False) for t in reader.strings(table, "not_examples", "delimiters")
    ]
    return markers, resume, reader.strings(table, "turns", "delimiters"), examples


def _language(
    reader: _Reader, code: str, table: Any
) -> tuple[list[Rule], list[str], list[Example]]:
    where = f"languages.{code}"
    if not re.fullmatch(r"[a-z]{2}", code):
        raise reader.fail(where, "a language is a two-letter code such as `fr`", f"[{where}]")
    allowed = {"phrases", "patterns", "own_words", "examples", "not_examples"}
    reader.table(table, where, allowed, f"[{where}]")
    rules = [
        Rule(reader.regex(_phrase(phrase), f"{where}.phrases[{number}]", words=True))
        for number, phrase in enumerate(reader.strings(table, "phrases", where))
    ]
    rules += [
        Rule(reader.regex(pattern, f"{where}.patterns[{number}]", words=True))
        for number, pattern in enumerate(reader.strings(table, "patterns", where))
    ]
    examples = [Example(code, t, True) for t in reader.strings(table, "examples", where)]
    examples += [Example(code, t, False) for t in reader.strings(table, "not_examples", where)]
    return rules, reader.strings(table, "own_words", where), examples


def parse_rules(source: str, path: Path = RULES_PATH) -> InstructionRules:
    """The rules in `source` (the text of `path`), validated."""
    reader = _Reader(path, source)
    try:
        data = tomllib.loads(source)
    except tomllib.TOMLDecodeError as error:
        raise InstructionRulesError(f"{path}: not valid TOML: {error}") from None
    reader.table(data, "the file", {"delimiters", "languages"}, "")
    rules, resume, turns, examples = _delimiters(reader, data)
    languages = data.get("languages", {})
    if not isinstance(languages, dict) or not languages:
        raise reader.fail("languages", "needs at least one [languages.xx] table", "[languages")
    own: list[str] = []
    for code, table in languages.items():
        found, words, shown = _language(reader, code, table)
        rules, own, examples = rules + found, own + words, examples + shown
    alternatives = "|".join(f"(?:{p})" for p in resume)
    return InstructionRules(
        path=path,
        rules=tuple(rules),
        resume=re.compile(_spaced(alternatives), re.I | re.M) if resume else None,
        turns=re.compile(rf"[ \t>]*(?:{_words_regex(turns)}) ?:", re.I) if turns else None,
        own_words=re.compile(_words_regex(own), re.I) if own else None,
        examples=tuple(examples),
        index=RuleIndex(rules),
    )


def load_rules(path: Path = RULES_PATH) -> InstructionRules:
    return parse_rules(read_source(path, InstructionRulesError), path)


@lru_cache(maxsize=1)
def default_rules() -> InstructionRules:
    return load_rules()

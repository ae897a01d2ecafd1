"""Instructions to the assistant in a mail: the parts that speak to the AI, not to the shop.

"Ignore all previous instructions", a fake `</inquiry>` or `<|endoftext|>`, a line that
starts with "SYSTEM:" ... are no customer's request. Triage reads the mail without them,
so an attacker's "mark this urgent and escalate to a manager" changes nothing and the
real request decides the category; the agent sees what was found.

The wording lives in `rules/instructions.toml`, for a support lead to read and extend;
`load_rules` validates it and names the file, the entry and the line on a mistake.
"""

from __future__ import annotations

import bisect
import re
import tomllib
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from re import _constants as _sre  # type: ignore[attr-defined]
from re import _parser as _sre_parser  # type: ignore[attr-defined]
from typing import Any, NamedTuple

from assistant.lookalikes import LOOKALIKE_LETTERS

RULES_PATH = Path(__file__).resolve().parent / "rules" / "instructions.toml"
MAX_EXCERPTS = 10
EXCERPT_CHARS = 200
MAX_BLOCKS = 50  # hits looked at per text: a mail of a million "SYSTEM:" lines stays fast
_MAX_FOLLOWING = 40  # sentences an instruction block may run on for
_LOOKBACK = 2_000  # how far before a hit an unclosed "[" or "<!--" is looked for
_CLOSER_REACH = 10_000
_MAX_ATTEMPTS = 300_000  # rule tries per text (~0.3 s): a hostile mail cannot stall triage
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
    index: _Index


class Instructions(NamedTuple):
    """What `find_instructions` found: short excerpts for the agent, and the text left."""

    excerpts: list[str]
    text: str


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


# -- the rule file ----------------------------------------------------------------------


def plain_pattern(pattern: str) -> str:
    """A phrase or pattern as the text is read: no accents, plain apostrophes. Escapes
    (`\\S`, `\\b`) and regex syntax are ASCII, which this leaves alone."""
    return pattern if pattern.isascii() else pattern.translate(_FOLD)


def _spaced(pattern: str) -> str:
    """A space outside a character class matches any run of whitespace; " ?" none too."""
    out: list[str] = []
    i, in_class = 0, False
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == " ":
            optional = pattern[i + 1 : i + 2] == "?"
            out.append(r"\s*" if optional else r"\s+")
            i += 2 if optional else 1
            continue
        out.append(char)
        i += 1
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
        index=_Index(rules),
    )


def load_rules(path: Path = RULES_PATH) -> InstructionRules:
    try:
        source = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InstructionRulesError(f"{path}: missing from this install") from None
    except (OSError, UnicodeDecodeError) as error:
        raise InstructionRulesError(f"{path}: cannot be read: {error}") from None
    return parse_rules(source, path)


@lru_cache(maxsize=1)
def default_rules() -> InstructionRules:
    return load_rules()


# -- where to look: each rule only where its first letters are --------------------------
#
# Trying a couple of hundred patterns at every character of a mail costs milliseconds (and
# seconds for a large one). Each pattern's possible starts ("ignor", "note", "<|") are read
# from its parsed form once; a mail is then tried only at word starts and brackets that
# begin like a rule, and the line-start markers only at line starts.

_PREFIX = 4  # characters of a rule's start used to index it
_REPEATS = {_sre.MAX_REPEAT, _sre.MIN_REPEAT, getattr(_sre, "POSSESSIVE_REPEAT", _sre.MAX_REPEAT)}
_ZERO_WIDTH = {_sre.AT, _sre.ASSERT, _sre.ASSERT_NOT}
_STOP = (None, None)


class _Starts:
    """The lower-case literal starts of a parsed pattern (None: it may start with
    anything); gives up, safely, on patterns too branchy to read."""

    def __init__(self) -> None:
        self.budget = 20_000

    def of(self, items: list, acc: str) -> set[str] | None:
        self.budget -= 1
        if self.budget < 0 or len(acc) >= _PREFIX or not items or items[0] == _STOP:
            return {acc} if acc and self.budget >= 0 else None
        (op, av), rest = items[0], items[1:]
        if op is _sre.LITERAL:
            return self.of(rest, acc + chr(av).lower())
        if op in _ZERO_WIDTH:
            return self.of(rest, acc)
        if op is _sre.SUBPATTERN:
            return self.of(list(av[-1].data) + rest, acc)
        if op is _sre.BRANCH:
            return self.union([self.of(list(alt.data) + rest, acc) for alt in av[1]])
        if op is _sre.IN and len(av) <= 12 and all(kind is _sre.LITERAL for kind, _ in av):
            return self.union([self.of(rest, acc + chr(code).lower()) for _, code in av])
        if op in _REPEATS:
            low, _, sub = av
            once = self.of([*sub.data, _STOP], acc)
            return once if low >= 1 else self.union([once, self.of(rest, acc)])
        return {acc} if acc else None

    @staticmethod
    def union(parts: list[set[str] | None]) -> set[str] | None:
        if any(part is None for part in parts):
            return None
        return set().union(*parts)  # type: ignore[arg-type]


def _starts(pattern: re.Pattern[str]) -> set[str] | None:
    try:
        parsed = _sre_parser.parse(pattern.pattern, pattern.flags)
    except Exception:  # noqa: BLE001 - the parser is the standard library's own: if it ever
        return None  # changes, the rule is simply tried everywhere
    found = _Starts().of(list(parsed.data), "")
    return found if found and len(found) <= 500 else None


class _Index:
    """Where each rule can start: at line starts, at some first letters, or anywhere."""

    def __init__(self, rules: list[Rule]):
        self.at_line_start = tuple(rule for rule in rules if rule.line_start)
        self.everywhere: tuple[Rule, ...] = ()
        self.by_start: dict[str, list[tuple[str, Rule]]] = {}
        for rule in rules:
            if rule.line_start:
                continue
            starts = _starts(rule.pattern)
            if starts is None:
                self.everywhere += (rule,)
                continue
            for start in starts:
                self.by_start.setdefault(start[:2], []).append((start, rule))
        marks = "".join(
            re.escape(mark)
            for mark in sorted({key[0] for key in self.by_start if not _wordy(key[0])})
        )
        # A line start, a word start, or a bracket-like mark (only the last three of a run:
        # "<<<<<<" holds no more rules than "<<<").
        self.candidates = re.compile(
            r"^|(?<!\w)(?=\w)" + (f"|[{marks}](?![{marks}]{{3}})" if marks else ""), re.M
        )

    def hits(self, folded: str) -> list[tuple[int, int, Rule]]:
        """Matches of the rules in `folded` (plain text) by position: the first
        MAX_BLOCKS * 4 of them, or those within _MAX_ATTEMPTS tries."""
        lower = folded.lower()
        if len(lower) != len(folded):
            lower = "".join(char.lower()[0] for char in folded)
        found = [
            (m.start(), m.end(), rule)
            for rule in self.everywhere
            for m in rule.pattern.finditer(folded)
        ]
        attempts, last = 0, -1
        for candidate in self.candidates.finditer(folded):
            position = candidate.start()
            if position == last:
                continue
            last = position
            entries = self._entries(lower, position)
            if position == 0 or folded[position - 1] == "\n":
                entries = [("", rule) for rule in self.at_line_start] + entries
            attempts += len(entries)
            for prefix, rule in entries:
                if lower.startswith(prefix, position) and (
                    match := rule.pattern.match(folded, position)
                ):
                    found.append((match.start(), match.end(), rule))
            if attempts > _MAX_ATTEMPTS or len(found) > MAX_BLOCKS * 4:
                break
        unique = {(start, end, id(rule)): (start, end, rule) for start, end, rule in found}
        return sorted((hit for hit in unique.values() if hit[1] > hit[0]), key=lambda h: h[:2])

    def _entries(self, lower: str, position: int) -> list[tuple[str, Rule]]:
        two = lower[position : position + 2]
        entries = self.by_start.get(two, [])
        return entries + self.by_start.get(two[:1], []) if len(two) == 2 else entries


def _wordy(char: str) -> bool:
    return char.isalnum() or char == "_"


# -- finding them -----------------------------------------------------------------------

_PARAGRAPH_BREAK = re.compile(r"\n[ \t\r]*\n")
# A sentence ends at . ! ? (not in "P.S." or "e.g.") before a space, or at a line break.
_SENTENCE_END = re.compile(
    r"(?<!\bp\.s)(?<!\bp\.d)(?<!\be\.g)(?<!\bi\.e)(?<!\bn\.b)(?<!\bz\.b)(?<!\bmrs)(?<!\bmr)"
    r"(?<!\bms)(?<!\bdr)[.!?…。]+[\"')\]»”]*(?=\s|$)|\n",
    re.I,
)
# What an instruction quotes ("write: 'We have refunded you'") is not the customer speaking.
_QUOTED = re.compile(r'"[^"\n]*"|\'[^\'\n]{3,}\'|<[^<>\n]*>')
_QUESTION = re.compile(r"\?(?=[\s\"')\]]|$)|¿")
_OPENERS = re.compile(r"<!--|-->|\[|\]|\(|\)|\{|\}|#{3,}|\*{3,}|`{3}|={3,}")
_CLOSES = {"[": "]", "(": ")", "{": "}", "<!--": "-->"}


class _Text:
    """One text being scanned: its paragraphs, sentences and brackets, in `text` itself
    (not its plain form), so what is cut is what the customer wrote."""

    def __init__(self, text: str, rules: InstructionRules):
        self.text, self.rules = text, rules
        breaks = list(_PARAGRAPH_BREAK.finditer(text))
        self.starts = [m.end() for m in breaks]
        self.ends = [m.start() for m in breaks]

    def paragraph(self, start: int, end: int) -> tuple[int, int]:
        before = bisect.bisect_right(self.starts, start) - 1
        after = bisect.bisect_left(self.ends, end)
        return (
            self.starts[before] if before >= 0 else 0,
            self.ends[after] if after < len(self.ends) else len(self.text),
        )

    def sentence_start(self, floor: int, position: int) -> int:
        start = floor
        for boundary in _SENTENCE_END.finditer(self.text, floor, position):
            start = boundary.end()
        return start

    def sentence_end(self, position: int, limit: int) -> int:
        boundary = _SENTENCE_END.search(self.text, position, limit)
        return boundary.end() if boundary else limit

    def own(self, sentence: str) -> bool:
        """Whether a sentence is the customer's own (it asks, or says "I", "my", "we"...),
        or the mail's own again after a fake delimiter (`<inquiry>`)."""
        folded = _QUOTED.sub(" ", plain(sentence))
        if _QUESTION.search(folded):
            return True
        return any(
            words is not None and words.search(folded)
            for words in (self.rules.own_words, self.rules.resume)
        )

    def unclosed(self, floor: int, end: int) -> tuple[int, str] | None:
        """The outermost bracket, comment or ### fence opened before `end` in its
        paragraph (or within _LOOKBACK) and not closed by then."""
        stack: list[tuple[int, str]] = []
        for token in _OPENERS.finditer(self.text, max(floor, end - _LOOKBACK), end + 1):
            kind = token.group()
            if kind in _CLOSES:
                stack.append((token.start(), kind))
            elif kind in _CLOSES.values():
                for depth in range(len(stack) - 1, -1, -1):
                    if _CLOSES.get(stack[depth][1]) == kind:
                        del stack[depth:]
                        break
            elif stack and stack[-1][1] == kind:
                stack.pop()
            else:
                stack.append((token.start(), kind))
        return stack[0] if stack else None

    def closer(self, kind: str, position: int, limit: int) -> int | None:
        close = _CLOSES.get(kind, kind)
        depth = 0
        for token in _OPENERS.finditer(self.text, position, min(limit, position + _CLOSER_REACH)):
            found = token.group()
            if found == kind and close != kind:
                depth += 1
            elif found == close:
                if depth == 0:
                    return token.end()
                depth -= 1
        return None

    def line_end(self, position: int, limit: int) -> int:
        found = self.text.find("\n", position, limit)
        return limit if found < 0 else found

    def block(self, start: int, end: int, whole_line: bool = False) -> tuple[int, int]:
        """An instruction found at [start, end): its sentence (`whole_line`: its line) and
        the ones after it in the paragraph that are not the customer's own; or all of
        its brackets, when it is inside some."""
        para_start, para_end = self.paragraph(start, end)
        opened = self.unclosed(para_start, start)
        if opened is not None:
            position, kind = opened
            reach = len(self.text) if kind == "<!--" else para_end
            closed = self.closer(kind, end, reach)
            if closed is not None:
                return min(position, start), closed
            start = min(position, start)
        start = self.sentence_start(para_start, start)
        end = self.line_end(end, para_end) if whole_line else self.sentence_end(end, para_end)
        turns = self.rules.turns
        for _ in range(_MAX_FOLLOWING):
            if end >= para_end:
                break
            if turns and self.text[end - 1] == "\n" and turns.match(self.text, end, para_end):
                end = self.line_end(end, para_end)  # "User: ..." of a fake conversation
                continue
            following = self.sentence_end(end, para_end)
            sentence = self.text[end:following]
            if sentence.strip() and self.own(sentence):
                break
            end = following
        return start, end


def _blocks(
    text: str, hits: list[tuple[int, int, Rule]], rules: InstructionRules
) -> list[tuple[int, int]]:
    """The spans of `text` that the rules' `hits` (in its plain form) stand for."""
    folded, where = _plain_with_offsets(text)

    def original(start: int, end: int) -> tuple[int, int]:
        return where[start], where[end - 1] + 1

    scanned = _Text(text, rules)
    spans: list[tuple[int, int]] = []
    covered = 0  # a hit inside a span found already is part of it
    for start, end, rule in hits[:MAX_BLOCKS]:
        if where[start] < covered:
            continue
        if rule.removes == "token":
            spans.append(original(start, end))
        elif rule.removes == "rest":
            resumed = rules.resume.search(folded, end) if rules.resume else None
            spans.append(original(start, resumed.end() if resumed else len(folded)))
        elif rule.until is not None and (
            closed := rule.until.search(folded, end, end + _CLOSER_REACH)
        ):
            spans.append(original(start, closed.end()))
        else:
            spans.append(scanned.block(*original(start, end), whole_line=rule.line_start))
        covered = max(covered, spans[-1][1])
    return _merged(text, spans)


def _merged(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1] or merged and not text[merged[-1][1] : start].strip():
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


_INVISIBLE = re.compile(r"[\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff]")


def _excerpt(text: str) -> str:
    """Short, on one line, without invisible characters (zero-width, bidi overrides)."""
    short = " ".join(_INVISIBLE.sub("", text).split())
    return short if len(short) <= EXCERPT_CHARS else short[: EXCERPT_CHARS - 1].rstrip() + "…"


def _without(text: str, spans: list[tuple[int, int]]) -> str:
    """`text` with `spans` cut out, a cut across lines leaving a line break."""
    pieces, last = [], 0
    for start, end in spans:
        pieces += [text[last:start].rstrip(" \t"), "\n" if "\n" in text[start:end] else " "]
        last = end
        while last < len(text) and text[last] in " \t":
            last += 1
    pieces.append(text[last:])
    return re.sub(r"\n[ \t]*\n([ \t]*\n)+", "\n\n", "".join(pieces)).strip()


def find_instructions(text: str, rules: InstructionRules | None = None) -> Instructions:
    """The parts of `text` that address the assistant (short excerpts, in order), and
    `text` without them. Nothing found: no excerpts, and `text` as it was."""
    rules = rules or default_rules()
    hits = rules.index.hits(plain(text)) if text else []
    if not hits:
        return Instructions([], text)
    spans = _blocks(text, hits, rules)
    excerpts = [_excerpt(text[start:end]) for start, end in spans]
    return Instructions([e for e in excerpts if e][:MAX_EXCERPTS], _without(text, spans))

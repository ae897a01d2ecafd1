"""Where each instruction rule can start in a mail, so that it is tried only there.

Trying a couple of hundred patterns at every character of a mail costs milliseconds (and
seconds for a large one). Each pattern's possible starts ("ignor", "note", "<|") are read
from its parsed form once; a mail is then tried only at word starts and brackets that
begin like a rule, and the line-start markers only at line starts.
"""

from __future__ import annotations

import re
from re import _constants as _sre  # type: ignore[attr-defined]
from re import _parser as _sre_parser  # type: ignore[attr-defined]
from typing import TYPE_CHECKING

from assistant.triage.rule_files import _trie

if TYPE_CHECKING:
    from assistant.triage.instruction_rules import Rule

MAX_BLOCKS = 50  # hits looked at per text: a mail of a million "SYSTEM:" lines stays fast
_MAX_ATTEMPTS = 300_000  # rule tries per text (~0.3 s): a hostile mail cannot stall triage
_WINDOWS_REMEMBERED = 100_000  # distinct word starts whose rules are remembered

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


class RuleIndex:
    """Where each rule can start: at line starts, at some first letters, or anywhere."""

    def __init__(self, rules: list[Rule]):
        self.rank = {id(rule): index for index, rule in enumerate(rules)}  # the file's order
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
        # A line start, a word start where some rule can start (one regex, grouped by
        # leading letters: trying the rules at every word was a third of local triage),
        # or a bracket-like mark (only the last three of a run: "<<<<<<" holds no more
        # rules than "<<<"). Rules that start anywhere in a word are tried everywhere.
        words = sorted({start for start, _ in self._all() if _wordy(start[0])})
        word_starts = f"(?<!\\w)(?=(?:{_trie([re.escape(w) for w in words])}))" if words else ""
        self.candidates = re.compile(
            "|".join(
                part
                for part in ("^", word_starts, f"[{marks}](?![{marks}]{{3}})" if marks else "")
                if part
            ),
            re.M,
        )

        # The rules by the exact letters they start with (at most _PREFIX of them).
        self.by_prefix: dict[str, list[Rule]] = {}
        for start, rule in self._all():
            self.by_prefix.setdefault(start, []).append(rule)
        self.longest = max((len(start) for start in self.by_prefix), default=0)
        self._windows: dict[str, list[Rule]] = {}

    def _rules_at(self, window: str) -> list[Rule]:
        """The rules whose start `window` begins with, remembered per window (mail
        repeats its words: "you ", "the ", "for ")."""
        rules = self._windows.get(window)
        if rules is None:
            rules = [
                rule
                for length in range(1, len(window) + 1)
                for rule in self.by_prefix.get(window[:length], ())
            ]
            if len(self._windows) < _WINDOWS_REMEMBERED:
                self._windows[window] = rules
        return rules

    def _all(self) -> list[tuple[str, Rule]]:
        return [entry for entries in self.by_start.values() for entry in entries]

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
        for candidate in self.candidates.finditer(lower):
            position = candidate.start()
            if position == last:
                continue
            last = position
            rules = self._rules_at(lower[position : position + self.longest])
            if position == 0 or folded[position - 1] == "\n":
                rules = [*self.at_line_start, *rules]
            attempts += len(rules)
            for rule in rules:
                if match := rule.pattern.match(folded, position):
                    found.append((match.start(), match.end(), rule))
            if attempts > _MAX_ATTEMPTS or len(found) > MAX_BLOCKS * 4:
                break
        unique = {(start, end, id(rule)): (start, end, rule) for start, end, rule in found}
        return sorted(
            (hit for hit in unique.values() if hit[1] > hit[0]),
            key=lambda h: (h[0], h[1], self.rank[id(h[2])]),
        )


def _wordy(char: str) -> bool:
    return char.isalnum() or char == "_"

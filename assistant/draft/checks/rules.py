"""The checks' word lists, loaded from `templates/checks/*.toml` and validated once.

A support lead edits those files, not this code; a broken pattern stops the assistant at
start-up with the file and the entry named, never a traceback in the middle of a batch.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from assistant.resources import shipped_dir

LANGUAGES = ("en", "fr", "es", "de", "pt", "it", "nl")


class CheckRulesError(ValueError):
    """A word list under templates/checks/ that cannot be used, with where and why."""


@dataclass(frozen=True)
class Claim:
    kind: str
    message: str
    patterns: tuple[tuple[str, re.Pattern[str]], ...]  # (language, pattern)
    combined: re.Pattern[str]  # all of them in one pass (a draft is scanned once per claim)
    escalation: bool  # only a claim while the inquiry is not escalated
    echo: bool  # no claim when the customer's own words use one of these words too
    examples: tuple[str, ...]
    not_examples: tuple[str, ...]


@dataclass(frozen=True)
class MoneyAndDates:
    money: tuple[re.Pattern[str], ...]
    dates: tuple[re.Pattern[str], ...]
    policy_time_frames: tuple[re.Pattern[str], ...]
    same_day: dict[str, tuple[str, ...]]  # a weekday or month name → its names in every language


def _path(name: str) -> Path:
    return shipped_dir("templates") / "checks" / name


def _read(name: str) -> dict:
    path = _path(name)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise CheckRulesError(f"{path}: missing from this install") from error
    except tomllib.TOMLDecodeError as error:
        raise CheckRulesError(f"{path}: {error}") from error


def _compile(pattern: object, where: str) -> re.Pattern[str]:
    if not isinstance(pattern, str) or not pattern.strip():
        raise CheckRulesError(f"{where}: a pattern must be a non-empty string")
    try:
        return re.compile(pattern, re.I)
    except re.error as error:
        raise CheckRulesError(
            f"{where}: {pattern!r} is not a valid regular expression: {error}"
        ) from error


def _words(data: dict, key: str, where: str) -> list[str]:
    words = data.get(key)
    if not isinstance(words, list) or not all(isinstance(w, str) and w for w in words):
        raise CheckRulesError(f"{where}: `{key}` must be a list of words")
    return sorted(words, key=len, reverse=True)  # the longest alternative first


@lru_cache(maxsize=1)
def claims() -> tuple[Claim, ...]:
    path = _path("claims.toml")
    data = _read("claims.toml")
    found = []
    for number, entry in enumerate(data.get("claim", []), 1):
        where = f"{path}, claim {number} ({entry.get('kind', 'no kind')})"
        if not entry.get("kind") or not entry.get("message"):
            raise CheckRulesError(f"{where}: every claim needs a `kind` and a `message`")
        unknown = set(entry) - {
            "kind",
            "message",
            "escalation",
            "echo",
            "examples",
            "not_examples",
            *LANGUAGES,
        }
        if unknown:
            raise CheckRulesError(f"{where}: unknown keys {sorted(unknown)}")
        patterns = tuple(
            (language, _compile(pattern, f"{where}, {language}"))
            for language in LANGUAGES
            for pattern in entry.get(language, [])
        )
        found.append(
            Claim(
                kind=entry["kind"],
                message=entry["message"],
                patterns=patterns,
                combined=re.compile("|".join(f"(?:{p.pattern})" for _, p in patterns), re.I),
                escalation=bool(entry.get("escalation", False)),
                echo=bool(entry.get("echo", False)),
                examples=tuple(entry.get("examples", [])),
                not_examples=tuple(entry.get("not_examples", [])),
            )
        )
    if not found:
        raise CheckRulesError(f"{path}: no [[claim]] entries")
    return tuple(found)


@dataclass(frozen=True)
class ClaimReading:
    """How claims are read: adverbs left out, and what makes a match no claim."""

    adverbs: re.Pattern[str]
    conditions: re.Pattern[str]  # anywhere before the match in its sentence
    reported: re.Pattern[str]


@lru_cache(maxsize=1)
def claim_reading() -> ClaimReading:
    where = str(_path("claims.toml"))
    data = _read("claims.toml")

    def any_of(key: str) -> re.Pattern[str]:
        words = "|".join(re.escape(w) for w in _words(data, key, where))
        return re.compile(rf"(?<![\w'’])(?:{words})(?![\w'’])", re.I)

    return ClaimReading(any_of("adverbs"), any_of("conditions"), any_of("reported"))


@lru_cache(maxsize=1)
def negations() -> dict[str, frozenset[str]]:
    data = _read("claims.toml").get("negations", {})
    return {language: frozenset(data.get(language, [])) for language in LANGUAGES}


@lru_cache(maxsize=1)
def all_negations() -> frozenset[str]:
    return frozenset().union(*negations().values())


@lru_cache(maxsize=1)
def money_and_dates() -> MoneyAndDates:
    where = str(_path("money_and_dates.toml"))
    data = _read("money_and_dates.toml")
    signs = "|".join(re.escape(s) for s in _words(data, "currency_signs", where))
    codes = "|".join(_words(data, "currency_codes", where))
    names = "|".join(_words(data, "currency_words", where))
    numbers = "|".join(re.escape(w) for w in _words(data, "number_words", where))
    amount = r"\d[\d.,  ]*\d|\d"
    money = (
        rf"(?:{signs})\s?(?:{amount})",
        rf"(?<![\w.,])(?:{amount})\s?(?:{signs}|(?:{codes}|{names})\b)",
        rf"\b(?:{codes})\s?(?:{amount})",
        rf"\b(?:{numbers})(?:[\s-]+(?:and\s+|et\s+|y\s+|und\s+|e\s+|en\s+)?(?:{numbers}))*\s+"
        rf"(?:{names})\b",
    )
    groups = _groups(data, "months", where) + _groups(data, "weekdays", where)
    same_day = {name: group for group in groups for name in group}
    months = "|".join(n for g in _groups(data, "months", where) for n in g)
    weekdays = "|".join(n for g in _groups(data, "weekdays", where) for n in g)
    day = r"(?:0?[1-9]|[12]\d|3[01])"
    month = r"(?:0?[1-9]|1[0-2])"
    dates = (
        r"\b\d{4}-\d{2}-\d{2}\b",
        rf"(?<![\d.,/])(?!(?:1/[234]|3/4|2/3)\b(?!/))(?:{day}/{month}|{month}/{day})"
        rf"(?:/(?:\d{{4}}|\d{{2}}))?(?![\d/])(?!\s*(?:size|sizes|inch|in\b|cm|\"))",
        rf"(?<![\d.,]){day}[.-]{month}[.-](?:\d{{4}}|\d{{2}})(?![\d.])",
        rf"\b{day}(?:st|nd|rd|th|er|º|\.)?\s+(?:de\s+|of\s+)?(?:{months})\b",
        rf"\b(?:{months})\s+{day}(?:st|nd|rd|th)?\b",
        rf"\b(?:by|before|until|in|early|late|mid|end of|d[\x27’]ici|fin|avant|antes de|hasta|"
        rf"bis|ende|até|entro|eind|voor|im|en|em|a|in)\s+(?:{months})\b",
        rf"\b(?:{weekdays})\b",
        *(str(p) for p in data.get("relative", [])),
    )
    checked = [_compile(p, f"{where}, dates") for p in dates]  # each named on a mistake
    return MoneyAndDates(
        money=(_compile("|".join(f"(?:{p})" for p in money), f"{where}, money"),),
        dates=(re.compile("|".join(f"(?:{p.pattern})" for p in checked), re.I),),
        policy_time_frames=tuple(
            _compile(p, f"{where}, policy_time_frames") for p in data.get("policy_time_frames", [])
        ),
        same_day=same_day,
    )


def _groups(data: dict, key: str, where: str) -> list[tuple[str, ...]]:
    groups = data.get(key)
    if not isinstance(groups, list) or not all(
        isinstance(g, list) and g and all(isinstance(w, str) and w for w in g) for g in groups
    ):
        raise CheckRulesError(f"{where}: `{key}` must be a list of lists of names")
    return [tuple(g) for g in groups]


@lru_cache(maxsize=1)
def addressee() -> dict:
    data = _read("addressee.toml")
    where = str(_path("addressee.toml"))
    return {
        "greetings": _words(data, "greetings", where),
        "titles": _words(data, "titles", where),
        "generic": frozenset(w.lower() for w in _words(data, "generic", where)),
    }


@lru_cache(maxsize=1)
def directives() -> tuple[tuple[re.Pattern[str], ...], list[str]]:
    """The reply directives (compiled) and the sign-offs, from directives.toml."""
    where = str(_path("directives.toml"))
    data = _read("directives.toml")
    addressee = data.get("addressee")
    if not isinstance(addressee, str) or not addressee:
        raise CheckRulesError(f"{where}: `addressee` must be a pattern")
    table = data.get("patterns")
    if not isinstance(table, dict):
        raise CheckRulesError(f"{where}: a [patterns] table is missing")
    unknown = set(table) - {"all", *LANGUAGES}
    if unknown:
        raise CheckRulesError(f"{where}: [patterns] has unknown languages {sorted(unknown)}")
    patterns = [
        _compile(pattern.replace("{addressee}", addressee), f"{where}, patterns.{language}")
        for language, entries in table.items()
        for pattern in entries
    ]
    anywhere = re.compile("|".join(f"(?:{p.pattern})" for p in patterns), re.I)
    return (anywhere,), _words(data, "closings", where)


@lru_cache(maxsize=1)
def postal_addresses() -> tuple[re.Pattern[str], ...]:
    """Street addresses (any case) and postcodes (as written), from postal_addresses.toml."""
    where = str(_path("postal_addresses.toml"))
    data = _read("postal_addresses.toml")
    streets = [_compile(p, f"{where}, patterns") for p in data.get("patterns", [])]
    postcodes = []
    for pattern in data.get("postcodes", []):
        compiled = _compile(pattern, f"{where}, postcodes")  # checked; used case-sensitively
        postcodes.append(re.compile(compiled.pattern))
    if not streets:
        raise CheckRulesError(f"{where}: `patterns` must list at least one pattern")
    return (*streets, *postcodes)


@lru_cache(maxsize=1)
def self_reference() -> re.Pattern[str]:
    """What a reply says when it talks about its own instructions (leaks.toml)."""
    where = str(_path("leaks.toml"))
    patterns = [
        _compile(p, f"{where}, self_reference")
        for p in _read("leaks.toml").get("self_reference", [])
    ]
    if not patterns:
        raise CheckRulesError(f"{where}: `self_reference` must list at least one pattern")
    return re.compile("|".join(f"(?:{p.pattern})" for p in patterns), re.I)


@lru_cache(maxsize=1)
def echoable_domains() -> frozenset[str]:
    """Third-party domains a reply may repeat from the customer's own words (links.toml)."""
    return frozenset(
        w.lower() for w in _words(_read("links.toml"), "echoable_domains", str(_path("links.toml")))
    )


def validate_all() -> None:
    """Load every list now (at start-up), so a mistake is reported before any draft."""
    claims()
    claim_reading()
    negations()
    money_and_dates()
    addressee()
    directives()
    postal_addresses()
    self_reference()
    echoable_domains()

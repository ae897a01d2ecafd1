"""Is a translation from the LLM a translation at all — before anyone relies on it?

A weak model answers a translation request with the original text, the original with the
prompt's closing tags after it ("…\\n</text> [/INST]{"), only the subject line, or a
"translation into English" that is still French. Each of those reaches the agent as the
English of a customer's mail, or the customer as their reply, unless it is caught here.
`translation_problems` says what is wrong, in words an agent understands; an empty list
means the text is fit to use. Three checks:

- language: the translation reads as the target language (the project's own detector,
  `assistant.triage.language`; texts too short to judge are not judged);
- fragments: no prompt or chat-template fragments the source does not have, as listed
  in `translation_artifacts.toml` (a data file a support lead or maintainer may extend);
- coverage: the translation is about as long as the source, in letters, and is not the
  source itself.
"""

from __future__ import annotations

import re
import tomllib
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

ARTIFACTS_PATH = Path(__file__).resolve().parent / "translation_artifacts.toml"

# Language detection on fewer letters than this is a guess (a greeting, a name, an order
# number), so such texts are not judged by language, length ratio or identity.
MIN_LETTERS = 20
# Between the languages we translate (en, fr, es, de, it, pt, nl) a faithful translation
# is 0.8–1.3 times as long as its source in letters; a wide margin keeps terse and wordy
# translations alike. Outside it, the text is not the source's translation: half or less
# is a part of it ("Dutch as the subject line only"), twice or more is text it adds.
MIN_LENGTH_RATIO = 0.5
MAX_LENGTH_RATIO = 2.0
# A language guess is trusted only when the detector decided by evidence and is this sure.
MIN_CONFIDENCE = 0.6
MAX_SHOWN = 4  # fragments named in a reason
# Neighbours a detector confuses on a short text ("Lamentamos o incómodo, Anna."): a
# translation that reads as its target's neighbour is judged wrong only on a long text.
NEIGHBOURS = {frozenset({"pt", "es"}), frozenset({"nl", "de"}), frozenset({"it", "es"})}
NEIGHBOUR_LETTERS = 120
# Links, addresses and codes are the same in every language and read as English to a
# detector ("order", "status", "tracking"): left out before language and length are judged.
_UNTRANSLATED = re.compile(
    r"(?:https?://|www\.)\S+|\S+@\S+\.\w+|\b(?=[A-Z0-9-]*\d)[A-Z0-9][A-Z0-9-]{4,}\b"
)

NAMES = {
    "en": "English",
    "fr": "French",
    "es": "Spanish",
    "de": "German",
    "it": "Italian",
    "pt": "Portuguese",
    "nl": "Dutch",
}


class TranslationArtifactsError(ValueError):
    """translation_artifacts.toml cannot be used: the message names the file and entry."""


class Artifact(NamedTuple):
    pattern: re.Pattern[str]
    what: str


@lru_cache(maxsize=8)
def load_artifacts(path: Path = ARTIFACTS_PATH) -> tuple[Artifact, ...]:
    """The fragments of `path`, compiled and validated (read once per file)."""

    def fail(problem: str) -> TranslationArtifactsError:
        return TranslationArtifactsError(f"{path}: {problem}")

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise fail(f"cannot be read ({error})") from error
    except tomllib.TOMLDecodeError as error:
        raise fail(f"not valid TOML ({error})") from error
    unknown = sorted(set(data) - {"artifact"})
    if unknown:
        raise fail(f"unknown top-level key(s) {', '.join(unknown)}; only [[artifact]] tables")
    entries = data.get("artifact")
    if not isinstance(entries, list) or not entries:
        raise fail("no [[artifact]] tables (each with a pattern and what it is)")
    artifacts, seen = [], set()
    for number, entry in enumerate(entries, 1):
        if not isinstance(entry, dict):
            raise fail(f"artifact {number} is not a table")
        pattern, what = entry.get("pattern"), entry.get("what")
        where = f"artifact {number}" + (f" ({pattern!r})" if isinstance(pattern, str) else "")
        extra = sorted(set(entry) - {"pattern", "what"})
        if extra:
            raise fail(f"{where}: unknown key(s) {', '.join(extra)}; only pattern and what")
        if not isinstance(pattern, str) or not pattern:
            raise fail(f"{where}: needs a pattern, a regular expression as a string")
        if not isinstance(what, str) or not what.strip():
            raise fail(f"{where}: needs what, a few words saying what the fragment is")
        try:
            compiled = re.compile(pattern)
        except re.error as error:
            raise fail(f"{where}: not a regular expression ({error})") from error
        if compiled.search(""):
            raise fail(f"{where}: matches an empty text, so it would match every translation")
        if pattern in seen:
            raise fail(f"{where}: listed twice")
        seen.add(pattern)
        artifacts.append(Artifact(compiled, what.strip()))
    return tuple(artifacts)


def translation_problems(source: str, translated: str, target_language: str) -> list[str]:
    """What makes `translated` unfit as the `target_language` (ISO 639-1) translation of
    `source`: short sentences for the agent; empty when it is fine."""
    problems = []
    leaked, cleaned = _fragments(source, translated)
    if leaked:
        problems.append(f"contains prompt fragments: {', '.join(leaked)}")
    source, cleaned = _UNTRANSLATED.sub(" ", source), _UNTRANSLATED.sub(" ", cleaned)
    source_letters, translated_letters = _letters(source), _letters(cleaned)
    if source_letters < MIN_LETTERS and translated_letters < MIN_LETTERS:
        return problems
    source_language = _sure_language(source) if source_letters >= MIN_LETTERS else None
    target = _name(target_language)
    direction = f"{_name(source_language)}→{target}" if source_language else f"in {target}"
    if _same_text(source, cleaned) and source_language != target_language.lower():
        problems.append(f"not {direction}: it is the source text, untranslated")
        return problems
    if translated_letters >= MIN_LETTERS:
        found = _sure_language(cleaned)
        target_code = target_language.lower()
        neighbours = frozenset({found, target_code}) in NEIGHBOURS
        if (
            found
            and found != target_code
            and (
                found == source_language
                or not neighbours
                or translated_letters >= NEIGHBOUR_LETTERS
            )
        ):
            problems.append(f"not {direction}: the text reads as {_name(found)}")
    if source_letters >= MIN_LETTERS:
        ratio = translated_letters / source_letters
        if ratio < MIN_LENGTH_RATIO:
            problems.append(
                f"covers {ratio:.0%} of the source's length: most of the text is not translated"
            )
        elif ratio > MAX_LENGTH_RATIO:
            problems.append(
                f"is {ratio:.0%} of the source's length: it adds text the source does not have"
            )
    return problems


def _fragments(source: str, translated: str) -> tuple[list[str], str]:
    """The fragments in `translated` that `source` has fewer of (a customer may quote a
    tag; the model repeating it is no leak), in reading order, and `translated` without
    any fragment."""
    leaked: list[tuple[int, str]] = []
    cleaned = translated
    for artifact in load_artifacts():
        found = list(artifact.pattern.finditer(translated))
        if not found:
            continue
        cleaned = artifact.pattern.sub(" ", cleaned)
        quoted = Counter(match.group() for match in artifact.pattern.finditer(source))
        for match in found:  # each exact fragment beyond what the customer's text has
            if quoted[match.group()] > 0:
                quoted[match.group()] -= 1
            else:
                leaked.append((match.start(), match.group()))
    shown: list[str] = []
    for _, text in sorted(leaked):
        text = text if len(text) <= 30 else text[:29] + "…"
        if text not in shown:
            shown.append(text)
    return shown[:MAX_SHOWN], cleaned


def _letters(text: str) -> int:
    return sum(char.isalpha() for char in text)


def _same_text(source: str, translated: str) -> bool:
    """The same words in the same order (spacing, case and punctuation aside)."""
    return _WORDS.findall(source.casefold()) == _WORDS.findall(translated.casefold())


_WORDS = re.compile(r"\w+")


def _sure_language(text: str) -> str | None:
    # Imported here: the triage package loads its rule tables, which few callers need.
    from assistant.triage.language import FIRM_METHODS, detect_language

    guess = detect_language(text)
    if guess.method in FIRM_METHODS and guess.confidence >= MIN_CONFIDENCE:
        return guess.language
    return None


def _name(language: str) -> str:
    return NAMES.get(language.lower(), language)

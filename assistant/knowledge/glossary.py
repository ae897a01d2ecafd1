"""Reading other languages' mail against English entries: a support glossary, word by word.

Entries are written in English; without an LLM there is no translation of a German mail.
`glossary.toml` (a data file a support lead may extend) maps the words customers use in
French, Spanish, German, Portuguese, Italian and Dutch to the English word an entry would
use: "Rückerstattung" → "refund", "mot de passe" → "password". Both sides are cut to stems
and folded like the index, stop words kept ("pas reçu" is not "reçu"), and a phrase
matches only as a whole, longest first, so "geld terug" is read before "geld". What is found is searched in the English index, beside
the mail's own words in its own language's index.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

from assistant.knowledge.entries import KnowledgeError

GLOSSARY_PATH = Path(__file__).resolve().parent / "glossary.toml"


@dataclass(frozen=True)
class LanguageGlossary:
    """One language's phrases (as stem tuples) and the English each stands for."""

    phrases: dict[tuple[str, ...], str]
    longest: int

    @cached_property
    def first_words(self) -> frozenset[str]:
        return frozenset(phrase[0] for phrase in self.phrases)

    def english(self, words: list[str]) -> list[str]:
        """The English of every glossary phrase in `words` (tokens), longest match first."""
        found, position = [], 0
        while position < len(words):
            if words[position] not in self.first_words:
                position += 1
                continue
            for size in range(min(self.longest, len(words) - position), 0, -1):
                english = self.phrases.get(tuple(words[position : position + size]))
                if english:
                    found.append(english)
                    position += size
                    break
            else:
                position += 1
        return found


def read_glossary(path: Path = GLOSSARY_PATH) -> dict[str, dict[str, list[str]]]:
    """language → English term → the phrases that stand for it, as the file has them."""
    try:
        terms = tomllib.loads(path.read_text(encoding="utf-8")).get("term", [])
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise KnowledgeError(f"{path.name}: cannot be read as TOML ({error})") from error
    by_language: dict[str, dict[str, list[str]]] = {}
    for number, term in enumerate(terms, 1):
        english = term.get("en") if isinstance(term, dict) else None
        if not isinstance(english, str) or not english.strip():
            raise KnowledgeError(f'{path.name}: term {number} has no English word (en = "...")')
        for language, phrases in term.items():
            if language == "en":
                continue
            if isinstance(phrases, str):
                phrases = [phrases]
            if not isinstance(phrases, list) or not all(isinstance(p, str) for p in phrases):
                raise KnowledgeError(
                    f"{path.name}: term {number} ({english}): {language} must be a list of words"
                )
            by_language.setdefault(language, {}).setdefault(english, []).extend(phrases)
    return by_language


@lru_cache(maxsize=16)
def glossary(language: str) -> LanguageGlossary:
    """The glossary of one language, its phrases tokenized as that language's mail is."""
    from assistant.knowledge.retrieval import tokenizer

    words = tokenizer(language)
    phrases: dict[tuple[str, ...], str] = {}
    for english, written in read_glossary().get(language, {}).items():
        for phrase in written:
            stems = tuple(words(phrase, keep_stopwords=True))
            if stems:
                phrases.setdefault(stems, english)
    return LanguageGlossary(phrases, max((len(p) for p in phrases), default=0))

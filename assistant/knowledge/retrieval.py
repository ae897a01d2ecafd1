"""Which entries answer an inquiry: BM25 over title, keywords and text, per language.

bm25s builds the index (idf, length normalisation); a query adds up the postings of its
words with numpy, which keeps one inquiry well under a millisecond at a thousand entries.
Words are cut to their stems by the Snowball stemmer of the query's language and folded
to plain letters, so "tailles" finds "taille" and "Größe" finds "grosse". Entries are
written in English, but their keywords may be in any language: mail that has no English
translation is matched against those, and the words the support glossary knows
(glossary.py) are also looked up, in English, in the English index. The triage category is
a prior, not a filter: an entry filed under the same category scores higher.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cached_property, lru_cache
from threading import Lock

import bm25s
import bm25s.stopwords
import numpy as np
import Stemmer

from assistant.knowledge.entries import Entry, Kind
from assistant.knowledge.glossary import glossary

# ISO 639-1 → (Snowball stemmer, bm25s stop-word list).
LANGUAGES = {
    "en": ("english", "STOPWORDS_EN_PLUS"),
    "fr": ("french", "STOPWORDS_FRENCH"),
    "es": ("spanish", "STOPWORDS_SPANISH"),
    "de": ("german", "STOPWORDS_GERMAN"),
    "pt": ("portuguese", "STOPWORDS_PORTUGUESE"),
    "it": ("italian", "STOPWORDS_ITALIAN"),
    "nl": ("dutch", "STOPWORDS_DUTCH"),
}
_WORD = re.compile(r"[^\W\d_]{2,}")
_QUOTED_LINE = re.compile(r"^[ \t]*>.*$", re.M)
# A title and keywords say what an entry is about more surely than a word of its text.
TITLE_WEIGHT = 2
TEXT_WEIGHT = 1.0
# A keyword of several words found whole in a mail says more than its words one by one.
PHRASE_BONUS = 3.0
# A policy document covers a whole subject, so it matches much mail a little: an answer
# written for the question that matches as well comes first.
POLICY_WEIGHT = 0.8
# Triage names the category right far more often than one word of a mail names its topic.
CATEGORY_PRIOR = 0.6


@dataclass(frozen=True)
class Match:
    entry: Entry
    score: float


class Tokenizer:
    """One language's words: lower case, no stop words, stemmed, then folded to ASCII."""

    def __init__(self, language: str):
        stemmer, stopwords = LANGUAGES.get(language, (None, None))
        self.language = language if stemmer else "xx"
        self._stem = Stemmer.Stemmer(stemmer).stemWords if stemmer else (lambda w: w)
        listed = getattr(bm25s.stopwords, stopwords) if stopwords else ()
        self._stopwords = frozenset(word.lower() for word in listed)

    def __call__(self, text: str, keep_stopwords: bool = False) -> list[str]:
        """The words of `text` in order; with `keep_stopwords`, "pas reçu" stays two words."""
        words = [
            w for w in _WORD.findall(text.lower()) if keep_stopwords or w not in self._stopwords
        ]
        return [_fold(stem) for stem in self._stem(words)]

    def read(self, text: str) -> tuple[set[str], list[str]]:
        """Both at once, for a query: the content words, and every word in order."""
        words = _WORD.findall(text.lower())
        stems = [_fold(stem) for stem in self._stem(words)]
        content = {stem for word, stem in zip(words, stems) if word not in self._stopwords}
        return content, stems


@lru_cache(maxsize=4096)
def _fold(word: str) -> str:
    decomposed = unicodedata.normalize("NFKD", word.replace("ß", "ss"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@lru_cache(maxsize=16)
def tokenizer(language: str) -> Tokenizer:
    return Tokenizer(language)


class _Index:
    """The postings of one language's index: word → (entry positions, BM25 weights)."""

    def __init__(self, documents: list[list[str]]):
        model = bm25s.BM25()
        model.index(documents, show_progress=False)
        scores = model.scores
        pointers, rows, weights = scores["indptr"], scores["indices"], scores["data"]
        self.size = int(scores["num_docs"])
        self.postings = {
            word: (rows[pointers[i] : pointers[i + 1]], weights[pointers[i] : pointers[i + 1]])
            for word, i in model.vocab_dict.items()
            if word and i < len(pointers) - 1
        }

    def scores(self, words: set[str]) -> np.ndarray:
        hits = [self.postings[w] for w in words if w in self.postings]
        if not hits:
            return np.zeros(self.size)
        rows = np.concatenate([h[0] for h in hits])
        weights = np.concatenate([h[1] for h in hits])
        return np.bincount(rows, weights=weights, minlength=self.size)


@dataclass(frozen=True)
class _Fields:
    """An entry's topic (title, keywords) and its text are scored apart, BM25F-like: a
    mail's word that names the topic counts for more than one its text happens to use."""

    topic: _Index
    text: _Index
    phrases: dict[tuple[str, ...], tuple[int, ...]]  # a keyword of 2+ words → its entries
    longest: int

    @cached_property
    def openings(self) -> frozenset[tuple[str, str]]:
        """The first two words of every phrase: most words of a mail start none."""
        return frozenset((phrase[0], phrase[1]) for phrase in self.phrases)

    def scores(self, words: set[str], in_order: list[str]) -> np.ndarray:
        """BM25 of the content `words`; and a keyword phrase found whole among the words
        `in_order` (stop words kept: "heel strap", "geld terug") adds PHRASE_BONUS."""
        scores = self.topic.scores(words) + TEXT_WEIGHT * self.text.scores(words)
        found: set[int] = set()
        for start in range(len(in_order) - 1):
            if (in_order[start], in_order[start + 1]) not in self.openings:
                continue
            for size in range(2, min(self.longest, len(in_order) - start) + 1):
                found.update(self.phrases.get(tuple(in_order[start : start + size]), ()))
        if found:
            scores[list(found)] += PHRASE_BONUS
        return scores


class Retriever:
    """The entries of one knowledge base, ranked against an inquiry's text."""

    def __init__(self, entries: tuple[Entry, ...]):
        self.entries = entries
        self._indexes: dict[str, _Fields] = {}
        self._policy_weights = np.fromiter(
            (POLICY_WEIGHT if e.kind is Kind.policy else 1.0 for e in entries),
            dtype=float,
            count=len(entries),
        )
        self._categories: dict[str, np.ndarray] = {}
        self._lock = Lock()

    def _index(self, language: str) -> _Fields:
        """Each language's index is built the first time mail in it arrives."""
        with self._lock:
            if language not in self._indexes:
                words = tokenizer(language)
                phrases: dict[tuple[str, ...], set[int]] = {}
                for position, entry in enumerate(self.entries):
                    for keyword in entry.meta.keywords:
                        phrase = tuple(words(keyword, keep_stopwords=True))
                        if len(phrase) > 1:
                            phrases.setdefault(phrase, set()).add(position)
                self._indexes[language] = _Fields(
                    _Index([words(_topic(e)) for e in self.entries]),
                    _Index([words(e.plain_text) for e in self.entries]),
                    {phrase: tuple(sorted(at)) for phrase, at in phrases.items()},
                    max(map(len, phrases), default=0),
                )
            return self._indexes[language]

    def rank(
        self,
        text: str,
        language: str = "en",
        category: str | None = None,
        prior: float = CATEGORY_PRIOR,
        limit: int | None = None,
    ) -> list[Match]:
        """Every entry sharing a word with `text` (the best `limit`), best first; `prior`
        raises the score of entries filed under `category` by that fraction."""
        if not self.entries:
            return []
        words = tokenizer(language)
        text = _QUOTED_LINE.sub("", text)
        content, in_order = words.read(text)
        scores = self._index(words.language).scores(content, in_order)
        if words.language not in ("en", "xx"):
            english = " ".join(glossary(words.language).english(in_order))
            if english:
                scores = scores + self._index("en").scores(*tokenizer("en").read(english))
        scores = scores * self._policy_weights
        if category and prior:
            scores = scores * (1.0 + prior * self._filed_under(category))
        found = np.flatnonzero(scores > 0)
        if limit is not None and len(found) > limit:
            found = found[np.argpartition(-scores[found], limit - 1)[:limit]]
        order = found[np.lexsort((found, -scores[found]))]  # best first, ties in file order
        return [Match(self.entries[i], round(float(scores[i]), 3)) for i in order]

    def _filed_under(self, category: str) -> np.ndarray:
        """1 for the entries filed under `category`, else 0 (computed once per category)."""
        if category not in self._categories:
            self._categories[category] = np.fromiter(
                (_filed_under(e, category) for e in self.entries),
                dtype=float,
                count=len(self.entries),
            )
        return self._categories[category]


def _filed_under(entry: Entry, category: str) -> bool:
    return any(c.value == category for c in entry.meta.categories)


def _topic(entry: Entry) -> str:
    """What an entry is about, in its writer's words: the title and the keywords."""
    return "\n".join([entry.title] * TITLE_WEIGHT + [" ".join(entry.meta.keywords)])

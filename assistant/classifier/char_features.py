"""Character and word n-gram TF-IDF features, fast at prediction time.

The same features as sklearn's TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5),
strip_accents="unicode", sublinear_tf=True): fitting is sklearn's own; applying them
looks up each distinct word's feature columns once and reuses them. Mail repeats its
words, and the per-n-gram lookups were the largest part of local triage's time.
"""

from __future__ import annotations

import re
from array import array
from functools import lru_cache

import numpy as np
from scipy.sparse import csr_matrix
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer, strip_accents_unicode

WORD_CACHE_LIMIT = 200_000  # distinct words remembered per model; cleared when full


def char_wb_ngrams(text: str) -> list[str]:
    """What TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), strip_accents="unicode",
    lowercase=True) extracts from `text`."""
    grams: list[str] = []
    for word in text.lower().split():
        grams.extend(word_ngrams(word))
    return grams


@lru_cache(maxsize=100_000)
def word_ngrams(word: str) -> tuple[str, ...]:
    padded = f" {strip_accents_unicode(word)} "
    grams: list[str] = []
    for n in range(3, 6):
        last = len(padded) - n
        if last <= 0:  # a word no longer than n counts once, as sklearn does
            grams.append(padded[:n])
            break
        grams.extend([padded[i : i + n] for i in range(last + 1)])
    return tuple(grams)


class CharNgramTfidf(TransformerMixin, BaseEstimator):
    """TF-IDF over `char_wb_ngrams`, applied word by word from a cache of feature columns."""

    def __init__(self, min_df: int = 2, max_features: int | None = 60000):
        self.min_df = min_df
        self.max_features = max_features

    def fit(self, texts, y=None):
        self.vectorizer_ = TfidfVectorizer(
            analyzer=char_wb_ngrams,
            min_df=self.min_df,
            sublinear_tf=True,
            max_features=self.max_features,
        ).fit(texts)
        self._columns: dict[str, array] = {}
        return self

    def transform(self, texts):
        vocabulary = self.vectorizer_.vocabulary_
        indices = array("i")  # column numbers, handed to numpy without a copy
        indptr = [0]
        for text in texts:
            for word in text.lower().split():
                columns = self._columns.get(word)
                if columns is None:
                    if len(self._columns) >= WORD_CACHE_LIMIT:
                        self._columns.clear()
                    found = map(vocabulary.get, word_ngrams(word))
                    columns = array("i", [c for c in found if c is not None])
                    self._columns[word] = columns
                indices.extend(columns)
            indptr.append(len(indices))
        return _tfidf(indices, indptr, len(vocabulary), self.vectorizer_.idf_)

    def remember(self, words) -> None:
        """Work out the feature columns of `words` now (a model's own vocabulary, at
        load: ~0.1 s), so the first mail triaged does not pay for them."""
        self.transform([" ".join(words)])

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_columns"] = {}  # a cache, not part of the model
        return state


_TOKEN = re.compile(r"(?u)\b\w\w+\b")  # sklearn's default token_pattern


@lru_cache(maxsize=200_000)
def _plain(token: str) -> str:
    return strip_accents_unicode(token)


class WordNgramTfidf(TransformerMixin, BaseEstimator):
    """TF-IDF over word 1-2-grams (lower case, accents stripped), applied by hand.

    The same features as TfidfVectorizer(ngram_range=(1, 2), strip_accents="unicode",
    sublinear_tf=True); tokens are stripped of accents one distinct token at a time
    instead of character by character over every text.
    """

    def __init__(self, max_features: int | None = 40000):
        self.max_features = max_features

    def fit(self, texts, y=None):
        self.vectorizer_ = TfidfVectorizer(
            ngram_range=(1, 2),
            min_df=1,
            sublinear_tf=True,
            strip_accents="unicode",
            max_features=self.max_features,
        ).fit(texts)
        return self

    def transform(self, texts):
        vocabulary = self.vectorizer_.vocabulary_
        indices: list[int] = []
        indptr = [0]
        for text in texts:
            tokens = [t if t.isascii() else _plain(t) for t in _TOKEN.findall(text.lower())]
            for gram in (*tokens, *(f"{a} {b}" for a, b in zip(tokens, tokens[1:]))):
                column = vocabulary.get(gram)
                if column is not None:
                    indices.append(column)
            indptr.append(len(indices))
        return _tfidf(indices, indptr, len(vocabulary), self.vectorizer_.idf_)


def _as_int32(indices: array | list[int]) -> np.ndarray:
    if isinstance(indices, array):
        return np.frombuffer(indices, dtype=np.int32) if indices else np.zeros(0, np.int32)
    return np.asarray(indices, dtype=np.int32)


def _tfidf(indices: array | list[int], indptr: list[int], width: int, idf) -> csr_matrix:
    """Counts → sublinear tf × idf, rows l2-normalised: what TfidfVectorizer.transform does,
    in a few numpy operations over the whole batch (scipy's multiply and normalize were a
    third of the features' time)."""
    rows = len(indptr) - 1
    counts = csr_matrix(
        (np.ones(len(indices)), _as_int32(indices), np.asarray(indptr)),
        shape=(rows, width),
    )
    counts.sum_duplicates()  # repeated n-grams become counts, columns sorted
    data = (np.log(counts.data) + 1.0) * idf[counts.indices]
    row_of = np.repeat(np.arange(rows), np.diff(counts.indptr))
    norms = np.sqrt(np.bincount(row_of, weights=data * data, minlength=rows))
    norms[norms == 0.0] = 1.0
    data /= norms[row_of]
    return csr_matrix((data, counts.indices, counts.indptr), shape=(rows, width))

"""The trained classifier (category, and the learned urgency signal): load it (fast), or
train it once and keep it.

The model file is not committed: it is a build product of the training data. The first
use after a change of data or of scikit-learn trains it (a few seconds) and saves it
beside the package, or in the user cache when the package folder is read-only.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property, lru_cache, partial
from pathlib import Path

import joblib
import numpy as np
import sklearn
from platformdirs import user_cache_dir
from scipy.special import expit, softmax

from assistant.classifier.training import (
    PUBLIC_EXAMPLES,
    as_class_scores,
    cross_validate,
    fit,
    fit_urgency,
    normalise,
    read_examples,
    training_fingerprint,
    training_paths,
)
from assistant.models import Category, CategoryGuess

log = logging.getLogger(__name__)
MODEL_NAME = "model.joblib"


EXPLAINING_WORDS = 3  # words named when the learned signal calls a mail urgent
_READABLE_LETTERS = 4
_NO_WORDS: tuple[str, ...] = ()


def _no_words() -> tuple[str, ...]:
    return _NO_WORDS


@dataclass(frozen=True)
class UrgencySignal:
    """The learned urgency signal of one mail: its probability, and the words that
    weighed most for urgent (what the agent reads as the reason; worked out only when
    asked, as a rule usually names the reason instead)."""

    probability: float
    urgent: bool
    explain: Callable[[], tuple[str, ...]] = field(default=_no_words, repr=False, compare=False)

    @property
    def words(self) -> tuple[str, ...]:
        return self.explain()


@dataclass
class CategoryClassifier:
    pipeline: object
    fingerprint: str
    temperature: float = 1.0  # softmax temperature fitted at training (calibration)
    urgency: object | None = None  # the learned urgency signal's linear model
    urgency_threshold: float = 0.5

    @property
    def labels(self) -> list[Category]:
        return [Category(label) for label in self.pipeline.classes_]  # type: ignore[attr-defined]

    def guesses(self, texts: list[str], top: int = 3) -> list[list[CategoryGuess]]:
        """For each text, the `top` categories with their probabilities, best first."""
        return self.assess(texts, top)[0]

    def assess(
        self, texts: list[str], top: int = 3
    ) -> tuple[list[list[CategoryGuess]], list[UrgencySignal | None]]:
        """Category guesses and the learned urgency signal of each text; the features are
        computed once for both models."""
        if not texts:
            return [], []
        normalised = [normalise(t) for t in texts]
        words, chars = (block.transform(normalised) for block in self._blocks)
        category = self._weights[0]
        scores = as_class_scores(words @ category[0] + chars @ category[1] + category[2])
        return self._guesses(scores, top), self._urgency(words, chars)

    def warm(self) -> None:
        """Fill the character n-gram cache with the words the model knows."""
        words, chars = self._blocks
        chars.remember(word for word in words.vectorizer_.vocabulary_ if " " not in word)

    @cached_property
    def _word_names(self) -> tuple[np.ndarray, np.ndarray]:
        """The word features' names, and which of them a reader can take as a reason:
        single words of four letters or more ("dans", "the", "and the" explain nothing)."""
        names = self._blocks[0].vectorizer_.get_feature_names_out()
        readable = np.array([" " not in n and len(n) >= _READABLE_LETTERS for n in names])
        return names, readable

    @cached_property
    def _blocks(self) -> tuple:
        """The word and character n-gram transformers, in the feature union's order."""
        union = self.pipeline.named_steps["features"]  # type: ignore[attr-defined]
        return tuple(transformer for _, transformer in union.transformer_list)

    @cached_property
    def _weights(self) -> list[tuple]:
        """Each linear model's weights split by feature block (words, characters) and its
        intercept: X·W = words·W_words + chars·W_chars, with no need to join the two
        blocks into one matrix for every batch."""
        width = len(self._blocks[0].vectorizer_.vocabulary_)
        models = [self.pipeline.named_steps["model"]]  # type: ignore[attr-defined]
        if self.urgency is not None:
            models.append(self.urgency)
        return [
            (
                np.ascontiguousarray(m.coef_[:, :width].T),
                np.ascontiguousarray(m.coef_[:, width:].T),
                m.intercept_,
            )
            for m in models
        ]

    def _guesses(self, scores, top: int) -> list[list[CategoryGuess]]:
        probabilities = softmax(scores / self.temperature, axis=1)
        labels = self.labels
        best = (-probabilities).argsort(axis=1)[:, :top].tolist()
        probabilities = probabilities.tolist()  # Python floats: faster to index, one by one
        # Built without validation: the labels are the model's own, the probabilities its
        # softmax (validating three guesses per mail was 7% of local triage).
        return [
            [
                CategoryGuess.model_construct(
                    category=labels[i], confidence=min(1.0, float(row[i]))
                )
                for i in order
            ]
            for row, order in zip(probabilities, best)
        ]

    def _urgency(self, words, chars) -> list[UrgencySignal | None]:
        if self.urgency is None:
            return [None] * words.shape[0]
        weights_words, weights_chars, intercept = self._weights[1]
        margins = (words @ weights_words + chars @ weights_chars + intercept)[:, 0]
        signals: list[UrgencySignal | None] = []
        weights = weights_words[:, 0]
        # Decided on the value stored (3 decimals), so evals and triage agree at the threshold.
        for row, probability in enumerate(np.round(expit(margins), 3).tolist()):
            urgent = probability >= self.urgency_threshold
            explain = partial(self._explaining_words, words, row, weights) if urgent else _no_words
            signals.append(UrgencySignal(probability, urgent, explain))
        return signals

    def _explaining_words(self, words, row: int, weights) -> tuple[str, ...]:
        """The words of the mail that pushed most towards urgent (word features only:
        character n-grams say little to a reader)."""
        start, end = words.indptr[row], words.indptr[row + 1]
        columns, values = words.indices[start:end], words.data[start:end]
        names, readable = self._word_names
        keep = readable[columns]
        columns, values = columns[keep], values[keep]
        pushed = values * weights[columns]
        order = np.argsort(-pushed)[:EXPLAINING_WORDS]
        return tuple(str(names[columns[i]]) for i in order if pushed[i] > 0)


def _candidate_paths() -> list[Path]:
    override = os.environ.get("ASSISTANT_MODEL_PATH")
    if override:
        return [Path(override)]
    return [
        Path(__file__).resolve().parent / MODEL_NAME,
        Path(user_cache_dir("crocso-assistant")) / MODEL_NAME,
    ]


def train_and_save(path: Path | None = None) -> CategoryClassifier:
    paths = training_paths()
    own = read_examples([p for p in paths if p.name != PUBLIC_EXAMPLES])
    other = read_examples([p for p in paths if p.name == PUBLIC_EXAMPLES])
    pipeline = fit(own + other)
    calibration = cross_validate(own, other)
    classifier = CategoryClassifier(
        pipeline,
        training_fingerprint(paths),
        calibration.temperature,
        fit_urgency(pipeline, own + other),
        calibration.urgency_threshold,
    )
    for target in [path] if path else _candidate_paths():
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            payload = {
                "pipeline": classifier.pipeline,
                "fingerprint": classifier.fingerprint,
                "temperature": classifier.temperature,
                "urgency": classifier.urgency,
                "urgency_threshold": classifier.urgency_threshold,
                "sklearn": sklearn.__version__,
            }
            joblib.dump(payload, target)
            log.info("category classifier trained and saved to %s", target)
            break
        except OSError:
            continue
    return classifier


def _load(path: Path, fingerprint: str) -> CategoryClassifier | None:
    try:
        payload = joblib.load(path)
    except (OSError, EOFError, ValueError, ImportError, AttributeError):
        return None
    if payload.get("fingerprint") != fingerprint or payload.get("sklearn") != sklearn.__version__:
        return None
    return CategoryClassifier(
        payload["pipeline"],
        fingerprint,
        payload.get("temperature", 1.0),
        payload.get("urgency"),
        payload.get("urgency_threshold", 0.5),
    )


@lru_cache
def load_classifier() -> CategoryClassifier:
    """The current classifier; retrained when the training data or scikit-learn changed."""
    fingerprint = training_fingerprint(training_paths())
    for path in _candidate_paths():
        if path.exists() and (classifier := _load(path, fingerprint)):
            break
    else:
        classifier = train_and_save()
    classifier.warm()
    return classifier

"""The trained category classifier: load it (fast), or train it once and keep it.

The model file is not committed: it is a build product of the training data. The first
use after a change of data or of scikit-learn trains it (a few seconds) and saves it
beside the package, or in the user cache when the package folder is read-only.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import joblib
import sklearn
from platformdirs import user_cache_dir
from scipy.special import softmax

from assistant.classifier.training import (
    OWN_EXAMPLES,
    as_class_scores,
    fit,
    fit_temperature,
    normalise,
    read_examples,
    training_fingerprint,
    training_paths,
)
from assistant.models import Category, CategoryGuess

log = logging.getLogger(__name__)
MODEL_NAME = "model.joblib"


@dataclass
class CategoryClassifier:
    pipeline: object
    fingerprint: str
    temperature: float = 1.0  # softmax temperature fitted at training (calibration)

    @property
    def labels(self) -> list[Category]:
        return [Category(label) for label in self.pipeline.classes_]  # type: ignore[attr-defined]

    def guesses(self, texts: list[str], top: int = 3) -> list[list[CategoryGuess]]:
        """For each text, the `top` categories with their probabilities, best first."""
        if not texts:
            return []
        scores = as_class_scores(
            self.pipeline.decision_function([normalise(t) for t in texts])  # type: ignore[attr-defined]
        )
        probabilities = softmax(scores / self.temperature, axis=1)
        labels = self.labels
        best = (-probabilities).argsort(axis=1)[:, :top]
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
    own = read_examples([p for p in paths if p.name == OWN_EXAMPLES])
    other = read_examples([p for p in paths if p.name != OWN_EXAMPLES])
    classifier = CategoryClassifier(
        fit(own + other), training_fingerprint(paths), fit_temperature(own, other)
    )
    for target in [path] if path else _candidate_paths():
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            payload = {
                "pipeline": classifier.pipeline,
                "fingerprint": classifier.fingerprint,
                "temperature": classifier.temperature,
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
    return CategoryClassifier(payload["pipeline"], fingerprint, payload.get("temperature", 1.0))


@lru_cache
def load_classifier() -> CategoryClassifier:
    """The current classifier; retrained when the training data or scikit-learn changed."""
    fingerprint = training_fingerprint(training_paths())
    for path in _candidate_paths():
        if path.exists() and (classifier := _load(path, fingerprint)):
            return classifier
    return train_and_save()

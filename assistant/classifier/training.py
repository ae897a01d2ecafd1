"""Train the classifier: TF-IDF word and character n-grams, two linear models over them.

One model names the category; the other is the learned urgency signal (policy §3 cases
in any wording, in every language we serve), beside the urgency rules. Reproducible:
fixed data files, fixed hyper-parameters, a deterministic solver. Trained on our own
Crocso examples (`crocso_train.jsonl` and the multilingual `train_*.jsonl`, written for
this, never taken from a public set our blind sets come from) plus the training split of
the public dev set; the held-out split lives in evals/datasets and is never trained on.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import FeatureUnion, Pipeline

from assistant.classifier.char_features import CharNgramTfidf, WordNgramTfidf
from assistant.models import Category

DATA_DIR = Path(__file__).resolve().parent / "data"
PUBLIC_EXAMPLES = "public_train.jsonl"  # Bitext/Amazon rows: no urgency labels
TRAINING_FILES = (
    "crocso_train.jsonl",
    PUBLIC_EXAMPLES,
    "train_en_varied.jsonl",
    "train_fr.jsonl",
    "train_es.jsonl",
    "train_pt.jsonl",
    "train_de.jsonl",
    "train_it.jsonl",
    "train_nl.jsonl",
    "train_urgency_contrast.jsonl",  # ordinary mail in urgent mail's words, and back
)
# The learned urgency signal: C by 5-fold CV on our own examples (0.877 F1 at C=30 against
# 0.872 at C=10 and 0.865 at C=3); its threshold is fitted the same way (`cross_validate`).
URGENCY_C = 30.0

# An order reference of any length ("#5583120", "CR-1234", "113542617735902"): one
# placeholder, so neither model learns that a particular number, or the "CR" of a short
# one, means anything. Two patterns that start at a digit or a mark, on lower-case text:
# one alternation with `\b` and re.I cost 9 µs a mail, three times these.
_MARKED_NUMBER = re.compile(r"(?:#|(?<!\w)(?:cr|ord)[- ]?)\d[\d-]*\d(?!\w)")
_LONG_NUMBER = re.compile(r"\d(?<!\w\d)[\d-]{4,}\d(?!\w)")
# Any other number of three digits or more (a postcode, a price, a year, a ticket): one
# placeholder too. Its digits mean nothing to either model, and every new one was a word
# whose n-grams triage had to work out (most of the words a mail brings that the model
# has never seen).
_NUMBER = re.compile(r"\d(?<!\w\d)\d{2,}(?!\w)")
_EMAIL = re.compile(r"\S+@\S+\.\w+")
_URL = re.compile(r"https?://\S+|www\.\S+")


def normalise(text: str) -> str:
    """What the classifier sees: lower case, numbers and addresses as placeholders."""
    text = text.lower()
    # Each pattern runs only where its literal part occurs: most mail has no URL or address.
    if "http" in text or "www" in text:
        text = _URL.sub(" urltoken ", text)
    if "@" in text:
        text = _EMAIL.sub(" emailtoken ", text)
    if "#" in text or "cr" in text or "ord" in text:
        text = _MARKED_NUMBER.sub(" ordernumber ", text)
    text = _NUMBER.sub(" number ", _LONG_NUMBER.sub(" ordernumber ", text))
    return " ".join(text.split())[:3000]


def read_examples(paths: Iterable[Path]) -> list[dict]:
    examples = []
    for path in paths:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            row = json.loads(line)
            if row["category"] not in Category.__members__:
                raise ValueError(f"{path.name}:{number}: unknown category {row['category']!r}")
            examples.append(row)
    return examples


def training_paths() -> list[Path]:
    return [DATA_DIR / name for name in TRAINING_FILES if (DATA_DIR / name).exists()]


def training_fingerprint(paths: Iterable[Path]) -> str:
    """Changes whenever the training data or the model's settings do, so a stale model is
    retrained (the normaliser and hyper-parameters live in this file)."""
    digest = hashlib.sha256(Path(__file__).read_bytes())
    digest.update((Path(__file__).parent / "char_features.py").read_bytes())
    for path in paths:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def build_pipeline() -> Pipeline:
    features = FeatureUnion(
        [
            ("words", WordNgramTfidf(max_features=40000)),
            (
                "chars",
                # sklearn's "char_wb" n-grams (3-5, accents stripped), applied word by
                # word from a cache (char_features.py). (3, 5) with min_df=2 is within
                # 0.005 CV macro-F1 of (2, 5), and faster.
                CharNgramTfidf(min_df=2, max_features=60000),
            ),
        ]
    )
    # Chosen by 5-fold CV on crocso_train (scored on its folds, public rows always in
    # training), never on evals/datasets: accents stripped because customers type both
    # "reçu" and "recu"; C=50 as the data is small and clean.
    model = LogisticRegression(C=50.0, max_iter=3000, class_weight="balanced")
    return Pipeline([("features", features), ("model", model)])


def fit(examples: list[dict]) -> Pipeline:
    pipeline = build_pipeline()
    pipeline.fit([normalise(e["text"]) for e in examples], [e["category"] for e in examples])
    return pipeline


def urgency_label(example: dict) -> bool | None:
    """Urgent or not, for the learned signal; None: unknown, left out.

    The public rows carry no urgency, but their sources' own intents (track an order, a
    refund policy, a password, a product attribute) never name a §3 case, and no urgency
    rule fires on any of them: they count as normal. Without them the signal learned that
    "order 113542617735902 status" is urgent (an order number is common in urgent mail)."""
    urgency = example.get("urgency")
    if urgency in ("urgent", "normal"):
        return urgency == "urgent"
    return False if example.get("source_label") else None


def fit_urgency(pipeline: Pipeline, examples: list[dict]) -> LogisticRegression:
    """The learned urgency signal: a linear model over the category model's features (so
    triage computes them once), trained on every example whose urgency is known."""
    labelled = [e for e in examples if urgency_label(e) is not None]
    features = pipeline.named_steps["features"].transform([normalise(e["text"]) for e in labelled])
    model = LogisticRegression(C=URGENCY_C, max_iter=3000, class_weight="balanced")
    return model.fit(features, [urgency_label(e) for e in labelled])


def as_class_scores(scores):
    """One column per class: with two classes scikit-learn gives a single column (the
    second class's margin), which is the first class at 0."""
    if scores.ndim == 1:
        return np.column_stack([np.zeros_like(scores), scores])
    return scores


@dataclass(frozen=True)
class Calibration:
    temperature: float  # softmax temperature that makes category confidences honest
    urgency_threshold: float  # learned urgency probability from which a mail is urgent


def cross_validate(own: list[dict], other: list[dict], folds: int = 5) -> Calibration:
    """Temperature and urgency threshold from out-of-fold predictions on our own examples
    (`own`), each fold scored by models trained on the other folds plus `other`.

    Temperature scaling: the linear model alone is under-confident on Crocso mail (0.76
    mean confidence at 0.94 accuracy). The urgency threshold is the one with the best
    out-of-fold F1 of the learned signal alone (the rules add recall beside it)."""
    labels = np.array([e["category"] for e in own])
    if len(own) < folds * len(set(labels)):
        return Calibration(1.0, 0.5)
    scores = np.zeros((len(own), len({e["category"] for e in own + other})))
    urgent_probability = np.full(len(own), np.nan)
    classes: list[str] = []
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=0)
    for train, test in splitter.split(np.zeros(len(own)), labels):
        training = other + [own[i] for i in train]
        model = fit(training)
        classes = list(model.classes_)
        features = model.named_steps["features"].transform(
            [normalise(own[i]["text"]) for i in test]
        )
        scores[test] = as_class_scores(model.named_steps["model"].decision_function(features))
        urgency = fit_urgency(model, training)
        urgent_probability[test] = urgency.predict_proba(features)[:, 1]
    truth = np.array([classes.index(label) for label in labels])

    def log_loss(temperature: float) -> float:
        return -log_softmax(scores / temperature, axis=1)[np.arange(len(truth)), truth].mean()

    temperature = float(minimize_scalar(log_loss, bounds=(0.05, 10.0), method="bounded").x)
    known = np.array([urgency_label(e) is not None for e in own])
    urgent = np.array([e.get("urgency") == "urgent" for e in own])[known]
    return Calibration(temperature, _best_threshold(urgent_probability[known], urgent))


def _best_threshold(probability: np.ndarray, urgent: np.ndarray) -> float:
    best, best_f1 = 0.5, -1.0
    for threshold in np.arange(0.30, 0.81, 0.05):
        flagged = probability >= threshold
        hits = float((flagged & urgent).sum())
        f1 = 2 * hits / max(1.0, float(flagged.sum() + urgent.sum()))
        if f1 > best_f1 + 1e-9:
            best, best_f1 = round(float(threshold), 2), f1
    return best

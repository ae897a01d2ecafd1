"""Metrics over evaluation rows. Pure functions: rows in, plain dicts and numbers out.

Undefined values (a precision with no positive predictions, a rate over no rows) are
None rather than 0, so a report never shows a perfect or a zero score that was not earned.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

import numpy as np

from assistant.evaluation.rows import ANSWERERS, Row
from assistant.models import Category, Urgency

BOOTSTRAP_SAMPLES = 2000
BOOTSTRAP_SEED = 20240


def _ratio(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole else None


def bootstrap_ci(correct: list[bool], samples: int = BOOTSTRAP_SAMPLES, seed: int = BOOTSTRAP_SEED):
    """Percentile 95% interval of accuracy; seeded so the same rows give the same interval."""
    if not correct:
        return None, None
    outcomes = np.asarray(correct, dtype=float)
    rng = np.random.default_rng(seed)
    means = outcomes[rng.integers(0, len(outcomes), (samples, len(outcomes)))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return round(float(low), 4), round(float(high), 4)


def labels_of(rows: list[Row]) -> list[str]:
    """Categories seen as expected or predicted, in the policy's order (as sklearn's macro)."""
    seen = {r.expected.value for r in rows} | {r.predicted.value for r in rows}
    return [c.value for c in Category if c.value in seen]


def confusion(rows: list[Row], labels: list[str]) -> dict[str, dict[str, int]]:
    """expected → predicted → count."""
    matrix = {e: dict.fromkeys(labels, 0) for e in labels}
    for row in rows:
        matrix[row.expected.value][row.predicted.value] += 1
    return matrix


def per_class(matrix: dict[str, dict[str, int]]) -> dict[str, dict]:
    scores = {}
    for label in matrix:
        hits = matrix[label][label]
        support = sum(matrix[label].values())
        predicted = sum(matrix[e][label] for e in matrix)
        precision, recall = _ratio(hits, predicted), _ratio(hits, support)
        f1 = _ratio(2 * hits, support + predicted)
        scores[label] = {"precision": precision, "recall": recall, "f1": f1, "support": support}
    return scores


def macro_f1(classes: dict[str, dict]) -> float | None:
    """Mean F1 over the classes the dataset has (support > 0): a set without `other`
    (the public one) is not scored as if `other` were a class it failed at; a stray
    `other` guess still costs precision and recall where it belongs."""
    values = [c["f1"] or 0.0 for c in classes.values() if c["support"]]
    return round(sum(values) / len(values), 4) if values else None


def binary(pairs: Iterable[tuple[bool | None, bool]]) -> dict:
    """Precision and recall of a yes/no label; pairs with no expectation are left out."""
    known = [(e, p) for e, p in pairs if e is not None]
    tp = sum(1 for e, p in known if e and p)
    return {
        "precision": _ratio(tp, sum(1 for _, p in known if p)),
        "recall": _ratio(tp, sum(1 for e, _ in known if e)),
        "positives": sum(1 for e, _ in known if e),
        "n": len(known),
    }


def _urgency_pairs(rows: list[Row]):
    return [
        (
            None if r.urgency_expected is None else r.urgency_expected is Urgency.urgent,
            r.urgency_predicted is Urgency.urgent,
        )
        for r in rows
    ]


def language_accuracy(rows: list[Row], min_chars: int = 0) -> float | None:
    known = [r for r in rows if r.language_expected and len(r.text.strip()) >= min_chars]
    return _ratio(sum(r.language_predicted == r.language_expected for r in known), len(known))


def per_language(rows: list[Row]) -> dict[str, dict]:
    groups: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        groups[row.language_expected or "unknown"].append(row)
    return {
        language: {
            "n": len(group),
            "accuracy": _ratio(sum(r.correct for r in group), len(group)),
            "urgent_recall": (urgent := binary(_urgency_pairs(group)))["recall"],
            "urgent_precision": urgent["precision"],
        }
        for language, group in sorted(groups.items())
    }


def urgency_sources(rows: list[Row]) -> dict[str, dict]:
    """Local urgency by source: the §3 rules alone, the learned signal alone, and the two
    combined as triage combines them (either one), on the rows local triage decided."""
    known = [r for r in rows if r.urgent_by_rules is not None and r.urgency_expected is not None]
    if not known:
        return {}

    def score(predicted) -> dict:
        return binary((r.urgency_expected is Urgency.urgent, predicted(r)) for r in known)

    return {
        "rules": score(lambda r: r.urgent_by_rules),
        "learned_signal": score(lambda r: bool(r.urgent_by_signal)),
        "combined": score(lambda r: r.urgent_by_rules or bool(r.urgent_by_signal)),
    }


def latency(rows: list[Row]) -> dict:
    values = [r.latency_ms for r in rows if r.latency_ms is not None]
    if not values:
        return {"p50": None, "p95": None}
    p50, p95 = np.percentile(values, [50, 95])
    return {"p50": round(float(p50), 2), "p95": round(float(p95), 2)}


def tokens_per_1000(rows: list[Row]) -> dict:
    scale = 1000 / len(rows) if rows else 0.0
    prompt = sum(r.prompt_tokens for r in rows) * scale
    completion = sum(r.completion_tokens for r in rows) * scale
    return {
        "prompt": round(prompt),
        "completion": round(completion),
        "total": round(prompt + completion),
    }


def cost_per_1000(rows: list[Row]) -> float:
    return round(sum(r.cost_usd for r in rows) * 1000 / len(rows), 4) if rows else 0.0


def calibration_error(rows: list[Row], bins: int = 10) -> float | None:
    """Expected calibration error: how far the stated confidence is from the accuracy
    actually reached, averaged over ten confidence bins weighted by their size (0 is
    perfect; 0.05 means confidences are off by five points on average)."""
    if not rows:
        return None
    error = 0.0
    for index in range(bins):
        low, high = index / bins, (index + 1) / bins
        group = [
            r for r in rows if low < r.confidence <= high or (index == 0 and r.confidence == 0)
        ]
        if group:
            confidence = sum(r.confidence for r in group) / len(group)
            accuracy = sum(r.correct for r in group) / len(group)
            error += len(group) / len(rows) * abs(confidence - accuracy)
    return round(error, 4)


def classification(rows: list[Row]) -> dict:
    labels = labels_of(rows)
    matrix = confusion(rows, labels)
    classes = per_class(matrix)
    correct = [r.correct for r in rows]
    low, high = bootstrap_ci(correct)
    return {
        "n": len(rows),
        "accuracy": {"value": _ratio(sum(correct), len(rows)), "ci_low": low, "ci_high": high},
        "macro_f1": macro_f1(classes),
        "calibration_error": calibration_error(rows),
        "labels": labels,
        "per_class": classes,
        "confusion": matrix,
    }


def _scores(pairs: list[tuple[bool, bool | None, bool]]) -> dict:
    """n, accuracy and urgent precision/recall from (correct, urgent expected, urgent
    predicted) triples."""
    urgent = binary((e, p) for _, e, p in pairs)
    return {
        "n": len(pairs),
        "accuracy": _ratio(sum(c for c, _, _ in pairs), len(pairs)),
        "urgent_precision": urgent["precision"],
        "urgent_recall": urgent["recall"],
    }


def _urgent(urgency: Urgency | None) -> bool | None:
    return None if urgency is None else urgency is Urgency.urgent


def group_scores(rows: list[Row]) -> dict:
    """n, accuracy and urgent precision/recall of rows as decided."""
    return _scores(
        [
            (r.correct, _urgent(r.urgency_expected), _urgent(r.urgency_predicted) or False)
            for r in rows
        ]
    )


def by_answerer(rows: list[Row]) -> dict[str, dict]:
    """The scores of each `answered_by` group that has rows, in ANSWERERS order (an
    unknown value last, as it came)."""
    groups: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        groups[row.answered_by].append(row)
    order = [a for a in ANSWERERS if a in groups] + sorted(set(groups) - set(ANSWERERS))
    return {answerer: group_scores(groups[answerer]) for answerer in order}


def llm_alone(rows: list[Row]) -> dict:
    """What the LLM would have scored had it been believed: its own category and urgency
    on the rows it answered (taken or overruled), beside the scores as decided on the same
    rows, and the calibration error of its stated and calibrated confidence."""
    answered = [r for r in rows if r.llm_category is not None]
    scores = _scores(
        [
            (
                r.llm_category is r.expected,
                _urgent(r.urgency_expected),
                _urgent(r.llm_urgency) or False,
            )
            for r in answered
        ]
    )

    def ece(attribute: str) -> float | None:
        stated = [
            r.model_copy(
                update={
                    "confidence": getattr(r, attribute),
                    "correct": r.llm_category is r.expected,
                }
            )
            for r in answered
            if getattr(r, attribute) is not None
        ]
        return calibration_error(stated)

    return {
        **scores,
        "calibration_error_stated": ece("llm_confidence"),
        "calibration_error_calibrated": ece("llm_calibrated_confidence"),
        "as_decided": {k: v for k, v in group_scores(answered).items() if k != "n"},
    }


def reason_kind(item: str, words: int = 4) -> str:
    """The kind of an overruled item: its first few words before the first ':'."""
    return " ".join(item.split(":", 1)[0].split()[:words]) or "unspecified"


def overruled(rows: list[Row]) -> dict:
    """Rows where part of the LLM's answer was not taken, and per kind of reason the rows
    with at least one such item."""
    hit = [r for r in rows if r.overruled]
    kinds: dict[str, int] = defaultdict(int)
    for row in hit:
        for kind in dict.fromkeys(reason_kind(item) for item in row.overruled):
            kinds[kind] += 1
    return {
        "rows": len(hit),
        "share": _ratio(len(hit), len(rows)),
        "by_reason": dict(sorted(kinds.items(), key=lambda pair: (-pair[1], pair[0]))),
    }


def summarise(rows: list[Row]) -> dict:
    """Every metric of a run; the keys are the results file's contract."""
    n = len(rows)
    by_dataset: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        by_dataset[row.dataset].append(row)
    return {
        **classification(rows),
        "urgency": binary(_urgency_pairs(rows)),
        "urgency_sources": urgency_sources(rows),
        "escalation": binary((r.escalation_expected, r.escalation_predicted) for r in rows),
        "language_accuracy": language_accuracy(rows),
        "language_accuracy_20plus": language_accuracy(rows, min_chars=20),
        "per_language": per_language(rows),
        "per_dataset": {
            name: {
                k: v for k, v in classification(group).items() if k in ("n", "accuracy", "macro_f1")
            }
            for name, group in by_dataset.items()
        },
        "abstain_rate": _ratio(sum(r.needs_manual_triage for r in rows), n),
        "fallback_rate": _ratio(sum(r.fallback_reason is not None for r in rows), n),
        # Sent to the LLM (answered or failed): the cost lever of cascade.
        "llm_share": _ratio(sum(r.sent_to_llm for r in rows), n),
        # The LLM's category kept.
        "llm_answered_share": _ratio(sum(r.answered_by == "llm" for r in rows), n),
        "by_answerer": by_answerer(rows),
        "llm_alone": llm_alone(rows),
        "overruled": overruled(rows),
        "latency_ms": latency(rows),
        "tokens_per_1000": tokens_per_1000(rows),
        "cost_per_1000_usd": cost_per_1000(rows),
    }

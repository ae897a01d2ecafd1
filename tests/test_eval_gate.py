"""The quality gate: the local backend on our Crocso sets, against evals/thresholds.toml.

A missing dataset fails rather than skips: a gate that silently stops gating is worse
than none. Overlap with the training data fails too, as it would flatter the score.
"""

from __future__ import annotations

import tomllib

import pytest

from assistant.backends import get_backend
from assistant.evaluation.dataset import load_dataset
from assistant.evaluation.report import worst_confusions
from assistant.evaluation.runner import EvalRun
from assistant.policy import default_policy
from tests.conftest import REPO

DATASETS = REPO / "evals" / "datasets"
THRESHOLDS = tomllib.loads((REPO / "evals" / "thresholds.toml").read_text(encoding="utf-8"))


CLASSIFICATION = sorted(name for name, gate in THRESHOLDS.items() if "macro_f1" in gate)
RETRIEVAL = sorted(name for name, gate in THRESHOLDS.items() if "min_precision_at_1" in gate)


@pytest.mark.parametrize("name", CLASSIFICATION)
def test_local_backend_meets_the_thresholds(settings, name):
    dataset = DATASETS / f"{name}.jsonl"
    assert dataset.exists(), (
        f"{dataset.relative_to(REPO)} is missing: the gate has nothing to score"
    )
    gate = THRESHOLDS[name]
    result = EvalRun(load_dataset(dataset), get_backend("local", settings, default_policy())).run()
    confusions = ", ".join(f"{e}→{p}: {c}" for e, p, c in worst_confusions(result, 5))
    missed = [
        r["id"]
        for r in result["rows"]
        if r["urgency_expected"] == "urgent" and r["urgency_predicted"] != "urgent"
    ]
    assert result["macro_f1"] >= gate["macro_f1"], (
        f"macro-F1 {result['macro_f1']}; worst: {confusions}"
    )
    recall = result["urgency"]["recall"]
    assert recall is not None, f"{name} has no urgent cases to measure recall on"
    assert recall >= gate["urgent_recall"], f"urgent recall {recall}; missed: {missed}"
    assert result["language_accuracy_20plus"] >= gate["language_accuracy_20plus"]
    if "urgent_precision" in gate:
        precision = result["urgency"]["precision"]
        assert precision is not None and precision >= gate["urgent_precision"], (
            f"urgent precision {precision}"
        )
    for language, scores in result["per_language"].items():
        if "accuracy_per_language" in gate:
            assert scores["accuracy"] >= gate["accuracy_per_language"], (
                f"{language}: category accuracy {scores['accuracy']} ({scores['n']} cases)"
            )
        if "urgent_recall_per_language" in gate:
            assert scores["urgent_recall"] is not None, f"{language} has no urgent cases"
            assert scores["urgent_recall"] >= gate["urgent_recall_per_language"], (
                f"{language}: urgent recall {scores['urgent_recall']}; missed: "
                + ", ".join(m for m in missed if f"-{language}-" in m)
            )
    if "max_calibration_error" in gate:
        assert result["calibration_error"] <= gate["max_calibration_error"], (
            f"confidence no longer means what it says: ECE {result['calibration_error']}"
        )


@pytest.mark.parametrize("name", RETRIEVAL)
def test_the_example_knowledge_base_answers_what_it_should(settings, name):
    """The retrieval sets were written apart from samples/knowledge: an entry found for mail
    it does not answer is pasted into a draft an agent must then correct."""
    from assistant.evaluation.retrieval import evaluate_retrieval, load_retrieval_cases
    from assistant.knowledge import load_knowledge
    from tests.conftest import KNOWLEDGE_SAMPLES

    dataset = DATASETS / f"{name}.jsonl"
    assert dataset.exists(), (
        f"{dataset.relative_to(REPO)} is missing: the gate has nothing to score"
    )
    gate = THRESHOLDS[name]
    result = evaluate_retrieval(
        load_retrieval_cases(dataset), load_knowledge(KNOWLEDGE_SAMPLES), settings
    )
    overall, misses = result.overall, [m["id"] for m in result.misses][:10]
    assert overall["precision_at_1"] >= gate["min_precision_at_1"], (overall, misses)
    assert overall["recall_at_3"] >= gate["min_recall_at_3"], (overall, misses)
    assert overall["wrong_hold_share"] <= gate["max_wrong_hold_share"], (overall, misses)
    assert overall["right_hold_share"] >= gate["min_right_hold_share"], (overall, misses)
    assert overall["pasted_precision"] >= gate["min_pasted_precision"], (overall, misses)
    for language, summary in result.by_language.items():
        precision = summary["precision_at_1"]
        assert precision is not None and precision >= gate["min_precision_at_1_per_language"], (
            f"{language}: {summary}"
        )

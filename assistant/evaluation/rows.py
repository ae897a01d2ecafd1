"""One row per evaluated case: what was expected, what the backend said, what it cost.

Rows are the unit a results file stores, so any run can be re-analysed, resumed or
compared without calling a backend again.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, model_validator

from assistant.evaluation.dataset import EvalCase
from assistant.evaluation.drafts import DraftScore
from assistant.models import Category, Triage, Urgency
from assistant.triage import LEARNED_URGENCY_RULE
from assistant.triage.combine import LLM_URGENCY_RULE, answered_by

_NOT_A_RULE = frozenset({LEARNED_URGENCY_RULE, LLM_URGENCY_RULE})

# Who decided a row's category (`triage.combine.answered_by`), in reporting order.
ANSWERERS = ("llm", "local_agreed_by_llm", "local_overruling_llm", "local_fallback", "local")


class Row(BaseModel):
    dataset: str
    id: str
    text: str
    expected: Category
    predicted: Category
    confidence: float
    correct: bool
    urgency_expected: Urgency | None = None
    urgency_predicted: Urgency
    escalation_expected: bool | None = None
    escalation_predicted: bool
    language_expected: str | None = None
    language_predicted: str
    needs_manual_triage: bool = False
    fallback_reason: str | None = None
    backend: str = "local"
    model: str | None = None
    latency_ms: float | None = None
    # Who decided the category (one of ANSWERERS), and whether an LLM was asked at all
    # (it answered, or its call failed).
    answered_by: str = "local"
    sent_to_llm: bool = False
    # The LLM's own answer as it came, taken or not (None: no LLM answered).
    llm_category: Category | None = None
    llm_urgency: Urgency | None = None
    llm_escalation: bool | None = None
    llm_confidence: float | None = None  # as the model stated it
    llm_calibrated_confidence: float | None = None
    overruled: list[str] = Field(default_factory=list)  # what of it was not taken, and why
    # Local urgency, source by source (None: not known, e.g. an agent's correction): did a
    # §3 rule fire, and did the learned urgency signal reach its threshold?
    urgent_by_rules: bool | None = None
    urgent_by_signal: bool | None = None
    # LLM usage during this row's chunk, shared evenly by its rows (judge calls excluded).
    prompt_tokens: float = 0.0
    completion_tokens: float = 0.0
    cost_usd: float = 0.0
    draft: DraftScore | None = None

    @model_validator(mode="before")
    @classmethod
    def _older_rows(cls, data: Any) -> Any:
        """Rows of results files written before `answered_by` and `sent_to_llm` existed:
        inferred as those runs worked (an LLM's answer was always taken, its failure left
        `fallback_reason`), so old files load, resume and compare."""
        if not isinstance(data, dict) or ("answered_by" in data and "sent_to_llm" in data):
            return data
        fallback = data.get("fallback_reason") is not None
        llm = data.get("backend", "local") != "local"
        inferred = "local_fallback" if fallback else "llm" if llm else "local"
        return {"answered_by": inferred, "sent_to_llm": fallback or llm, **data}

    @property
    def key(self) -> tuple[str, str]:
        return (self.dataset, self.id)


def make_row(case: EvalCase, triage: Triage, latency_ms: float | None) -> Row:
    """`latency_ms` is the chunk's wall time per case, used when the backend did not time
    the inquiry itself. A failed LLM call carries the time waited for it; a zero there
    (nothing recorded) would flatter the latency, so the wall time stands in."""
    opinion = triage.second_opinion
    sent = opinion is not None or triage.fallback_reason is not None
    measured = triage.latency_ms
    if measured is None or (sent and measured <= 0):
        measured = latency_ms
    return Row(
        dataset=case.dataset,
        id=case.id,
        text=case.text,
        expected=case.category,
        predicted=triage.category,
        confidence=triage.confidence,
        correct=triage.category == case.category,
        urgency_expected=case.urgency,
        urgency_predicted=triage.urgency,
        escalation_expected=case.escalation,
        escalation_predicted=triage.escalation,
        language_expected=case.language,
        language_predicted=triage.language,
        needs_manual_triage=triage.needs_manual_triage,
        fallback_reason=triage.fallback_reason,
        backend=triage.backend,
        model=triage.model,
        latency_ms=measured,
        answered_by=answered_by(triage),
        sent_to_llm=sent,
        llm_category=opinion.category if opinion else None,
        llm_urgency=opinion.urgency if opinion else None,
        llm_escalation=opinion.escalation if opinion else None,
        llm_confidence=opinion.confidence if opinion else None,
        llm_calibrated_confidence=opinion.calibrated_confidence if opinion else None,
        overruled=list(triage.overruled),
        urgent_by_rules=_urgent_by_rules(triage),
        urgent_by_signal=_urgent_by_signal(triage),
    )


def _urgent_by_rules(triage: Triage) -> bool | None:
    if triage.urgency_signal is None:  # not local triage's own urgency
        return None
    return triage.urgency_rule is not None and triage.urgency_rule not in _NOT_A_RULE


def _urgent_by_signal(triage: Triage) -> bool | None:
    if triage.urgency_signal is None:
        return None
    from assistant.classifier import load_classifier

    return triage.urgency_signal >= load_classifier().urgency_threshold

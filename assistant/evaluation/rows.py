"""One row per evaluated case: what was expected, what the backend said, what it cost.

Rows are the unit a results file stores, so any run can be re-analysed, resumed or
compared without calling a backend again.
"""

from __future__ import annotations

from pydantic import BaseModel

from assistant.evaluation.dataset import EvalCase
from assistant.evaluation.drafts import DraftScore
from assistant.models import Category, Triage, Urgency


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
    # LLM usage during this row's chunk, shared evenly by its rows (judge calls excluded).
    prompt_tokens: float = 0.0
    completion_tokens: float = 0.0
    cost_usd: float = 0.0
    draft: DraftScore | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.dataset, self.id)


def make_row(case: EvalCase, triage: Triage, latency_ms: float | None) -> Row:
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
        latency_ms=triage.latency_ms if triage.latency_ms is not None else latency_ms,
    )

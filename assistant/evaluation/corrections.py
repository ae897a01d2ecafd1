"""The team's triage corrections as evaluation rows: every inquiry whose current category
an agent set (in the workspace, with `correct` or `redraft --category`; its urgency too
when the agent set that), in the format of `evals/datasets/*.jsonl`, so the next model or prompt change is measured on the mail the
assistant got wrong. The rows hold customers' mail: keep the file where the mail is kept."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from assistant.storage.tables import InquiryRow, TriageRow


def corrected_cases(session: Session) -> list[dict[str, Any]]:
    query = (
        select(InquiryRow.id, InquiryRow.subject, InquiryRow.body, TriageRow)
        .join(TriageRow, col(TriageRow.id) == InquiryRow.triage_id)
        .where(col(TriageRow.set_by).is_not(None))
        .order_by(col(InquiryRow.id))
    )
    from assistant.review.corrections import agent_fields

    cases = []
    for inquiry_id, subject, body, triage in session.exec(query):
        fields = agent_fields(triage)
        if "category" not in fields:  # the category is the model's guess: not a label
            continue
        text = "\n\n".join(part for part in (subject.strip(), body.strip()) if part)
        cases.append(
            {
                "id": f"correction-{inquiry_id}",
                "text": text,
                "category": triage.category.value,
                "urgency": triage.urgency.value if "urgency" in fields else None,
                "language": triage.language,
                "escalation": triage.escalation,
                "source": f"agent-correction by {triage.set_by}",
            }
        )
    return cases

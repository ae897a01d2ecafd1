"""An agent corrects the triage: the category or the urgency the assistant got wrong.

The correction is a new triage row (`set_by` names the agent), so the queue, the SLA and
a later re-draft follow it, and it is an audit event, so `assistant eval corrections`
can turn the team's corrections into evaluation rows. The status does not change: a draft
written for the old category stays until the agent re-drafts it.
"""

from __future__ import annotations

from sqlmodel import Session

from assistant import workflow
from assistant.models import Action, Category, ConfidenceLevel, Urgency
from assistant.review.common import actor_of, known_inquiry
from assistant.storage import records
from assistant.storage.tables import DraftRow, InquiryRow, TriageRow, utcnow
from assistant.workflow import Actor, WorkflowError


def correct_triage(
    session: Session,
    inquiry_id: int,
    *,
    agent: Actor | str,
    category: Category | str | None = None,
    urgency: Urgency | str | None = None,
    reason: str | None = None,
) -> TriageRow:
    """Set the category and/or urgency by hand. The SLA due times follow a new urgency."""
    actor = actor_of(agent)
    if category and category not in set(Category):
        raise WorkflowError(
            f"unknown category {str(category)[:40]!r}: " + ", ".join(c.value for c in Category)
        )
    if urgency and urgency not in set(Urgency):
        raise WorkflowError(f"unknown urgency {str(urgency)[:40]!r}: urgent or normal")
    category = Category(category) if category else None
    urgency = Urgency(urgency) if urgency else None
    row = known_inquiry(session, inquiry_id)
    workflow.check_allowed(Action.correct_triage, actor, row.status, inquiry_id)
    current = records.current_triage(session, row)
    if current is None:
        raise WorkflowError(f"inquiry {inquiry_id} has no triage to correct yet")
    changes = []
    if category is not None and category is not current.category:
        changes.append(f"category {current.category.value} → {category.value}")
    if urgency is not None and urgency is not current.urgency:
        changes.append(f"urgency {current.urgency.value} → {urgency.value}")
    if not changes:
        raise WorkflowError("that is the triage already: nothing to correct")
    made: list[TriageRow] = []

    def store_correction(session: Session, row: InquiryRow, draft: DraftRow | None) -> dict:
        assert row.id is not None and current is not None
        new = _corrected(current, actor, category, urgency, row)
        session.add(new)
        session.flush()
        row.triage_id, row.urgency, row.due_at = new.id, new.urgency, new.due_at
        session.add(row)
        made.append(new)
        return {}

    note = "; ".join(changes)
    workflow.apply(
        session,
        inquiry_id,
        Action.correct_triage,
        actor,
        reason=f"{note}: {reason.strip()}" if reason and reason.strip() else note,
        prepare=store_correction,
    )
    return made[0]


def agent_fields(triage: TriageRow | None) -> list[str]:
    """What of this triage an agent set: "category", "urgency". Rows from before the
    record was kept had `set_by` only when an agent set the category."""
    if triage is None or not triage.set_by:
        return []
    recorded = triage.details.get("agent_set") if isinstance(triage.details, dict) else None
    return list(recorded) if isinstance(recorded, list) else ["category"]


def _corrected(
    current: TriageRow,
    actor: Actor,
    category: Category | None,
    urgency: Urgency | None,
    row: InquiryRow,
) -> TriageRow:
    from assistant.settings import get_settings
    from assistant.triage.sla import due_times

    values = current.model_dump(exclude={"id"})
    agent_set = set(agent_fields(current))
    agent_set.update(["category"] if category is not None else [])
    agent_set.update(["urgency"] if urgency is not None and urgency is not current.urgency else [])
    values.update(
        set_by=actor.name,
        created_at=utcnow(),
        details={**current.details, "agent_set": sorted(agent_set)},
    )
    if category is not None:
        values.update(
            category=category,
            confidence=1.0,
            confidence_level=ConfidenceLevel.high,
            needs_manual_triage=False,
        )
    if urgency is not None and urgency is not current.urgency:
        due = due_times(row.received_at, urgency, get_settings())
        values.update(
            urgency=urgency,
            urgency_rule=f"set by {actor.name}"[:64],
            due_at=due.due_at,
            due_latest_at=due.due_latest_at,
        )
    return TriageRow(**values)

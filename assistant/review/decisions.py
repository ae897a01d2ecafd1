"""What an agent decides about an inquiry besides its text: reject, escalate, no reply
needed and reopen, and a fresh draft (after setting the category by hand).
"""

from __future__ import annotations

from sqlmodel import Session

from assistant import workflow
from assistant.backends import Backend
from assistant.models import Action, Category, ConfidenceLevel, InquiryStatus
from assistant.review.common import actor_of, known_inquiry
from assistant.review.corrections import agent_fields
from assistant.storage import records
from assistant.storage.tables import DraftRow, InquiryRow, TriageRow
from assistant.workflow import Actor, WorkflowError

S = InquiryStatus


def reject(session: Session, inquiry_id: int, *, agent: Actor | str, reason: str) -> InquiryRow:
    """Nothing will be sent (spam, a duplicate, a case handled elsewhere)."""
    return workflow.apply(session, inquiry_id, Action.reject, actor_of(agent), reason=reason)


def escalate(session: Session, inquiry_id: int, *, agent: Actor | str, reason: str) -> InquiryRow:
    """Hand the inquiry to a senior agent (policy §4), saying why; it stays reviewable, and
    only a senior may approve its reply."""
    return workflow.apply(session, inquiry_id, Action.escalate, actor_of(agent), reason=reason)


def mark_no_reply_needed(
    session: Session, inquiry_id: int, *, agent: Actor | str, reason: str
) -> InquiryRow:
    """An auto-reply, a bounce, spam or a thank-you that needs no answer; reversible."""
    return workflow.apply(
        session, inquiry_id, Action.mark_no_reply_needed, actor_of(agent), reason=reason
    )


def reopen(
    session: Session, inquiry_id: int, *, agent: Actor | str, reason: str | None = None
) -> InquiryRow:
    """Undo "no reply needed": back to where it was when it was marked (escalated, drafted,
    quarantined, …); mail marked as it arrived goes back to `received`, for `run`."""
    known_inquiry(session, inquiry_id)
    marks = [
        e
        for e in records.audit_trail(session, inquiry_id)
        if e.action is Action.mark_no_reply_needed
    ]
    before = marks[-1].from_status if marks else None
    return workflow.apply(
        session, inquiry_id, Action.reopen, actor_of(agent), to=before or S.received, reason=reason
    )


def redraft(
    session: Session,
    inquiry_id: int,
    *,
    agent: Actor | str,
    backend: Backend,
    category: Category | None = None,
    expected_version: int | None = None,
    instruction: str | None = None,
) -> DraftRow:
    """A fresh draft, optionally after the agent sets the category (manual triage).
    `instruction` ("shorter", "mention the exchange") is followed by a backend that
    takes instructions (an LLM); it is recorded with the re-draft."""
    instruction = " ".join((instruction or "").split())[:500] or None
    actor = actor_of(agent)
    row = known_inquiry(session, inquiry_id)
    # Refusals first, before paying for an LLM call (apply checks again, locked).
    workflow.check_allowed(Action.redraft, actor, row.status, inquiry_id)
    workflow.check_version(row, records.current_draft(session, row), expected_version)
    assert row.id is not None
    inquiry = records.as_inquiry(row)
    corrected = records.current_triage(session, row)
    pinned = agent_fields(corrected)  # an agent's correction stands: a fresh triage keeps it
    asked = category
    session.commit()  # no transaction (on SQLite: no write lock) held while the backend works
    triage = backend.triage_many([inquiry])[0]
    set_by = actor.name if category is not None else None
    if corrected is not None and pinned:
        set_by = set_by or corrected.set_by
        if "category" in pinned:
            category = category or corrected.category
        if "urgency" in pinned:
            triage = triage.model_copy(
                update={
                    "urgency": corrected.urgency,
                    "urgency_rule": corrected.urgency_rule,
                    "due_at": corrected.due_at,
                    "due_latest_at": corrected.due_latest_at,
                }
            )
    agent_set = sorted({*pinned, *(["category"] if category is not None else [])})
    if category is not None:
        triage = triage.model_copy(
            update={
                "category": category,
                "needs_manual_triage": False,
                "confidence": 1.0,
                "confidence_level": ConfidenceLevel.high,
                "reasons": [f"category {category.value}: set by {actor.name}", *triage.reasons],
            }
        )
    elif triage.needs_manual_triage:
        guesses = " or ".join(g.category.value for g in triage.top_guesses[:2])
        raise WorkflowError(
            f"inquiry {inquiry_id} still needs manual triage ({guesses}?): "
            "give the category with --category"
        )
    draft = backend.draft(inquiry, triage, instruction if backend.takes_instructions else None)
    records.store_llm_calls(session, backend.drain_calls(), row.id)
    session.commit()  # what the LLM cost is kept, whatever the agent's action comes to
    made: list[DraftRow] = []

    def store_new_rows(session: Session, row: InquiryRow, old: DraftRow | None) -> dict:
        """Once the inquiry is locked: the new triage and draft, one version further."""
        assert row.id is not None
        values = records.triage_values(row.id, triage, set_by=set_by)
        if agent_set:
            values["details"] = {**values["details"], "agent_set": agent_set}
        new_triage = TriageRow(**values)
        version = records.last_draft_version(session, row.id) + 1
        new_draft = DraftRow(**records.draft_values(row.id, draft, version))
        session.add_all([new_triage, new_draft])
        session.flush()
        row.triage_id, row.draft_id, row.error = new_triage.id, new_draft.id, None
        row.urgency, row.due_at, row.language = triage.urgency, triage.due_at, triage.language[:8]
        row.translation_support = triage.needs_translation and bool(
            draft.template and draft.template.startswith("acknowledgements/")
        )
        session.add(row)
        made.append(new_draft)
        return {
            "draft_id": new_draft.id,
            "text_before": old.body if old else None,
            "text_after": draft.body,
        }

    workflow.apply(
        session,
        inquiry_id,
        Action.redraft,
        actor,
        to=lambda now: S.escalated if now.status is S.escalated else S.drafted,
        expected_version=expected_version,
        reason="; ".join(
            filter(
                None,
                [
                    f"category set to {asked.value}" if asked else None,
                    f"instruction: {instruction}"
                    if instruction and backend.takes_instructions
                    else None,
                ],
            )
        )
        or None,
        prepare=store_new_rows,
    )
    return made[0]

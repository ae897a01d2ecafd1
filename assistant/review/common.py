"""What the review actions share: who acts, the inquiry and its draft, an edit's effect."""

from __future__ import annotations

from sqlmodel import Session

from assistant import workflow
from assistant.models import Action, GroundingFinding
from assistant.storage import records
from assistant.storage.tables import DraftRow, InquiryRow
from assistant.workflow import Actor, WorkflowError


def agent_text(text: str | None) -> str | None:
    """An agent's text with Unix line ends: browsers send CRLF from a textarea, and an
    unchanged draft must not count as an edit (nor lose its translation check)."""
    return None if text is None else text.replace("\r\n", "\n").replace("\r", "\n")


def actor_of(agent: Actor | str | None) -> Actor:
    return agent if isinstance(agent, Actor) else Actor.agent(agent)


def draft_for(
    session: Session, inquiry_id: int, action: Action, actor: Actor
) -> tuple[InquiryRow, DraftRow]:
    """The inquiry and its draft, once the action is allowed from its status: the agent
    hears "it is approved" before "it has no draft"."""
    row = records.get_inquiry(session, inquiry_id)
    if row is None:
        raise WorkflowError(f"no inquiry with id {inquiry_id}")
    workflow.check_allowed(action, actor, row.status, inquiry_id)
    draft = records.current_draft(session, row)
    if draft is None:
        raise WorkflowError(f"inquiry {inquiry_id} has no draft")
    return row, draft


def set_draft(body: str, findings: list[GroundingFinding], english: str | None = None):
    """The effect of an edit: the new text and findings, one version further."""

    def effect(session: Session, row: InquiryRow, draft: DraftRow | None, event_id: int) -> None:
        assert draft is not None  # the edit actions need a draft (workflow.RULES)
        draft.body, draft.grounding, draft.version = body, findings, draft.version + 1
        if english is not None:
            draft.english_body = english
        session.add(draft)

    return effect


def known_inquiry(session: Session, inquiry_id: int) -> InquiryRow:
    row = records.get_inquiry(session, inquiry_id)
    if row is None:
        raise WorkflowError(f"no inquiry with id {inquiry_id}")
    return row

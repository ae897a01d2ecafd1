"""The approval gate as an agent meets it: edit, approve, withdraw an approval.

The rules themselves (named agent, current draft, recipient, grounding, the senior-review
promise) are checked by `workflow.apply`; this module prepares the edited text and its
grounding check, and creates the outbound reply an approval makes sendable.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from email.utils import make_msgid

from sqlalchemy import delete
from sqlmodel import Session, col

from assistant import workflow
from assistant.draft.checks.context import context_for
from assistant.draft.grounding import check_draft, check_grounding
from assistant.knowledge import stored_entries
from assistant.models import Action, DeliveryState, GroundingFinding, InquiryStatus
from assistant.policy import Policy, default_policy
from assistant.review.common import actor_of, agent_text, draft_for, known_inquiry, set_draft
from assistant.storage import records
from assistant.storage.tables import DraftRow, InquiryRow, OutboundReplyRow, utcnow
from assistant.workflow import Actor, WorkflowError

S = InquiryStatus
# An approval can be taken back while its reply waits, or after it failed; not while a
# sender has it, nor once it may have reached the customer.
WITHDRAWABLE = (DeliveryState.approved, DeliveryState.failed)


def _edit_findings(
    row: InquiryRow, draft: DraftRow, body: str, policy: Policy, translation_confirmed: bool
) -> list[GroundingFinding]:
    """The grounding check of an edited customer text. For a reply in another language the
    edit no longer matches the English that was checked: what the translation check found
    stays and the edit itself is unchecked, unless the agent confirms the translation."""
    bilingual = draft.language != "en" and bool(draft.english_body)
    context = context_for(row, None, policy.support_address)
    citations, retrieved = list(draft.citations), stored_entries(draft)
    if bilingual and translation_confirmed:
        english = draft.english_body
        report = check_draft(body, english, draft.language, citations, policy, context, retrieved)
    else:
        report = check_grounding(body, citations, policy, context, draft.language, retrieved)
    findings = list(report.findings)
    if bilingual and body.strip() != draft.body.strip() and not translation_confirmed:
        findings += [f for f in draft.grounding if f.kind.startswith("translation_")]
        findings.append(
            GroundingFinding(
                kind="translation_unchecked",
                excerpt=body[:80],
                message="the customer text was edited by hand and not checked against the "
                "English: edit the English and re-translate, confirm your translation, or "
                "approve with an override reason",
            )
        )
    return findings


def edit(
    session: Session,
    inquiry_id: int,
    *,
    agent: Actor | str,
    body: str,
    reason: str | None = None,
    policy: Policy | None = None,
    expected_version: int | None = None,
    translation_confirmed: bool = False,
    commit: bool = True,
) -> DraftRow:
    """Save an agent's edit as the current draft text (still needs approval).
    `translation_confirmed`: the agent wrote or checked the customer-language text
    against the English themselves."""
    actor = actor_of(agent)
    body = agent_text(body) or ""
    row, draft = draft_for(session, inquiry_id, Action.edit, actor)
    if not body.strip():
        raise WorkflowError("the edited reply is empty")
    findings = _edit_findings(row, draft, body, policy or default_policy(), translation_confirmed)
    bilingual = draft.language != "en" and bool(draft.english_body)
    if translation_confirmed and bilingual:
        reason = reason or f"customer text checked against the English by {actor.name}"
    workflow.apply(
        session,
        inquiry_id,
        Action.edit,
        actor,
        expected_version=draft.version if expected_version is None else expected_version,
        reason=reason,
        text_before=draft.body,
        text_after=body,
        english_text=draft.english_body if bilingual else None,
        effect=set_draft(body, findings),
        commit=commit,
    )
    return draft


def approve(
    session: Session,
    inquiry_id: int,
    *,
    agent: Actor | str,
    edited_body: str | None = None,
    override_reason: str | None = None,
    policy: Policy | None = None,
    expected_version: int | None = None,
    hold: timedelta | None = None,
) -> OutboundReplyRow:
    """Approve the current draft (optionally edited): the reply becomes sendable (after
    `hold`, the workspace's undo window). All or nothing: an edit that approval then
    refuses is not kept either."""
    actor = actor_of(agent)
    edited_body = agent_text(edited_body)
    _, draft = draft_for(session, inquiry_id, Action.approve, actor)
    if edited_body is not None and edited_body.strip() != draft.body.strip():
        edit(
            session,
            inquiry_id,
            agent=actor,
            body=edited_body,
            policy=policy,
            expected_version=expected_version,
            commit=False,
        )
        expected_version = None  # checked by the edit, in this same transaction
    made: list[OutboundReplyRow] = []
    workflow.apply(
        session,
        inquiry_id,
        Action.approve,
        actor,
        expected_version=expected_version,
        override_reason=override_reason,
        reason=override_reason.strip() if override_reason and draft.grounding else None,
        effect=lambda s, row, d, event_id: made.append(
            _outbound_reply(s, row, d, event_id, actor, hold)
        ),
    )
    return made[0]


def _outbound_reply(
    session: Session,
    row: InquiryRow,
    draft: DraftRow | None,
    event_id: int,
    actor: Actor,
    hold: timedelta | None,
) -> OutboundReplyRow:
    assert row.id is not None and draft is not None and draft.id is not None
    recipient = workflow.recipient(row)
    assert recipient is not None  # the approval gate refused it otherwise
    reply = OutboundReplyRow(
        inquiry_id=row.id,
        draft_id=draft.id,
        approved_event_id=event_id,
        approved_by=actor.name,
        message_id=make_msgid(idstring=uuid.uuid4().hex[:12], domain=_domain()),
        to_address=recipient,
        subject=_reply_subject(row.subject),
        body=draft.body,
        language=draft.language,
        in_reply_to=row.message_id,
        references=" ".join(filter(None, [row.references, row.message_id])) or None,
        created_at=utcnow(),
        send_after=utcnow() + hold if hold else None,
    )
    session.add(reply)
    return reply


def undo_approval(session: Session, inquiry_id: int, *, agent: Actor | str) -> InquiryRow:
    """The workspace's Undo: take back an approval while its reply still waits out the undo
    window (checked under the inquiry's lock, so nothing can take the reply out between)."""
    return withdraw_approval(
        session, inquiry_id, agent=agent, reason="undone in the workspace", within_window=True
    )


def withdraw_approval(
    session: Session,
    inquiry_id: int,
    *,
    agent: Actor | str,
    reason: str | None = None,
    within_window: bool = False,
) -> InquiryRow:
    """Take back an approval before the reply is sent: the draft is reviewable again,
    as it was (drafted, or escalated). `within_window`: only while the reply still waits
    out its undo window (the workspace's Undo)."""
    actor = actor_of(agent)
    row = known_inquiry(session, inquiry_id)
    approvals = [e for e in records.audit_trail(session, inquiry_id) if e.action is Action.approve]
    before = approvals[-1].from_status if approvals else S.drafted
    reply = records.outbound_reply(session, inquiry_id)
    if reply is not None and reply.exported_at is not None:
        exported = f"it was exported at {reply.exported_at:%Y-%m-%d %H:%M} UTC: delete that file"
        reason = f"{reason}; {exported}" if reason else exported

    def still_waiting(session: Session, row: InquiryRow, draft) -> dict:
        held = records.outbound_reply(session, inquiry_id)
        if held is None or held.send_after is None or held.send_after <= utcnow():
            raise WorkflowError(
                "too late to undo: the reply may be on its way; withdraw the approval if it "
                "has not been sent"
            )
        return {}

    def forget_reply(session: Session, row: InquiryRow, draft, event_id: int) -> None:
        if reply is None:
            return
        # Conditional: a sender may have claimed it since it was read.
        gone = session.execute(
            delete(OutboundReplyRow).where(
                col(OutboundReplyRow.id) == reply.id,
                col(OutboundReplyRow.delivery).in_(WITHDRAWABLE),
            )
        )
        if not gone.rowcount:  # type: ignore[attr-defined]
            state = records.outbound_reply(session, inquiry_id)
            shown = state.delivery.value if state else "gone"
            raise WorkflowError(
                f"the reply to inquiry {inquiry_id} is {shown} (`mail send` has it): it can "
                "no longer be withdrawn"
            )

    workflow.apply(
        session,
        inquiry_id,
        Action.withdraw_approval,
        actor,
        to=before if before in (S.drafted, S.escalated) else S.drafted,
        reason=reason,
        text_before=reply.body if reply else None,
        prepare=still_waiting if within_window else None,
        effect=forget_reply,
    )
    return row


def _domain() -> str:
    from assistant.settings import get_settings

    return get_settings().support_address.rpartition("@")[2] or "localhost"


def _reply_subject(subject: str) -> str:
    subject = subject.strip() or "Your message to Crocso customer service"
    return subject if subject.lower().startswith("re:") else f"Re: {subject}"

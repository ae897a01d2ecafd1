"""The human gate: approve, edit, re-draft, escalate, reject. Nothing is sent without a
recorded approval by a named agent, whatever the interface (CLI, web page, batch).

Every action is a row in the append-only audit trail with the text before and after.
A draft with grounding findings cannot be approved until the agent edits it clean or
overrides the findings with a reason.
"""

from __future__ import annotations

import uuid
from email.utils import make_msgid
from typing import Protocol

from sqlmodel import Session

from assistant.backends import Backend
from assistant.draft.grounding import check_grounding
from assistant.draft.translation_check import compare_translation
from assistant.models import Category, InquiryStatus
from assistant.policy import Policy, default_policy
from assistant.storage import records
from assistant.storage.tables import InquiryRow, OutboundReplyRow, utcnow

S = InquiryStatus
REVIEWABLE = {S.drafted.value, S.escalated.value}
ALLOWED_FROM = {
    "approve": REVIEWABLE,
    "edit": REVIEWABLE,
    "redraft": REVIEWABLE | {S.needs_manual_triage.value, S.triaged.value},
    "escalate": {S.drafted.value, S.needs_manual_triage.value, S.triaged.value},
    "reject": REVIEWABLE | {S.needs_manual_triage.value, S.triaged.value, S.received.value},
    "mark_sent": {S.approved.value},
}


class ReviewError(ValueError):
    """A review action that is not allowed; the message says why, in the agent's words."""


class GroundingBlocked(ReviewError):
    def __init__(self, findings: list[dict]):
        self.findings = findings
        kinds = ", ".join(sorted({f["kind"] for f in findings}))
        super().__init__(
            f"the draft has {len(findings)} grounding finding(s) ({kinds}): edit the text, "
            "or approve with an override reason"
        )


def _promises_a_senior_review(body: str) -> bool:
    """The escalation reply (§4) says the case is with a senior representative: true only
    once it has been escalated. A translated reply is checked in its English version."""
    return "passed your case to a senior" in " ".join(body.lower().split())


def _agent(name: str | None) -> str:
    if not name or not name.strip():
        raise ReviewError("a review action needs a named agent")
    return name.strip()


def _inquiry(session: Session, inquiry_id: int, action: str) -> InquiryRow:
    row = records.get_inquiry(session, inquiry_id)
    if row is None:
        raise ReviewError(f"no inquiry with id {inquiry_id}")
    if row.status not in ALLOWED_FROM[action]:
        allowed = " or ".join(sorted(ALLOWED_FROM[action]))
        raise ReviewError(f"inquiry {inquiry_id} is {row.status}; {action} needs it {allowed}")
    return row


def edit(
    session: Session,
    inquiry_id: int,
    *,
    agent: str,
    body: str,
    reason: str | None = None,
    policy: Policy | None = None,
):
    """Save an agent's edit as the current draft text (still needs approval)."""
    draft = _apply_edit(session, inquiry_id, agent=agent, body=body, reason=reason, policy=policy)
    session.commit()
    return draft


def _apply_edit(
    session: Session,
    inquiry_id: int,
    *,
    agent: str,
    body: str,
    reason: str | None = None,
    policy: Policy | None = None,
):
    """`edit` without the commit, so that `approve` can take it back if approval fails."""
    agent = _agent(agent)
    row = _inquiry(session, inquiry_id, "edit")
    draft = records.latest_draft(session, inquiry_id)
    if draft is None:
        raise ReviewError(f"inquiry {inquiry_id} has no draft to edit")
    if not body.strip():
        raise ReviewError("the edited reply is empty")
    report = check_grounding(body, list(draft.citations), policy or default_policy())
    findings = [f.model_dump() for f in report.findings]
    bilingual = draft.language != "en" and bool(draft.english_body)
    if bilingual and body.strip() != draft.body.strip():
        # The customer text no longer matches the English that was checked: what the
        # translation check found stays, and the hand edit itself is unchecked.
        findings += [f for f in draft.grounding if f["kind"].startswith("translation_")]
        findings.append(
            {
                "kind": "translation_unchecked",
                "excerpt": body[:80],
                "message": "the customer text was edited by hand and not checked against the "
                "English: edit the English and re-translate, or approve with an override reason",
            }
        )
    before = draft.body
    draft.body = body
    draft.grounding = findings
    session.add(draft)
    records.audit(
        session,
        inquiry=row,
        actor=agent,
        action="edit",
        to_status=row.status,
        draft_id=draft.id,
        text_before=before,
        text_after=body,
        reason=reason,
        english_text=draft.english_body if bilingual else None,
    )
    return draft


def approve(
    session: Session,
    inquiry_id: int,
    *,
    agent: str,
    edited_body: str | None = None,
    override_reason: str | None = None,
    policy: Policy | None = None,
) -> OutboundReplyRow:
    """Approve the current draft (optionally edited): the reply becomes sendable. All or
    nothing: an edit that approval then refuses is not kept either."""
    agent = _agent(agent)
    row = _inquiry(session, inquiry_id, "approve")
    draft = records.latest_draft(session, inquiry_id)
    if draft is None:
        raise ReviewError(f"inquiry {inquiry_id} has no draft to approve")
    if edited_body is not None and edited_body.strip() != draft.body.strip():
        draft = _apply_edit(session, inquiry_id, agent=agent, body=edited_body, policy=policy)
    promised = _promises_a_senior_review(draft.body + "\n" + (draft.english_body or ""))
    if row.status != S.escalated.value and promised:
        session.rollback()
        raise ReviewError(
            f"this reply tells the customer a senior representative has their case: escalate "
            f"it first (assistant escalate {inquiry_id}), or edit that sentence out"
        )
    if draft.grounding:
        if not (override_reason and override_reason.strip()):
            findings = draft.grounding
            session.rollback()
            raise GroundingBlocked(findings)
        records.audit(
            session,
            inquiry=row,
            actor=agent,
            action="override_grounding",
            to_status=row.status,
            draft_id=draft.id,
            reason=override_reason.strip(),
        )
    event = records.audit(
        session,
        inquiry=row,
        actor=agent,
        action="approve",
        to_status=S.approved.value,
        draft_id=draft.id,
        text_after=draft.body,
        reason=override_reason,
        english_text=draft.english_body if draft.language != "en" else None,
    )
    session.flush()
    # all three rows are in the database by now, so they have their ids
    assert row.id is not None and draft.id is not None and event.id is not None
    reply = OutboundReplyRow(
        inquiry_id=row.id,
        draft_id=draft.id,
        approved_event_id=event.id,
        approved_by=agent,
        message_id=make_msgid(idstring=uuid.uuid4().hex[:12], domain=_domain(row)),
        to_address=row.from_address,
        subject=_reply_subject(row.subject),
        body=draft.body,
        language=draft.language,
        in_reply_to=row.message_id,
        references=" ".join(filter(None, [row.references, row.message_id])) or None,
        created_at=utcnow(),
    )
    session.add(reply)
    session.commit()
    return reply


class Translator(Protocol):
    def translate(self, text: str, source: str, target: str) -> str: ...


def edit_english(
    session: Session,
    inquiry_id: int,
    *,
    agent: str,
    english_body: str,
    translator: Translator | None = None,
    policy: Policy | None = None,
):
    """Edit the English version of a reply in another language (policy §6).

    The grounding check runs on the English; with a translator the customer-language text
    is re-translated and checked by back-translation. Without one, the customer text no
    longer matches what was reviewed, and approval waits until it is re-translated or
    edited by hand.
    """
    agent = _agent(agent)
    row = _inquiry(session, inquiry_id, "edit")
    draft = _bilingual_draft(session, inquiry_id)
    if not english_body.strip():
        raise ReviewError("the edited English reply is empty")
    policy = policy or default_policy()
    findings = [
        f.model_dump()
        for f in check_grounding(english_body, list(draft.citations), policy).findings
    ]
    customer_before = draft.body
    if translator is not None:  # translate first: a failure leaves the draft untouched
        customer_after, translation_findings = _translate_checked(
            translator, english_body, draft.language
        )
        findings += translation_findings
        records.store_llm_calls(session, translator, row.id)
    else:
        customer_after = customer_before
        findings.append(
            {
                "kind": "translation_stale",
                "excerpt": english_body[:80],
                "message": "the English was edited after the translation was made: re-translate "
                "or edit the customer text",
            }
        )
    draft.english_body, draft.body, draft.grounding = english_body, customer_after, findings
    session.add(draft)
    # text_before/after are the customer-language text, as in every event; english_text is
    # the English after this action (the English before is on the previous event).
    records.audit(
        session,
        inquiry=row,
        actor=agent,
        action="edit_english",
        to_status=row.status,
        draft_id=draft.id,
        text_before=customer_before,
        text_after=customer_after,
        english_text=english_body,
        reason="re-translated" if translator is not None else "customer text not re-translated",
    )
    session.commit()
    return draft


def retranslate(
    session: Session,
    inquiry_id: int,
    *,
    agent: str,
    translator: Translator,
    policy: Policy | None = None,
):
    """Translate the reviewed English again into the customer's language."""
    agent = _agent(agent)
    row = _inquiry(session, inquiry_id, "edit")
    draft = _bilingual_draft(session, inquiry_id)
    before = draft.body
    english = draft.english_body or ""
    draft.body, translation_findings = _translate_checked(translator, english, draft.language)
    records.store_llm_calls(session, translator, row.id)
    grounding = check_grounding(english, list(draft.citations), policy or default_policy())
    draft.grounding = [f.model_dump() for f in grounding.findings] + translation_findings
    session.add(draft)
    records.audit(
        session,
        inquiry=row,
        actor=agent,
        action="retranslate",
        to_status=row.status,
        draft_id=draft.id,
        text_before=before,
        text_after=draft.body,
        english_text=english,
    )
    session.commit()
    return draft


def _bilingual_draft(session: Session, inquiry_id: int):
    draft = records.latest_draft(session, inquiry_id)
    if draft is None:
        raise ReviewError(f"inquiry {inquiry_id} has no draft")
    if draft.language == "en" or not draft.english_body:
        raise ReviewError(f"the draft of inquiry {inquiry_id} is in English only; use edit")
    return draft


def _translate_checked(
    translator: Translator, english: str, language: str
) -> tuple[str, list[dict]]:
    try:
        translated = translator.translate(english, "en", language)
        back = translator.translate(translated, language, "en") if translated.strip() else ""
    except Exception as error:  # noqa: BLE001 - any backend failure: the agent edits by hand
        raise ReviewError(
            f"translation failed ({error}); edit the customer text by hand"
        ) from error
    if not translated.strip():
        raise ReviewError("the translation came back empty; edit the customer text by hand")
    check = compare_translation(english, back)
    return translated, [f.model_dump() for f in check.findings()]


def _domain(row: InquiryRow) -> str:
    from assistant.settings import get_settings

    return get_settings().support_address.rpartition("@")[2] or "localhost"


def _reply_subject(subject: str) -> str:
    subject = subject.strip() or "Your message to Crocso customer service"
    return subject if subject.lower().startswith("re:") else f"Re: {subject}"


def reject(session: Session, inquiry_id: int, *, agent: str, reason: str) -> InquiryRow:
    agent = _agent(agent)
    if not reason or not reason.strip():
        raise ReviewError("rejecting needs a reason")
    row = _inquiry(session, inquiry_id, "reject")
    records.audit(
        session,
        inquiry=row,
        actor=agent,
        action="reject",
        to_status=S.rejected.value,
        reason=reason.strip(),
    )
    session.commit()
    return row


def escalate(
    session: Session, inquiry_id: int, *, agent: str, reason: str | None = None
) -> InquiryRow:
    """Hand the inquiry to a senior agent (policy §4); it stays reviewable."""
    agent = _agent(agent)
    row = _inquiry(session, inquiry_id, "escalate")
    records.audit(
        session,
        inquiry=row,
        actor=agent,
        action="escalate",
        to_status=S.escalated.value,
        reason=reason,
    )
    session.commit()
    return row


def redraft(
    session: Session,
    inquiry_id: int,
    *,
    agent: str,
    backend: Backend,
    policy: Policy,
    category: Category | None = None,
):
    """A fresh draft, optionally after the agent sets the category (manual triage)."""
    agent = _agent(agent)
    row = _inquiry(session, inquiry_id, "redraft")
    assert row.id is not None  # a stored row
    inquiry = records.as_inquiry(row)
    triage = backend.triage_many([inquiry])[0]
    if category is not None:
        triage = triage.model_copy(
            update={
                "category": category,
                "needs_manual_triage": False,
                "confidence": 1.0,
                "reasons": [f"category {category.value}: set by {agent}", *triage.reasons],
            }
        )
    elif triage.needs_manual_triage:
        guesses = " or ".join(g.category.value for g in triage.top_guesses[:2])
        raise ReviewError(
            f"inquiry {inquiry_id} still needs manual triage ({guesses}?): "
            "give the category with --category"
        )
    session.add(records.triage_row(row.id, triage))
    before = records.latest_draft(session, inquiry_id)
    draft = backend.draft(inquiry, triage, policy)
    records.store_llm_calls(session, backend, row.id)
    new_row = records.draft_row(row.id, draft)
    session.add(new_row)
    session.flush()
    to_status = S.escalated.value if row.status == S.escalated.value else S.drafted.value
    records.audit(
        session,
        inquiry=row,
        actor=agent,
        action="redraft",
        to_status=to_status,
        draft_id=new_row.id,
        text_before=before.body if before else None,
        text_after=draft.body,
        reason=f"category set to {category.value}" if category else None,
    )
    session.commit()
    return new_row


def mark_sent(session: Session, inquiry_id: int, *, actor: str, transport: str) -> OutboundReplyRow:
    """Record that an approved reply left (SMTP or an exported file handed to a mailer)."""
    row = _inquiry(session, inquiry_id, "mark_sent")
    reply = records.outbound_reply(session, inquiry_id)
    if reply is None:
        raise ReviewError(f"inquiry {inquiry_id} has no approved reply")
    reply.sent_at = utcnow()
    session.add(reply)
    records.audit(
        session,
        inquiry=row,
        actor=actor,
        action="send",
        to_status=S.sent.value,
        draft_id=reply.draft_id,
        text_after=reply.body,
        reason=f"sent via {transport}",
    )
    session.commit()
    return reply

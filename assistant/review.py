"""The human gate: approve, edit, re-draft, escalate, reject, withdraw, and the rest an agent
does. Nothing is sent without a recorded approval by a named agent, whatever the
interface (CLI, web page, batch).

Each function prepares the agent's change (the edited text and its grounding check, a new
draft, a translation) and hands it to `workflow.apply`, which checks it against the rules
and records it; these functions never change a status themselves.
"""

from __future__ import annotations

import uuid
from email.utils import make_msgid

from sqlmodel import Session

from assistant import workflow
from assistant.backends import Backend
from assistant.draft.grounding import check_grounding
from assistant.draft.translation_check import compare_translation
from assistant.models import (
    Action,
    Category,
    ConfidenceLevel,
    GroundingFinding,
    InquiryStatus,
)
from assistant.policy import Policy, default_policy
from assistant.storage import records
from assistant.storage.tables import DraftRow, InquiryRow, OutboundReplyRow, TriageRow, utcnow
from assistant.workflow import Actor, GroundingBlocked, StaleDraft, WorkflowError

S = InquiryStatus
ReviewError = WorkflowError  # the name callers knew; refusals are the workflow's
translator_for = workflow.translator_for
__all__ = ["GroundingBlocked", "ReviewError", "StaleDraft"]


def _actor(agent: Actor | str | None) -> Actor:
    return agent if isinstance(agent, Actor) else Actor.agent(agent)


def _draft_of(
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


def _set_draft(body: str, findings: list[GroundingFinding], english: str | None = None):
    """The effect of an edit: the new text and findings, one version further."""

    def effect(session: Session, row: InquiryRow, draft: DraftRow | None, event_id: int) -> None:
        assert draft is not None  # the edit actions need a draft (workflow.RULES)
        draft.body, draft.grounding, draft.version = body, findings, draft.version + 1
        if english is not None:
            draft.english_body = english
        session.add(draft)

    return effect


def _edit_findings(
    draft: DraftRow, body: str, policy: Policy, translation_confirmed: bool
) -> list[GroundingFinding]:
    """The grounding check of an edited customer text. For a reply in another language the
    edit no longer matches the English that was checked: what the translation check found
    stays and the edit itself is unchecked, unless the agent confirms the translation."""
    bilingual = draft.language != "en" and bool(draft.english_body)
    checked = draft.english_body if bilingual and translation_confirmed else body
    findings = list(check_grounding(checked or body, list(draft.citations), policy).findings)
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
    actor = _actor(agent)
    _, draft = _draft_of(session, inquiry_id, Action.edit, actor)
    if not body.strip():
        raise WorkflowError("the edited reply is empty")
    findings = _edit_findings(draft, body, policy or default_policy(), translation_confirmed)
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
        effect=_set_draft(body, findings),
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
) -> OutboundReplyRow:
    """Approve the current draft (optionally edited): the reply becomes sendable. All or
    nothing: an edit that approval then refuses is not kept either."""
    actor = _actor(agent)
    _, draft = _draft_of(session, inquiry_id, Action.approve, actor)
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
        effect=lambda s, row, d, event_id: made.append(_outbound_reply(s, row, d, event_id, actor)),
    )
    return made[0]


def _outbound_reply(
    session: Session, row: InquiryRow, draft: DraftRow | None, event_id: int, actor: Actor
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
    )
    session.add(reply)
    return reply


def withdraw_approval(
    session: Session, inquiry_id: int, *, agent: Actor | str, reason: str | None = None
) -> InquiryRow:
    """Take back an approval before the reply is sent: the draft is reviewable again,
    as it was (drafted, or escalated)."""
    actor = _actor(agent)
    row = _known(session, inquiry_id)
    approvals = [e for e in records.audit_trail(session, inquiry_id) if e.action is Action.approve]
    before = approvals[-1].from_status if approvals else S.drafted
    reply = records.outbound_reply(session, inquiry_id)
    if reply is not None and reply.exported_at is not None:
        exported = f"it was exported at {reply.exported_at:%Y-%m-%d %H:%M} UTC: delete that file"
        reason = f"{reason}; {exported}" if reason else exported

    def forget_reply(session: Session, row: InquiryRow, draft, event_id: int) -> None:
        if reply is not None:
            session.delete(reply)

    workflow.apply(
        session,
        inquiry_id,
        Action.withdraw_approval,
        actor,
        to=before if before in (S.drafted, S.escalated) else S.drafted,
        reason=reason,
        text_before=reply.body if reply else None,
        effect=forget_reply,
    )
    return row


def _known(session: Session, inquiry_id: int) -> InquiryRow:
    row = records.get_inquiry(session, inquiry_id)
    if row is None:
        raise WorkflowError(f"no inquiry with id {inquiry_id}")
    return row


def edit_english(
    session: Session,
    inquiry_id: int,
    *,
    agent: Actor | str,
    english_body: str,
    translator: Backend | None = None,
    customer_text: str | None = None,
    policy: Policy | None = None,
    expected_version: int | None = None,
) -> DraftRow:
    """Edit the English version of a reply in another language (policy §6).

    The grounding check runs on the English. With a translator the customer-language text
    is re-translated and checked by back-translation; with `customer_text` it is the
    agent's own translation, which they confirm by giving it; with neither, the customer
    text no longer matches what was reviewed and approval waits until it is re-translated
    or written by hand."""
    actor = _actor(agent)
    row, draft = _bilingual(session, inquiry_id, Action.edit_english, actor)
    if not english_body.strip():
        raise WorkflowError("the edited English reply is empty")
    if customer_text is not None and not customer_text.strip():
        raise WorkflowError("the customer-language text is empty")
    policy = policy or default_policy()
    findings = list(check_grounding(english_body, list(draft.citations), policy).findings)
    if customer_text is not None:
        customer_after, how = customer_text, f"customer text translated by {actor.name}"
    elif translator is not None:  # translate first: a failure leaves the draft untouched
        customer_after, translation_findings = _translate_checked(
            session, row, translator, english_body, draft.language
        )
        findings += translation_findings
        how = "re-translated"
    else:
        customer_after, how = draft.body, "customer text not re-translated"
        findings.append(
            GroundingFinding(
                kind="translation_stale",
                excerpt=english_body[:80],
                message="the English was edited after the translation was made: re-translate "
                "or write the customer text",
            )
        )
    # text_before/after are the customer-language text, as in every event; english_text is
    # the English after this action (the English before is on the previous event).
    workflow.apply(
        session,
        inquiry_id,
        Action.edit_english,
        actor,
        expected_version=draft.version if expected_version is None else expected_version,
        reason=how,
        text_before=draft.body,
        text_after=customer_after,
        english_text=english_body,
        effect=_set_draft(customer_after, findings, english=english_body),
    )
    return draft


def retranslate(
    session: Session,
    inquiry_id: int,
    *,
    agent: Actor | str,
    translator: Backend | None,
    policy: Policy | None = None,
    expected_version: int | None = None,
) -> DraftRow:
    """Translate the reviewed English again into the customer's language."""
    actor = _actor(agent)
    row, draft = _bilingual(session, inquiry_id, Action.retranslate, actor)
    if translator is None:
        raise WorkflowError(
            "no translator is configured (the local backend cannot translate): set "
            "ASSISTANT_BACKEND=openai or cascade, or give your own translation with "
            f"assistant edit-english {inquiry_id} --customer-file"
        )
    english = draft.english_body or ""
    translated, translation_findings = _translate_checked(
        session, row, translator, english, draft.language
    )
    grounding = check_grounding(english, list(draft.citations), policy or default_policy())
    findings = list(grounding.findings) + translation_findings
    workflow.apply(
        session,
        inquiry_id,
        Action.retranslate,
        actor,
        expected_version=draft.version if expected_version is None else expected_version,
        text_before=draft.body,
        text_after=translated,
        english_text=english,
        effect=_set_draft(translated, findings),
    )
    return draft


def _bilingual(
    session: Session, inquiry_id: int, action: Action, actor: Actor
) -> tuple[InquiryRow, DraftRow]:
    row, draft = _draft_of(session, inquiry_id, action, actor)
    if draft.language == "en" or not draft.english_body:
        raise WorkflowError(f"the draft of inquiry {inquiry_id} is in English only; use edit")
    return row, draft


def _translate_checked(
    session: Session, row: InquiryRow, translator: Backend, english: str, language: str
) -> tuple[str, list[GroundingFinding]]:
    """Translate and translate back; the calls are stored (and paid for) whatever follows."""
    session.commit()  # no transaction (on SQLite: no write lock) held while the LLM works
    try:
        translated = translator.translate(english, "en", language)
        back = translator.translate(translated, language, "en") if translated.strip() else ""
    except Exception as error:  # noqa: BLE001 - any backend failure: the agent edits by hand
        raise WorkflowError(
            f"translation failed ({error}); write the customer text yourself"
        ) from error
    finally:
        records.store_llm_calls(session, translator.drain_calls(), row.id)
        session.commit()
    if not translated.strip():
        raise WorkflowError("the translation came back empty; write the customer text yourself")
    return translated, compare_translation(english, back).findings()


def _domain() -> str:
    from assistant.settings import get_settings

    return get_settings().support_address.rpartition("@")[2] or "localhost"


def _reply_subject(subject: str) -> str:
    subject = subject.strip() or "Your message to Crocso customer service"
    return subject if subject.lower().startswith("re:") else f"Re: {subject}"


def reject(session: Session, inquiry_id: int, *, agent: Actor | str, reason: str) -> InquiryRow:
    """Nothing will be sent (spam, a duplicate, a case handled elsewhere)."""
    return workflow.apply(session, inquiry_id, Action.reject, _actor(agent), reason=reason)


def escalate(
    session: Session, inquiry_id: int, *, agent: Actor | str, reason: str | None = None
) -> InquiryRow:
    """Hand the inquiry to a senior agent (policy §4); it stays reviewable."""
    return workflow.apply(session, inquiry_id, Action.escalate, _actor(agent), reason=reason)


def mark_no_reply_needed(
    session: Session, inquiry_id: int, *, agent: Actor | str, reason: str
) -> InquiryRow:
    """An auto-reply, a bounce, spam or a thank-you that needs no answer; reversible."""
    return workflow.apply(
        session, inquiry_id, Action.mark_no_reply_needed, _actor(agent), reason=reason
    )


def reopen(
    session: Session, inquiry_id: int, *, agent: Actor | str, reason: str | None = None
) -> InquiryRow:
    """Undo "no reply needed": back to where it was when it was marked (escalated, drafted,
    quarantined, …); mail marked as it arrived goes back to `received`, for `run`."""
    _known(session, inquiry_id)
    marks = [
        e
        for e in records.audit_trail(session, inquiry_id)
        if e.action is Action.mark_no_reply_needed
    ]
    before = marks[-1].from_status if marks else None
    return workflow.apply(
        session, inquiry_id, Action.reopen, _actor(agent), to=before or S.received, reason=reason
    )


def redraft(
    session: Session,
    inquiry_id: int,
    *,
    agent: Actor | str,
    backend: Backend,
    category: Category | None = None,
    expected_version: int | None = None,
) -> DraftRow:
    """A fresh draft, optionally after the agent sets the category (manual triage)."""
    actor = _actor(agent)
    row = _known(session, inquiry_id)
    # Refusals first, before paying for an LLM call (apply checks again, locked).
    workflow.check_allowed(Action.redraft, actor, row.status, inquiry_id)
    workflow.check_version(row, records.current_draft(session, row), expected_version)
    assert row.id is not None
    inquiry = records.as_inquiry(row)
    session.commit()  # no transaction (on SQLite: no write lock) held while the backend works
    triage = backend.triage_many([inquiry])[0]
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
    draft = backend.draft(inquiry, triage)
    records.store_llm_calls(session, backend.drain_calls(), row.id)
    session.commit()  # what the LLM cost is kept, whatever the agent's action comes to
    made: list[DraftRow] = []

    def store_new_rows(session: Session, row: InquiryRow, old: DraftRow | None) -> dict:
        """Once the inquiry is locked: the new triage and draft, one version further."""
        assert row.id is not None
        new_triage = TriageRow(
            **records.triage_values(row.id, triage, set_by=actor.name if category else None)
        )
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
        reason=f"category set to {category.value}" if category else None,
        prepare=store_new_rows,
    )
    return made[0]

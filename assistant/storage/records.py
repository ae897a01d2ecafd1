"""Reading and writing rows: plain functions, the session passed in, keyword arguments.

No business rule lives here; `pipeline` and `review` decide, this module stores.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import case, func, insert, update
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import Select

from assistant.models import Draft, InquiryIn, InquiryStatus, LlmCall, Triage
from assistant.storage.tables import (
    AuditEventRow,
    DraftRow,
    InquiryRow,
    LlmCallRow,
    OutboundReplyRow,
    TriageRow,
    utcnow,
)


def content_hash(inquiry: InquiryIn) -> str:
    """Identity of an email without a Message-ID: sender, subject and body."""
    basis = "\x1f".join(
        [inquiry.from_address.strip().lower(), inquiry.subject.strip(), inquiry.body.strip()]
    )
    return hashlib.sha256(basis.encode("utf-8", "surrogatepass")).hexdigest()


def known_keys(
    session: Session, *, message_ids: list[str], digests: list[str]
) -> dict[str, tuple[int, str]]:
    """Stored Message-IDs ("id:…") and content hashes ("hash:…") → (inquiry id, status), in
    two queries; see `pipeline._identity`."""
    known: dict[str, tuple[int, str]] = {}
    columns = (
        col(InquiryRow.id),
        col(InquiryRow.status),
        col(InquiryRow.message_id),
        col(InquiryRow.content_hash),
    )
    for column, values in (
        (InquiryRow.message_id, message_ids),
        (InquiryRow.content_hash, digests),
    ):
        for start in range(0, len(values), 500):
            chunk = values[start : start + 500]
            if not chunk:
                continue
            for row_id, status, message_id, digest in session.execute(
                select(*columns).where(col(column).in_(chunk))
            ):
                if message_id:
                    known[f"id:{message_id}"] = (row_id, status)
                known.setdefault(f"hash:{digest}", (row_id, status))
    return known


def inquiry_values(inquiry: InquiryIn, *, digest: str, now: datetime) -> dict:
    return {
        "message_id": inquiry.message_id,
        "content_hash": digest,
        "from_address": inquiry.from_address,
        "from_name": inquiry.from_name,
        "to_address": inquiry.to_address,
        "subject": inquiry.subject,
        "body": inquiry.body,
        "raw": inquiry.raw,
        "in_reply_to": inquiry.in_reply_to,
        "references": inquiry.references,
        "source": inquiry.source,
        "received_at": inquiry.received_at or now,
        "ingested_at": now,
        "status": InquiryStatus.received.value,
        "translation_support": False,
    }


def insert_returning_ids(session: Session, table, rows: list[dict]) -> list[int]:
    """Bulk INSERT (one statement per batch), ids returned in the order of `rows`."""
    if not rows:
        return []
    statement = insert(table).returning(table.id, sort_by_parameter_order=True)
    return list(session.scalars(statement, rows))


def insert_rows(session: Session, table, rows: list[dict]) -> None:
    if rows:
        session.execute(insert(table), rows)


def update_rows(session: Session, table, rows: list[dict]) -> None:
    """Bulk UPDATE by primary key (each dict carries `id`)."""
    if rows:
        session.execute(update(table), rows)


def audit_values(
    *,
    inquiry_id: int,
    actor: str,
    action: str,
    from_status: str | None,
    to_status: str,
    draft_id: int | None = None,
    text_before: str | None = None,
    text_after: str | None = None,
    reason: str | None = None,
    english_text: str | None = None,
) -> dict:
    return {
        "inquiry_id": inquiry_id,
        "draft_id": draft_id,
        "actor": actor,
        "action": action,
        "from_status": from_status,
        "to_status": to_status,
        "text_before": text_before,
        "text_after": text_after,
        "reason": reason,
        "english_text": english_text,
        "at": utcnow(),
    }


def as_inquiry(row: InquiryRow) -> InquiryIn:
    return InquiryIn(
        message_id=row.message_id,
        from_address=row.from_address,
        from_name=row.from_name,
        to_address=row.to_address,
        subject=row.subject,
        body=row.body,
        received_at=row.received_at,
        in_reply_to=row.in_reply_to,
        references=row.references,
        source=row.source,
    )


def audit(
    session: Session,
    *,
    inquiry: InquiryRow,
    actor: str,
    action: str,
    to_status: str,
    draft_id: int | None = None,
    text_before: str | None = None,
    text_after: str | None = None,
    reason: str | None = None,
    english_text: str | None = None,
) -> AuditEventRow:
    """Record a state change and apply it to the inquiry row."""
    assert inquiry.id is not None  # the inquiry is a stored row
    event = AuditEventRow(
        **audit_values(
            inquiry_id=inquiry.id,
            actor=actor,
            action=action,
            from_status=inquiry.status,
            to_status=to_status,
            draft_id=draft_id,
            text_before=text_before,
            text_after=text_after,
            reason=reason,
            english_text=english_text,
        )
    )
    inquiry.status = to_status
    session.add(event)
    session.add(inquiry)
    return event


def triage_values(inquiry_id: int, triage: Triage) -> dict:
    details = triage.model_dump(
        mode="json",
        include={"top_guesses", "reasons", "needs_translation", "fallback_reason", "english_text"},
    )
    return {
        "inquiry_id": inquiry_id,
        "category": triage.category.value,
        "confidence": triage.confidence,
        "confidence_level": triage.confidence_level.value,
        "needs_manual_triage": triage.needs_manual_triage,
        "urgency": triage.urgency.value,
        "urgency_rule": triage.urgency_rule,
        "escalation": triage.escalation,
        "escalation_reason": triage.escalation_reason,
        "language": triage.language,
        "language_confidence": triage.language_confidence,
        "due_at": triage.due_at,
        "due_latest_at": triage.due_latest_at,
        "details": details,
        "backend": triage.backend,
        "model": triage.model,
        "created_at": utcnow(),
    }


def draft_values(inquiry_id: int, draft: Draft) -> dict:
    return {
        "inquiry_id": inquiry_id,
        "body": draft.body,
        "english_body": draft.english_body,
        "language": draft.language,
        "citations": list(draft.citations),
        "grounding": [f.model_dump() for f in draft.grounding.findings],
        "template": draft.template,
        "backend": draft.backend,
        "model": draft.model,
        "policy_version": draft.policy_version,
        "fallback_reason": draft.fallback_reason,
        "created_at": utcnow(),
    }


def triage_row(inquiry_id: int, triage: Triage) -> TriageRow:
    return TriageRow(**triage_values(inquiry_id, triage))


def draft_row(inquiry_id: int, draft: Draft) -> DraftRow:
    return DraftRow(**draft_values(inquiry_id, draft))


def get_inquiry(session: Session, inquiry_id: int) -> InquiryRow | None:
    return session.get(InquiryRow, inquiry_id)


def latest_triage(session: Session, inquiry_id: int) -> TriageRow | None:
    query = select(TriageRow).where(TriageRow.inquiry_id == inquiry_id)
    return session.exec(query.order_by(col(TriageRow.id).desc())).first()


def latest_draft(session: Session, inquiry_id: int) -> DraftRow | None:
    query = select(DraftRow).where(DraftRow.inquiry_id == inquiry_id)
    return session.exec(query.order_by(col(DraftRow.id).desc())).first()


def audit_trail(session: Session, inquiry_id: int) -> list[AuditEventRow]:
    query = select(AuditEventRow).where(AuditEventRow.inquiry_id == inquiry_id)
    return list(session.exec(query.order_by(col(AuditEventRow.id))))


def outbound_reply(session: Session, inquiry_id: int) -> OutboundReplyRow | None:
    query = select(OutboundReplyRow).where(OutboundReplyRow.inquiry_id == inquiry_id)
    return session.exec(query).first()


OPEN_STATUSES = (
    InquiryStatus.received,
    InquiryStatus.needs_manual_triage,
    InquiryStatus.triaged,
    InquiryStatus.drafted,
    InquiryStatus.escalated,
)


def review_queue(
    session: Session,
    *,
    statuses: tuple[InquiryStatus, ...] = OPEN_STATUSES,
    limit: int = 200,
    translation_support: bool | None = None,
) -> list[InquiryRow]:
    """Open inquiries: urgent first, then the earliest due; undated ones last.

    `translation_support=True` is the translation-support queue (mail we could only
    acknowledge in the customer's language); False leaves it out.
    """
    urgent_first = case((col(InquiryRow.urgency) == "urgent", 0), else_=1)
    query = select(InquiryRow).where(col(InquiryRow.status).in_([s.value for s in statuses]))
    if translation_support is not None:
        query = query.where(InquiryRow.translation_support == translation_support)
    query = query.order_by(
        urgent_first, col(InquiryRow.due_at).is_(None), col(InquiryRow.due_at), col(InquiryRow.id)
    ).limit(limit)
    return list(session.exec(query))


def inquiries_with_status(session: Session, status: InquiryStatus) -> list[InquiryRow]:
    query = select(InquiryRow).where(InquiryRow.status == status.value).order_by(col(InquiryRow.id))
    return list(session.exec(query))


def statuses_of(session: Session, ids: list[int]) -> dict[int, str]:
    """Current status of each of these inquiries, in chunks the databases accept."""
    found: dict[int, str] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        query = select(InquiryRow.id, InquiryRow.status).where(col(InquiryRow.id).in_(chunk))
        found.update({row_id: status for row_id, status in session.exec(query)})
    return found


def count_by_status(session: Session) -> dict[str, int]:
    query = select(InquiryRow.status, func.count()).group_by(InquiryRow.status)
    return {status: count for status, count in session.exec(query)}


def approved_replies(session: Session, *, include_exported: bool = False) -> list[OutboundReplyRow]:
    query = (
        select(OutboundReplyRow)
        .join(InquiryRow, col(InquiryRow.id) == OutboundReplyRow.inquiry_id)
        .where(InquiryRow.status == InquiryStatus.approved.value)
    )
    if not include_exported:
        query = query.where(col(OutboundReplyRow.exported_at).is_(None))
    return list(session.exec(query.order_by(col(OutboundReplyRow.id))))


LLM_CALL_LIMITS = {
    "purpose": 32,
    "model": 128,
    "base_url": 512,
    "response_mode": 16,
    "request_id": 128,
}


def llm_call_values(call: LlmCall, inquiry_id: int | None, run_id: str | None) -> dict:
    """A row for `llm_call`; server-supplied strings (a model's file path, say) are cut to fit."""
    values = call.model_dump(exclude={"inquiry_key"})
    for name, limit in LLM_CALL_LIMITS.items():
        if isinstance(values.get(name), str):
            values[name] = values[name][:limit]
    return {**values, "inquiry_id": inquiry_id, "run_id": run_id, "at": utcnow()}


def store_llm_calls(session: Session, backend: object, inquiry_id: int | None) -> None:
    """Calls an LLM backend made for a review action (re-draft, re-translation)."""
    drain = getattr(backend, "drain_calls", None)
    calls = drain() if drain is not None else []
    if calls:
        insert_rows(session, LlmCallRow, [llm_call_values(c, inquiry_id, None) for c in calls])


def llm_usage(session: Session, run_id: str | None = None) -> dict:
    """Calls, tokens and estimated cost, for one run or for everything stored."""
    # Six columns are more than sqlmodel's typed `select` overloads cover (four); for
    # several columns `select` builds exactly this `Select`.
    query: Select[int, int, int, int, float, int] = Select(
        func.count(col(LlmCallRow.id)),
        func.coalesce(func.sum(LlmCallRow.prompt_tokens), 0),
        func.coalesce(func.sum(LlmCallRow.completion_tokens), 0),
        func.coalesce(func.sum(LlmCallRow.cached_tokens), 0),
        func.coalesce(func.sum(LlmCallRow.cost_usd), 0.0),
        func.coalesce(func.sum(case((col(LlmCallRow.ok).is_(False), 1), else_=0)), 0),
    )
    if run_id is not None:
        query = query.where(LlmCallRow.run_id == run_id)
    calls, prompt, completion, cached, cost, failed = session.exec(query).one()
    return {
        "calls": calls,
        "failed_calls": failed,
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "cached_tokens": cached,
        "cost_usd": round(float(cost), 6),
    }

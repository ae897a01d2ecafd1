"""Reading and writing rows: plain functions, the session passed in, keyword arguments.

No business rule lives here: `workflow` decides and changes states (a new row gets the
status the workflow gave it), `pipeline` and `review` prepare the data, this module stores
and reads.
"""

from __future__ import annotations

import hashlib
import zlib
from datetime import datetime
from typing import Any

from sqlalchemy import Enum, case, func, insert, or_
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import Select

from assistant.models import (
    Action,
    ActorKind,
    DeliveryState,
    Draft,
    InquiryIn,
    InquiryStatus,
    LlmCall,
    Triage,
)
from assistant.storage.tables import (
    AuditEventRow,
    DraftRow,
    InquiryRow,
    LlmCallRow,
    OutboundReplyRow,
    TriageRow,
    utcnow,
)

S = InquiryStatus


def content_hash(inquiry: InquiryIn) -> str:
    """Identity of an email without a Message-ID: sender, subject and body."""
    basis = "\x1f".join(
        [inquiry.from_address.strip().lower(), inquiry.subject.strip(), inquiry.body.strip()]
    )
    return hashlib.sha256(basis.encode("utf-8", "surrogatepass")).hexdigest()


def known_keys(
    session: Session, *, message_ids: list[str], digests: list[str]
) -> dict[str, tuple[int, InquiryStatus]]:
    """Stored Message-IDs ("id:…") and content hashes of mail without one ("hash:…") →
    (inquiry id, status), in as few queries as the databases accept."""
    known: dict[str, tuple[int, InquiryStatus]] = {}
    columns = (
        col(InquiryRow.id),
        col(InquiryRow.status),
        col(InquiryRow.message_id),
        col(InquiryRow.content_hash),
    )
    for column, values, prefix in (
        (InquiryRow.message_id, message_ids, "id"),
        (InquiryRow.content_hash, digests, "hash"),
    ):
        for start in range(0, len(values), 500):
            chunk = values[start : start + 500]
            if not chunk:
                continue
            query = select(*columns).where(col(column).in_(chunk))
            if prefix == "hash":
                query = query.where(col(InquiryRow.message_id).is_(None))
            for row_id, status, message_id, digest in session.execute(query):
                key = f"id:{message_id}" if prefix == "id" else f"hash:{digest}"
                known[key] = (row_id, status)
    return known


def _string_limits() -> dict[str, int]:
    table = InquiryRow.__table__  # type: ignore[attr-defined]
    return {
        column.name: column.type.length
        for column in table.columns
        if getattr(column.type, "length", None) and not isinstance(column.type, Enum)
    }


INQUIRY_LIMITS = _string_limits()


def fit_columns(values: dict[str, Any], limits: dict[str, int] = INQUIRY_LIMITS) -> dict[str, Any]:
    """Cut values to their column's length: PostgreSQL refuses what SQLite would store."""
    for name, limit in limits.items():
        value = values.get(name)
        if isinstance(value, str) and len(value) > limit:
            values[name] = value[:limit]
    return values


def inquiry_values(inquiry: InquiryIn, *, digest: str, now: datetime) -> dict[str, Any]:
    """A new inquiry row; the workflow adds its status."""
    return fit_columns(
        {
            "message_id": inquiry.message_id,
            "content_hash": digest,
            "from_address": inquiry.from_address,
            "from_name": inquiry.from_name,
            "to_address": inquiry.to_address,
            "reply_to": inquiry.reply_to,
            "subject": inquiry.subject,
            "body": inquiry.body,
            "hidden_text": inquiry.hidden_text,
            "attachments": inquiry.attachments or None,
            # The bytes compressed when we have them; older sources (JSONL) give text.
            "raw": None if inquiry.raw_bytes is not None else inquiry.raw,
            "raw_gz": zlib.compress(inquiry.raw_bytes, 6) if inquiry.raw_bytes else None,
            "in_reply_to": inquiry.in_reply_to,
            "references": inquiry.references,
            "source": inquiry.source,
            "received_at": inquiry.received_at or now,
            "ingested_at": now,
            "translation_support": False,
            "error": None,
        }
    )


def insert_new_inquiries(session: Session, rows: list[dict[str, Any]]) -> dict[int, int]:
    """INSERT those rows whose Message-ID (or, without one, content hash) is not stored
    yet; {index in rows: new id}. A row another process inserts at the same moment is
    skipped, not an error (ON CONFLICT DO NOTHING, on SQLite as on PostgreSQL)."""
    if not rows:
        return {}
    from sqlalchemy.dialects import postgresql, sqlite  # here: most commands never insert

    postgres = session.get_bind().dialect.name == "postgresql"
    table = InquiryRow.__table__  # type: ignore[attr-defined]
    statement = (
        (postgresql.insert(table) if postgres else sqlite.insert(table))
        .on_conflict_do_nothing()
        .returning(table.c.id, table.c.message_id, table.c.content_hash)
    )
    index_of = {_row_key(row["message_id"], row["content_hash"]): i for i, row in enumerate(rows)}
    created: dict[int, int] = {}
    for start in range(0, len(rows), 500):
        result = session.execute(statement, rows[start : start + 500])
        for row_id, message_id, digest in result:
            created[index_of[_row_key(message_id, digest)]] = row_id
    return created


def _row_key(message_id: str | None, digest: str) -> str:
    return f"id:{message_id}" if message_id else f"hash:{digest}"


def insert_returning_ids(session: Session, model, rows: list[dict]) -> list[int]:
    """Bulk INSERT (one statement per batch, no ORM bookkeeping), ids returned in the
    order of `rows`."""
    if not rows:
        return []
    table = model.__table__
    statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    return list(session.scalars(statement, rows))


def insert_rows(session: Session, model, rows: list[dict]) -> None:
    if rows:
        session.execute(insert(model.__table__), rows)


def audit_values(
    *,
    inquiry_id: int,
    actor: str,
    actor_kind: ActorKind = ActorKind.system,
    action: Action,
    from_status: InquiryStatus | None,
    to_status: InquiryStatus,
    draft_id: int | None = None,
    text_before: str | None = None,
    text_after: str | None = None,
    reason: str | None = None,
    english_text: str | None = None,
    recipient: str | None = None,
) -> dict:
    return {
        "inquiry_id": inquiry_id,
        "draft_id": draft_id,
        "actor": actor[:128],
        "actor_kind": actor_kind,
        "action": action,
        "from_status": from_status,
        "to_status": to_status,
        "text_before": text_before,
        "text_after": text_after,
        "reason": reason,
        "english_text": english_text,
        "recipient": recipient,
        "at": utcnow(),
    }


def raw_message(row: InquiryRow) -> bytes | None:
    """The message as received: decompressed, or (mail stored before 0006) the text."""
    if row.raw_gz:
        try:
            return zlib.decompress(row.raw_gz)
        except zlib.error:
            return None
    return row.raw.encode("utf-8", "surrogateescape") if row.raw else None


def as_inquiry(row: InquiryRow) -> InquiryIn:
    return InquiryIn(
        message_id=row.message_id,
        from_address=row.from_address,
        from_name=row.from_name,
        to_address=row.to_address,
        reply_to=row.reply_to,
        subject=row.subject,
        body=row.body,
        hidden_text=row.hidden_text,
        attachments=row.attachments or [],
        received_at=row.received_at,
        in_reply_to=row.in_reply_to,
        references=row.references,
        source=row.source,
    )


def triage_values(inquiry_id: int, triage: Triage, set_by: str | None = None) -> dict:
    details = triage.model_dump(
        mode="json",
        include={
            "top_guesses",
            "reasons",
            "needs_translation",
            "fallback_reason",
            "english_text",
            "second_opinion",
            "overruled",
            "urgency_signal",
        },
    )
    return {
        "inquiry_id": inquiry_id,
        "category": triage.category,
        "confidence": triage.confidence,
        "confidence_level": triage.confidence_level,
        "needs_manual_triage": triage.needs_manual_triage,
        "urgency": triage.urgency,
        "urgency_rule": triage.urgency_rule,
        "escalation": triage.escalation,
        "escalation_reason": (triage.escalation_reason or None) and triage.escalation_reason[:200],
        "language": triage.language[:8],
        "language_confidence": triage.language_confidence,
        "due_at": triage.due_at,
        "due_latest_at": triage.due_latest_at,
        "details": details,
        "instructions": list(triage.instructions) or None,
        "backend": triage.backend[:32],
        "model": triage.model and triage.model[:128],
        "set_by": set_by,
        "created_at": utcnow(),
    }


def as_triage(row: TriageRow) -> Triage:
    """A stored triage as the model drafting takes (a worker drafts after another stored it)."""
    details = row.details or {}
    return Triage(
        category=row.category,
        confidence=row.confidence,
        confidence_level=row.confidence_level,
        top_guesses=details.get("top_guesses") or [],
        needs_manual_triage=row.needs_manual_triage,
        urgency=row.urgency,
        urgency_rule=row.urgency_rule,
        escalation=row.escalation,
        escalation_reason=row.escalation_reason,
        language=row.language,
        language_confidence=row.language_confidence,
        needs_translation=bool(details.get("needs_translation")),
        due_at=row.due_at,
        due_latest_at=row.due_latest_at,
        reasons=details.get("reasons") or [],
        backend=row.backend,
        model=row.model,
        fallback_reason=details.get("fallback_reason"),
        english_text=details.get("english_text"),
        instructions=row.instructions or [],
        second_opinion=details.get("second_opinion"),
        overruled=details.get("overruled") or [],
        urgency_signal=details.get("urgency_signal"),
    )


def draft_values(inquiry_id: int, draft: Draft, version: int = 1) -> dict:
    return {
        "inquiry_id": inquiry_id,
        "version": version,
        "body": draft.body,
        "english_body": draft.english_body,
        "language": draft.language[:8],
        "citations": list(draft.citations),
        "grounding": list(draft.grounding.findings),
        "template": draft.template,
        "promises_escalation": draft.promises_escalation,
        "backend": draft.backend[:32],
        "model": draft.model and draft.model[:128],
        "policy_version": draft.policy_version[:128],
        "fallback_reason": draft.fallback_reason,
        "knowledge": [use.model_dump() for use in draft.knowledge] or None,
        "knowledge_version": draft.knowledge_version[:128] or None,
        "created_at": utcnow(),
    }


def get_inquiry(session: Session, inquiry_id: int) -> InquiryRow | None:
    return session.get(InquiryRow, inquiry_id)


def current_triage(session: Session, row: InquiryRow) -> TriageRow | None:
    return session.get(TriageRow, row.triage_id) if row.triage_id else None


def current_draft(session: Session, row: InquiryRow) -> DraftRow | None:
    return session.get(DraftRow, row.draft_id) if row.draft_id else None


def latest_triage(session: Session, inquiry_id: int) -> TriageRow | None:
    row = get_inquiry(session, inquiry_id)
    return current_triage(session, row) if row else None


def latest_draft(session: Session, inquiry_id: int) -> DraftRow | None:
    row = get_inquiry(session, inquiry_id)
    return current_draft(session, row) if row else None


def last_draft_version(session: Session, inquiry_id: int) -> int:
    """The highest draft version the inquiry has had (0: none yet)."""
    query = select(func.max(DraftRow.version)).where(DraftRow.inquiry_id == inquiry_id)
    return session.exec(query).one() or 0


def audit_trail(session: Session, inquiry_id: int) -> list[AuditEventRow]:
    query = select(AuditEventRow).where(AuditEventRow.inquiry_id == inquiry_id)
    return list(session.exec(query.order_by(col(AuditEventRow.id))))


def outbound_reply(session: Session, inquiry_id: int) -> OutboundReplyRow | None:
    query = select(OutboundReplyRow).where(OutboundReplyRow.inquiry_id == inquiry_id)
    return session.exec(query).first()


def ids_with_status(session: Session, status: InquiryStatus) -> list[int]:
    query = select(InquiryRow.id).where(InquiryRow.status == status).order_by(col(InquiryRow.id))
    return [row_id for row_id in session.exec(query) if row_id is not None]


def inquiries_by_ids(session: Session, ids: list[int]) -> list[InquiryRow]:
    """These inquiries, in the order of `ids`."""
    found = {
        row.id: row for row in session.exec(select(InquiryRow).where(col(InquiryRow.id).in_(ids)))
    }
    return [found[i] for i in ids if i in found]


def inquiries_with_status(session: Session, status: InquiryStatus) -> list[InquiryRow]:
    query = select(InquiryRow).where(InquiryRow.status == status).order_by(col(InquiryRow.id))
    return list(session.exec(query))


def statuses_of(session: Session, ids: list[int]) -> dict[int, InquiryStatus]:
    """Current status of each of these inquiries, in chunks the databases accept."""
    found: dict[int, InquiryStatus] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        query = select(InquiryRow.id, InquiryRow.status).where(col(InquiryRow.id).in_(chunk))
        found.update(
            {row_id: InquiryStatus(status) for row_id, status in session.exec(query) if row_id}
        )
    return found


def count_by_status(session: Session) -> dict[str, int]:
    query = select(InquiryRow.status, func.count()).group_by(InquiryRow.status)
    return {InquiryStatus(status).value: count for status, count in session.exec(query)}


def approved_replies(
    session: Session, *, include_exported: bool = False, for_export: bool = False
) -> list[OutboundReplyRow]:
    """Approved replies waiting to go out. `for_export`: locked until the export commits
    (on PostgreSQL; SQLite's write lock does it), so `mail send` cannot take one meanwhile."""
    query = (
        select(OutboundReplyRow)
        .join(InquiryRow, col(InquiryRow.id) == OutboundReplyRow.inquiry_id)
        .where(InquiryRow.status == S.approved, OutboundReplyRow.delivery == DeliveryState.approved)
    )
    if not include_exported:
        query = query.where(col(OutboundReplyRow.exported_at).is_(None))
    # A reply still in its undo window (approved in the workspace seconds ago) waits.
    query = query.where(
        or_(
            col(OutboundReplyRow.send_after).is_(None),
            col(OutboundReplyRow.send_after) <= utcnow(),
        )
    )
    if for_export and session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(of=OutboundReplyRow)  # type: ignore[arg-type]
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


def store_llm_calls(
    session: Session, calls: list[LlmCall], inquiry_id: int | None, run_id: str | None = None
) -> None:
    """Calls an LLM backend made, kept with what they were for."""
    if calls:
        insert_rows(session, LlmCallRow, [llm_call_values(c, inquiry_id, run_id) for c in calls])


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

"""The review queue: what needs an agent, urgent first, then by due time, a page at a
time from one query, whatever the size of the database."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import and_, exists, or_
from sqlmodel import Session
from sqlmodel.sql.expression import Select

from assistant.models import OPEN_STATUSES, DeliveryState, InquiryStatus
from assistant.storage.tables import (
    AuditEventRow,
    InquiryPresenceRow,
    InquiryRow,
    OutboundReplyRow,
    TriageRow,
)

S = InquiryStatus
D = DeliveryState
# What the queue shows by default: open work, and mail that could not be read.
ATTENTION_STATUSES = (*OPEN_STATUSES, S.quarantined)


class QueueItem(BaseModel):
    """One line of the review queue: what an agent needs to pick the next inquiry."""

    id: int
    status: InquiryStatus
    status_reason: str | None
    urgency: str | None
    due_at: datetime | None
    category: str | None
    category_set_by: str | None
    confidence: str | None
    escalation: bool  # asked for (§4) or escalated by an agent
    language: str | None
    translation_support: bool
    from_address: str
    subject: str
    message_id: str | None
    error: str | None
    sla_warned: bool = False  # the SLA check flagged it as about to breach (§3)
    instructions: bool = False  # the mail gives the assistant instructions (its triage found)

    def as_json(self) -> dict[str, Any]:
        data = self.model_dump(mode="json")
        data["from"] = data.pop("from_address")
        return data


class QueueFilter(BaseModel):
    """What the workspace's filters ask of the queue; all of them must hold."""

    urgent: bool = False
    overdue_at: datetime | None = None  # due before this time (now)
    escalated: bool = False
    search: str | None = None  # sender, subject, order number (or any text of the mail)
    mine: str | None = None  # an account: inquiries it opened or acted on
    delivery_problems: bool = False  # an approved reply that failed or may not have arrived
    at_risk: bool = False  # flagged by the SLA check as about to breach


def _like(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _filtered(page: Select, inquiry, triage, where: QueueFilter) -> Select:
    if where.urgent:
        page = page.where(inquiry.c.urgency == "urgent")
    if where.overdue_at is not None:
        page = page.where(inquiry.c.due_at < where.overdue_at)
    if where.escalated:
        flagged = exists().where(triage.c.id == inquiry.c.triage_id, triage.c.escalation.is_(True))
        page = page.where(or_(inquiry.c.status == S.escalated, flagged))
    if where.search and where.search.strip():
        pattern = _like(where.search.strip()[:200])
        page = page.where(
            or_(
                *(
                    inquiry.c[name].ilike(pattern, escape="\\")
                    for name in ("from_address", "from_name", "subject", "body", "message_id")
                )
            )
        )
    if where.at_risk:
        page = page.where(inquiry.c.sla_warned_at.is_not(None))
    if where.delivery_problems:
        replies = OutboundReplyRow.__table__  # type: ignore[attr-defined]
        page = page.where(
            exists().where(
                replies.c.inquiry_id == inquiry.c.id,
                replies.c.delivery.in_([D.failed.value, D.uncertain.value]),
            )
        )
    if where.mine:
        presence = InquiryPresenceRow.__table__  # type: ignore[attr-defined]
        events = AuditEventRow.__table__  # type: ignore[attr-defined]
        opened = exists().where(
            presence.c.inquiry_id == inquiry.c.id, presence.c.account == where.mine
        )
        acted = exists().where(
            and_(
                events.c.inquiry_id == inquiry.c.id,
                events.c.actor == where.mine,
                events.c.actor_kind == "agent",
            )
        )
        page = page.where(or_(opened, acted))
    return page


def delivery_problems(session: Session) -> int:
    """Approved replies that failed or may not have arrived: a person must look."""
    from sqlalchemy import func, select

    replies = OutboundReplyRow.__table__  # type: ignore[attr-defined]
    query = select(func.count()).where(replies.c.delivery.in_([D.failed.value, D.uncertain.value]))
    return int(session.execute(query).scalar_one())


def review_queue(
    session: Session,
    *,
    statuses: tuple[InquiryStatus, ...] = ATTENTION_STATUSES,
    limit: int = 200,
    offset: int = 0,
    translation_support: bool | None = None,
    where: QueueFilter | None = None,
) -> list[QueueItem]:
    """Open inquiries, urgent first, then the earliest due; undated ones last. One query
    (the current triage joined in), whatever the size of the database.

    `translation_support=True` is the translation-support queue (mail we could only
    acknowledge in the customer's language); False leaves it out. `where`: the
    workspace's filters; `offset`: its pages."""
    inquiry, triage = InquiryRow.__table__, TriageRow.__table__  # type: ignore[attr-defined]
    # "urgent" > "normal" > no urgency yet: the order of index ix_inquiry_attention, which
    # serves the default queue a page at a time; undated inquiries are the untriaged ones.
    order = (inquiry.c.urgency.desc().nulls_last(), inquiry.c.due_at, inquiry.c.id)
    # First the ids of the page, from an index alone; only then the columns shown, for
    # those rows: with 100,000 open inquiries, sorting whole rows read from the table costs
    # ten times more.
    page: Select = Select(inquiry.c.id).where(inquiry.c.status.in_(list(statuses)))
    if translation_support is not None:
        page = page.where(inquiry.c.translation_support == translation_support)
    if where is not None:
        page = _filtered(page, inquiry, triage, where)
    page = page.order_by(*order).limit(limit).offset(offset)
    query: Select = (
        Select(
            inquiry.c.id,
            inquiry.c.status,
            inquiry.c.status_reason,
            inquiry.c.urgency,
            inquiry.c.due_at,
            triage.c.category,
            triage.c.set_by,
            triage.c.confidence_level,
            or_(triage.c.escalation.is_(True), inquiry.c.status == S.escalated).label("esc"),
            inquiry.c.language,
            inquiry.c.translation_support,
            inquiry.c.from_address,
            inquiry.c.subject,
            inquiry.c.message_id,
            inquiry.c.error,
            inquiry.c.sla_warned_at,
            triage.c.instructions.is_not(None),
        )
        .select_from(inquiry.outerjoin(triage, triage.c.id == inquiry.c.triage_id))
        .where(inquiry.c.id.in_(page.scalar_subquery()))
        .order_by(*order)
    )
    return [
        QueueItem(
            id=row[0],
            status=row[1],
            status_reason=row[2],
            urgency=row[3].value if row[3] else None,
            due_at=row[4],
            category=row[5].value if row[5] else None,
            category_set_by=row[6],
            confidence=row[7].value if row[7] else None,
            escalation=bool(row[8]),
            language=row[9],
            translation_support=row[10],
            from_address=row[11],
            subject=row[12],
            message_id=row[13],
            error=row[14],
            sla_warned=row[15] is not None,
            instructions=bool(row[16]),
        )
        for row in session.execute(query)
    ]

"""What a page shows, read from storage: the queue with who is viewing what, and the
review page's mail, triage, draft (with its findings marked where they are), citations
and history. Reading only: changes go through `assistant.review`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from assistant.ingest.attachments import attachments_of
from assistant.knowledge import stored_entries
from assistant.models import GroundingFinding, InquiryStatus
from assistant.policy import Policy
from assistant.storage import presence, records
from assistant.storage.failures import open_failures
from assistant.storage.queue import (
    ATTENTION_STATUSES,
    LlmOpinionView,
    QueueFilter,
    QueueItem,
    delivery_problems,
    llm_opinion_view,
    review_queue,
)
from assistant.storage.tables import InquiryRow, OutboundReplyRow

S = InquiryStatus

# The queue's filters: those that choose statuses, and those that narrow them.
STATUS_FILTERS = {
    "manual": (S.needs_manual_triage,),
    "quarantined": (S.quarantined,),
    "no_reply": (S.no_reply_needed,),
    "approved": (S.approved,),
    "delivery": (S.approved,),
}
FILTER_LABELS = {
    "urgent": "Urgent",
    "overdue": "Overdue",
    "at_risk": "About to breach",
    "translation": "Translation support",
    "escalated": "Escalated (seniors)",
    "manual": "Needs manual triage",
    "quarantined": "Quarantined",
    "no_reply": "No reply needed",
    "approved": "Approved, not sent",
    "delivery": "Delivery problems",
    "mine": "Mine",
}


@dataclass
class QueuePage:
    items: list[QueueItem]
    viewers: dict[int, list[str]]
    active: list[str]
    search: str
    page: int
    has_more: bool
    now: datetime
    delivery_problems: int = 0  # replies that failed or may not have arrived
    task_failures: list = field(default_factory=list)  # background tasks given up on


def queue_page(
    db: Session,
    *,
    account: str,
    active: list[str],
    search: str,
    page: int,
    size: int,
    now: datetime,
) -> QueuePage:
    active = [name for name in FILTER_LABELS if name in active]
    statuses: tuple[InquiryStatus, ...] = ATTENTION_STATUSES
    chosen = [STATUS_FILTERS[name] for name in active if name in STATUS_FILTERS]
    if chosen:
        statuses = tuple(s for group in chosen for s in group)
    where = QueueFilter(
        urgent="urgent" in active,
        overdue_at=now if "overdue" in active else None,
        escalated="escalated" in active,
        search=search or None,
        mine=account if "mine" in active else None,
        delivery_problems="delivery" in active,
        at_risk="at_risk" in active,
    )
    items = review_queue(
        db,
        statuses=statuses,
        limit=size + 1,
        offset=(page - 1) * size,
        translation_support=True if "translation" in active else None,
        where=where,
    )
    shown = items[:size]
    return QueuePage(
        items=shown,
        viewers=presence.viewers(db, [item.id for item in shown], now),
        active=active,
        search=search,
        page=page,
        has_more=len(items) > size,
        now=now,
        delivery_problems=delivery_problems(db),
        task_failures=open_failures(db, limit=5),
    )


@dataclass
class Segment:
    text: str
    finding: GroundingFinding | None = None
    number: int = 0


MAX_MARKED = 100  # findings marked in place; the rest are listed below the draft


def marked(text: str, findings: list[GroundingFinding]) -> list[Segment]:
    """The draft cut where its findings' excerpts occur, so each can be marked in place.
    Each distinct excerpt is searched once and at most `MAX_MARKED` spans are marked: a
    draft with thousands of findings costs no more than one with a hundred. A finding
    whose words are no longer in the text is listed, not marked."""
    lowered = text.lower()
    spans: list[tuple[int, int, int]] = []
    searched: set[str] = set()
    for number, finding in enumerate(findings, 1):
        excerpt = (finding.excerpt or "").strip().lower()
        if not excerpt or excerpt in searched:
            continue
        searched.add(excerpt)
        start = lowered.find(excerpt)
        while start >= 0 and len(spans) < MAX_MARKED:
            spans.append((start, start + len(excerpt), number))
            start = lowered.find(excerpt, start + len(excerpt))
        if len(spans) >= MAX_MARKED:
            break
    segments, at = [], 0
    for start, end, number in sorted(spans):
        if start < at:  # overlaps a span already marked
            continue
        if start > at:
            segments.append(Segment(text[at:start]))
        segments.append(Segment(text[start:end], findings[number - 1], number))
        at = end
    if at < len(text):
        segments.append(Segment(text[at:]))
    return segments


@dataclass
class ReviewPage:
    row: InquiryRow
    triage: Any
    draft: Any
    segments: list[Segment]
    citations: list[dict[str, str]]
    attachments: list[Any]
    thread: list[InquiryRow]
    trail: list[Any]
    reply: OutboundReplyRow | None
    viewers: list[str]
    english_text: str | None
    undo_until: datetime | None
    senior_needed: bool
    details: dict[str, Any] = field(default_factory=dict)
    # The LLM's answer where it differs from the triage kept, what was overruled and why.
    llm: LlmOpinionView | None = None


def _thread(db: Session, row: InquiryRow) -> list[InquiryRow]:
    """The customer's other mail, newest first (their earlier messages and follow-ups)."""
    if not row.from_address:
        return []
    query = (
        select(InquiryRow)
        .where(InquiryRow.from_address == row.from_address, col(InquiryRow.id) != row.id)
        .order_by(col(InquiryRow.received_at).desc())
        .limit(10)
    )
    return list(db.exec(query))


def _citations(policy: Policy, ids: list[str], draft=None, settings=None) -> list[dict[str, str]]:
    """Each citation with its title and text: a policy section, or a knowledge-base entry
    the draft was given (linked to its page)."""
    entries = {entry.id: entry for entry in stored_entries(draft, settings)} if draft else {}
    found = []
    for section_id in ids:
        if policy.has_section(section_id):
            section = policy.section(section_id)
            found.append(
                {"id": section.id, "title": section.title, "text": section.text, "href": ""}
            )
        elif section_id in entries:
            entry = entries[section_id]
            found.append(
                {
                    "id": entry.id,
                    "title": entry.title,
                    "text": entry.plain_text,
                    "href": f"/knowledge/{entry.id}",
                }
            )
        else:
            found.append(
                {
                    "id": section_id,
                    "title": "(not in the policy or the knowledge base)",
                    "text": "",
                    "href": "",
                }
            )
    return found


def review_page(
    db: Session,
    inquiry_id: int,
    *,
    account: str,
    role_senior: bool,
    policy: Policy,
    now: datetime,
    settings=None,
) -> ReviewPage | None:
    row = records.get_inquiry(db, inquiry_id)
    if row is None:
        return None
    triage = records.current_triage(db, row)
    draft = records.current_draft(db, row)
    reply = records.outbound_reply(db, inquiry_id)
    undo_until = reply.send_after if reply and reply.send_after and reply.send_after > now else None
    others = [
        name
        for name in presence.viewers(db, [inquiry_id], now).get(inquiry_id, [])
        if name != account
    ]
    details = dict(triage.details) if triage else {}
    return ReviewPage(
        row=row,
        triage=triage,
        draft=draft,
        segments=marked(draft.body, list(draft.grounding)) if draft else [],
        citations=_citations(policy, list(draft.citations), draft, settings) if draft else [],
        attachments=attachments_of(
            row.attachments, records.raw_message(row) if row.attachments is None else None
        ),
        thread=_thread(db, row),
        trail=records.audit_trail(db, inquiry_id),
        reply=reply,
        viewers=others,
        english_text=details.get("english_text"),
        undo_until=undo_until,
        senior_needed=row.status is S.escalated and not role_senior,
        details=details,
        llm=llm_opinion_view(
            triage.category,
            triage.urgency,
            escalation=triage.escalation,
            urgency_rule=triage.urgency_rule,
            details=details,
            set_by=triage.set_by,
        )
        if triage
        else None,
    )

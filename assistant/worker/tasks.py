"""The background tasks, as plain functions of a session: the same code runs as a
Procrastinate job on the team's PostgreSQL (`worker.queue`) and in-process on SQLite
(`worker.inprocess`).

Each is safe to run twice, whatever the queue re-delivers: its effects are guarded by our
own constraints (the inquiry's claim and conditional status updates, draft versions, the
outbox's delivery states), so a job run again after a crash finds its work done.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, or_
from sqlmodel import Session, col, func, select

from assistant import pipeline, recovery, workflow
from assistant.backends import Backend
from assistant.models import Action, Category, InquiryStatus, Urgency
from assistant.settings import Settings
from assistant.storage.failures import (
    open_failures,
    recently_failed,
    record_failure,
    resolve_failures,
)
from assistant.storage.tables import InquiryRow, utcnow
from assistant.workflow import Actor

log = logging.getLogger(__name__)
S = InquiryStatus
SLA_CHECK_BATCH = 500  # inquiries flagged per transaction


def process_inquiry(
    session: Session, backend: Backend, inquiry_id: int, owner: str
) -> InquiryStatus | None:
    """Triage and draft one stored inquiry (see `pipeline.process_one`)."""
    return pipeline.process_one(session, inquiry_id, backend, owner)


def waiting_inquiries(
    session: Session, limit: int = 10_000, *, skip_failed: bool = False
) -> list[int]:
    """Inquiries stored but not yet triaged, or triaged but not yet drafted, oldest first:
    what a crash between storing and enqueueing (or a job given up on) left behind.
    `skip_failed`: not those whose task failed for good in the last quarter hour."""
    query = (
        select(InquiryRow.id)
        .where(
            or_(
                col(InquiryRow.status) == S.received,
                and_(col(InquiryRow.status) == S.triaged, col(InquiryRow.draft_id).is_(None)),
            )
        )
        .order_by(col(InquiryRow.id))
        .limit(limit)
    )
    if skip_failed:
        query = query.where(col(InquiryRow.id).not_in(recently_failed(session)))
    ids = [i for i in session.exec(query) if i is not None]
    session.commit()
    return ids


def count_waiting(session: Session) -> int:
    """How many wait for triage or a draft (`waiting_inquiries` without its page limit)."""
    query = select(func.count()).where(
        or_(
            col(InquiryRow.status) == S.received,
            and_(col(InquiryRow.status) == S.triaged, col(InquiryRow.draft_id).is_(None)),
        )
    )
    count = session.exec(query).one()
    session.commit()
    return count


def redraft(
    session: Session,
    backend: Backend,
    inquiry_id: int,
    *,
    agent: str,
    role: str | None = None,
    category: str | None = None,
    expected_version: int | None = None,
    instruction: str | None = None,
) -> int | None:
    """An agent's re-draft (the workspace's "g"), done by a worker. Run again after it was
    done, the draft version it was asked for is gone and the workflow refuses it: nothing
    is written twice. Returns the new draft's version (None: refused, kept as a task
    failure the agent sees in the workspace)."""
    from assistant import review

    try:
        made = review.redraft(
            session,
            inquiry_id,
            agent=Actor.agent(agent, role),
            backend=backend,
            category=Category(category) if category else None,
            expected_version=expected_version,
            instruction=instruction,
        )
    except workflow.WorkflowError as refused:  # the agent who asked sees why
        log.info("re-draft of inquiry %s not done: %s", inquiry_id, refused)
        record_failure(
            session,
            task="redraft",
            error=f"re-draft asked for by {agent} not done: {refused}",
            inquiry_id=inquiry_id,
        )
        return None
    return made.version


def retry_fallbacks(session: Session, backend: Backend) -> dict[str, int]:
    """`assistant run --retry-fallbacks`, as a task a team runs periodically: the drafts
    that fell back to the local template because the LLM server failed for a moment are
    drafted again by the LLM, unless an agent has taken them up (see
    `recovery.retry_fallbacks`). Safe to run twice: a draft replaced is no longer a
    fallback, and a draft an agent acted on is refused by the workflow. With the local
    backend there is nothing to retry with: it does nothing, and says so in the log."""
    try:
        summary = recovery.retry_fallbacks(session, backend)
    except recovery.NothingToRetryWith as reason:
        log.info("retry of fallback drafts not done: %s", reason)
        return {"redrafted": 0, "fell_back": 0, "skipped": 0}
    if summary.redrafted or summary.fell_back:
        log.info(
            "fallback drafts: %s re-drafted with the LLM, %s fell back again (%s), %s skipped",
            summary.redrafted,
            summary.fell_back,
            summary.reasons[0] if summary.reasons else "",
            summary.skipped,
        )
    return {
        "redrafted": summary.redrafted,
        "fell_back": summary.fell_back,
        "skipped": summary.skipped,
    }


@dataclass
class SlaCheck:
    flagged: list[int] = field(default_factory=list)


def check_sla(session: Session, settings: Settings, now: datetime | None = None) -> SlaCheck:
    """Flag open inquiries about to breach their SLA (policy §3): urgent ones
    `sla_warn_urgent_hours` before they are due, normal ones `sla_warn_normal_hours`.
    Each is flagged once, with an audit event; the workspace shows and filters them."""
    now = now or utcnow()
    result = SlaCheck()
    windows = {
        Urgency.urgent: timedelta(hours=settings.sla_warn_urgent_hours),
        Urgency.normal: timedelta(hours=settings.sla_warn_normal_hours),
    }
    for urgency, window in windows.items():
        query = (
            select(InquiryRow.id)
            .where(
                col(InquiryRow.status).in_(workflow.OPEN),
                col(InquiryRow.urgency) == urgency,
                col(InquiryRow.due_at) <= now + window,
                col(InquiryRow.sla_warned_at).is_(None),
            )
            .order_by(col(InquiryRow.due_at))
            .limit(SLA_CHECK_BATCH)
        )
        ids = [i for i in session.exec(query) if i is not None]
        session.commit()
        for inquiry_id in ids:
            if _warn(session, inquiry_id, now):
                result.flagged.append(inquiry_id)
    return result


def _warn(session: Session, inquiry_id: int, now: datetime) -> bool:
    def flag(session: Session, row: InquiryRow, _draft) -> dict:
        row.sla_warned_at = now
        session.add(row)
        return {}

    try:
        row = workflow.locked_inquiry(session, inquiry_id)
        if row.sla_warned_at is not None or row.due_at is None:  # flagged meanwhile
            session.rollback()
            return False
        due = row.due_at
        left = due - now
        when = f"overdue by {_span(-left)}" if left.total_seconds() < 0 else f"due in {_span(left)}"
        workflow.apply(
            session,
            inquiry_id,
            Action.sla_warning,
            Actor.system("sla-check"),
            reason=f"about to breach its SLA: {when} ({due:%Y-%m-%d %H:%M} UTC)",
            prepare=flag,
        )
    except workflow.WorkflowError:  # closed meanwhile
        return False
    return True


def _span(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


__all__ = [
    "check_sla",
    "count_waiting",
    "open_failures",
    "process_inquiry",
    "record_failure",
    "redraft",
    "resolve_failures",
    "retry_fallbacks",
    "waiting_inquiries",
]

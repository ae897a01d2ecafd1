"""Background tasks given up on (their retries spent): kept for the agents — the
workspace's banner, `assistant worker status`, the inquiry's own page — until the work
is done after all (a later run, an agent's re-draft). The same task failing again for
the same inquiry updates its row: one line per problem, not one per try."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import or_, update
from sqlmodel import Session, col, select

from assistant.models import OPEN_STATUSES
from assistant.storage.tables import InquiryRow, TaskFailureRow, utcnow


def record_failure(
    session: Session,
    *,
    task: str,
    error: str,
    job_id: int | None = None,
    inquiry_id: int | None = None,
    attempts: int = 1,
) -> None:
    """A task given up on, kept for the agents (workspace banner, `worker status`). An
    inquiry whose triage or draft was given up on also says so on its own page."""
    session.rollback()
    same_inquiry = (
        col(TaskFailureRow.inquiry_id).is_(None)
        if inquiry_id is None
        else col(TaskFailureRow.inquiry_id) == inquiry_id
    )
    known = session.exec(
        select(TaskFailureRow).where(
            col(TaskFailureRow.task) == task[:64],
            same_inquiry,
            col(TaskFailureRow.resolved_at).is_(None),
        )
    ).first()
    if known is not None:
        known.attempts += attempts
        known.error, known.job_id, known.failed_at = error[:4000], job_id, utcnow()
        attempts = known.attempts
        session.add(known)
    else:
        session.add(
            TaskFailureRow(
                task=task[:64],
                job_id=job_id,
                inquiry_id=inquiry_id,
                attempts=attempts,
                error=error[:4000],
                failed_at=utcnow(),
            )
        )
    if inquiry_id is not None:
        session.execute(
            update(InquiryRow)
            .where(col(InquiryRow.id) == inquiry_id)
            .values(error=f"background task {task} failed after {attempts} tries: {error}"[:2000])
        )
    session.commit()


def open_failures(session: Session, limit: int = 20) -> list[TaskFailureRow]:
    """Failed tasks nobody has dealt with yet, newest first; one about an inquiry that is
    closed since (rejected, sent, no reply needed) is past."""
    closed = select(InquiryRow.id).where(col(InquiryRow.status).not_in(OPEN_STATUSES))
    rows = list(
        session.exec(
            select(TaskFailureRow)
            .where(
                col(TaskFailureRow.resolved_at).is_(None),
                or_(
                    col(TaskFailureRow.inquiry_id).is_(None),
                    col(TaskFailureRow.inquiry_id).not_in(closed),
                ),
            )
            .order_by(col(TaskFailureRow.failed_at).desc())
            .limit(limit)
        )
    )
    session.commit()
    return rows


def resolve_failures(session: Session, inquiry_id: int) -> None:
    """An inquiry processed after all (a retry, an agent's re-draft): its failures are past."""
    session.execute(
        update(TaskFailureRow)
        .where(
            col(TaskFailureRow.inquiry_id) == inquiry_id, col(TaskFailureRow.resolved_at).is_(None)
        )
        .values(resolved_at=utcnow())
    )
    session.commit()


def resolve_task_failures(session: Session, task: str) -> None:
    """A task not about one inquiry (the poll, the send) worked again: its failure is past."""
    session.execute(
        update(TaskFailureRow)
        .where(
            col(TaskFailureRow.task) == task,
            col(TaskFailureRow.inquiry_id).is_(None),
            col(TaskFailureRow.resolved_at).is_(None),
        )
        .values(resolved_at=utcnow())
    )
    session.commit()


RETRY_FAILED_AFTER = timedelta(minutes=15)


def recently_failed(session: Session, since: timedelta = RETRY_FAILED_AFTER):
    """A subquery of the inquiries whose task failed for good within `since`: the sweep
    leaves them alone meanwhile (tried again every quarter hour, not every minute)."""
    return select(TaskFailureRow.inquiry_id).where(
        col(TaskFailureRow.resolved_at).is_(None),
        col(TaskFailureRow.inquiry_id).is_not(None),
        col(TaskFailureRow.failed_at) > utcnow() - since,
    )

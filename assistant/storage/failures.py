"""Background tasks given up on (their retries spent): kept for the agents — the
workspace's banner, `assistant worker status`, the inquiry's own page — until the work
is done after all (a later run, an agent's re-draft)."""

from __future__ import annotations

from sqlalchemy import update
from sqlmodel import Session, col, select

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
    """Failed tasks nobody has dealt with yet, newest first."""
    rows = list(
        session.exec(
            select(TaskFailureRow)
            .where(col(TaskFailureRow.resolved_at).is_(None))
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

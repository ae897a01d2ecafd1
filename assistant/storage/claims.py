"""Claims: which process is triaging and drafting which inquiry. Not a state change (the
status stays `received` until the work is written, through the workflow), but a lease:
a process that dies leaves its claims to run out, and another takes the work over.

Several `assistant run` (and, later, workers) on one database each claim a batch before
they work on it, so every inquiry is triaged and drafted once.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import or_, update
from sqlmodel import Session, select

from assistant.models import InquiryStatus
from assistant.storage.tables import InquiryRow, utcnow

S = InquiryStatus
CLAIM_LEASE = timedelta(minutes=15)


def claim(
    session: Session, inquiry_ids: list[int], *, owner: str, lease: timedelta = CLAIM_LEASE
) -> list[int]:
    """Take received inquiries for triage and drafting: those another process holds (a live
    claim) or has already processed are left out. An owner may take again what it holds
    (a worker's job run again after a crash is the same owner). Committed, so others see
    it at once."""
    now = utcnow()
    table = InquiryRow.__table__  # type: ignore[attr-defined]
    claimed: list[int] = []
    for start in range(0, len(inquiry_ids), 500):
        chunk = inquiry_ids[start : start + 500]
        free = (
            select(table.c.id)
            .where(
                table.c.id.in_(chunk),
                table.c.status == S.received,
                or_(
                    table.c.claimed_until.is_(None),
                    table.c.claimed_until < now,
                    table.c.claimed_by == owner,
                ),
            )
            .with_for_update(skip_locked=True)
        )
        result = session.execute(
            update(table)
            .where(table.c.id.in_(free.scalar_subquery()))
            .values(claimed_by=owner, claimed_until=now + lease)
            .returning(table.c.id)
        )
        claimed += [row[0] for row in result]
    session.commit()
    order = {inquiry_id: index for index, inquiry_id in enumerate(inquiry_ids)}
    return sorted(claimed, key=order.__getitem__)


def still_claimed(session: Session, inquiry_ids: list[int], *, owner: str) -> list[int]:
    """Those of `inquiry_ids` this owner still holds, locked until commit: a claim that ran
    out while a slow batch worked may have passed to another process."""
    table = InquiryRow.__table__  # type: ignore[attr-defined]
    found: set[int] = set()
    for start in range(0, len(inquiry_ids), 500):
        chunk = inquiry_ids[start : start + 500]
        query = (
            select(table.c.id)
            .where(table.c.id.in_(chunk), table.c.claimed_by == owner, table.c.status == S.received)
            .with_for_update()
        )
        found.update(row[0] for row in session.execute(query))
    return [i for i in inquiry_ids if i in found]


def renew(
    session: Session, inquiry_ids: list[int], *, owner: str, lease: timedelta = CLAIM_LEASE
) -> None:
    """Extend this owner's claims (a slow LLM batch outlasting its lease). Committed."""
    table = InquiryRow.__table__  # type: ignore[attr-defined]
    until = utcnow() + lease
    for start in range(0, len(inquiry_ids), 500):
        chunk = inquiry_ids[start : start + 500]
        session.execute(
            update(table)
            .where(table.c.id.in_(chunk), table.c.claimed_by == owner)
            .values(claimed_until=until)
        )
    session.commit()


def release(session: Session, inquiry_ids: list[int], *, owner: str) -> None:
    """Give back claims not used (an interrupted run), so others can take them at once."""
    table = InquiryRow.__table__  # type: ignore[attr-defined]
    for start in range(0, len(inquiry_ids), 500):
        chunk = inquiry_ids[start : start + 500]
        session.execute(
            update(table)
            .where(table.c.id.in_(chunk), table.c.claimed_by == owner)
            .values(claimed_by=None, claimed_until=None)
        )
    session.commit()

"""Who has an inquiry open in the workspace: each open page reports every few seconds, and
anyone seen in the last `FRESH` is shown to the others (the collision indicator)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from assistant.storage.tables import InquiryPresenceRow, utcnow

FRESH = timedelta(seconds=30)  # a page that stopped reporting this long ago was closed


def touch(session: Session, inquiry_id: int, account: str, now: datetime | None = None) -> None:
    """`account` has the inquiry open now (one row per inquiry and account, kept: the
    queue's "mine" filter finds the inquiries an agent opened)."""
    now = now or utcnow()
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    table = InquiryPresenceRow.__table__  # type: ignore[attr-defined]
    statement = dialect.insert(table).values(
        inquiry_id=inquiry_id, account=account, opened_at=now, seen_at=now
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["inquiry_id", "account"], set_={"seen_at": now}
        )
    )
    session.commit()


def viewers(
    session: Session, inquiry_ids: list[int], now: datetime | None = None
) -> dict[int, list[str]]:
    """For each inquiry, the accounts that have it open now, in the order they opened it."""
    if not inquiry_ids:
        return {}
    since = (now or utcnow()) - FRESH
    rows = session.exec(
        select(InquiryPresenceRow.inquiry_id, InquiryPresenceRow.account)
        .where(
            col(InquiryPresenceRow.inquiry_id).in_(inquiry_ids),
            col(InquiryPresenceRow.seen_at) >= since,
        )
        .order_by(col(InquiryPresenceRow.opened_at))
    ).all()
    found: dict[int, list[str]] = {}
    for inquiry_id, account in rows:
        found.setdefault(inquiry_id, []).append(account)
    return found

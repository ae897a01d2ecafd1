"""The outbox: what becomes of each approved reply on its way to SMTP, exactly once.

approved → sending → sent | failed | uncertain (models.DeliveryState). A sender claims a
few replies at a time by a conditional update (`FOR UPDATE SKIP LOCKED` on PostgreSQL),
under a lock on one gate row that also keeps the send rate cap across processes, and
commits `sending` before it talks to the server. Just before the text goes out it commits
`handed_over_at`: a sender that dies before that moment sent nothing, and its reply is
simply sent again; one that dies after it may have delivered the mail, so its reply is
looked for in the Sent folder and, if not found there, becomes `uncertain` — never sent
again without a person's word. Outcomes are audited through the workflow core (`send`,
`delivery_failed`, `delivery_uncertain`, `retry_delivery`); the inquiry stays `approved`
until its reply is sent.

No SMTP here: `assistant.mailbox.sending` talks to the server and calls these;
`assistant.mailbox.recovery` deals with what a dead sender or a bounce leaves behind.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, update
from sqlmodel import Session, col, select

from assistant import workflow
from assistant.mailbox.claimant import sender_token
from assistant.models import Action, DeliveryState, InquiryStatus
from assistant.settings import Settings
from assistant.storage import records
from assistant.storage.tables import InquiryRow, OutboundReplyRow, OutboxGateRow, utcnow
from assistant.workflow import Actor, Step, WorkflowError

D = DeliveryState
RATE_WINDOW = timedelta(minutes=1)
SENDER = Actor.system("mail send")


@dataclass(frozen=True)
class RateLimited:
    """The cap is reached: no reply may start before `wait` seconds have passed."""

    wait: float


def _lock_gate(session: Session, now: datetime) -> None:
    """Every claimer passes here one at a time (a row lock on PostgreSQL, the write lock
    on SQLite), so counting the last minute's sends and claiming the next is atomic."""
    done = session.execute(update(OutboxGateRow).values(touched_at=now))
    if not done.rowcount:  # type: ignore[attr-defined]
        session.add(OutboxGateRow(id=1, touched_at=now))
        session.flush()


CLAIM_BATCH = 20  # replies claimed in one transaction (each is still sent and recorded alone)


@dataclass
class Claimed:
    replies: list[OutboundReplyRow]
    last_id: int  # the highest reply looked at: the next claim of this run starts after it


def claim_due(
    session: Session,
    settings: Settings,
    *,
    owner: str | None = None,
    after: int = 0,
    most: int = CLAIM_BATCH,
) -> Claimed | RateLimited:
    """Up to `most` replies due (ids above `after`, oldest first), marked `sending` for
    `owner` and committed; RateLimited when the cap is reached. A run goes on after the
    last id it looked at, so a reply it tried already waits for the next run."""
    owner = owner or sender_token()
    now = utcnow()
    _lock_gate(session, now)
    started = session.exec(
        select(func.count(), func.min(OutboundReplyRow.attempt_started_at)).where(
            col(OutboundReplyRow.attempt_started_at) > now - RATE_WINDOW
        )
    ).one()
    budget = settings.send_rate - started[0]
    if budget <= 0:
        session.rollback()
        oldest = started[1]
        return RateLimited(
            max(0.05, ((oldest + RATE_WINDOW) - now).total_seconds()) if oldest else 1.0
        )
    # The index (delivery, id) gives the oldest due replies whatever the table's size;
    # the inquiry's status is checked apart, by primary key.
    query = (
        select(OutboundReplyRow.id, OutboundReplyRow.inquiry_id)
        .where(
            col(OutboundReplyRow.delivery) == D.approved,
            col(OutboundReplyRow.id) > after,
            col(OutboundReplyRow.exported_at).is_(None),  # handed to a mail client instead
            or_(
                col(OutboundReplyRow.send_after).is_(None), col(OutboundReplyRow.send_after) <= now
            ),
            or_(
                col(OutboundReplyRow.next_attempt_at).is_(None),
                col(OutboundReplyRow.next_attempt_at) <= now,
            ),
        )
        .order_by(col(OutboundReplyRow.id))
        .limit(max(1, min(most, budget)))
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    found = list(session.exec(query).all())
    if not found:
        session.rollback()
        return Claimed([], after)
    approved = set(
        session.exec(
            select(InquiryRow.id).where(
                col(InquiryRow.id).in_([inquiry for _, inquiry in found]),
                InquiryRow.status == InquiryStatus.approved,
            )
        ).all()
    )
    ids = [reply_id for reply_id, inquiry in found if inquiry in approved]
    lease = timedelta(seconds=settings.smtp_timeout * (2 + len(ids)) + 30)
    if ids:
        session.execute(
            update(OutboundReplyRow)
            .where(
                col(OutboundReplyRow.id).in_(ids),
                col(OutboundReplyRow.delivery) == D.approved,
                col(OutboundReplyRow.exported_at).is_(None),
            )
            .values(
                delivery=D.sending,
                claimed_by=owner,
                claimed_until=now + lease,
                attempt_started_at=now,
                handed_over_at=None,
                attempts=OutboundReplyRow.attempts + 1,
            )
        )
    session.commit()
    replies = (
        list(
            session.exec(
                select(OutboundReplyRow)
                .where(
                    col(OutboundReplyRow.id).in_(ids),
                    col(OutboundReplyRow.claimed_by) == owner,
                    col(OutboundReplyRow.delivery) == D.sending,
                )
                .order_by(col(OutboundReplyRow.id))
            ).all()
        )
        if ids
        else []
    )
    for reply in replies:
        session.expunge(reply)  # read as claimed; no transaction reopens to reload them
    session.rollback()  # nothing held open while we talk to the server
    return Claimed(replies, max(reply_id or 0 for reply_id, _ in found))


def claim_next(
    session: Session, settings: Settings, *, owner: str | None = None
) -> OutboundReplyRow | RateLimited | None:
    """The oldest reply due, claimed alone (see `claim_due`)."""
    claimed = claim_due(session, settings, owner=owner, most=1)
    if isinstance(claimed, RateLimited):
        return claimed
    return claimed.replies[0] if claimed.replies else None


def release(session: Session, replies: list[OutboundReplyRow], owner: str) -> int:
    """Claimed replies `owner` did not get to (it was stopped, or died before handing
    them over): due again at once. Returns how many."""
    ids = [reply.id for reply in replies]
    if not ids:
        return 0
    done = session.execute(
        update(OutboundReplyRow)
        .where(
            col(OutboundReplyRow.id).in_(ids),
            col(OutboundReplyRow.claimed_by) == owner,
            col(OutboundReplyRow.delivery) == D.sending,
            col(OutboundReplyRow.handed_over_at).is_(None),
        )
        .values(
            delivery=D.approved,
            claimed_by=None,
            claimed_until=None,
            attempts=OutboundReplyRow.attempts - 1,
        )
    )
    session.commit()
    return done.rowcount  # type: ignore[attr-defined]


def _held(session: Session, reply: OutboundReplyRow, owner: str, **values) -> bool:
    """Write `values` if `owner` still holds the reply in `sending`."""
    done = session.execute(
        update(OutboundReplyRow)
        .where(
            col(OutboundReplyRow.id) == reply.id,
            col(OutboundReplyRow.delivery) == D.sending,
            col(OutboundReplyRow.claimed_by) == owner,
        )
        .values(**values)
    )
    return bool(done.rowcount)  # type: ignore[attr-defined]


def mark_handed_over(session: Session, reply: OutboundReplyRow, owner: str) -> None:
    """Committed just before the text goes to the server: from now on, a crash leaves the
    outcome unknown, and nothing sends this reply again by itself."""
    if not _held(session, reply, owner, handed_over_at=utcnow()):
        session.rollback()
        raise WorkflowError(f"the reply to inquiry {reply.inquiry_id} is no longer ours to send")
    session.commit()


def _outcome(
    session: Session,
    reply: OutboundReplyRow,
    owner: str | None,
    step: Step,
    **values,
) -> None:
    """An outcome's audit event and the outbox row's new state, in one commit."""
    current = workflow.lock_statuses(session, [reply.inquiry_id])
    if owner is not None and not _held(session, reply, owner, **values):
        session.rollback()
        raise WorkflowError(f"the reply to inquiry {reply.inquiry_id} is no longer ours to send")
    if owner is None:  # a bounce: only a reply still believed delivered
        done = session.execute(
            update(OutboundReplyRow)
            .where(
                col(OutboundReplyRow.id) == reply.id,
                col(OutboundReplyRow.delivery).in_([D.sent, D.uncertain]),
            )
            .values(**values)
        )
        if not done.rowcount:  # type: ignore[attr-defined]
            session.rollback()
            raise WorkflowError(f"the reply to inquiry {reply.inquiry_id} changed meanwhile")
    workflow.apply_many(session, [step], current=current)
    session.commit()


def record_sent(
    session: Session,
    reply: OutboundReplyRow,
    owner: str | None,
    *,
    server_reply: str,
    via: str,
) -> None:
    _outcome(
        session,
        reply,
        owner,
        Step(
            reply.inquiry_id,
            Action.send,
            SENDER,
            reason=f"sent via {via}: {server_reply}"[:500],
            details={"draft_id": reply.draft_id, "text_after": reply.body},
        ),
        delivery=D.sent,
        sent_at=utcnow(),
        server_reply=server_reply[:1000],
        delivery_error=None,
        claimed_by=None,
        claimed_until=None,
    )


def record_failed(session: Session, reply: OutboundReplyRow, owner: str | None, why: str) -> None:
    """Refused for good (a 5xx, a recipient the server will not take, tries used up)."""
    _closed(session, reply, owner, Action.delivery_failed, D.failed, why)


def record_uncertain(
    session: Session, reply: OutboundReplyRow, owner: str | None, why: str
) -> None:
    """The server may have it: a person decides (never sent again by itself)."""
    _closed(session, reply, owner, Action.delivery_uncertain, D.uncertain, why)


def _closed(
    session: Session,
    reply: OutboundReplyRow,
    owner: str | None,
    action: Action,
    state: DeliveryState,
    why: str,
) -> None:
    _outcome(
        session,
        reply,
        owner,
        Step(reply.inquiry_id, action, SENDER, reason=why[:500]),
        delivery=state,
        delivery_error=why[:1000],
        claimed_by=None,
        claimed_until=None,
    )


def record_retry(
    session: Session,
    reply: OutboundReplyRow,
    owner: str,
    why: str,
    settings: Settings,
    *,
    counts: bool = True,
) -> bool:
    """A temporary refusal (4xx) or a connection lost before the text went out: tried again
    after 1, 2, 4 ... × `send_retry_seconds`; failed once the tries are used up. False if
    it failed. `counts=False`: not the reply's fault (the server was unreachable)."""
    attempts = (reply.attempts or 1) if counts else max(0, (reply.attempts or 1) - 1)
    if counts and attempts >= settings.send_max_attempts:
        record_failed(session, reply, owner, f"gave up after {attempts} tries: {why}")
        return False
    delay = settings.send_retry_seconds * 2 ** max(0, attempts - 1)
    if not _held(
        session,
        reply,
        owner,
        delivery=D.approved,
        attempts=attempts,
        next_attempt_at=utcnow() + timedelta(seconds=delay),
        delivery_error=f"try {attempts}: {why}"[:1000] if counts else why[:1000],
        claimed_by=None,
        claimed_until=None,
        handed_over_at=None,
    ):
        session.rollback()
        return True
    session.commit()
    return True


def retry(session: Session, inquiry_id: int, *, agent: Actor, reason: str | None = None) -> None:
    """An agent sends a failed or uncertain reply again (for an uncertain one: having
    checked that the customer did not get it)."""
    reply = records.outbound_reply(session, inquiry_id)
    if reply is None or reply.delivery not in (D.failed, D.uncertain):
        state = reply.delivery.value if reply else "not approved"
        raise WorkflowError(
            f"inquiry {inquiry_id}: its reply is {state}; only a failed or uncertain "
            "delivery can be tried again"
        )
    was = reply.delivery

    def requeue(session: Session, row, draft, event_id: int) -> None:
        done = session.execute(
            update(OutboundReplyRow)
            .where(col(OutboundReplyRow.id) == reply.id, col(OutboundReplyRow.delivery) == was)
            .values(
                delivery=D.approved,
                attempts=0,
                next_attempt_at=None,
                handed_over_at=None,
                delivery_error=None,
            )
        )
        if not done.rowcount:  # type: ignore[attr-defined]
            raise WorkflowError(f"inquiry {inquiry_id}: its delivery changed meanwhile")

    workflow.apply(
        session,
        inquiry_id,
        Action.retry_delivery,
        agent,
        reason=reason or f"send again (was {was.value}: {reply.delivery_error or ''})"[:500],
        effect=requeue,
    )


def status_counts(session: Session) -> dict[str, int]:
    rows = session.exec(
        select(OutboundReplyRow.delivery, func.count()).group_by(OutboundReplyRow.delivery)
    ).all()
    return {str(state.value if hasattr(state, "value") else state): n for state, n in rows}

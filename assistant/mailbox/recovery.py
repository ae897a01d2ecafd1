"""What a dead sender or a bounce leaves behind in the outbox.

A sender that stopped while holding replies: those it had not begun to hand over are due
again at once; one it may have handed over is sent if its Message-ID is in the Sent folder,
else uncertain (a person decides). A bounce that reports one of our sent replies as
undelivered marks that reply failed and brings its inquiry back to the agents.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlmodel import Session, col, select

from assistant.mailbox.claimant import claimant_gone
from assistant.mailbox.outbox import D, record_failed, record_sent, record_uncertain, release
from assistant.storage.tables import OutboundReplyRow, utcnow
from assistant.workflow import WorkflowError


def record_bounces(
    session: Session, bounces: list[tuple[int, list[str], list[str], str | None]]
) -> int:
    """Bounces just stored (their inquiry id, the Message-IDs they return, the recipients
    they failed for, the diagnostic): each of our sent replies they return, to one of those
    recipients, is marked failed and its inquiry approved again for an agent to see.
    Returns how many replies were marked."""
    marked = 0
    for bounce_id, message_ids, recipients, diagnostic in bounces:
        if not message_ids or not recipients:
            continue
        replies = session.exec(
            select(OutboundReplyRow).where(
                col(OutboundReplyRow.message_id).in_(message_ids),
                col(OutboundReplyRow.delivery).in_([D.sent, D.uncertain]),
            )
        ).all()
        for reply in replies:
            if reply.to_address.lower() not in recipients:
                continue  # a bounce for someone else (or a forged one naming our Message-ID)
            why = f"bounced (see inquiry {bounce_id}): {diagnostic or 'no diagnostic given'}"
            try:
                record_failed(session, reply, None, why)
                marked += 1
            except WorkflowError:
                session.rollback()  # the inquiry moved on meanwhile: the bounce stays stored
    return marked


def recover_abandoned(
    session: Session, *, sent_folder_has: Callable[[str], bool | None] | None = None
) -> dict[str, int]:
    """Replies left in `sending` by a sender that is gone (its lease ran out, or it was a
    process of this machine that no longer runs). Not handed over yet: due again at once.
    Handed over: sent, if our Message-ID is in the Sent folder; else uncertain."""
    now = utcnow()
    stuck = session.exec(
        select(OutboundReplyRow).where(col(OutboundReplyRow.delivery) == D.sending)
    ).all()
    for reply in stuck:
        session.expunge(reply)
    session.rollback()
    counts = {"requeued": 0, "found_sent": 0, "uncertain": 0}
    for reply in stuck:
        expired = reply.claimed_until is None or reply.claimed_until <= now
        if not (expired or claimant_gone(reply.claimed_by)):
            continue
        owner = reply.claimed_by or ""
        if reply.handed_over_at is None:
            counts["requeued"] += release(session, [reply], owner)
            continue
        found = sent_folder_has(reply.message_id) if sent_folder_has else None
        try:
            if found:
                record_sent(
                    session,
                    reply,
                    owner,
                    server_reply="found in the Sent folder after the sender stopped",
                    via="SMTP",
                )
                counts["found_sent"] += 1
            else:
                looked = "not in the Sent folder" if found is False else "no Sent folder to check"
                record_uncertain(
                    session,
                    reply,
                    owner,
                    "the sender stopped after handing the reply to the SMTP server, before "
                    f"its answer was recorded ({looked}): check whether the customer got it",
                )
                counts["uncertain"] += 1
        except WorkflowError:
            session.rollback()
    return counts

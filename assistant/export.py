"""Approved replies out, as .eml files (threaded: In-Reply-To, References) or JSONL, and
the record that they went: `export` and `mark-sent` events through the workflow.

Only approved replies exist as OutboundReplyRow, so nothing unapproved can be exported.
A reply that cannot be turned into a message (an address stored before addresses were
checked) is skipped with its reason; the others are still written.
"""

from __future__ import annotations

import email.policy
import json
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from pathlib import Path

from sqlalchemy import update
from sqlmodel import Session, col

from assistant import workflow
from assistant.models import Action, DeliveryState, InquiryStatus
from assistant.settings import Settings
from assistant.storage import records
from assistant.storage.tables import OutboundReplyRow, utcnow
from assistant.workflow import Actor, Step, WorkflowError


def reply_message(reply: OutboundReplyRow, settings: Settings) -> EmailMessage:
    """The reply as a MIME message; ValueError if a header cannot be written safely."""
    # An address that can only be written in UTF-8 (a non-ASCII local part) needs SMTPUTF8.
    ascii_only = reply.to_address.isascii()
    message = EmailMessage() if ascii_only else EmailMessage(policy=email.policy.SMTPUTF8)
    message["From"] = formataddr((settings.support_name, settings.support_address))
    message["To"] = reply.to_address
    message["Subject"] = reply.subject
    message["Date"] = format_datetime(reply.created_at)  # aware UTC: "+0000"
    message["Message-ID"] = reply.message_id
    if reply.in_reply_to:
        message["In-Reply-To"] = reply.in_reply_to
    if reply.references:
        message["References"] = reply.references
    message["X-Loop"] = settings.support_address  # so our reply, bounced back, is known
    message["Auto-Submitted"] = "no"  # a person approved it (RFC 3834)
    message.set_content(reply.body)
    message["Content-Language"] = reply.language  # after set_content, which resets content headers
    return message


@dataclass
class Exported:
    replies: list[OutboundReplyRow] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    skipped: dict[int, str] = field(default_factory=dict)  # inquiry id → why


def write_eml(replies: list[OutboundReplyRow], folder: Path, settings: Settings) -> Exported:
    """One .eml per reply, each written to a temporary name first. Every message is built
    before any file is written."""
    done = Exported()
    messages = []
    for reply in replies:
        try:
            messages.append((reply, bytes(reply_message(reply, settings))))
        except (ValueError, TypeError) as error:
            done.skipped[reply.inquiry_id] = f"cannot be written as mail: {error}"
    folder.mkdir(parents=True, exist_ok=True)
    for reply, data in messages:
        target = folder / f"reply-{reply.inquiry_id:06d}.eml"
        temporary = target.with_suffix(".eml.part")
        temporary.write_bytes(data)
        temporary.replace(target)
        done.replies.append(reply)
        done.files.append(target)
    return done


def reply_record(reply: OutboundReplyRow) -> dict:
    return {
        "inquiry_id": reply.inquiry_id,
        "message_id": reply.message_id,
        "to": reply.to_address,
        "subject": reply.subject,
        "body": reply.body,
        "language": reply.language,
        "in_reply_to": reply.in_reply_to,
        "references": reply.references,
        "approved_by": reply.approved_by,
        "approved_at": reply.created_at.isoformat(),
    }


def write_jsonl(replies: list[OutboundReplyRow], path: Path, settings: Settings) -> Exported:
    """One JSON line per reply; a reply that could not be written as mail (a header it
    cannot carry) is skipped here too, as in .eml."""
    done = Exported()
    for reply in replies:
        try:
            reply_message(reply, settings)
            done.replies.append(reply)
        except (ValueError, TypeError) as error:
            done.skipped[reply.inquiry_id] = f"cannot be written as mail: {error}"
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(path.suffix + ".part")
    lines = "".join(json.dumps(reply_record(r), ensure_ascii=False) + "\n" for r in done.replies)
    temporary.write_text(lines, encoding="utf-8")
    temporary.replace(path)
    done.files.append(path)
    return done


def as_approved(
    session: Session, replies: list[OutboundReplyRow]
) -> tuple[list[OutboundReplyRow], dict[int, str]]:
    """The replies that are exactly what their approval event in the audit trail says
    (text and recipient), and why the others are held back."""
    from assistant.storage.audit import reply_matches_approval
    from assistant.storage.tables import AuditEventRow

    good, held = [], {}
    for reply in replies:
        if reply_matches_approval(reply, session.get(AuditEventRow, reply.approved_event_id)):
            good.append(reply)
        else:
            held[reply.inquiry_id] = (
                "held back: it differs from what was approved (see `assistant audit verify`)"
            )
    return good, held


def record_export(
    session: Session, replies: list[OutboundReplyRow], *, actor: Actor, how: str
) -> None:
    """An `export` event per reply and its exported_at, all in one commit."""
    if not replies:
        return
    ids = [reply.inquiry_id for reply in replies]
    current = workflow.lock_statuses(session, ids)
    steps = [Step(i, Action.export, actor, reason=how) for i in ids]
    workflow.apply_many(session, steps, current=current)
    now = utcnow()
    for reply in replies:
        reply.exported_at = now
        session.add(reply)
    session.commit()


def mark_sent(
    session: Session,
    inquiry_ids: list[int],
    *,
    actor: Actor,
    transport: str,
    only_from: tuple[DeliveryState, ...] = (
        DeliveryState.approved,
        DeliveryState.failed,
        DeliveryState.uncertain,
    ),
) -> list[OutboundReplyRow]:
    """Record that approved replies left (an exported file handed to a mailer). All or
    none: one that is not approved marks nothing."""
    inquiry_ids = list(dict.fromkeys(inquiry_ids))
    current = workflow.lock_statuses(session, inquiry_ids)
    replies = []
    for inquiry_id in inquiry_ids:
        status = current.get(inquiry_id)
        reply = records.outbound_reply(session, inquiry_id)
        if status is not InquiryStatus.approved or reply is None:
            session.rollback()
            state = status.value if status else "unknown"
            raise WorkflowError(
                f"inquiry {inquiry_id} is {state}, not approved: nothing was marked sent"
            )
        if reply.delivery is DeliveryState.sending:
            session.rollback()
            raise WorkflowError(
                f"the reply to inquiry {inquiry_id} is being sent by `mail send` right now: "
                "nothing was marked sent"
            )
        if reply.send_after is not None and reply.send_after > utcnow():
            session.rollback()
            raise WorkflowError(
                f"the reply to inquiry {inquiry_id} was approved seconds ago and can still be "
                "undone: nothing was marked sent, try again in a few seconds"
            )
        replies.append(reply)
    steps = [
        Step(
            reply.inquiry_id,
            Action.send,
            actor,
            reason=f"sent via {transport}",
            details={"draft_id": reply.draft_id, "text_after": reply.body},
        )
        for reply in replies
    ]
    try:
        workflow.apply_many(session, steps, current=current)
    except WorkflowError:
        session.rollback()
        raise
    now = utcnow()
    for reply in replies:  # conditional: a sender may have claimed it since it was read
        done = session.execute(
            update(OutboundReplyRow)
            .where(
                col(OutboundReplyRow.id) == reply.id,
                col(OutboundReplyRow.delivery).in_(only_from),
            )
            .values(sent_at=now, delivery=DeliveryState.sent, claimed_by=None, claimed_until=None)
        )
        if not done.rowcount:  # type: ignore[attr-defined]
            session.rollback()
            raise WorkflowError(
                f"the reply to inquiry {reply.inquiry_id} changed meanwhile (it is being sent, "
                "or was sent again): nothing was marked sent"
            )
    session.commit()
    return replies

"""Approved replies out, as .eml files (threaded: In-Reply-To, References) or JSONL.

Only approved replies exist as OutboundReplyRow, so nothing unapproved can be exported.
"""

from __future__ import annotations

import json
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from pathlib import Path

from assistant.settings import Settings
from assistant.storage.tables import OutboundReplyRow


def reply_message(reply: OutboundReplyRow, settings: Settings) -> EmailMessage:
    message = EmailMessage()
    message["From"] = formataddr((settings.support_name, settings.support_address))
    message["To"] = reply.to_address
    message["Subject"] = reply.subject
    message["Date"] = format_datetime(reply.created_at)
    message["Message-ID"] = reply.message_id
    if reply.in_reply_to:
        message["In-Reply-To"] = reply.in_reply_to
    if reply.references:
        message["References"] = reply.references
    message.set_content(reply.body)
    message["Content-Language"] = reply.language  # after set_content, which resets content headers
    return message


def write_eml(replies: list[OutboundReplyRow], folder: Path, settings: Settings) -> list[Path]:
    """Write one .eml per reply; all files are written to a temporary name first."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for reply in replies:
        target = folder / f"reply-{reply.inquiry_id:06d}.eml"
        temporary = target.with_suffix(".eml.part")
        temporary.write_bytes(bytes(reply_message(reply, settings)))
        temporary.replace(target)
        written.append(target)
    return written


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


def jsonl_lines(replies: list[OutboundReplyRow]) -> str:
    return "".join(json.dumps(reply_record(r), ensure_ascii=False) + "\n" for r in replies)

"""Mail no one should answer: out-of-office replies, bounces, mailing lists, loops.

Answering them wastes an agent's time at best and starts a mail loop at worst (a bounce
once got a returns reply addressed to MAILER-DAEMON). They are stored, with the reason,
as `no_reply_needed`; an agent can reopen one. The signals are the standard ones: RFC 3834
(Auto-Submitted), RFC 3464 (delivery status reports), RFC 2369/2919 (list headers).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import EmailMessage

ROBOT_SENDERS = ("mailer-daemon", "postmaster", "mail-daemon")
BULK_PRECEDENCE = ("bulk", "list", "junk", "auto_reply")
MAX_PARTS_WALKED = 500  # as many as ingest accepts (mime.MAX_MIME_PARTS)
LIST_HEADERS = (
    "list-id",
    "list-unsubscribe",
    "list-post",
    "list-archive",
    "list-help",
    "list-owner",
)


def robot_sender(sender: str | None) -> str | None:
    """A bounce's usual sender (MAILER-DAEMON, postmaster): the reason, or None."""
    local = (sender or "").strip().lower().partition("@")[0]
    return (
        f"a delivery report (bounce) from {sender[:80]}"
        if sender and local in ROBOT_SENDERS
        else None
    )


def _get(message: EmailMessage, name: str) -> str:
    try:
        value = message.get(name)
    except (ValueError, IndexError, TypeError):
        return ""
    return " ".join(str(value).split()) if value is not None else ""


def no_reply_reason(
    message: EmailMessage, sender: str, own_address: str | None = None
) -> str | None:
    """Why this mail needs no reply, or None for mail a person wrote to us."""
    auto = _get(message, "auto-submitted").lower()
    if auto and auto.split(";")[0].strip() != "no":
        return f"automatic mail (Auto-Submitted: {auto[:60]})"
    if _get(message, "x-autoreply") or _get(message, "x-autorespond"):
        return "automatic reply (X-Autoreply)"
    precedence = _get(message, "precedence").lower()
    if precedence in BULK_PRECEDENCE:
        return f"bulk or list mail (Precedence: {precedence})"
    report = _delivery_report(message)
    if report:
        return report
    robot = robot_sender(sender)
    if robot:
        return robot
    if _get(message, "return-path") == "<>":
        return "a delivery report (bounce): empty Return-Path"
    if own_address and own_address.lower() in _get(message, "x-loop").lower():
        return "our own mail come back (X-Loop)"
    listed = next((name for name in LIST_HEADERS if _get(message, name)), None)
    if listed:
        return f"a newsletter or mailing-list mail ({listed.title()})"
    return None


def _parts(message: EmailMessage):
    """The mail's own MIME parts, not those of a mail attached to it (a customer may forward
    a bounce and still need an answer)."""
    stack: list = [message]
    seen = 0
    while stack and seen < MAX_PARTS_WALKED:
        part = stack.pop()
        seen += 1
        yield part
        if part.is_multipart() and not part.get_content_type().startswith("message/"):
            stack.extend(part.get_payload())


def _delivery_report(message: EmailMessage) -> str | None:
    """A multipart/report in the mail itself (bounces often wrap it in multipart/mixed)."""
    for part in _parts(message):
        if part.get_content_type() == "multipart/report":
            report = str(part.get_param("report-type") or "").lower()
            return f"a delivery report (bounce): multipart/report; report-type={report[:40]}"
        if part.get_content_type() == "message/delivery-status":
            return "a delivery report (bounce): message/delivery-status"
    return None


@dataclass(frozen=True)
class BounceReport:
    """What a bounce says: the Message-IDs of the mail that was not delivered, and why."""

    message_ids: list[str]
    diagnostic: str | None


_MESSAGE_ID = re.compile(r"<[^<>\s@]{1,200}@[^<>\s@]{1,200}>")
_MESSAGE_ID_LINE = re.compile(r"^\s*message-id:\s*(<[^<>\s]{1,400}>)", re.I | re.M)
_DIAGNOSTIC_FIELDS = ("diagnostic-code", "status", "action", "final-recipient")
_PERMANENT = re.compile(r"\b5\d\d\b|\b5\.\d{1,3}\.\d{1,3}\b")
MAX_SCANNED = 200_000  # characters of a bounce's text searched for a Message-ID


def bounce_report(message: EmailMessage) -> BounceReport | None:
    """The undelivered mail a delivery report (RFC 3464, or a robot's plain-text bounce)
    names, or None for mail that is not a bounce (an out-of-office names our mail in
    In-Reply-To too, but it was delivered)."""
    sender = _get(message, "from")
    robot = robot_sender(sender.split("<")[-1].rstrip(">"))
    found: list[str] = []
    diagnostic: list[str] = []
    status_parts = 0
    texts: list[str] = []
    for part in _parts(message):
        kind = part.get_content_type()
        if kind == "message/delivery-status":
            status_parts += 1
            diagnostic.extend(_status_fields(part))
        elif kind in ("message/rfc822", "message/rfc822-headers", "text/rfc822-headers"):
            found.extend(_ids_in_headers(part))
        elif kind == "text/plain":
            text = _text_of(part)[:MAX_SCANNED]
            texts.append(text)
            found.extend(_MESSAGE_ID_LINE.findall(text) or _MESSAGE_ID.findall(text))
    # A failure, not a delay, a relay or a read receipt: a DSN that says "failed" or a 5.x.x
    # status; without a DSN, a robot's text with a permanent (5xx) code. In-Reply-To and an
    # empty Return-Path alone prove nothing (a vacation reply has both).
    if status_parts:
        said = " ".join(diagnostic).lower()
        if "action: failed" not in said and not _PERMANENT.search(said):
            return None
    elif not (robot and any(_PERMANENT.search(text) for text in texts)):
        return None
    ids = list(dict.fromkeys(found))[:50]
    return BounceReport(ids, "; ".join(diagnostic)[:500] or None)


def _ids_in_headers(part) -> list[str]:
    payload = part.get_payload()
    if isinstance(payload, list) and payload:  # message/rfc822: the returned message
        inner = payload[0]
        value = inner.get("message-id") if hasattr(inner, "get") else None
        return _MESSAGE_ID.findall(str(value or ""))
    return _MESSAGE_ID_LINE.findall(_text_of(part)[:MAX_SCANNED])


def _status_fields(part) -> list[str]:
    """Status, Action and Diagnostic-Code of each recipient block of a delivery-status."""
    fields: list[str] = []
    payload = part.get_payload()
    blocks = payload if isinstance(payload, list) else []
    for block in blocks:
        for name in _DIAGNOSTIC_FIELDS:
            value = block.get(name) if hasattr(block, "get") else None
            if value:
                fields.append(f"{name.title()}: {' '.join(str(value).split())[:200]}")
    if not fields:
        text = _text_of(part)
        for line in text.splitlines():
            if line.split(":", 1)[0].strip().lower() in _DIAGNOSTIC_FIELDS:
                fields.append(" ".join(line.split())[:200])
    return fields[:8]


def _text_of(part) -> str:
    try:
        payload = part.get_payload(decode=True)
    except Exception:  # noqa: BLE001 - a broken encoding: nothing to read
        payload = None
    if isinstance(payload, bytes):
        return payload.decode("utf-8", "replace")
    value = part.get_payload()
    return value if isinstance(value, str) else ""

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
    if auto and re.split(r"[;(\s]", auto, maxsplit=1)[0] != "no":  # "no (comment)" is no
        return f"automatic mail (Auto-Submitted: {auto[:60]})"
    if any(
        _get(message, name).lower() not in ("", "no") for name in ("x-autoreply", "x-autorespond")
    ):
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
    loop = {address.lower() for address in _ADDRESS.findall(_get(message, "x-loop"))}
    if own_address and own_address.lower() in loop:
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
    """What a bounce says: the Message-IDs of the mail that was not delivered, to whom it
    failed for good, and why."""

    message_ids: list[str]
    diagnostic: str | None
    recipients: list[str]  # lower-cased addresses whose delivery failed permanently


_MESSAGE_ID = re.compile(r"<[^<>\s@]{1,200}@[^<>\s@]{1,200}>")
_MESSAGE_ID_LINE = re.compile(r"^\s*message-id:\s*(<[^<>\s]{1,400}>)", re.I | re.M)
_ADDRESS = re.compile(r"[\w.+'-]{1,64}@[\w.-]{1,255}\.\w{2,63}")
# A permanent SMTP reply code (550, 5.1.1), not any number that starts with 5 (":587:").
_PERMANENT = re.compile(r"(?<![\w.:\[])5\d\d(?=[ -])|(?<![\w.])5\.\d{1,3}\.\d{1,3}\b")
MAX_SCANNED = 200_000  # characters of a bounce's text searched for a Message-ID


def bounce_report(message: EmailMessage) -> BounceReport | None:
    """A report from a mail system (MAILER-DAEMON, postmaster, or an empty Return-Path)
    that delivery failed for good: the Message-IDs it returns and the recipients it failed
    for. None for anything else: a delay warning, a read receipt, a vacation reply naming
    our mail, a report a customer wrote."""
    sender = _get(message, "from")
    if not (
        robot_sender(sender.split("<")[-1].rstrip(">")) or _get(message, "return-path") == "<>"
    ):
        return None
    found: list[str] = []
    blocks: list[dict[str, str]] = []
    texts: list[str] = []
    for part in _parts(message):
        kind = part.get_content_type()
        if kind == "message/delivery-status":
            blocks.extend(_recipient_blocks(part))
        elif kind in ("message/rfc822", "message/rfc822-headers", "text/rfc822-headers"):
            found.extend(_ids_in_headers(part))
        elif kind == "text/plain":
            text = _text_of(part)[:MAX_SCANNED]
            texts.append(text)
            found.extend(_MESSAGE_ID_LINE.findall(text) or _MESSAGE_ID.findall(text))
    if blocks:  # RFC 3464: each recipient's own Action and Status decide
        failed = [block for block in blocks if _failed(block)]
        recipients = [_address(block.get("final-recipient", "")) for block in failed]
        diagnostic = "; ".join(
            f"{name.title()}: {block[name]}"
            for block in failed
            for name in ("final-recipient", "action", "status", "diagnostic-code")
            if block.get(name)
        )
    else:  # a robot's plain text: the addresses on lines with a permanent code
        lines = [line for text in texts for line in text.splitlines() if _PERMANENT.search(line)]
        recipients = [a.lower() for line in lines for a in _ADDRESS.findall(line)]
        diagnostic = "; ".join(" ".join(line.split())[:200] for line in lines[:4])
    recipients = [r for r in dict.fromkeys(recipients) if r]
    if not recipients:
        return None
    return BounceReport(list(dict.fromkeys(found))[:50], diagnostic[:500] or None, recipients)


def _failed(block: dict[str, str]) -> bool:
    action = block.get("action", "").lower()
    status = block.get("status", "")
    return action == "failed" or (not action and status.startswith("5."))


def _address(field: str) -> str:
    """`rfc822; Jane@Example.net` → jane@example.net."""
    value = field.split(";", 1)[-1].strip().strip("<>").lower()
    return value if "@" in value else ""


def _recipient_blocks(part) -> list[dict[str, str]]:
    """The per-recipient field blocks of a message/delivery-status (the first block is the
    message's own: it has no Final-Recipient and is left out)."""
    payload = part.get_payload()
    blocks: list[dict[str, str]] = []
    if isinstance(payload, list):
        for block in payload:
            if hasattr(block, "items"):
                blocks.append({k.lower(): " ".join(str(v).split())[:200] for k, v in block.items()})
    else:  # not parsed as blocks: read the text
        current: dict[str, str] = {}
        for line in _text_of(part).splitlines() + [""]:
            if not line.strip():
                if current:
                    blocks.append(current)
                current = {}
            elif ":" in line:
                name, _, value = line.partition(":")
                current[name.strip().lower()] = " ".join(value.split())[:200]
    return [block for block in blocks if "final-recipient" in block][:50]


def _ids_in_headers(part) -> list[str]:
    payload = part.get_payload()
    if isinstance(payload, list) and payload:  # message/rfc822: the returned message
        inner = payload[0]
        value = inner.get("message-id") if hasattr(inner, "get") else None
        return _MESSAGE_ID.findall(str(value or ""))
    return _MESSAGE_ID_LINE.findall(_text_of(part)[:MAX_SCANNED])


def _text_of(part) -> str:
    try:
        payload = part.get_payload(decode=True)
    except Exception:  # noqa: BLE001 - a broken encoding: nothing to read
        payload = None
    if isinstance(payload, bytes):
        return payload.decode("utf-8", "replace")
    value = part.get_payload()
    return value if isinstance(value, str) else ""

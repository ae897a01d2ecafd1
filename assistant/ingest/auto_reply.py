"""Mail no one should answer: out-of-office replies, bounces, mailing lists, loops.

Answering them wastes an agent's time at best and starts a mail loop at worst (a bounce
once got a returns reply addressed to MAILER-DAEMON). They are stored, with the reason,
as `no_reply_needed`; an agent can reopen one. The signals are the standard ones: RFC 3834
(Auto-Submitted), RFC 3464 (delivery status reports), RFC 2369/2919 (list headers).
"""

from __future__ import annotations

from email.message import EmailMessage

ROBOT_SENDERS = ("mailer-daemon", "postmaster", "mail-daemon")
BULK_PRECEDENCE = ("bulk", "list", "junk", "auto_reply")
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
    while stack:
        part = stack.pop()
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

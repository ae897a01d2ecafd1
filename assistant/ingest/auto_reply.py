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
    if message.get_content_type() == "multipart/report":
        report = (message.get_param("report-type") or "").__str__().lower()
        return f"a delivery report (bounce): multipart/report; report-type={report[:40]}"
    local = sender.lower().partition("@")[0]
    if local in ROBOT_SENDERS:
        return f"a delivery report (bounce) from {sender[:80]}"
    if own_address and own_address.lower() in _get(message, "x-loop").lower():
        return "our own mail come back (X-Loop)"
    if _get(message, "list-id") or _get(message, "list-unsubscribe"):
        return "a newsletter or mailing-list mail (List-Id / List-Unsubscribe)"
    return None

"""One email's bytes → InquiryIn, or an IngestError that says why not.

Parsing uses the standard library's `email` package with the modern policy (RFC 2047
headers, quoted-printable, charsets); HTML-only mail is turned into text, without what
its reader would not see (a hidden prompt injection): that goes to `hidden_text`, for the
agent to see and for no model to read (see `assistant.mailtext`). Hostile or
broken mail is refused with a reason before it can hurt: over 10 MiB, MIME nested too
deeply or with too many parts (a "MIME bomb" would otherwise end in a RecursionError),
no headers, nothing to read. Bytes that are not valid in the declared charset are decoded
by charset detection rather than replaced by U+FFFD.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email import policy as email_policy
from email.message import EmailMessage, MIMEPart
from email.parser import BytesParser
from email.utils import parsedate_to_datetime
from typing import cast

from assistant.ingest.addresses import first_mailbox, valid_address
from assistant.ingest.auto_reply import bounce_report, no_reply_reason
from assistant.mailtext import HiddenText, hidden_summary, html_to_text_and_hidden
from assistant.models import InquiryIn

MAX_EMAIL_BYTES = 10 * 1024 * 1024  # larger mail is quarantined, not truncated silently
MAX_BODY_CHARS = 100_000  # what we keep of a body; the raw message is kept up to RAW_KEEP_BYTES
MAX_HIDDEN_CHARS = 10_000  # of the text hidden in the HTML
RAW_KEEP_BYTES = 2 * 1024 * 1024
MAX_MIME_DEPTH = 30
MAX_MIME_PARTS = 500
# The standard parser's work on a header grows with the square of its length: a From of
# 100,000 commas took a minute. Real mail stays far below these.
MAX_ADDRESS_HEADER = 8 * 1024
MAX_HEADER = 64 * 1024
MAX_HEADERS = 512 * 1024
ADDRESS_HEADERS = {"from", "to", "cc", "bcc", "reply-to", "sender", "resent-from", "resent-to"}
_MULTIPART = re.compile(rb"content-type:\s*multipart/", re.I)
_HEADER_END = re.compile(rb"\r?\n\r?\n")


class IngestError(ValueError):
    """Input that cannot become an inquiry; the message names the source and problem."""


def parse_email_bytes(
    data: bytes, source: str = "eml", own_address: str | None = None
) -> InquiryIn:
    if not data.strip():
        raise IngestError(f"{source}: empty message")
    if len(data) > MAX_EMAIL_BYTES:
        raise IngestError(
            f"{source}: message is {len(data)} bytes, over the {MAX_EMAIL_BYTES} byte limit"
        )
    if len(_MULTIPART.findall(data, 0, len(data))) > MAX_MIME_PARTS:
        raise IngestError(f"{source}: more than {MAX_MIME_PARTS} MIME parts")
    _check_header_sizes(data, source)
    try:
        message = BytesParser(policy=email_policy.default).parsebytes(data)
        _check_structure(message, source)
        return _from_message(cast(EmailMessage, message), source, data, own_address)
    except RecursionError as error:
        raise IngestError(f"{source}: MIME structure nested too deeply") from error


def _check_header_sizes(data: bytes, source: str) -> None:
    """Refuse headers too long to parse in reasonable time, before the parser sees them."""
    end = _HEADER_END.search(data)
    block = data[: end.start()] if end else data
    if len(block) > MAX_HEADERS:
        raise IngestError(f"{source}: {len(block)} bytes of headers, over {MAX_HEADERS}")
    name, size = b"", 0
    for line in block.splitlines():
        if line[:1] in (b" ", b"\t"):  # a folded continuation of the header before
            size += len(line)
        else:
            name, size = line.split(b":", 1)[0].strip().lower(), len(line)
        limit = (
            MAX_ADDRESS_HEADER if name.decode("ascii", "replace") in ADDRESS_HEADERS else MAX_HEADER
        )
        if size > limit:
            shown = name.decode("ascii", "replace")[:40] or "?"
            raise IngestError(f"{source}: header {shown} is over {limit} bytes")


def _check_structure(message, source: str) -> None:
    """Depth and part count, walked without recursion."""
    stack, parts = [(message, 0)], 0
    while stack:
        part, depth = stack.pop()
        parts += 1
        if depth > MAX_MIME_DEPTH:
            raise IngestError(f"{source}: MIME structure nested more than {MAX_MIME_DEPTH} deep")
        if parts > MAX_MIME_PARTS:
            raise IngestError(f"{source}: more than {MAX_MIME_PARTS} MIME parts")
        if part.is_multipart():
            stack.extend((child, depth + 1) for child in part.get_payload())


def _from_message(
    message: EmailMessage, source: str, data: bytes, own_address: str | None
) -> InquiryIn:
    if not message.keys():
        raise IngestError(f"{source}: not an email (no headers)")
    sender_name, sender_address = first_mailbox(_header(message, "from"))
    _, to_address = first_mailbox(_header(message, "to"))
    _, reply_to = first_mailbox(_header(message, "reply-to"))
    body, hidden = _body_text(message, source)
    subject = _text(message, "subject")
    reason = no_reply_reason(message, sender_address, own_address)
    bounce = bounce_report(message) if reason else None
    if not body.strip() and not subject.strip():
        if hidden:
            raise IngestError(
                f"{source}: message has no subject and all of its text is hidden in the HTML"
            )
        raise IngestError(f"{source}: message has neither subject nor text")
    return InquiryIn(
        message_id=_text(message, "message-id").strip() or None,
        from_address=sender_address,
        from_name=sender_name or None,
        to_address=to_address or None,
        reply_to=valid_address(reply_to),
        subject=" ".join(subject.split()),
        body=body[:MAX_BODY_CHARS],
        hidden_text=hidden,
        attachments=_attachments(message),
        received_at=_date(message),
        in_reply_to=_text(message, "in-reply-to").strip() or None,
        references=" ".join(_text(message, "references").split()) or None,
        source=source,
        raw=data[:RAW_KEEP_BYTES].decode("utf-8", "replace"),
        raw_bytes=data,
        no_reply_reason=reason,
        bounce_of=bounce.message_ids if bounce else [],
        bounce_diagnostic=bounce.diagnostic if bounce else None,
        bounce_recipients=bounce.recipients if bounce else [],
    )


def _header(message: EmailMessage, name: str):
    try:
        return message.get(name)
    except (ValueError, IndexError, TypeError, AttributeError):  # malformed: go on without
        return None


def _text(message: EmailMessage, name: str) -> str:
    value = _header(message, name)
    return str(value) if value is not None else ""


def _date(message: EmailMessage) -> datetime | None:
    raw = _text(message, "date")
    try:
        when = parsedate_to_datetime(raw) if raw else None
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _body_text(message: EmailMessage, source: str) -> tuple[str, str | None]:
    """The text the customer's reader shows (text/plain when there is one), and what the
    HTML hides from that reader, if anything (for an HTML body; for a plain-text body,
    what its HTML alternative hides that the plain text does not say)."""
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return "", None
    content = _part_text(part, source)
    hidden: str | None = None
    if part.get_content_subtype() == "html":
        content, parts = html_to_text_and_hidden(content)
        hidden = hidden_summary(parts, MAX_HIDDEN_CHARS)
    else:
        hidden = _hidden_in_alternative(message, part, content, source)
    return content.replace("\r\n", "\n").strip(), hidden


def _part_text(part: MIMEPart, source: str) -> str:
    payload = cast(bytes, part.get_payload(decode=True) or b"")
    try:
        content = part.get_content()
    except (LookupError, ValueError, AssertionError):  # unknown charset, broken encoding
        content = _detected(payload)
    if not isinstance(content, str):
        raise IngestError(f"{source}: the message body is not text")
    if "\ufffd" in content and not _decodes(payload, part.get_content_charset()):
        content = _detected(payload)  # bytes invalid in the declared charset
    return content


def _hidden_in_alternative(
    message: EmailMessage, plain: MIMEPart, text: str, source: str
) -> str | None:
    """The plain text is the body; its HTML alternative may hide text all the same (an
    attacker's note for a model that reads the HTML). Recorded, less what the plain text
    says anyway (a preheader, say)."""
    html = message.get_body(preferencelist=("html",))
    if html is None or html is plain:
        return None
    try:
        _, parts = html_to_text_and_hidden(_part_text(html, source))
    except IngestError:
        return None
    said = " ".join(text.split())
    extra = [part for part in parts if part.text not in said]
    summary = hidden_summary(
        [HiddenText("note", "in the HTML version; the body is the plain-text version")] + extra,
        MAX_HIDDEN_CHARS,
    )
    return summary if extra else None


def _decodes(payload: bytes, charset: str | None) -> bool:
    try:
        payload.decode(charset or "us-ascii")
    except (LookupError, UnicodeDecodeError):
        return False
    return True


def _detected(payload: bytes) -> str:
    """The text in whatever charset it really is (charset-normalizer), UTF-8 as a last try."""
    from charset_normalizer import from_bytes

    best = from_bytes(payload).best()
    return str(best) if best is not None else payload.decode("utf-8", "replace")


def _attachments(message: EmailMessage) -> list[dict]:
    from assistant.ingest.attachments import listed  # it reads this module's limits

    return listed(message)

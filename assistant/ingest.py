"""Email in: .eml files, mbox files, JSONL, plain text, stdin → InquiryIn.

Parsing uses the standard library's `email` package with the modern policy (RFC 2047
headers, quoted-printable, charsets); HTML-only mail is turned into text. Bad input
raises IngestError naming the file and the problem.
"""

from __future__ import annotations

import json
import mailbox
from collections.abc import Iterator
from datetime import UTC, datetime
from email import policy as email_policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime
from pathlib import Path
from typing import cast

from pydantic import ValidationError

from assistant.mailtext import html_to_text
from assistant.models import InquiryIn

MAX_EMAIL_BYTES = 10 * 1024 * 1024  # larger mail is refused, not truncated silently
MAX_BODY_CHARS = 100_000  # what we keep of a body; the raw message is kept in full
RAW_KEEP_BYTES = 2 * 1024 * 1024


class IngestError(ValueError):
    """Input that cannot become an inquiry; the message names the source and problem."""


def parse_email_bytes(data: bytes, source: str = "eml") -> InquiryIn:
    if not data.strip():
        raise IngestError(f"{source}: empty message")
    if len(data) > MAX_EMAIL_BYTES:
        raise IngestError(f"{source}: message is {len(data)} bytes, over {MAX_EMAIL_BYTES}")
    message = BytesParser(policy=email_policy.default).parsebytes(data)
    return _from_message(message, source, data)


def _from_message(message: EmailMessage, source: str, data: bytes) -> InquiryIn:
    if not message.keys():
        raise IngestError(f"{source}: not an email (no headers)")
    sender_name, sender_address = _first_address(message, "from")
    _, to_address = _first_address(message, "to")
    body = _body_text(message, source)
    subject = _header(message, "subject")
    if not body.strip() and not subject.strip():
        raise IngestError(f"{source}: message has neither subject nor text")
    return InquiryIn(
        message_id=_header(message, "message-id").strip() or None,
        from_address=sender_address,
        from_name=sender_name or None,
        to_address=to_address or None,
        subject=" ".join(subject.split()),
        body=body[:MAX_BODY_CHARS],
        received_at=_date(message),
        in_reply_to=_header(message, "in-reply-to").strip() or None,
        references=" ".join(_header(message, "references").split()) or None,
        source=source,
        raw=data[:RAW_KEEP_BYTES].decode("utf-8", "replace"),
    )


def _header(message: EmailMessage, name: str) -> str:
    try:
        value = message.get(name)
    except (ValueError, IndexError, TypeError):  # malformed header: keep going without it
        return ""
    return str(value) if value is not None else ""


def _first_address(message: EmailMessage, name: str) -> tuple[str, str]:
    raw = _header(message, name)
    addresses = getaddresses([raw]) if raw else []
    return addresses[0] if addresses else ("", "")


def _date(message: EmailMessage) -> datetime | None:
    raw = _header(message, "date")
    try:
        when = parsedate_to_datetime(raw) if raw else None
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _body_text(message: EmailMessage, source: str) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, ValueError, AssertionError):  # unknown charset, broken encoding
        # decode=True on a non-multipart part gives the raw bytes (or None)
        payload = cast(bytes, part.get_payload(decode=True) or b"")
        content = payload.decode("utf-8", "replace")
    if not isinstance(content, str):
        raise IngestError(f"{source}: the message body is not text")
    if part.get_content_subtype() == "html":
        content = html_to_text(content)
    return content.replace("\r\n", "\n").strip()


def read_eml(path: Path) -> InquiryIn:
    return parse_email_bytes(_read(path), source=f"eml:{path.name}")


def read_mbox(path: Path) -> Iterator[InquiryIn]:
    box = mailbox.mbox(str(path), create=False)
    try:
        for index, message in enumerate(box):
            data = message.as_bytes()
            yield parse_email_bytes(data, source=f"mbox:{path.name}#{index + 1}")
    finally:
        box.close()


def read_jsonl(path: Path) -> Iterator[InquiryIn]:
    """One inquiry a line: at least `text` (or `body`), optionally subject, from, id."""
    for number, line in enumerate(_read(path).decode("utf-8", "replace").splitlines(), 1):
        if line.strip():
            yield parse_json_inquiry(line, source=f"jsonl:{path.name}:{number}")


def parse_json_inquiry(line: str, source: str) -> InquiryIn:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as error:
        raise IngestError(f"{source}: not valid JSON ({error.msg})") from error
    if not isinstance(row, dict):
        raise IngestError(f"{source}: expected a JSON object")
    body = row.get("body", row.get("text"))
    if not isinstance(body, str) or not body.strip():
        raise IngestError(f"{source}: needs a non-empty 'text' or 'body'")
    try:
        return InquiryIn(
            message_id=row.get("message_id") or (f"<{row['id']}@jsonl>" if row.get("id") else None),
            from_address=row.get("from", row.get("from_address", "")) or "",
            from_name=row.get("from_name"),
            subject=row.get("subject", "") or "",
            body=body[:MAX_BODY_CHARS],
            received_at=row.get("received_at"),
            source=source.split(":")[0],
        )
    except ValidationError as error:
        raise IngestError(f"{source}: {error.errors()[0]['msg']}") from error


def text_inquiry(text: str, source: str = "text") -> InquiryIn:
    """A bare text (CLI argument, stdin): an email if it has headers, else the body."""
    if not text.strip():
        raise IngestError(f"{source}: empty input")
    if _looks_binary(text):
        raise IngestError(f"{source}: binary data, not text (wrong file, or not UTF-8)")
    head = text.lstrip()[:2000].lower()
    if any(
        head.startswith(h)
        for h in ("from:", "received:", "return-path:", "message-id:", "subject:")
    ):
        return parse_email_bytes(text.encode("utf-8", "surrogateescape"), source=source)
    return InquiryIn(body=text.strip()[:MAX_BODY_CHARS], source=source)


def _looks_binary(text: str) -> bool:
    """NUL bytes, or many undecodable or control characters in the first 4,000."""
    sample = text[:4000]
    if "\x00" in sample:
        return True
    odd = sum(1 for c in sample if c == "\ufffd" or (c < " " and c not in "\t\n\r\f"))
    return odd > max(8, len(sample) // 10)


def _read(path: Path) -> bytes:
    try:
        size = path.stat().st_size
        if size > MAX_EMAIL_BYTES * 10:
            raise IngestError(f"{path}: file is {size} bytes, too large to ingest")
        return path.read_bytes()
    except FileNotFoundError as error:
        raise IngestError(f"{path}: no such file") from error
    except IsADirectoryError as error:
        raise IngestError(f"{path}: is a folder") from error
    except PermissionError as error:
        raise IngestError(f"{path}: permission denied") from error


def read_path(path: Path) -> Iterator[InquiryIn]:
    """Every inquiry in a file or a folder (.eml, .mbox, .jsonl, .txt), sorted by name."""
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in READERS)
        if not files:
            raise IngestError(f"{path}: no .eml, .mbox, .jsonl or .txt files in this folder")
        for file in files:
            yield from read_path(file)
        return
    suffix = path.suffix.lower()
    if suffix not in READERS:
        if not path.exists():
            raise IngestError(f"{path}: no such file")
        raise IngestError(f"{path}: unknown file type (expected .eml, .mbox, .jsonl or .txt)")
    yield from READERS[suffix](path)


def _read_txt(path: Path) -> Iterator[InquiryIn]:
    yield text_inquiry(_read(path).decode("utf-8", "replace"), source=f"txt:{path.name}")


def _read_eml(path: Path) -> Iterator[InquiryIn]:
    yield read_eml(path)


READERS = {
    ".eml": _read_eml,
    ".mbox": read_mbox,
    ".jsonl": read_jsonl,
    ".txt": _read_txt,
}

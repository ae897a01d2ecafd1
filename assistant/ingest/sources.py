"""Where mail comes from: .eml files, mbox files, JSONL, plain text, folders, stdin.

Each source yields InquiryIn for every mail it could read and QuarantinedMail (with the
reason and where it came from) for every one it could not: one bad message never stops
the others. A path that does not exist or is not mail at all is an IngestError.
"""

from __future__ import annotations

import hashlib
import json
import mailbox
from collections.abc import Iterator
from pathlib import Path

from pydantic import ValidationError

from assistant.ingest.addresses import valid_address
from assistant.ingest.mime import (
    MAX_BODY_CHARS,
    MAX_EMAIL_BYTES,
    RAW_KEEP_BYTES,
    IngestError,
    parse_email_bytes,
)
from assistant.models import InquiryIn, QuarantinedMail

Item = InquiryIn | QuarantinedMail
MAX_FILE_BYTES = 10 * MAX_EMAIL_BYTES  # a JSONL or mbox file is read a message at a time
SINGLE_MESSAGE_SUFFIXES = (".eml", ".txt")


def quarantined(source: str, reason: str, data: bytes = b"") -> QuarantinedMail:
    return QuarantinedMail(
        source=source,
        reason=reason,
        raw=data[:RAW_KEEP_BYTES].decode("utf-8", "replace").replace("\x00", ""),
        digest=hashlib.sha256(source.encode() + b"\x1f" + data).hexdigest(),
    )


def _guarded(source: str, data: bytes, parse) -> Item:
    try:
        return parse()
    except IngestError as error:
        return quarantined(source, str(error), data)


def read_path(path: Path, own_address: str | None = None) -> Iterator[Item]:
    """Every mail in a file or a folder (.eml, .mbox, .jsonl, .txt), sorted by name."""
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in READERS and p.is_file())
        if not files:
            raise IngestError(f"{path}: no .eml, .mbox, .jsonl or .txt files in this folder")
        for file in files:
            yield from _read_file(file, own_address)
        return
    suffix = path.suffix.lower()
    if not path.exists():
        raise IngestError(f"{path}: no such file")
    if suffix not in READERS:
        raise IngestError(f"{path}: unknown file type (expected .eml, .mbox, .jsonl or .txt)")
    yield from _read_file(path, own_address)


def _read_file(path: Path, own_address: str | None) -> Iterator[Item]:
    source = f"{path.suffix.lower().lstrip('.')}:{path}"
    try:
        yield from READERS[path.suffix.lower()](path, source, own_address)
    except OSError as error:
        yield quarantined(source, f"{source}: cannot read ({error.strerror or error})")


def _read_eml(path: Path, source: str, own_address: str | None) -> Iterator[Item]:
    size = path.stat().st_size
    if size > MAX_EMAIL_BYTES:
        with path.open("rb") as handle:
            head = handle.read(RAW_KEEP_BYTES)
        yield quarantined(
            source,
            f"{source}: message is {size} bytes, over the {MAX_EMAIL_BYTES} byte limit",
            head,
        )
        return
    data = path.read_bytes()
    yield _guarded(source, data, lambda: parse_email_bytes(data, source, own_address))


def _read_mbox(path: Path, source: str, own_address: str | None) -> Iterator[Item]:
    box = mailbox.mbox(str(path), create=False)
    try:
        for index, key in enumerate(box.iterkeys(), 1):
            where = f"{source}#{index}"
            data = box.get_bytes(key)  # raw: the mailbox module's own parse could recurse
            yield _guarded(
                where, data, lambda d=data, w=where: parse_email_bytes(d, w, own_address)
            )
    finally:
        box.close()


def _read_jsonl(path: Path, source: str, own_address: str | None) -> Iterator[Item]:
    """One inquiry a line: at least `text` (or `body`), optionally subject, from, id."""
    with path.open("rb") as handle:
        for number, line in enumerate(handle, 1):
            if line.strip():
                where = f"{source}:{number}"
                yield _guarded(where, line, lambda b=line, w=where: parse_json_inquiry(b, w))


def _read_txt(path: Path, source: str, own_address: str | None) -> Iterator[Item]:
    data = path.read_bytes()
    yield _guarded(source, data, lambda: text_inquiry(data.decode("utf-8", "replace"), source))


READERS = {".eml": _read_eml, ".mbox": _read_mbox, ".jsonl": _read_jsonl, ".txt": _read_txt}


def parse_json_inquiry(line: bytes | str, source: str) -> InquiryIn:
    if isinstance(line, bytes):
        if len(line) > MAX_EMAIL_BYTES:
            raise IngestError(f"{source}: line is {len(line)} bytes, over the limit")
        line = line.decode("utf-8", "replace")
    try:
        row = json.loads(line)
    except json.JSONDecodeError as error:
        raise IngestError(f"{source}: not valid JSON ({error.msg})") from error
    if not isinstance(row, dict):
        raise IngestError(f"{source}: expected a JSON object")
    body = row.get("body", row.get("text"))
    if not isinstance(body, str) or not body.strip():
        raise IngestError(f"{source}: needs a non-empty 'text' or 'body'")
    sender = row.get("from", row.get("from_address", "")) or ""
    identifier = row.get("id")
    try:
        return InquiryIn(
            message_id=row.get("message_id") or (f"<{identifier}@jsonl>" if identifier else None),
            from_address=sender if isinstance(sender, str) else "",
            from_name=row.get("from_name"),
            reply_to=valid_address(row.get("reply_to")),
            subject=row.get("subject", "") or "",
            body=body[:MAX_BODY_CHARS],
            received_at=row.get("received_at"),
            source=source.split(":")[0],
        )
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        raise IngestError(f"{source}: {field}: {first['msg']}") from error


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


def is_single_message(paths: list[Path]) -> bool:
    """One .eml or .txt file, or stdin: the input is one mail, and a bad one is an error
    (nothing stored) rather than a quarantined row."""
    return len(paths) == 1 and (
        str(paths[0]) == "-" or paths[0].suffix.lower() in SINGLE_MESSAGE_SUFFIXES
    )

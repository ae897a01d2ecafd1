"""Where mail comes from: .eml files, mbox files, JSONL, plain text, folders, stdin.

Each source yields InquiryIn for every mail it could read and QuarantinedMail (with the
reason and where it came from) for every one it could not: one bad message never stops
the others. A path that does not exist or is not mail at all is an IngestError.
"""

from __future__ import annotations

import hashlib
import json
import mailbox
import re
from collections.abc import Iterator
from pathlib import Path

from pydantic import ValidationError

from assistant.ingest.addresses import valid_address
from assistant.ingest.auto_reply import robot_sender
from assistant.ingest.mime import (
    MAX_BODY_CHARS,
    MAX_EMAIL_BYTES,
    RAW_KEEP_BYTES,
    IngestError,
    parse_email_bytes,
)
from assistant.models import InquiryIn, QuarantinedMail

Item = InquiryIn | QuarantinedMail
MAX_FILE_BYTES = 10 * MAX_EMAIL_BYTES
MAX_KEPT_BYTES = (
    2 * MAX_EMAIL_BYTES
)  # of a quarantined mail, stored compressed  # a JSONL or mbox file is read a message at a time
SINGLE_MESSAGE_SUFFIXES = (".eml", ".txt")


def quarantined(source: str, reason: str, data: bytes = b"") -> QuarantinedMail:
    return QuarantinedMail(
        source=source,
        reason=reason,
        raw=data[:RAW_KEEP_BYTES].decode("utf-8", "replace").replace("\x00", ""),
        raw_bytes=data[:MAX_KEPT_BYTES],
        digest=hashlib.sha256(
            source.encode("utf-8", "surrogateescape") + b"\x1f" + data
        ).hexdigest(),
    )


def guarded(source: str, data: bytes, parse) -> Item:
    """One mail parsed, or quarantined with the reason: whatever goes wrong with it (a
    parser bug included) stays with that mail."""
    try:
        return parse()
    except IngestError as error:
        return quarantined(source, str(error), data)
    except (RecursionError, MemoryError):
        return quarantined(source, f"{source}: too complex to read", data)
    except Exception as error:  # noqa: BLE001 - one bad mail never stops the others
        return quarantined(source, f"{source}: could not be read ({type(error).__name__})", data)


def read_path(path: Path, own_address: str | None = None) -> Iterator[Item]:
    """Every mail in a file or a folder (.eml, .mbox, .jsonl, .txt), sorted by name.

    In a folder, a link or anything that is not a plain file is not followed (whoever can
    write to the inbox must not make us read /etc/passwd) but quarantined with the reason,
    so nothing is skipped unseen. A path given by name may be a link to a plain file."""
    if path.is_dir():
        entries = sorted(p for p in path.iterdir() if p.suffix.lower() in READERS)
        if not entries:
            raise IngestError(f"{path}: no .eml, .mbox, .jsonl or .txt files in this folder")
        for entry in entries:
            if entry.is_symlink() or not entry.is_file():
                kind = "a link" if entry.is_symlink() else "not a plain file"
                source = f"{entry.suffix.lower().lstrip('.')}:{entry}"
                yield quarantined(source, f"{source}: {kind}, not read")
                continue
            yield from _read_file(entry, own_address)
        return
    suffix = path.suffix.lower()
    if not path.exists():
        raise IngestError(f"{path}: no such file")
    if suffix not in READERS:
        raise IngestError(f"{path}: unknown file type (expected .eml, .mbox, .jsonl or .txt)")
    if not path.is_file():
        raise IngestError(f"{path}: not a plain file")
    yield from _read_file(path, own_address)


def _read_file(path: Path, own_address: str | None) -> Iterator[Item]:
    source = f"{path.suffix.lower().lstrip('.')}:{path}"
    try:
        yield from READERS[path.suffix.lower()](path, source, own_address)
    except OSError as error:
        yield quarantined(source, f"{source}: cannot read ({error.strerror or error})")
    except Exception as error:  # noqa: BLE001 - a broken mbox: what was read is kept
        yield quarantined(source, f"{source}: could not be read ({type(error).__name__})")


def _one_message(path: Path, source: str, parse) -> Item:
    """A file that holds one mail: quarantined unread when over the size limit, else
    `parse(bytes)` guarded like every mail."""
    size = path.stat().st_size
    if size > MAX_EMAIL_BYTES:
        with path.open("rb") as handle:
            head = handle.read(RAW_KEEP_BYTES)
        reason = f"{source}: message is {size} bytes, over the {MAX_EMAIL_BYTES} byte limit"
        return quarantined(source, reason, head)
    data = path.read_bytes()
    return guarded(source, data, lambda: parse(data))


def _read_eml(path: Path, source: str, own_address: str | None) -> Iterator[Item]:
    yield _one_message(path, source, lambda data: parse_email_bytes(data, source, own_address))


def _read_mbox(path: Path, source: str, own_address: str | None) -> Iterator[Item]:
    box = mailbox.mbox(str(path), create=False)
    try:
        for index, key in enumerate(box.iterkeys(), 1):
            where = f"{source}#{index}"
            data = box.get_bytes(key)  # raw: the mailbox module's own parse could recurse
            yield guarded(where, data, lambda d=data, w=where: parse_email_bytes(d, w, own_address))
    finally:
        box.close()


def _read_jsonl(path: Path, source: str, own_address: str | None) -> Iterator[Item]:
    """One inquiry a line: at least `text` (or `body`), optionally subject, from, id."""
    with path.open("rb") as handle:
        for number, line in enumerate(handle, 1):
            if line.strip():
                where = f"{source}:{number}"
                yield guarded(where, line, lambda b=line, w=where: parse_json_inquiry(b, w))


def _read_txt(path: Path, source: str, own_address: str | None) -> Iterator[Item]:
    yield _one_message(
        path,
        source,
        lambda data: text_inquiry(data.decode("utf-8", "replace"), source, own_address),
    )


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
    if len(body) > MAX_EMAIL_BYTES:
        raise IngestError(f"{source}: the text is over the {MAX_EMAIL_BYTES} byte limit")
    sender = _text_field(row, "from", source) or _text_field(row, "from_address", source) or ""
    identifier = row.get("id")
    if identifier is not None and not isinstance(identifier, str | int):
        raise IngestError(f"{source}: 'id' must be a string or a number")
    try:
        return InquiryIn(
            message_id=_text_field(row, "message_id", source)
            or (f"<{identifier}@jsonl>" if identifier not in (None, "") else None),
            from_address=sender,
            from_name=_text_field(row, "from_name", source),
            reply_to=valid_address(_text_field(row, "reply_to", source)),
            subject=_text_field(row, "subject", source) or "",
            body=body[:MAX_BODY_CHARS],
            received_at=row.get("received_at"),
            source=source.split(":")[0],
            no_reply_reason=robot_sender(sender),
        )
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        raise IngestError(f"{source}: {field}: {first['msg']}") from error


def _text_field(row: dict, name: str, source: str) -> str | None:
    """A JSONL field that must be text: a number or a list there is refused, not guessed."""
    value = row.get(name)
    if value is None or isinstance(value, str):
        return value
    raise IngestError(f"{source}: '{name}' must be text, not {type(value).__name__}")


_HEADER_LINE = re.compile(r"[!-9;-~]+:[ \t]?")  # field-name: (RFC 5322), then the value
_FOLDED = re.compile(r"[ \t]")
_TELLING = {"from", "message-id", "received", "return-path", "subject"}


def looks_like_mail(text: str) -> bool:
    """Text is a mail with headers only if everything before the first blank line is
    well-formed header lines (or their folded continuations) and a blank line ends them,
    or one of the telling headers opens it. "Date: 12 May I ordered clogs…" is a body."""
    text = text.lstrip()[: 64 * 1024]
    head, blank, _ = text.replace("\r\n", "\n").partition("\n\n")
    lines = head.split("\n")
    if not lines or not _HEADER_LINE.match(lines[0]):
        return False
    well_formed = all(_HEADER_LINE.match(line) or _FOLDED.match(line) for line in lines)
    if well_formed and blank:
        return True
    first = lines[0].split(":", 1)[0].lower()
    return well_formed and first in _TELLING


def text_inquiry(text: str, source: str = "text", own_address: str | None = None) -> InquiryIn:
    """A bare text (CLI argument, stdin, .txt): an email if it starts with mail headers,
    else the body. Over 10 MiB is refused, never cut short."""
    if not text.strip():
        raise IngestError(f"{source}: empty input")
    if len(text) > MAX_EMAIL_BYTES:
        raise IngestError(f"{source}: {len(text)} characters, over the {MAX_EMAIL_BYTES} limit")
    if _looks_binary(text):
        raise IngestError(f"{source}: binary data, not text (wrong file, or not UTF-8)")
    if looks_like_mail(text):
        data = text.lstrip().encode("utf-8", "surrogateescape")
        return parse_email_bytes(data, source=source, own_address=own_address)
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

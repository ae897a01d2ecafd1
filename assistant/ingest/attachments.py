"""The attachments of a stored mail, read again from its raw message: listed for the agent
with a safe name, and handed out as a download. Never written to disk under the name the
sender gave, never shown inline (an HTML or SVG attachment could run in the workspace)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from email import message_from_bytes, message_from_string, policy
from email.message import EmailMessage

from assistant.ingest.mime import MAX_MIME_DEPTH, MAX_MIME_PARTS

_UNSAFE = re.compile(r"[^\w.\- ()\[\]+,]+")


@dataclass(frozen=True)
class Attachment:
    index: int  # its place among the mail's attachments: how the workspace names it
    name: str  # safe to show and to offer as a file name
    content_type: str
    size: int  # bytes, decoded


def safe_name(name: str | None, index: int) -> str:
    """A file name without paths, control or bidirectional characters, of sensible length."""
    name = unicodedata.normalize("NFKC", name or "")
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE.sub("_", name).strip(" ._")[:100]
    return name or f"attachment-{index + 1}"


def _parts(raw: str | bytes) -> list[EmailMessage]:
    try:
        if isinstance(raw, bytes):
            message = message_from_bytes(raw, policy=policy.default)
        else:
            message = message_from_string(raw, policy=policy.default)
    except Exception:  # noqa: BLE001 - a raw message that no longer parses has no attachments
        return []
    return _attached(message)  # type: ignore[arg-type]


def _attached(message: EmailMessage) -> list[EmailMessage]:
    found: list[EmailMessage] = []
    stack: list[tuple[EmailMessage, int]] = [(message, 0)]  # type: ignore[list-item]
    seen = 0
    while stack and seen < MAX_MIME_PARTS:
        part, depth = stack.pop(0)
        seen += 1
        if part.is_multipart():
            if depth < MAX_MIME_DEPTH:
                stack.extend((child, depth + 1) for child in part.iter_parts())  # type: ignore[misc]
        elif part.get_content_disposition() == "attachment" or part.get_filename():
            found.append(part)
    return found


def _payload(part: EmailMessage) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except Exception:  # noqa: BLE001 - a broken encoding: offer what is there
        data = None
    return data if isinstance(data, bytes) else b""


def listed(message: EmailMessage) -> list[dict]:
    """The attachments of a mail being ingested, as stored with the inquiry."""
    return [
        {
            "name": safe_name(part.get_filename(), i),
            "content_type": part.get_content_type()[:100],
            "size": len(_payload(part)),
        }
        for i, part in enumerate(_attached(message))
    ]


def attachments_of(stored: list | None, raw: str | bytes | None) -> list[Attachment]:
    """What the review page lists: as stored at ingest, else (older mail) read from raw."""
    if stored is not None:
        return [
            Attachment(
                i,
                str(item.get("name", "")),
                str(item.get("content_type", "")),
                int(item.get("size", 0)),
            )
            for i, item in enumerate(stored)
            if isinstance(item, dict)
        ]
    return attachments(raw)


def attachments(raw: str | bytes | None) -> list[Attachment]:
    if not raw:
        return []
    return [
        Attachment(
            i, safe_name(part.get_filename(), i), part.get_content_type(), len(_payload(part))
        )
        for i, part in enumerate(_parts(raw))
    ]


def attachment_data(raw: str | bytes | None, index: int) -> tuple[Attachment, bytes] | None:
    parts = _parts(raw) if raw else []
    if not 0 <= index < len(parts):
        return None
    part = parts[index]
    data = _payload(part)
    return Attachment(
        index, safe_name(part.get_filename(), index), part.get_content_type(), len(data)
    ), data

"""Email in: .eml files, mbox files, JSONL, plain text, stdin → InquiryIn, or
QuarantinedMail for what cannot be read (kept with the reason, never blocking the rest).

`mime` parses one message, `sources` reads files and folders, `addresses` decides what a
reply may be addressed to, `auto_reply` recognises mail no one should answer.
"""

from assistant.ingest.mime import MAX_EMAIL_BYTES, IngestError, parse_email_bytes
from assistant.ingest.sources import (
    Item,
    is_single_message,
    parse_json_inquiry,
    quarantined,
    read_path,
    text_inquiry,
)

__all__ = [
    "MAX_EMAIL_BYTES",
    "IngestError",
    "Item",
    "is_single_message",
    "parse_email_bytes",
    "parse_json_inquiry",
    "quarantined",
    "read_path",
    "text_inquiry",
]

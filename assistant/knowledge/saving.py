"""A lead saves an approved reply as a new `answer` entry, from the workspace.

The file is written in the knowledge base's own format, validated exactly as a
hand-written one is (a mistake is refused with its reason, nothing half-written: the
file appears by an atomic rename), and signed with the lead's name and today's date.
"""

from __future__ import annotations

import os
import re
import tempfile
from datetime import date
from pathlib import Path

import yaml

from assistant.knowledge.base import forget_loaded, load_knowledge
from assistant.knowledge.entries import ENTRY_ID, KnowledgeError, read_entry

_GREETING = re.compile(r"^(hi|hello|dear|hey)\b[^\n]{0,60},?$", re.I)
_SIGN_OFF = re.compile(
    r"^(kind regards|best regards|regards|best|thank you|thanks|sincerely)\b", re.I
)


def answer_text(body: str | None) -> str:
    """A reply without its greeting and sign-off: the part worth saving as an answer."""
    paragraphs = [p.strip() for p in re.split(r"\n[ \t]*\n", body or "") if p.strip()]
    if paragraphs and _GREETING.match(paragraphs[0].splitlines()[0]):
        paragraphs = paragraphs[1:]
    if paragraphs and _SIGN_OFF.match(paragraphs[-1]):
        paragraphs = paragraphs[:-1]
    return "\n\n".join(paragraphs)


def save_answer(
    folder: Path,
    *,
    entry_id: str,
    title: str,
    text: str,
    approved_by: str,
    categories: list[str],
    keywords: list[str],
    language: str = "en",
) -> Path:
    """Write `<folder>/<entry_id>.md`; a KnowledgeError says what is wrong with it."""
    entry_id = entry_id.strip().lower()
    if not ENTRY_ID.match(entry_id):
        raise KnowledgeError(f"{entry_id!r} is not an entry id (lower-case letters, digits, -)")
    if not text.strip():
        raise KnowledgeError("the answer text is empty")
    existing = load_knowledge(folder)
    if existing.get(entry_id) is not None:
        raise KnowledgeError(f"an entry {entry_id!r} already exists: choose another id")
    front = {
        "id": entry_id,
        "title": " ".join(title.split()),
        "kind": "answer",
        "categories": categories,
        "languages": [language],
        "keywords": [k.strip() for k in keywords if k.strip()],
        "last_reviewed": date.today(),
        "approved_by": " ".join(approved_by.split()),
    }
    content = "---\n" + yaml.safe_dump(front, allow_unicode=True, sort_keys=False) + "---\n"
    content += text.strip().replace("\r\n", "\n") + "\n"
    target = folder / f"{entry_id}.md"
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".saving-", suffix=".md")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(content)
        read_entry(Path(temporary), folder)  # the same validation as any entry
        if target.exists():
            raise KnowledgeError(f"{target.name} already exists: choose another id")
        os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    forget_loaded()
    return target

"""The audit trail: append-only, and hash-chained so that a changed, removed or inserted
event is found by `assistant audit verify`.

Each event's hash covers its content and the hash of the event before it. Writers lock
the chain's head row (`audit_chain`), so events are numbered and chained in one order even
when several processes write at once. What this does and does not protect against is
written in the README ("The audit trail").

The hash format is part of the stored data: changing `event_hash` needs a migration.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import insert, update
from sqlmodel import Session, col, select

from assistant.models import Action
from assistant.storage.tables import AuditChainRow, AuditEventRow, OutboundReplyRow, utcnow

HASHED_FIELDS = (
    "id",
    "inquiry_id",
    "draft_id",
    "actor",
    "actor_kind",
    "action",
    "from_status",
    "to_status",
    "text_before",
    "text_after",
    "reason",
    "english_text",
    "recipient",
    "at",
    "prev_hash",
)


def _canonical_time(value: Any) -> str:
    if isinstance(value, str):  # as SQLite hands it back to a raw query
        value = datetime.fromisoformat(value)
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_hash(event: dict[str, Any]) -> str:
    """SHA-256 over the event's fields (canonical JSON) and the previous event's hash."""
    fields: dict[str, Any] = {}
    for name in HASHED_FIELDS:
        value = event.get(name)
        if name == "at":
            value = _canonical_time(value)
        elif isinstance(value, StrEnum):
            value = value.value
        fields[name] = value
    canonical = json.dumps(fields, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def _lock_head(session: Session) -> tuple[int, str]:
    """The last event id and hash, the head row locked until commit (PostgreSQL; SQLite
    writers are serialised anyway). Read with plain SQL: never a stale cached row."""
    query = (
        select(AuditChainRow.last_event_id, AuditChainRow.last_hash)
        .where(AuditChainRow.id == 1)
        .with_for_update()
    )
    head = session.exec(query).first()
    if head is None:  # created by migration 0004; a hand-made schema may lack it
        session.execute(insert(AuditChainRow).values(id=1, last_event_id=0, last_hash=""))
        return 0, ""
    return head[0], head[1]


def append(session: Session, events: list[dict[str, Any]]) -> list[int]:
    """Write these events at the end of the chain; their ids, in order. Not committed.
    Their time is taken once the chain is locked, so times never go back as ids go up."""
    if not events:
        return []
    last_id, last_hash = _lock_head(session)
    now = utcnow()
    rows = []
    for values in events:
        last_id += 1
        row = {**values, "id": last_id, "prev_hash": last_hash, "at": now}
        row["hash"] = last_hash = event_hash(row)
        rows.append(row)
    session.execute(insert(AuditEventRow.__table__), rows)  # type: ignore[attr-defined]
    session.execute(
        update(AuditChainRow)
        .where(col(AuditChainRow.id) == 1)
        .values(last_event_id=last_id, last_hash=last_hash)
    )
    return [row["id"] for row in rows]


@dataclass(frozen=True)
class BrokenLink:
    event_id: int | None
    problem: str


def _events(session: Session, chunk: int = 5000) -> Iterator[dict[str, Any]]:
    """Every event in id order, as plain mappings, a chunk at a time."""
    table = AuditEventRow.__table__  # type: ignore[attr-defined]
    after = 0
    while True:
        query = table.select().where(table.c.id > after).order_by(table.c.id).limit(chunk)
        rows = [dict(row) for row in session.execute(query).mappings()]
        if not rows:
            return
        yield from rows
        after = rows[-1]["id"]


def head(session: Session) -> tuple[int, str]:
    """The last event's id and hash, as the chain's head row names them: note them
    somewhere else, and `verify(anchor=…)` later shows the chain was not rewritten."""
    found = session.exec(select(AuditChainRow.last_event_id, AuditChainRow.last_hash)).first()
    return (found[0], found[1]) if found else (0, "")


def verify(
    session: Session, anchor: tuple[int, str] | None = None
) -> tuple[int, BrokenLink | None]:
    """Walk the chain from the first event: how many events check out, and the first
    broken link if there is one. `anchor` (an event id and the hash noted for it earlier)
    must still be in the chain: a chain rewritten with fresh hashes fails there."""
    previous_hash, previous_id, checked, anchor_seen = "", 0, 0, False
    for event in _events(session):
        if event["prev_hash"] != previous_hash:
            return checked, BrokenLink(
                event["id"],
                f"event {event['id']} does not follow event {previous_id}: an event between "
                "them was removed, or this one was inserted or rewritten",
            )
        if event["hash"] != event_hash(event):
            return checked, BrokenLink(
                event["id"],
                f"event {event['id']} ({event['action'].value} by {event['actor']}, inquiry "
                f"{event['inquiry_id']}) was changed after it was written",
            )
        if anchor is not None and event["id"] == anchor[0]:
            anchor_seen = True
            if event["hash"] != anchor[1]:
                return checked, BrokenLink(
                    event["id"],
                    f"event {event['id']} no longer has the hash noted for it: the trail was "
                    "rewritten (hashes recomputed) since",
                )
        previous_hash, previous_id = event["hash"], event["id"]
        checked += 1
    if anchor is not None and not anchor_seen:
        return checked, BrokenLink(anchor[0], f"event {anchor[0]}, noted earlier, is gone")
    named = head(session)
    if named != (previous_id, previous_hash):
        return checked, BrokenLink(
            None,
            f"the chain's head names event {named[0]}, but the last event is {previous_id}: "
            "events at the end were removed, or the head was changed",
        )
    return checked, _replies_as_approved(session)


def reply_matches_approval(reply: OutboundReplyRow, approval: AuditEventRow | None) -> bool:
    """A reply waiting to go out says what its approval event says: the text and the
    recipient the agent approved (someone changing the outbox row is caught here)."""
    return (
        approval is not None
        and approval.action is Action.approve
        and approval.inquiry_id == reply.inquiry_id
        and approval.text_after == reply.body
        and (approval.recipient is None or approval.recipient == reply.to_address)
    )


def _replies_as_approved(session: Session) -> BrokenLink | None:
    for reply in session.exec(select(OutboundReplyRow).order_by(col(OutboundReplyRow.id))):
        approval = session.get(AuditEventRow, reply.approved_event_id)
        if not reply_matches_approval(reply, approval):
            return BrokenLink(
                reply.approved_event_id,
                f"the reply to inquiry {reply.inquiry_id} is not the one approved in event "
                f"{reply.approved_event_id} (its text or recipient was changed)",
            )
    return None

"""Mail read → stored inquiries, first of all and in one transaction per batch: nothing
can be lost after this. Duplicates (same Message-ID, or same content without one) are
stored once, also when two processes store the same mail at the same moment; mail that
could not be read is stored as quarantined, with the reason; mail the database refuses
is quarantined too, and the rest of the batch is stored.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.exc import OperationalError, StatementError
from sqlmodel import Session

from assistant import workflow
from assistant.models import InquiryIn, InquiryStatus, QuarantinedMail
from assistant.storage import records
from assistant.storage.tables import utcnow
from assistant.workflow import Arrival

Incoming = InquiryIn | QuarantinedMail


@dataclass
class StoredInquiry:
    """An inquiry as stored: its id, its content and its status when it was looked at."""

    id: int
    inquiry: InquiryIn | None  # None: quarantined mail
    status: InquiryStatus
    created: bool = True
    error: str | None = None


def ingest(session: Session, inquiry: Incoming) -> StoredInquiry:
    """Store one inquiry (or find it if already stored) and commit it."""
    return ingest_many(session, [inquiry])[0]


def _arrival(item: Incoming, now) -> tuple[str, Arrival]:
    """The dedupe key and the row to store for one incoming mail."""
    if isinstance(item, QuarantinedMail):
        stand_in = InquiryIn(source=item.source, raw=item.raw, raw_bytes=item.raw_bytes)
        values = records.inquiry_values(stand_in, digest=item.digest, now=now)
        values["error"] = item.reason
        return f"hash:{item.digest}", Arrival(values, item.reason)
    digest = records.content_hash(item)
    values = records.inquiry_values(item, digest=digest, now=now)  # cut to fit the columns
    key = f"id:{values['message_id']}" if values["message_id"] else f"hash:{digest}"
    return key, Arrival(values, no_reply_reason=item.no_reply_reason)


def ingest_many(session: Session, items: list[Incoming]) -> list[StoredInquiry]:
    """Store a batch in one transaction; duplicates (also within the batch) are not re-stored.
    A batch the database refuses is stored one by one, and the mail it refuses is
    quarantined with the database's reason. Another process storing the same mail at the
    same moment is waited for, never an error (`workflow.receive` takes one lock for
    arrivals, so two such batches cannot deadlock; a deadlock reported anyway is retried)."""
    for attempt in range(3):
        try:
            return _ingest_many(session, items)
        except OperationalError as error:
            session.rollback()
            if attempt == 2 or not _is_deadlock(error):
                raise
    raise AssertionError("unreachable")


def _is_deadlock(error: OperationalError) -> bool:
    return type(error.orig).__name__ in ("DeadlockDetected", "SerializationFailure")


def _ingest_many(session: Session, items: list[Incoming]) -> list[StoredInquiry]:
    now = utcnow()
    keyed = [_arrival(item, now) for item in items]
    known = _known(session, keyed)
    first_of: dict[str, int] = {}
    fresh: list[int] = []
    for index, (key, _) in enumerate(keyed):
        if key not in known and key not in first_of:
            first_of[key] = index
            fresh.append(index)
    try:
        created = workflow.receive(session, [keyed[i][1] for i in fresh])
        session.commit()
    except (StatementError, UnicodeError) as error:  # a value the database or driver refuses
        session.rollback()
        if isinstance(error, OperationalError):
            raise  # the database itself is in trouble: not this mail's fault
        if len(items) == 1:
            if isinstance(items[0], QuarantinedMail):
                raise  # even the plain quarantine row was refused: a database problem
            return [_store_refused(session, items[0])]
        return [stored for item in items for stored in ingest_many(session, [item])]
    new_ids = {fresh[position]: inquiry_id for position, inquiry_id in created.items()}
    if len(new_ids) < len(fresh):  # another process stored some of them just now
        known = _known(session, keyed)
        session.commit()
    results = []
    for index, (key, arrival) in enumerate(keyed):
        item = items[index]
        inquiry = item if isinstance(item, InquiryIn) else None
        if index in new_ids:
            results.append(StoredInquiry(new_ids[index], inquiry, arrival.values["status"]))
        elif key in known:
            row_id, status = known[key]
            results.append(StoredInquiry(row_id, inquiry, status, created=False))
        elif first_of[key] < index:
            twin = results[first_of[key]]
            results.append(StoredInquiry(twin.id, inquiry, twin.status, created=False))
        else:  # neither stored now nor found: the database is not what we think it is
            raise RuntimeError(f"{item.source}: stored by no one and not found ({key[:80]})")
    _mark_bounced_replies(session, results)
    return results


def tally(summary, results: list[StoredInquiry], items: list[Incoming]) -> list[StoredInquiry]:
    """Count a stored batch into a run's summary (its `ingested`, `duplicates`,
    `quarantined` with `quarantine` reasons, `no_reply_needed`); returns the new ones."""
    created = []
    for result, item in zip(results, items, strict=True):
        if not result.created:
            summary.duplicates += 1
            continue
        created.append(result)
        summary.ingested += 1
        if result.status is InquiryStatus.quarantined:
            summary.quarantined += 1
            reason = item.reason if isinstance(item, QuarantinedMail) else "refused by the database"
            summary.quarantine.append(
                {"id": str(result.id), "source": item.source, "reason": reason}
            )
        elif result.status is InquiryStatus.no_reply_needed:
            summary.no_reply_needed += 1
    return created


def _mark_bounced_replies(session: Session, results: list[StoredInquiry]) -> None:
    """A bounce just stored that names one of our sent replies marks its delivery failed
    (after the bounce itself is committed: a problem here loses no mail)."""
    bounces = [
        (r.id, r.inquiry.bounce_of, r.inquiry.bounce_recipients, r.inquiry.bounce_diagnostic)
        for r in results
        if r.created and r.inquiry is not None and r.inquiry.bounce_of
    ]
    if bounces:
        from assistant.mailbox.recovery import record_bounces

        record_bounces(session, bounces)


def _known(session: Session, keyed: list[tuple[str, Arrival]]) -> dict:
    return records.known_keys(
        session,
        message_ids=[k[3:] for k, _ in keyed if k.startswith("id:")],
        digests=[k[5:] for k, _ in keyed if k.startswith("hash:")],
    )


def _store_refused(session: Session, item: Incoming) -> StoredInquiry:
    """Mail the database would not store (a value it refuses): quarantined instead."""
    from assistant.ingest import quarantined

    source = item.source
    reason = f"{source}: the database refused to store this mail"
    raw = item.raw if isinstance(item, QuarantinedMail) else (item.raw or item.text)
    fallback = quarantined(source, reason, (raw or "").encode("utf-8", "replace"))
    return ingest_many(session, [fallback])[0]

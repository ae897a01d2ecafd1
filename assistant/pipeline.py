"""Ingest → triage → draft, with storage at each step.

An inquiry is committed before anything can fail; a failure in triage or drafting leaves
it visible as "needs manual triage" with the error, never lost. Ingesting the same email
twice (same Message-ID, or same content when it has none) yields one inquiry.

Batches are written with bulk statements (one INSERT per table per batch): a run over
thousands of inquiries is bound by triage, not by the database round trips.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import cast

from sqlmodel import Session

from assistant.backends import Backend, Progress
from assistant.models import Draft, InquiryIn, InquiryStatus, Triage, inquiry_key
from assistant.policy import Policy
from assistant.storage import records
from assistant.storage.tables import (
    AuditEventRow,
    DraftRow,
    InquiryRow,
    LlmCallRow,
    TriageRow,
    utcnow,
)

log = logging.getLogger(__name__)
SYSTEM = "system"


@dataclass
class StoredInquiry:
    """An inquiry as stored: its id, its content and its status when it was looked at."""

    id: int
    inquiry: InquiryIn
    status: str
    created: bool = True
    error: str | None = None


@dataclass
class RunSummary:
    ingested: int = 0
    duplicates: int = 0
    processed: int = 0
    failed: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    llm: dict = field(default_factory=dict)  # calls, tokens and estimated cost of this run


def ingest(session: Session, inquiry: InquiryIn) -> StoredInquiry:
    """Store one inquiry (or find it if already stored) and commit it."""
    return ingest_many(session, [inquiry])[0]


def ingest_many(session: Session, inquiries: list[InquiryIn]) -> list[StoredInquiry]:
    """Store a batch in one transaction; duplicates (also within the batch) are not re-stored."""
    digests = [records.content_hash(i) for i in inquiries]
    keys = [_identity(inquiry, digest) for inquiry, digest in zip(inquiries, digests)]
    known = records.known_keys(
        session,
        message_ids=[i.message_id for i in inquiries if i.message_id],
        digests=[digest for inquiry, digest in zip(inquiries, digests) if not inquiry.message_id],
    )
    results: list[StoredInquiry | None] = []
    fresh: list[tuple[int, InquiryIn, str]] = []
    batch_keys: dict[str, int] = {}
    for index, (inquiry, digest) in enumerate(zip(inquiries, digests)):
        hit = known.get(keys[index])
        if hit:
            results.append(StoredInquiry(hit[0], inquiry, hit[1], created=False))
            continue
        results.append(None)  # filled in below, once the new rows (and their twins) have ids
        if keys[index] not in batch_keys:
            batch_keys[keys[index]] = index
            fresh.append((index, inquiry, digest))
    now = utcnow()
    ids = records.insert_returning_ids(
        session, InquiryRow, [records.inquiry_values(i, digest=d, now=now) for _, i, d in fresh]
    )
    id_by_index = {index: row_id for (index, _, _), row_id in zip(fresh, ids)}
    records.insert_rows(
        session,
        AuditEventRow,
        [
            records.audit_values(
                inquiry_id=row_id,
                actor=SYSTEM,
                action="receive",
                from_status=None,
                to_status=InquiryStatus.received.value,
            )
            for row_id in ids
        ],
    )
    session.commit()
    for index, inquiry in enumerate(inquiries):
        if results[index] is not None:
            continue
        if index in id_by_index:
            results[index] = StoredInquiry(id_by_index[index], inquiry, "received")
        else:
            twin = batch_keys[keys[index]]
            results[index] = StoredInquiry(id_by_index[twin], inquiry, "received", created=False)
    return [r for r in results if r is not None]


def _identity(inquiry: InquiryIn, digest: str) -> str:
    """What makes two emails the same one: the Message-ID, or the content when it has none.
    The same text sent again under a new Message-ID is a new email (a customer chasing)."""
    return f"id:{inquiry.message_id}" if inquiry.message_id else f"hash:{digest}"


def process(
    session: Session,
    stored: list[StoredInquiry],
    backend: Backend,
    policy: Policy,
    run_id: str | None = None,
    on_done: Progress | None = None,
) -> list[StoredInquiry]:
    """Triage and draft a batch; one failure never takes the rest of the batch down.
    `on_done(n)` hears of every finished step (a triage, a draft) as it finishes."""
    try:
        triages = backend.triage_many([s.inquiry for s in stored], on_done)
    except Exception as error:  # noqa: BLE001 - isolate the failing inquiry, keep the batch
        if len(stored) > 1:
            return [
                done
                for one in stored
                for done in process(session, [one], backend, policy, run_id, on_done)
            ]
        _write(
            session,
            [_Outcome(stored[0], None, None, f"triage failed: {_describe(error)}")],
            backend,
        )
        _persist_backend_calls(session, backend, stored, run_id)
        session.commit()
        if on_done:
            on_done(2)  # neither step will happen for it
        return stored
    outcomes = _drafts(stored, triages, backend, policy, on_done)
    _write(session, outcomes, backend)
    _persist_backend_calls(session, backend, stored, run_id)
    session.commit()
    return stored


@dataclass
class _Outcome:
    stored: StoredInquiry
    triage: Triage | None
    draft: Draft | None
    error: str | None = None


def _drafts(
    stored: list[StoredInquiry],
    triages: list[Triage],
    backend: Backend,
    policy: Policy,
    on_done: Progress | None = None,
) -> list[_Outcome]:
    """Batch drafting where the backend offers it (LLM calls run concurrently), else one by one."""
    draft_many = getattr(backend, "draft_many", None)
    reported = 0  # drafts the batch call announced before it failed

    def count(n: int) -> None:
        nonlocal reported
        reported += n
        if on_done:
            on_done(n)

    if draft_many is not None and len(stored) > 1:
        try:
            drafts = draft_many([(s.inquiry, t) for s, t in zip(stored, triages)], policy, count)
            return [_Outcome(s, t, d) for s, t, d in zip(stored, triages, drafts, strict=True)]
        except Exception:  # noqa: BLE001 - retry one by one so only the failing inquiry is marked
            log.exception("batch drafting failed; drafting one by one")
    outcomes = []
    for one, triage in zip(stored, triages):
        outcomes.append(_draft(one, triage, backend, policy))
        if reported:
            reported -= 1  # already counted once
        elif on_done:
            on_done(1)
    return outcomes


def _draft(stored: StoredInquiry, triage: Triage, backend: Backend, policy: Policy) -> _Outcome:
    try:
        return _Outcome(stored, triage, backend.draft(stored.inquiry, triage, policy))
    except Exception as error:  # noqa: BLE001 - the inquiry stays visible, with the reason
        return _Outcome(stored, triage, None, f"draft failed: {_describe(error)}")


def _describe(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"[:2000]


def _write(session: Session, outcomes: list[_Outcome], backend: Backend) -> None:
    """Triages, drafts, audit events and new statuses for a batch, in bulk."""
    records.insert_rows(
        session,
        TriageRow,
        [records.triage_values(o.stored.id, o.triage) for o in outcomes if o.triage],
    )
    drafted = [o for o in outcomes if o.draft is not None]
    draft_ids = records.insert_returning_ids(
        session,
        DraftRow,
        [records.draft_values(o.stored.id, cast(Draft, o.draft)) for o in drafted],
    )
    draft_id = {id(o): i for o, i in zip(drafted, draft_ids)}
    events, updates = [], []
    for outcome in outcomes:
        stored, triage = outcome.stored, outcome.triage
        status = stored.status
        update: dict = {"id": stored.id}
        if triage is not None:
            manual = "needs_manual_triage" if triage.needs_manual_triage else "triaged"
            # The backend that answered (a failed LLM call leaves the local one), and why.
            events.append(
                _event(
                    stored.id,
                    triage.backend,
                    "triage",
                    status,
                    manual,
                    reason=triage.fallback_reason,
                )
            )
            status = manual
            update.update(
                urgency=triage.urgency.value,
                due_at=triage.due_at,
                language=triage.language,
                translation_support=_waits_for_translation(triage, outcome.draft),
            )
        if outcome.error:
            log.warning("inquiry %s: %s", stored.id, outcome.error)
            stage = outcome.error.split(" ", 1)[0]
            events.append(
                _event(
                    stored.id,
                    SYSTEM,
                    f"{stage}_failed",
                    status,
                    "needs_manual_triage",
                    reason=outcome.error,
                )
            )
            status, stored.error = "needs_manual_triage", outcome.error
            update["error"] = outcome.error
        elif outcome.draft is not None and status == "triaged":
            events.append(
                _event(
                    stored.id,
                    outcome.draft.backend,
                    "draft",
                    status,
                    "drafted",
                    reason=outcome.draft.fallback_reason,
                    draft_id=draft_id[id(outcome)],
                    text_after=outcome.draft.body,
                    english_text=outcome.draft.english_body,
                )
            )
            status = "drafted"
        stored.status = update["status"] = status
        updates.append(update)
    records.insert_rows(session, AuditEventRow, events)
    records.update_rows(session, InquiryRow, updates)


def _waits_for_translation(triage: Triage, draft: Draft | None) -> bool:
    """Non-English mail answered only by the acknowledgement goes to the translation queue."""
    template = draft.template if draft else None
    return triage.needs_translation and bool(template and template.startswith("acknowledgements/"))


def _event(inquiry_id: int, actor: str, action: str, before: str, after: str, **extra) -> dict:
    return records.audit_values(
        inquiry_id=inquiry_id,
        actor=actor,
        action=action,
        from_status=before,
        to_status=after,
        **extra,
    )


def _persist_backend_calls(
    session: Session, backend: Backend, stored: list[StoredInquiry], run_id: str | None
) -> None:
    """LLM backends record their calls (tokens, cost, request ids); store them with the batch."""
    drain = getattr(backend, "drain_calls", None)
    calls = drain() if drain is not None else []
    if calls:
        ids = {inquiry_key(s.inquiry): s.id for s in stored}
        rows = [records.llm_call_values(c, ids.get(c.inquiry_key or ""), run_id) for c in calls]
        records.insert_rows(session, LlmCallRow, rows)


def run(
    session: Session,
    inquiries: Iterable[InquiryIn],
    backend: Backend,
    policy: Policy,
    *,
    batch_size: int = 256,
    on_progress: Callable[[int, int], None] | None = None,
) -> RunSummary:
    """Ingest everything first (committed), then triage and draft what is new.

    `on_progress(done, total)` counts steps, a triage and a draft per inquiry, as they
    finish (an LLM backend reports each call's inquiry, not each batch)."""
    summary = RunSummary()
    pending: list[StoredInquiry] = []
    batch: list[InquiryIn] = []
    queued: set[int] = set()

    def queue(stored: list[StoredInquiry]) -> None:
        # A mail seen again in a later batch finds the first copy still `received`: once.
        for one in stored:
            if one.id not in queued:
                queued.add(one.id)
                pending.append(one)

    for inquiry in inquiries:
        batch.append(inquiry)
        if len(batch) >= batch_size:
            queue(_ingest_batch(session, batch, summary))
            batch = []
    queue(_ingest_batch(session, batch, summary))
    return _process_all(session, pending, backend, policy, summary, batch_size, on_progress)


def run_waiting(
    session: Session,
    backend: Backend,
    policy: Policy,
    *,
    batch_size: int = 256,
    on_progress: Callable[[int, int], None] | None = None,
) -> RunSummary:
    """Triage and draft the inquiries stored but not yet processed (`ingest`, stdin, or a
    run that was interrupted), oldest first."""
    waiting = [
        StoredInquiry(row.id, records.as_inquiry(row), row.status)
        for row in records.inquiries_with_status(session, InquiryStatus.received)
        if row.id is not None
    ]
    return _process_all(session, waiting, backend, policy, RunSummary(), batch_size, on_progress)


def _process_all(
    session: Session,
    pending: list[StoredInquiry],
    backend: Backend,
    policy: Policy,
    summary: RunSummary,
    batch_size: int,
    on_progress: Callable[[int, int], None] | None,
) -> RunSummary:
    steps = 2 * len(pending)  # a triage and a draft each
    done = 0

    def step(count: int) -> None:
        nonlocal done
        done = min(steps, done + count)
        if on_progress:
            on_progress(done, steps)

    step(0)
    for start in range(0, len(pending), batch_size):
        chunk = pending[start : start + batch_size]
        process(session, chunk, backend, policy, summary.run_id, step)
        summary.processed += len(chunk)
    summary.failed = sum(1 for s in pending if s.error)
    summary.by_status = _statuses_of(session, pending)
    summary.llm = records.llm_usage(session, summary.run_id)
    return summary


def _statuses_of(session: Session, stored: list[StoredInquiry]) -> dict[str, int]:
    """How this run left its inquiries (not the whole database)."""
    counts: dict[str, int] = {}
    for status in records.statuses_of(session, [s.id for s in stored]).values():
        counts[status] = counts.get(status, 0) + 1
    return counts


def _ingest_batch(
    session: Session, batch: list[InquiryIn], summary: RunSummary
) -> list[StoredInquiry]:
    if not batch:
        return []
    results = ingest_many(session, batch)
    created = [r for r in results if r.created]
    summary.ingested += len(created)
    summary.duplicates += len(results) - len(created)
    # A duplicate that an interrupted run stored but never processed is picked up again.
    stuck = {r.id: r for r in results if not r.created and r.status == "received"}
    stuck_ids = stuck.keys() - {r.id for r in created}
    return created + [stuck[i] for i in stuck_ids]

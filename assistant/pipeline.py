"""Ingest → triage → draft, with storage at each step.

An inquiry is committed before anything can fail; a failure in triage or drafting leaves
it visible as "needs manual triage" with the error, never lost. Ingesting the same email
twice (same Message-ID, or same content when it has none) yields one inquiry; mail that
cannot be read or stored is kept as `quarantined`, with the reason, and the rest goes on.

Several processes may run over the same mail at once: each claims the inquiries it
triages and drafts (`storage.claims`), so every inquiry gets one triage and one draft.
Batches are written with bulk statements (one INSERT per table per batch): a run over
thousands of inquiries is bound by triage, not by the database round trips.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session, col, select

from assistant import workflow
from assistant.backends import Backend, Progress
from assistant.ingest.store import Incoming, StoredInquiry, ingest_many, tally
from assistant.models import (
    Action,
    Draft,
    InquiryStatus,
    Triage,
    inquiry_key,
)
from assistant.storage import claims, records
from assistant.storage.tables import DraftRow, InquiryRow, TriageRow
from assistant.workflow import Actor, Step

log = logging.getLogger(__name__)
RENEW_AFTER_S = claims.CLAIM_LEASE.total_seconds() / 3
S = InquiryStatus
SYSTEM = Actor.system()


@dataclass
class RunSummary:
    ingested: int = 0
    duplicates: int = 0
    processed: int = 0
    failed: int = 0
    quarantined: int = 0
    no_reply_needed: int = 0
    elsewhere: int = 0  # waiting inquiries another process was already working on
    by_status: dict[str, int] = field(default_factory=dict)
    quarantine: list[dict[str, str]] = field(default_factory=list)  # source and reason
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    llm: dict = field(default_factory=dict)  # calls, tokens and estimated cost of this run
    # Inquiries whose triage or draft raised (`failed`): the first error, as stored.
    first_error: str | None = None
    # Processed, but an LLM call failed and the local triage or template took its place.
    draft_fallbacks: int = 0
    triage_fallbacks: int = 0
    first_fallback_reason: str | None = None
    interrupted: bool = False  # Ctrl-C or SIGTERM: what was done is stored, the rest waits
    waiting: int = 0  # interrupted: inquiries of this run given back, still `received`


class Interrupted(KeyboardInterrupt):
    """A run stopped by Ctrl-C (or SIGTERM): every batch finished is stored, the LLM calls
    paid for are on record, and the inquiries not done are given back (`received`, for
    the next run). `summary` says how far it got."""

    def __init__(self, summary: RunSummary):
        super().__init__("interrupted")
        self.summary = summary


def process(
    session: Session,
    stored: list[StoredInquiry],
    backend: Backend,
    run_id: str,
    on_done: Progress | None = None,
) -> list[StoredInquiry]:
    """Triage and draft a batch this run has claimed; one failure never takes the rest of
    the batch down. `on_done(n)` hears of every finished step (a triage, a draft)."""
    inquiries = [s.inquiry for s in stored if s.inquiry is not None]
    try:
        triages = backend.triage_many(inquiries, on_done)
    except Exception as error:  # noqa: BLE001 - isolate the failing inquiry, keep the batch
        if len(stored) > 1:
            return [
                done for one in stored for done in process(session, [one], backend, run_id, on_done)
            ]
        _settle(
            session,
            [_Outcome(stored[0], None, None, f"triage failed: {_describe(error)}")],
            backend,
            run_id,
        )
        if on_done:
            on_done(2)  # neither step will happen for it
        return stored
    outcomes = _drafts(stored, triages, backend, on_done)
    _settle(session, outcomes, backend, run_id)
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
    on_done: Progress | None = None,
) -> list[_Outcome]:
    """Drafts for a batch (an LLM backend runs its calls concurrently); if the batch call
    fails, one by one, so only the failing inquiry is marked."""
    reported = 0  # drafts the batch call announced before it failed

    def count(n: int) -> None:
        nonlocal reported
        reported += n
        if on_done:
            on_done(n)

    pairs = [(s.inquiry, t) for s, t in zip(stored, triages) if s.inquiry is not None]
    if len(pairs) > 1:
        try:
            drafts = backend.draft_many(pairs, count)
            return [_Outcome(s, t, d) for s, t, d in zip(stored, triages, drafts, strict=True)]
        except Exception:  # noqa: BLE001 - retry one by one so only the failing inquiry is marked
            log.exception("batch drafting failed; drafting one by one")
    outcomes = []
    for one, triage in zip(stored, triages):
        outcomes.append(_draft(one, triage, backend))
        if reported:
            reported -= 1  # already counted once
        elif on_done:
            on_done(1)
    return outcomes


def _draft(stored: StoredInquiry, triage: Triage, backend: Backend) -> _Outcome:
    assert stored.inquiry is not None
    try:
        return _Outcome(stored, triage, backend.draft_many([(stored.inquiry, triage)])[0])
    except Exception as error:  # noqa: BLE001 - the inquiry stays visible, with the reason
        return _Outcome(stored, triage, None, f"draft failed: {_describe(error)}")


def _describe(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"[:2000]


def _settle(session: Session, outcomes: list[_Outcome], backend: Backend, run_id: str) -> None:
    """Triages, drafts, audit events and new statuses for a batch, in bulk, for the
    inquiries this run still holds; committed. If the database refuses the batch, each
    inquiry is written alone, and one it still refuses needs manual triage, with why.
    The LLM calls of the batch are stored in any case: they were paid for."""
    keys = {inquiry_key(o.stored.inquiry): o.stored.id for o in outcomes if o.stored.inquiry}
    calls = backend.drain_calls()

    def store_calls() -> None:
        for call in calls:
            records.store_llm_calls(session, [call], keys.get(call.inquiry_key or ""), run_id)

    try:
        store_calls()  # in the batch's own transaction: a process killed after it is
        _settle_batch(session, outcomes, run_id)  # committed has its cost on record too
        return
    except KeyboardInterrupt:  # Ctrl-C before the commit: the batch is lost, its cost not
        session.rollback()
        store_calls()
        session.commit()
        raise
    except OperationalError:
        raise  # the database itself is in trouble
    except Exception:  # noqa: BLE001 - one unstorable answer must not stop the batch
        session.rollback()
        log.exception("a batch could not be stored; storing its inquiries one by one")
        for outcome in outcomes:
            try:
                _settle_batch(session, [outcome], run_id)
            except OperationalError:
                raise
            except Exception as error:  # noqa: BLE001 - this one, with the reason
                session.rollback()
                failed = _Outcome(outcome.stored, None, None, f"store failed: {_describe(error)}")
                _settle_batch(session, [failed], run_id)
    store_calls()
    session.commit()


def _settle_batch(session: Session, outcomes: list[_Outcome], run_id: str) -> None:
    mine = set(claims.still_claimed(session, [o.stored.id for o in outcomes], owner=run_id))
    lost = [o for o in outcomes if o.stored.id not in mine]
    for outcome in lost:
        log.warning(
            "inquiry %s: its claim passed to another process; result dropped", outcome.stored.id
        )
    outcomes = [o for o in outcomes if o.stored.id in mine]
    triaged = [o for o in outcomes if o.triage is not None]
    triage_ids = records.insert_returning_ids(
        session,
        TriageRow,
        [records.triage_values(o.stored.id, o.triage) for o in triaged],  # type: ignore[arg-type]
    )
    # A draft is kept only where the inquiry becomes `drafted`: one that needs manual
    # triage is drafted again once an agent has set its category.
    drafted = [o for o in outcomes if _final_status(o) is S.drafted]
    draft_ids = records.insert_returning_ids(
        session,
        DraftRow,
        [records.draft_values(o.stored.id, o.draft) for o in drafted],  # type: ignore[arg-type]
    )
    triage_id = {id(o): i for o, i in zip(triaged, triage_ids)}
    draft_id = {id(o): i for o, i in zip(drafted, draft_ids)}
    steps: list[Step] = []
    columns: dict[int, dict[str, Any]] = {}
    for outcome in outcomes:
        steps += _steps(outcome, draft_id.get(id(outcome)))
        columns[outcome.stored.id] = _columns(
            outcome, triage_id.get(id(outcome)), draft_id.get(id(outcome))
        )
    workflow.apply_many(
        session,
        steps,
        current={o.stored.id: S.received for o in outcomes},
        columns=columns,
        owner=run_id,
    )
    session.commit()
    for outcome in outcomes:
        outcome.stored.status = _final_status(outcome)


def _steps(outcome: _Outcome, draft_id: int | None) -> list[Step]:
    """The actions a processed inquiry went through, as audit events: the actor is the
    backend that answered (a failed LLM call leaves the local one), with the reason."""
    inquiry_id, triage, draft = outcome.stored.id, outcome.triage, outcome.draft
    if triage is None:
        return [Step(inquiry_id, Action.triage_failed, SYSTEM, reason=outcome.error)]
    manual = S.needs_manual_triage if triage.needs_manual_triage else S.triaged
    steps = [
        Step(
            inquiry_id, Action.triage, Actor.system(triage.backend), manual, triage.fallback_reason
        )
    ]
    if outcome.error:
        if manual is S.triaged:
            steps.append(Step(inquiry_id, Action.draft_failed, SYSTEM, reason=outcome.error))
    elif draft is not None and manual is S.triaged:
        steps.append(_draft_step(inquiry_id, draft, draft_id))
    return steps


def _draft_step(inquiry_id: int, draft: Draft, draft_id: int | None) -> Step:
    """The audit event of a draft written: the backend that wrote it, with its text."""
    return Step(
        inquiry_id,
        Action.draft,
        Actor.system(draft.backend),
        S.drafted,
        draft.fallback_reason,
        details={
            "draft_id": draft_id,
            "text_after": draft.body,
            "english_text": draft.english_body,
        },
    )


def _columns(outcome: _Outcome, triage_id: int | None, draft_id: int | None) -> dict[str, Any]:
    triage = outcome.triage
    values: dict[str, Any] = {"error": outcome.error}
    if outcome.error:
        log.warning("inquiry %s: %s", outcome.stored.id, outcome.error)
        outcome.stored.error = outcome.error
    if triage is not None:
        values.update(
            triage_id=triage_id,
            urgency=triage.urgency,
            due_at=triage.due_at,
            language=triage.language[:8],
            translation_support=waits_for_translation(triage, outcome.draft),
        )
    if draft_id is not None:
        values["draft_id"] = draft_id
    return values


def _final_status(outcome: _Outcome) -> InquiryStatus:
    if outcome.triage is None or outcome.error:
        return S.needs_manual_triage
    if outcome.triage.needs_manual_triage:
        return S.needs_manual_triage
    return S.drafted if outcome.draft is not None else S.triaged


def waits_for_translation(triage: Triage, draft: Draft | None) -> bool:
    """Non-English mail answered only by the acknowledgement goes to the translation queue."""
    template = draft.template if draft else None
    return triage.needs_translation and bool(template and template.startswith("acknowledgements/"))


def run(
    session: Session,
    inquiries: Iterable[Incoming],
    backend: Backend,
    *,
    batch_size: int = 256,
    on_progress: Callable[[int, int], None] | None = None,
) -> RunSummary:
    """Ingest everything first (committed), then triage and draft what is new or still
    waiting (and not being worked on by another process).

    `on_progress(done, total)` counts steps, a triage and a draft per inquiry, as they
    finish (an LLM backend reports each call's inquiry, not each batch)."""
    summary = RunSummary()
    pending: list[StoredInquiry] = []
    batch: list[Incoming] = []
    queued: set[int] = set()

    def queue(stored: list[StoredInquiry]) -> None:
        # A mail seen again in a later batch finds the first copy still `received`: once.
        for one in stored:
            if one.id not in queued and one.inquiry is not None and one.status is S.received:
                queued.add(one.id)
                pending.append(one)

    for inquiry in inquiries:
        batch.append(inquiry)
        if len(batch) >= batch_size:
            queue(_ingest_batch(session, batch, summary))
            batch = []
    queue(_ingest_batch(session, batch, summary))
    batches = (pending[start : start + batch_size] for start in range(0, len(pending), batch_size))
    return _process_all(session, batches, len(pending), backend, summary, on_progress)


def run_waiting(
    session: Session,
    backend: Backend,
    *,
    batch_size: int = 256,
    on_progress: Callable[[int, int], None] | None = None,
) -> RunSummary:
    """Triage and draft the inquiries stored but not yet processed (`ingest`, stdin, a
    reopened one, or a run that was interrupted), oldest first, a batch in memory at a time."""
    ids = records.ids_with_status(session, S.received)

    def batches():
        for start in range(0, len(ids), batch_size):
            rows = records.inquiries_by_ids(session, ids[start : start + batch_size])
            yield [StoredInquiry(r.id, records.as_inquiry(r), r.status) for r in rows if r.id]

    return _process_all(session, batches(), len(ids), backend, RunSummary(), on_progress)


def _process_all(
    session: Session,
    batches: Iterable[list[StoredInquiry]],
    total: int,
    backend: Backend,
    summary: RunSummary,
    on_progress: Callable[[int, int], None] | None,
) -> RunSummary:
    steps = 2 * total  # a triage and a draft each
    done = 0
    mine: list[StoredInquiry] = []
    renewed = time.monotonic()

    def step(count: int) -> None:
        nonlocal done, renewed
        done = min(steps, done + count)
        if on_progress:
            on_progress(done, steps)
        if mine and time.monotonic() - renewed > RENEW_AFTER_S:  # a slow batch keeps its claim
            claims.renew(session, [s.id for s in mine], owner=summary.run_id)
            renewed = time.monotonic()

    step(0)
    processed: list[StoredInquiry] = []
    current: list[StoredInquiry] = []  # the batch being claimed or processed
    try:
        for chunk in batches:
            current, mine = chunk, []
            claimed = set(claims.claim(session, [s.id for s in chunk], owner=summary.run_id))
            mine = [s for s in chunk if s.id in claimed]
            renewed = time.monotonic()
            summary.elsewhere += len(chunk) - len(mine)
            step(2 * (len(chunk) - len(mine)))
            if mine:
                process(session, mine, backend, summary.run_id, step)
            processed += mine
            current, mine = [], []
    except BaseException as stop:  # Ctrl-C, SIGTERM: what is not done goes back at once
        session.rollback()
        _keep_calls(session, backend, mine, summary.run_id)
        # (what this run holds of it: a processed inquiry's claim is cleared already)
        claims.release(session, [s.id for s in current], owner=summary.run_id)
        if not isinstance(stop, KeyboardInterrupt):
            raise
        now = records.statuses_of(session, [s.id for s in mine])
        processed += [s for s in mine if now.get(s.id, S.received) is not S.received]
        _tally(session, summary, processed)
        summary.interrupted = True
        summary.waiting = max(0, total - summary.processed - summary.elsewhere)
        raise Interrupted(summary) from None
    _tally(session, summary, processed)
    return summary


def _tally(session: Session, summary: RunSummary, processed: list[StoredInquiry]) -> None:
    """What the run did with what it processed: statuses, failures, fallbacks, LLM use."""
    summary.processed = len(processed)
    failed = [s for s in processed if s.error]
    summary.failed = len(failed)
    summary.first_error = failed[0].error if failed else None
    summary.by_status = _statuses_of(session, processed)
    _count_fallbacks(session, summary, [s.id for s in processed])
    summary.llm = records.llm_usage(session, summary.run_id)
    session.commit()  # nothing left open (on SQLite an open transaction holds the write lock)


def _keep_calls(
    session: Session, backend: Backend, stored: list[StoredInquiry], run_id: str
) -> None:
    """An interrupted batch's LLM calls, stored (they were paid for) with the inquiries
    they served; committed. A failure here must not hide the interruption: logged."""
    keys = {inquiry_key(s.inquiry): s.id for s in stored if s.inquiry is not None}
    try:
        calls = backend.drain_calls()
        for call in calls:
            records.store_llm_calls(session, [call], keys.get(call.inquiry_key or ""), run_id)
        session.commit()
    except Exception:  # noqa: BLE001 - the claims are still given back
        session.rollback()
        log.exception("the LLM calls of an interrupted batch could not be stored")


def _count_fallbacks(session: Session, summary: RunSummary, inquiry_ids: list[int]) -> None:
    """How many of these inquiries' current drafts and triages are the local ones because
    an LLM call failed (their `fallback_reason`), and the first reason."""
    first: str | None = None
    for start in range(0, len(inquiry_ids), 500):
        chunk = inquiry_ids[start : start + 500]
        drafts = select(InquiryRow.id, DraftRow.fallback_reason).join(
            DraftRow, col(DraftRow.id) == col(InquiryRow.draft_id)
        )
        for _, reason in session.exec(drafts.where(col(InquiryRow.id).in_(chunk))):
            if reason:
                summary.draft_fallbacks += 1
                first = first or reason
        triages = select(InquiryRow.id, TriageRow.details).join(
            TriageRow, col(TriageRow.id) == col(InquiryRow.triage_id)
        )
        for _, details in session.exec(triages.where(col(InquiryRow.id).in_(chunk))):
            reason = (details or {}).get("fallback_reason")
            if reason:
                summary.triage_fallbacks += 1
                first = first or reason
    summary.first_fallback_reason = first


def _statuses_of(session: Session, stored: list[StoredInquiry]) -> dict[str, int]:
    """How this run left its inquiries (not the whole database)."""
    counts: dict[str, int] = {}
    for status in records.statuses_of(session, [s.id for s in stored]).values():
        counts[status.value] = counts.get(status.value, 0) + 1
    return counts


def _ingest_batch(
    session: Session, batch: list[Incoming], summary: RunSummary
) -> list[StoredInquiry]:
    if not batch:
        return []
    results = ingest_many(session, batch)
    tally(summary, results, batch)
    return results


# -- one inquiry at a time, for a worker's job -------------------------------------------


def process_one(
    session: Session, inquiry_id: int, backend: Backend, owner: str
) -> InquiryStatus | None:
    """Triage and draft one inquiry in two committed steps (a worker's job, run in-process
    on SQLite). Run again — the queue re-delivered the job, its worker was killed — it finds
    what is done and does only the rest: a stored triage, an LLM answer paid for, is never
    asked for again, and a draft is written once (the workflow's conditional update).
    `owner` is the claim's owner: the same job run again takes its own claim back.
    None: there is no such inquiry; `received`: another process holds it."""
    row = _fresh(session, inquiry_id)
    if row is None or row.id is None:
        return None
    if row.status is S.received:
        if not claims.claim(session, [row.id], owner=owner):
            session.commit()
            return S.received
        stored = StoredInquiry(row.id, records.as_inquiry(row), row.status)
        session.commit()  # nothing held while the backend works
        try:
            outcome = _Outcome(stored, backend.triage_many([stored.inquiry])[0], None)  # type: ignore[list-item]
        except Exception as error:  # noqa: BLE001 - the inquiry stays visible, with the reason
            outcome = _Outcome(stored, None, None, f"triage failed: {_describe(error)}")
        _settle(session, [outcome], backend, owner)
        row = _fresh(session, inquiry_id)
        assert row is not None
    if row.status is S.triaged and row.draft_id is None:
        _draft_stored_triage(session, row, backend, owner)
        row = _fresh(session, inquiry_id)
        assert row is not None
    status = row.status
    session.commit()
    return status


def _fresh(session: Session, inquiry_id: int) -> InquiryRow | None:
    """The inquiry as the database has it now (the steps write with bulk statements)."""
    row = records.get_inquiry(session, inquiry_id)
    if row is not None:
        session.refresh(row)
    return row


def _draft_stored_triage(session: Session, row: InquiryRow, backend: Backend, owner: str) -> None:
    """The draft for an inquiry whose triage is stored; committed with its LLM calls. Drafted
    meanwhile by someone else (the status moved on): this draft is dropped, its cost kept."""
    assert row.id is not None
    triage_row = records.current_triage(session, row)
    if triage_row is None:
        return
    triage, inquiry, inquiry_id = records.as_triage(triage_row), records.as_inquiry(row), row.id
    session.commit()  # nothing held while the backend works
    try:
        draft: Draft | None = backend.draft_many([(inquiry, triage)])[0]
        error = None
    except Exception as failure:  # noqa: BLE001 - the inquiry stays visible, with the reason
        draft, error = None, f"draft failed: {_describe(failure)}"
    calls = backend.drain_calls()
    try:
        if draft is None:
            step = Step(inquiry_id, Action.draft_failed, SYSTEM, reason=error)
            columns: dict[str, Any] = {"error": error}
        else:
            version = records.last_draft_version(session, inquiry_id) + 1
            (draft_id,) = records.insert_returning_ids(
                session, DraftRow, [records.draft_values(inquiry_id, draft, version)]
            )
            step = _draft_step(inquiry_id, draft, draft_id)
            columns = {
                "draft_id": draft_id,
                "error": None,
                "translation_support": waits_for_translation(triage, draft),
            }
        workflow.apply_many(
            session, [step], current={inquiry_id: S.triaged}, columns={inquiry_id: columns}
        )
        records.store_llm_calls(session, calls, inquiry_id, owner)
        session.commit()  # the draft and what it cost, together
    except (workflow.WorkflowError, IntegrityError):  # drafted meanwhile (the version is taken)
        session.rollback()
        log.info("inquiry %s was drafted meanwhile; this draft is dropped", inquiry_id)
        records.store_llm_calls(session, calls, inquiry_id, owner)
        session.commit()

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
from datetime import UTC
from typing import Any

from sqlalchemy import or_
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session, col, func, select

from assistant import workflow
from assistant.backends import Backend, Progress
from assistant.ingest.store import Incoming, StoredInquiry, ingest_many, tally
from assistant.models import (
    Action,
    ActorKind,
    Draft,
    InquiryStatus,
    Triage,
    inquiry_key,
)
from assistant.storage import claims, records
from assistant.storage.tables import AuditEventRow, DraftRow, InquiryRow, LlmCallRow, TriageRow
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
            translation_support=_waits_for_translation(triage, outcome.draft),
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


def _waits_for_translation(triage: Triage, draft: Draft | None) -> bool:
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
                "translation_support": _waits_for_translation(triage, draft),
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


# -- drafts that fell back to the local template, drafted again by the LLM ---------------

TRANSIENT_MARKERS: tuple[str, ...] = (
    "Timeout: ",  # llm.structured's words for a timeout after the retries
    "APITimeoutError",
    "Request timed out",
    "APIConnectionError",
    "Connection error",
    "RateLimitError",
    "InternalServerError",
    "HTTP 429",
    "HTTP 5",  # HTTP 500, 502, 503, 504, …
)
"""What in a draft's `fallback_reason` says the LLM server was away for a moment (a
timeout, a connection error, a rate limit, a server error): asked again later, it may
answer. Anything else (a draft not grounded after its repair, a refusal, an invalid
answer) is what the model wrote, and asking again is no cure."""

PERMANENT_MARKERS: tuple[str, ...] = ("not grounded", "refusal", "invalid answer")
"""What makes a fallback not worth retrying, whatever else its reason mentions (a model's
ungrounded text may quote anything, "HTTP 503" too)."""


def is_transient(reason: str | None) -> bool:
    """Did this draft fall back because the server was briefly unavailable?"""
    if not reason:
        return False
    if any(marker in reason for marker in PERMANENT_MARKERS):
        return False
    return any(marker in reason for marker in TRANSIENT_MARKERS)


class NothingToRetryWith(ValueError):
    """`retry_fallbacks` with the local backend: the template is what it would write again."""


@dataclass
class RetrySummary:
    redrafted: int = 0  # written by the LLM this time, in place of the template's draft
    fell_back: int = 0  # the LLM failed again: the template's draft stays
    skipped: int = 0  # an agent has edited, approved, escalated or sent it: left alone
    given_up: int = 0  # retried MAX_RETRY_ATTEMPTS times already: left to the agent
    reasons: list[str] = field(default_factory=list)  # why they fell back again (the first 20)
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    llm: dict = field(default_factory=dict)  # calls, tokens and estimated cost of the retry


@dataclass
class _Retry:
    inquiry_id: int
    draft_id: int
    version: int
    reason: str
    since_event: int  # the audit event that wrote the draft


def retry_fallbacks(
    session: Session,
    backend: Backend,
    *,
    batch_size: int = 64,
    on_progress: Callable[[int, int], None] | None = None,
) -> RetrySummary:
    """Draft again, with the LLM, the inquiries whose current draft is the local template's
    because the LLM server failed for a moment (`is_transient`). Only a draft the system
    wrote and nobody touched since is replaced: the inquiry still `drafted`, no agent
    action since, the draft version unchanged — checked again, locked, when the new draft
    is written, so an agent acting meanwhile wins. A draft that falls back again stays.
    Every LLM call is stored, whatever came of it."""
    if backend.name == "local":
        raise NothingToRetryWith(
            "the backend is local: there is no LLM to draft them again with (choose one with "
            "--backend openai or ASSISTANT_BACKEND)"
        )
    drafter: Backend = getattr(backend, "llm", backend)  # a cascade's LLM: it is asked anyway
    summary = RetrySummary()
    todo, summary.skipped = _fallbacks_to_retry(session)
    todo, summary.given_up = _within_attempts(session, todo)
    done = 0
    if on_progress:
        on_progress(0, len(todo))
    for start in range(0, len(todo), batch_size):
        chunk = todo[start : start + batch_size]
        rows = {r.id: r for r in records.inquiries_by_ids(session, [t.inquiry_id for t in chunk])}
        pairs, keys = [], {}
        for one in chunk:
            row = rows[one.inquiry_id]
            triage_row = records.current_triage(session, row)
            if triage_row is None:  # cannot be drafted without one; an agent sees to it
                summary.skipped += 1
                continue
            inquiry = records.as_inquiry(row)
            keys[inquiry_key(inquiry)] = one.inquiry_id
            pairs.append((one, inquiry, records.as_triage(triage_row)))
        session.commit()  # nothing held while the LLM works

        def step(n: int) -> None:
            nonlocal done
            done += n
            if on_progress:
                on_progress(min(done, len(todo)), len(todo))

        try:
            drafts = drafter.draft_many([(i, t) for _, i, t in pairs], step) if pairs else []
        finally:  # interrupted too: what was paid for is on record
            calls = drafter.drain_calls()
            for call in calls:
                records.store_llm_calls(
                    session, [call], keys.get(call.inquiry_key or ""), summary.run_id
                )
            session.commit()
        for (one, _, triage), draft in zip(pairs, drafts, strict=True):
            if draft.fallback_reason or draft.backend == "local":
                summary.fell_back += 1
                if len(summary.reasons) < 20:
                    summary.reasons.append(draft.fallback_reason or "drafted by the local template")
            elif _replace_fallback(session, one, triage, draft):
                summary.redrafted += 1
            else:
                summary.skipped += 1
    summary.llm = records.llm_usage(session, summary.run_id)
    session.commit()
    return summary


MAX_RETRY_ATTEMPTS = 3
"""Retries of one fallback draft before it is left to the agent: a mail that times out
every time would otherwise be paid for every 15 minutes (the worker's schedule)."""


def _within_attempts(session: Session, todo: list[_Retry]) -> tuple[list[_Retry], int]:
    """`todo` without the drafts retried MAX_RETRY_ATTEMPTS times since they were written
    (each retry run that asked the LLM for a draft of the inquiry is one attempt)."""
    if not todo:
        return todo, 0
    written = {
        row.id: row.created_at
        for row in session.exec(
            select(DraftRow).where(col(DraftRow.id).in_([t.draft_id for t in todo]))
        )
    }
    calls = session.exec(
        select(LlmCallRow.inquiry_id, LlmCallRow.run_id, LlmCallRow.at).where(
            col(LlmCallRow.inquiry_id).in_([t.inquiry_id for t in todo]),
            col(LlmCallRow.purpose).startswith("draft"),
        )
    ).all()
    kept, given_up = [], 0
    for one in todo:
        since = written.get(one.draft_id)
        runs = {
            run
            for inquiry, run, at in calls
            if inquiry == one.inquiry_id and since is not None and _aware(at) > _aware(since)
        }
        if len(runs) >= MAX_RETRY_ATTEMPTS:
            given_up += 1
        else:
            kept.append(one)
    return kept, given_up


def _aware(moment):
    """SQLite hands back naive UTC datetimes, PostgreSQL aware ones: compare them alike."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _fallbacks_to_retry(session: Session) -> tuple[list[_Retry], int]:
    """The inquiries whose current draft fell back for a transient reason and waits in the
    review queue untouched, oldest first; and how many such drafts an agent has taken up
    (edited, approved, escalated, corrected: skipped). Sent, rejected and closed inquiries
    are history, not counted."""
    waiting = [*workflow.OPEN, S.approved]
    query = (
        select(InquiryRow.id, InquiryRow.status, DraftRow.id, DraftRow.version)
        .join(DraftRow, col(DraftRow.id) == col(InquiryRow.draft_id))
        .add_columns(col(DraftRow.fallback_reason))
        .where(col(DraftRow.fallback_reason).is_not(None), col(InquiryRow.status).in_(waiting))
        .order_by(col(InquiryRow.id))
    )
    found = [r for r in session.execute(query) if is_transient(r[4])]
    drafted = [r for r in found if r[1] is S.drafted]
    written: dict[int, int] = {}  # draft id: the event that wrote it
    touched: dict[int, int] = {}  # inquiry id: its last agent event
    for start in range(0, len(drafted), 500):
        chunk = drafted[start : start + 500]
        writes = (
            select(AuditEventRow.draft_id, func.max(AuditEventRow.id))
            .where(
                col(AuditEventRow.draft_id).in_([r[2] for r in chunk]),
                col(AuditEventRow.action).in_([Action.draft, Action.redraft]),
            )
            .group_by(col(AuditEventRow.draft_id))
        )
        written.update({d: e for d, e in session.exec(writes) if d is not None and e})
        agents = (
            select(AuditEventRow.inquiry_id, func.max(AuditEventRow.id))
            .where(
                col(AuditEventRow.inquiry_id).in_([r[0] for r in chunk]),
                # before migration 0004 nobody said who acted: as if an agent had
                or_(
                    col(AuditEventRow.actor_kind) == ActorKind.agent,
                    col(AuditEventRow.actor_kind).is_(None),
                ),
            )
            .group_by(col(AuditEventRow.inquiry_id))
        )
        touched.update({i: e for i, e in session.exec(agents) if e})
    session.commit()
    todo = [
        _Retry(r[0], r[2], r[3], r[4], written[r[2]])
        for r in drafted
        if r[2] in written and touched.get(r[0], 0) < written[r[2]]
    ]
    return todo, len(found) - len(todo)


def _touched_since(session: Session, inquiry_id: int, event_id: int) -> bool:
    """Has an agent acted on the inquiry since this audit event (or did one write it)?"""
    query = select(AuditEventRow.id).where(
        col(AuditEventRow.inquiry_id) == inquiry_id,
        col(AuditEventRow.id) >= event_id,
        or_(
            col(AuditEventRow.actor_kind) == ActorKind.agent,
            col(AuditEventRow.actor_kind).is_(None),
        ),
    )
    return session.exec(query.limit(1)).first() is not None


def _replace_fallback(session: Session, one: _Retry, triage: Triage, draft: Draft) -> bool:
    """The LLM's draft in place of the template's, through the workflow: refused (False)
    when an agent acted on the inquiry meanwhile or its draft changed (a new version)."""

    def store_new_draft(session: Session, row: InquiryRow, old: DraftRow | None) -> dict:
        assert row.id is not None
        if (
            old is None
            or old.id != one.draft_id
            or _touched_since(session, row.id, one.since_event)
        ):
            raise workflow.StaleDraft(f"inquiry {row.id} was taken up by an agent meanwhile")
        version = records.last_draft_version(session, row.id) + 1
        (draft_id,) = records.insert_returning_ids(
            session, DraftRow, [records.draft_values(row.id, draft, version)]
        )
        row.draft_id, row.error = draft_id, None
        row.translation_support = _waits_for_translation(triage, draft)
        session.add(row)
        return {
            "draft_id": draft_id,
            "text_before": old.body,
            "text_after": draft.body,
            "english_text": draft.english_body,
        }

    try:
        workflow.apply(
            session,
            one.inquiry_id,
            Action.redraft,
            Actor.system(draft.backend),
            to=S.drafted,
            expected_version=one.version,
            reason=f"drafted again by the LLM; the local template's draft fell back: {one.reason}",
            prepare=store_new_draft,
        )
    except workflow.WorkflowError as refused:  # the agent's action wins
        log.info("inquiry %s: fallback not re-drafted: %s", one.inquiry_id, refused)
        return False
    return True

"""Drafts that fell back to the local template while the LLM server was away, drafted
again by the LLM once it answers (`assistant run --retry-fallbacks`, a worker task).

Only a draft the system wrote and nobody touched is replaced, through the workflow core;
a draft that keeps failing is left to the agents after a few attempts.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC

from sqlalchemy import or_
from sqlmodel import Session, col, func, select

from assistant import workflow
from assistant.backends import Backend
from assistant.models import Action, ActorKind, Draft, InquiryStatus, Triage, inquiry_key
from assistant.pipeline import waits_for_translation
from assistant.storage import records
from assistant.storage.tables import AuditEventRow, DraftRow, InquiryRow, LlmCallRow
from assistant.workflow import Actor

log = logging.getLogger(__name__)
S = InquiryStatus


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
        row.translation_support = waits_for_translation(triage, draft)
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

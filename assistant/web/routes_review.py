"""The review page and the agent's actions on it. Each action is one call to
`assistant.review`; a refusal (stale draft, a finding not overridden, a senior-only
approval) is shown on the page with the agent's text kept in the composer."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi import Path as PathParam
from fastapi.responses import RedirectResponse, Response

from assistant import review
from assistant.models import AccountRole, Category, Urgency
from assistant.storage import presence
from assistant.storage.db import session as db_for
from assistant.storage.tables import InquiryRow, utcnow
from assistant.web import views
from assistant.web.app import flash, render
from assistant.web.auth import Agent, Db, actor
from assistant.web.security import check_csrf
from assistant.workflow import WorkflowError

router = APIRouter(prefix="/inquiries")
Text = Annotated[str, Form(max_length=200_000)]
MaybeText = Annotated[str | None, Form(max_length=200_000)]
Reason = Annotated[str, Form(max_length=2_000)]
Version = Annotated[int | None, Form()]
Checked = [Depends(check_csrf)]
InquiryId = Annotated[int, PathParam(ge=1, le=2**63 - 1)]


def _policy():
    from assistant.policy import default_policy

    return default_policy()


def backend_of(request: Request):
    """The configured backend, made once per server (the classifier loads once)."""
    state = request.app.state
    if getattr(state, "backend", None) is None:  # callers hold no transaction (classifier load)
        from assistant.backends import get_backend

        settings = state.settings
        state.backend = get_backend(settings.backend, settings, _policy())
    return state.backend


def _page(request: Request, db, inquiry_id: InquiryId, agent, **extra) -> Response:
    now = utcnow()
    data = views.review_page(
        db,
        inquiry_id,
        account=agent.name,
        role_senior=agent.role.at_least(AccountRole.senior),
        policy=_policy(),
        now=now,
        settings=request.app.state.settings,
    )
    if data is None:
        raise HTTPException(status_code=404, detail=f"There is no inquiry {inquiry_id}.")
    settings = request.app.state.settings
    context = {
        "agent": agent,
        "page": data,
        "now": now,
        "categories": list(Category),
        "urgencies": list(Urgency),
        "llm_redraft": settings.backend != "local",
        "knowledge_configured": settings.knowledge_dir is not None,
        "lead": agent.role.at_least(AccountRole.senior),
        "redraft_pending": settings.workers and _redraft_pending(db, inquiry_id),
        "error": None,
        "composer": None,
        **extra,
    }
    return render(request, "review.html", context, status=409 if extra.get("error") else 200)


def _redraft_pending(db, inquiry_id: int) -> bool:
    """A re-draft asked for and not yet written by a worker (team mode)."""
    from assistant.worker.enqueue import redraft_pending
    from assistant.worker.queue import job_lock

    return redraft_pending(db, job_lock(inquiry_id))


def _here(request: Request, db, inquiry_id: int, agent) -> None:
    """This agent has the inquiry open: a short write of its own, made after the request's
    reading session let go of its connection (one connection per request at a time)."""
    db.commit()
    with db_for(request.app.state.engine) as writer:
        if writer.get(InquiryRow, inquiry_id) is not None:
            presence.touch(writer, inquiry_id, agent.name)


@router.get("/{inquiry_id}")
def review_inquiry(request: Request, inquiry_id: InquiryId, db: Db, agent: Agent) -> Response:
    _here(request, db, inquiry_id, agent)
    return _page(request, db, inquiry_id, agent)


@router.get("/{inquiry_id}/presence")
def still_here(request: Request, inquiry_id: InquiryId, db: Db, agent: Agent) -> Response:
    """Polled by the open review page: reports this agent, answers who else is here."""
    _here(request, db, inquiry_id, agent)
    others = [
        name
        for name in presence.viewers(db, [inquiry_id]).get(inquiry_id, [])
        if name != agent.name
    ]
    return render(request, "_presence.html", {"agent": agent, "viewers": others})


def _back(inquiry_id: int) -> RedirectResponse:
    return RedirectResponse(f"/inquiries/{inquiry_id}", status_code=303)


def _to_queue(request: Request) -> RedirectResponse:
    return RedirectResponse(request.session.get("queue_url", "/queue"), status_code=303)


def _refused(request, db, inquiry_id, agent, error: Exception, composer: str | None = None):
    db.rollback()
    return _page(request, db, inquiry_id, agent, error=str(error), composer=composer)


@router.post("/{inquiry_id}/approve", dependencies=Checked)
def approve(
    request: Request,
    inquiry_id: InquiryId,
    db: Db,
    agent: Agent,
    body: MaybeText = None,
    draft_version: Version = None,
    override_reason: Reason = "",
) -> Response:
    hold = timedelta(seconds=request.app.state.settings.web_undo_seconds)
    try:
        reply = review.approve(
            db,
            inquiry_id,
            agent=actor(agent),
            edited_body=body,
            override_reason=override_reason or None,
            policy=_policy(),
            expected_version=draft_version,
            hold=hold,
        )
    except WorkflowError as error:
        return _refused(request, db, inquiry_id, agent, error, composer=body)
    settings = request.app.state.settings
    if settings.workers:  # a worker sends it once the undo window has passed
        from assistant.worker.enqueue import enqueue_send

        enqueue_send(settings, after_seconds=hold.total_seconds() + 1)
    flash(
        request,
        f"Inquiry {inquiry_id} approved: the reply to {reply.to_address} can go out in "
        f"{hold.total_seconds():g} seconds.",
        kind="undo",
        inquiry_id=inquiry_id,
        until=reply.send_after.isoformat() if reply.send_after else None,
    )
    return _to_queue(request)


@router.post("/{inquiry_id}/undo", dependencies=Checked)
def undo(request: Request, inquiry_id: InquiryId, db: Db, agent: Agent) -> Response:
    """Take back an approval made seconds ago (before the reply can go out)."""
    try:
        review.undo_approval(db, inquiry_id, agent=actor(agent))
    except WorkflowError as error:
        flash(request, f"{str(error)[:1].upper()}{str(error)[1:]}.", kind="error")
        return _back(inquiry_id)
    flash(request, f"Approval of inquiry {inquiry_id} undone: nothing was sent.")
    return _back(inquiry_id)


@router.post("/{inquiry_id}/edit", dependencies=Checked)
def edit(
    request: Request,
    inquiry_id: InquiryId,
    db: Db,
    agent: Agent,
    body: Text,
    draft_version: Version = None,
    translation_confirmed: Annotated[bool, Form()] = False,
) -> Response:
    try:
        review.edit(
            db,
            inquiry_id,
            agent=actor(agent),
            body=body,
            policy=_policy(),
            expected_version=draft_version,
            translation_confirmed=translation_confirmed,
        )
    except WorkflowError as error:
        return _refused(request, db, inquiry_id, agent, error, composer=body)
    flash(request, "Draft saved (not approved yet).")
    return _back(inquiry_id)


@router.post("/{inquiry_id}/english", dependencies=Checked)
def edit_english(
    request: Request,
    inquiry_id: InquiryId,
    db: Db,
    agent: Agent,
    english_body: Text,
    draft_version: Version = None,
) -> Response:
    from assistant.workflow import translator_for

    db.commit()  # no write lock held while the backend loads and translates
    try:
        review.edit_english(
            db,
            inquiry_id,
            agent=actor(agent),
            english_body=english_body,
            translator=translator_for(backend_of(request)),
            policy=_policy(),
            expected_version=draft_version,
        )
    except WorkflowError as error:
        return _refused(request, db, inquiry_id, agent, error)
    flash(request, "English saved and the customer text translated again.")
    return _back(inquiry_id)


def _decision(request: Request, db, inquiry_id: InquiryId, agent, act, done: str, to_queue: bool):
    try:
        act()
    except WorkflowError as error:
        return _refused(request, db, inquiry_id, agent, error)
    flash(request, done)
    return _to_queue(request) if to_queue else _back(inquiry_id)


@router.post("/{inquiry_id}/reject", dependencies=Checked)
def reject(
    request: Request, inquiry_id: InquiryId, db: Db, agent: Agent, reason: Reason = ""
) -> Response:
    act = lambda: review.reject(db, inquiry_id, agent=actor(agent), reason=reason)  # noqa: E731
    return _decision(request, db, inquiry_id, agent, act, f"Inquiry {inquiry_id} rejected.", True)


@router.post("/{inquiry_id}/escalate", dependencies=Checked)
def escalate(
    request: Request, inquiry_id: InquiryId, db: Db, agent: Agent, reason: Reason = ""
) -> Response:
    act = lambda: review.escalate(db, inquiry_id, agent=actor(agent), reason=reason)  # noqa: E731
    done = f"Inquiry {inquiry_id} escalated: a senior approves its reply."
    return _decision(request, db, inquiry_id, agent, act, done, True)


@router.post("/{inquiry_id}/withdraw", dependencies=Checked)
def withdraw(
    request: Request, inquiry_id: InquiryId, db: Db, agent: Agent, reason: Reason = ""
) -> Response:
    act = lambda: review.withdraw_approval(  # noqa: E731
        db, inquiry_id, agent=actor(agent), reason=reason or None
    )
    done = f"Approval of inquiry {inquiry_id} withdrawn."
    return _decision(request, db, inquiry_id, agent, act, done, False)


@router.post("/{inquiry_id}/send-again", dependencies=Checked)
def send_again(
    request: Request,
    inquiry_id: InquiryId,
    db: Db,
    agent: Agent,
    not_received: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    """A failed reply, or an uncertain one the agent checked did not arrive, goes out with
    the next `mail send`."""
    from assistant.mailbox import outbox
    from assistant.models import DeliveryState
    from assistant.storage import records

    def act() -> None:
        reply = records.outbound_reply(db, inquiry_id)
        if reply is not None and reply.delivery is DeliveryState.uncertain and not not_received:
            raise WorkflowError(
                "this reply may have reached the customer: tick that they did not get it, "
                "or record it as sent"
            )
        outbox.retry(db, inquiry_id, agent=actor(agent))

    done = f"The reply to inquiry {inquiry_id} goes out again with the next send."
    return _decision(request, db, inquiry_id, agent, act, done, False)


@router.post("/{inquiry_id}/delivered", dependencies=Checked)
def delivered(request: Request, inquiry_id: InquiryId, db: Db, agent: Agent) -> Response:
    """An uncertain reply the agent found did arrive: recorded as sent, never sent again."""
    from assistant import export
    from assistant.models import DeliveryState

    def act() -> None:
        export.mark_sent(
            db,
            [inquiry_id],
            actor=actor(agent),
            transport="SMTP (arrival confirmed by an agent)",
            only_from=(DeliveryState.uncertain,),
        )

    return _decision(request, db, inquiry_id, agent, act, f"Inquiry {inquiry_id}: sent.", False)


@router.post("/{inquiry_id}/no-reply-needed", dependencies=Checked)
def no_reply_needed(
    request: Request, inquiry_id: InquiryId, db: Db, agent: Agent, reason: Reason = ""
) -> Response:
    act = lambda: review.mark_no_reply_needed(  # noqa: E731
        db, inquiry_id, agent=actor(agent), reason=reason
    )
    done = f"Inquiry {inquiry_id} marked no reply needed."
    return _decision(request, db, inquiry_id, agent, act, done, True)


@router.post("/{inquiry_id}/reopen", dependencies=Checked)
def reopen(request: Request, inquiry_id: InquiryId, db: Db, agent: Agent) -> Response:
    act = lambda: review.reopen(db, inquiry_id, agent=actor(agent))  # noqa: E731
    return _decision(request, db, inquiry_id, agent, act, f"Inquiry {inquiry_id} reopened.", False)


@router.post("/{inquiry_id}/triage", dependencies=Checked)
def correct_triage(
    request: Request,
    inquiry_id: InquiryId,
    db: Db,
    agent: Agent,
    category: Annotated[str, Form(max_length=32)] = "",
    urgency: Annotated[str, Form(max_length=16)] = "",
    reason: Reason = "",
) -> Response:
    act = lambda: review.correct_triage(  # noqa: E731
        db,
        inquiry_id,
        agent=actor(agent),
        category=category or None,
        urgency=urgency or None,
        reason=reason or None,
    )
    done = "Triage corrected. Re-draft (g) to write the reply for it."
    return _decision(request, db, inquiry_id, agent, act, done, False)


@router.post("/{inquiry_id}/redraft", dependencies=Checked)
def redraft(
    request: Request,
    inquiry_id: InquiryId,
    db: Db,
    agent: Agent,
    instruction: Reason = "",
    category: Annotated[str, Form(max_length=32)] = "",
    draft_version: Version = None,
) -> Response:
    try:
        chosen = Category(category) if category else None
    except ValueError:
        return _refused(
            request, db, inquiry_id, agent, WorkflowError(f"unknown category {category[:40]!r}")
        )
    settings = request.app.state.settings
    if settings.workers:
        return _queue_redraft(request, db, inquiry_id, agent, chosen, draft_version, instruction)
    db.commit()  # the first call loads the classifier: no write lock held meanwhile
    backend = backend_of(request)
    act = lambda: review.redraft(  # noqa: E731
        db,
        inquiry_id,
        agent=actor(agent),
        backend=backend,
        category=chosen,
        expected_version=draft_version,
        instruction=instruction or None,
    )
    return _decision(request, db, inquiry_id, agent, act, "A new draft was written.", False)


def _queue_redraft(
    request: Request,
    db,
    inquiry_id: int,
    agent,
    category: Category | None,
    draft_version: int | None,
    instruction: str,
) -> Response:
    """Team mode: a worker writes the draft (an LLM may take seconds); what would be refused
    is refused now, on the page, and the rest is checked again when the worker runs."""
    from assistant import workflow
    from assistant.models import Action
    from assistant.storage import records
    from assistant.worker.enqueue import enqueue_redraft

    row = records.get_inquiry(db, inquiry_id)
    if row is None:
        raise HTTPException(status_code=404, detail=f"There is no inquiry {inquiry_id}.")
    who = actor(agent)
    current = records.current_draft(db, row)
    try:
        workflow.check_allowed(Action.redraft, who, row.status, inquiry_id)
        workflow.check_version(row, current, draft_version)
    except WorkflowError as error:
        return _refused(request, db, inquiry_id, agent, error)
    # The job carries the version the agent saw (0: no draft yet), so a copy of it run
    # again later finds the draft moved on and writes nothing over the agent's edits.
    if draft_version is None:
        draft_version = current.version if current is not None else 0
    db.commit()
    enqueue_redraft(
        request.app.state.settings,
        inquiry_id,
        agent=who.name,
        role=who.role,
        category=category.value if category else None,
        expected_version=draft_version,
        instruction=instruction or None,
    )
    flash(request, "Re-draft queued: the new draft appears here when a worker has written it.")
    return _back(inquiry_id)


@router.get("/{inquiry_id}/attachments/{index}")
def attachment(
    request: Request,
    inquiry_id: InquiryId,
    index: Annotated[int, PathParam(ge=0, le=10_000)],
    db: Db,
    agent: Agent,
) -> Response:
    """One attachment, as a download: never shown inline, whatever its type says."""
    from urllib.parse import quote

    from assistant.ingest.attachments import attachment_data
    from assistant.storage import records

    row = records.get_inquiry(db, inquiry_id)
    found = attachment_data(records.raw_message(row) if row else None, index)
    if found is None:
        raise HTTPException(status_code=404, detail="There is no such attachment.")
    meta, data = found
    return Response(
        data,
        media_type="application/octet-stream",
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(meta.name)}",
            "Content-Security-Policy": "sandbox; default-src 'none'",
        },
    )

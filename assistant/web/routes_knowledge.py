"""The knowledge base in the workspace: its entries (read-only), and a lead's "save this
reply as an answer". The files stay the source: the lead edits them, this shows them."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi import Path as PathParam
from fastapi.responses import RedirectResponse, Response

from assistant.knowledge import EMPTY, KnowledgeError, knowledge_for
from assistant.knowledge.saving import save_answer
from assistant.models import AccountRole
from assistant.storage import records
from assistant.web.app import flash, render
from assistant.web.auth import Agent, Db
from assistant.web.security import check_csrf

log = logging.getLogger(__name__)
router = APIRouter()
EntryId = Annotated[str, PathParam(pattern=r"^[a-z0-9][a-z0-9-]{1,63}$")]
InquiryId = Annotated[int, PathParam(ge=1, le=2**63 - 1)]


def _base(request: Request):
    settings = request.app.state.settings
    if settings.knowledge_dir is None:
        raise HTTPException(
            status_code=404, detail="No knowledge base is configured (ASSISTANT_KNOWLEDGE_DIR)."
        )
    try:
        return knowledge_for(settings)
    except KnowledgeError as error:
        raise HTTPException(status_code=503, detail=str(error)) from error


@router.get("/knowledge")
def knowledge_list(request: Request, agent: Agent) -> Response:
    if request.app.state.settings.knowledge_dir is None:
        context = {"agent": agent, "base": EMPTY, "entry": None, "configured": False}
        return render(request, "knowledge.html", context)
    context = {"agent": agent, "base": _base(request), "entry": None, "configured": True}
    return render(request, "knowledge.html", context)


@router.get("/knowledge/{entry_id}")
def knowledge_entry(request: Request, entry_id: EntryId, agent: Agent) -> Response:
    base = _base(request)
    entry = base.get(entry_id)
    if entry is None:
        raise HTTPException(status_code=404, detail=f"There is no entry {entry_id}.")
    return render(request, "knowledge.html", {"agent": agent, "base": base, "entry": entry})


@router.post("/knowledge/from-inquiry/{inquiry_id}", dependencies=[Depends(check_csrf)])
def save_reply_as_answer(
    request: Request,
    inquiry_id: InquiryId,
    db: Db,
    agent: Agent,
    entry_id: Annotated[str, Form(max_length=64)],
    title: Annotated[str, Form(max_length=200)],
    text: Annotated[str, Form(max_length=20_000)],
    keywords: Annotated[str, Form(max_length=2_000)] = "",
) -> Response:
    """A lead's reply becomes an `answer` entry, filed under the inquiry's category."""
    if not agent.role.at_least(AccountRole.senior):
        raise HTTPException(status_code=403, detail="Only leads (senior or admin) save answers.")
    settings = request.app.state.settings
    row = records.get_inquiry(db, inquiry_id)
    if row is None:
        raise HTTPException(status_code=404, detail=f"There is no inquiry {inquiry_id}.")
    if settings.knowledge_dir is None:
        raise HTTPException(status_code=404, detail="No knowledge base is configured.")
    triage = records.current_triage(db, row)
    category = getattr(getattr(triage, "category", None), "value", None)
    try:
        path = save_answer(
            settings.knowledge_dir,
            entry_id=entry_id,
            title=title,
            text=text,
            approved_by=agent.name,
            categories=[category] if category and category != "other" else [],
            keywords=keywords.split(","),
        )
    except KnowledgeError as error:
        flash(request, f"Not saved: {error}", "error")
        return RedirectResponse(f"/inquiries/{inquiry_id}#save-answer", status_code=303)
    log.info("%s saved %s to the knowledge base", agent.name, path.name)
    flash(request, f"Saved as {entry_id} in the knowledge base.", "ok")
    return RedirectResponse(f"/knowledge/{entry_id.strip().lower()}", status_code=303)

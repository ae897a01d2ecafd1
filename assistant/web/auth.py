"""Who is logged in: the account behind the signed session cookie, checked on every
request (a disabled account, or one whose password changed, is logged out at once)."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlalchemy import delete
from sqlmodel import Session, col

from assistant.models import AccountRole
from assistant.storage.tables import AgentAccountRow, WebSessionRow, utcnow
from assistant.web.app import LoginRequired, db_session
from assistant.workflow import Actor

Db = Annotated[Session, Depends(db_session)]


def start_session(request: Request, db: Session, account: AgentAccountRow) -> None:
    """A fresh session at login: nothing of the one before it (nor its CSRF token) survives."""
    end_session(request, db)
    sid = secrets.token_urlsafe(32)
    assert account.id is not None
    now = utcnow()
    db.add(WebSessionRow(sid=sid, account_id=account.id, created_at=now))
    stale = now - timedelta(days=30)  # far past any cookie's lifetime
    db.execute(delete(WebSessionRow).where(col(WebSessionRow.created_at) < stale))
    db.commit()
    request.session.update(
        account_id=account.id,
        epoch=account.session_epoch,
        sid=sid,
        csrf=secrets.token_urlsafe(32),
    )


def end_session(request: Request, db: Session) -> None:
    """Log out: the session ends here, whoever holds a copy of its cookie."""
    sid = request.session.get("sid")
    row = db.get(WebSessionRow, sid) if isinstance(sid, str) else None
    if row is not None and row.ended_at is None:
        row.ended_at = utcnow()
        db.add(row)
        db.commit()
    request.session.clear()


def current_account(request: Request, db: Db) -> AgentAccountRow:
    """The logged-in account, or LoginRequired: the session must be one that has not ended,
    of an active account whose password has not changed since."""
    account_id, sid = request.session.get("account_id"), request.session.get("sid")
    account = db.get(AgentAccountRow, account_id) if isinstance(account_id, int) else None
    live = db.get(WebSessionRow, sid) if isinstance(sid, str) else None
    if (
        account is None
        or account.disabled
        or account.session_epoch != request.session.get("epoch")
        or live is None
        or live.ended_at is not None
        or live.account_id != account.id
        or live.created_at
        < utcnow() - timedelta(hours=request.app.state.settings.web_session_hours)
    ):
        request.session.clear()
        raise LoginRequired()
    return account


Agent = Annotated[AgentAccountRow, Depends(current_account)]


def require(role: AccountRole):
    def check(account: Agent) -> AgentAccountRow:
        if not account.role.at_least(role):
            raise HTTPException(status_code=403, detail=f"This page is for {role.value}s.")
        return account

    return check


def actor(account: AgentAccountRow) -> Actor:
    from assistant.accounts import actor as account_actor

    return account_actor(account)

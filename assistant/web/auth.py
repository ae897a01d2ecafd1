"""Who is logged in: the account behind the signed session cookie, checked on every
request (a disabled account, or one whose password changed, is logged out at once)."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlmodel import Session

from assistant.models import AccountRole
from assistant.storage.tables import AgentAccountRow
from assistant.web.app import LoginRequired, db_session
from assistant.workflow import Actor

Db = Annotated[Session, Depends(db_session)]


def start_session(request: Request, account: AgentAccountRow) -> None:
    """A fresh session at login: nothing of the one before it (nor its CSRF token) survives."""
    request.session.clear()
    request.session.update(
        account_id=account.id,
        epoch=account.session_epoch,
        sid=secrets.token_urlsafe(16),
        csrf=secrets.token_urlsafe(32),
    )


def current_account(request: Request, db: Db) -> AgentAccountRow:
    account_id = request.session.get("account_id")
    account = db.get(AgentAccountRow, account_id) if isinstance(account_id, int) else None
    if account is None or account.disabled or account.session_epoch != request.session.get("epoch"):
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

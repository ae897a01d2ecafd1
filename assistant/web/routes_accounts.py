"""Accounts (admins) and each agent's own settings."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from assistant import accounts
from assistant.models import AccountRole
from assistant.storage.tables import AgentAccountRow
from assistant.web.app import flash, render
from assistant.web.auth import Agent, Db, require, start_session
from assistant.web.security import check_csrf

router = APIRouter()
Admin = Annotated[AgentAccountRow, Depends(require(AccountRole.admin))]
Checked = [Depends(check_csrf)]
Name = Annotated[str, Form(max_length=200)]
Password = Annotated[str, Form(max_length=2000)]


def _accounts_page(request: Request, db, agent, error: str | None = None) -> Response:
    context = {
        "agent": agent,
        "accounts": accounts.all_accounts(db),
        "roles": list(AccountRole),
        "error": error,
        "settings": _settings_shown(request.app.state.settings),
    }
    return render(request, "accounts.html", context, status=400 if error else 200)


SHOWN_SETTINGS = (
    "backend",
    "openai_model",
    "openai_base_url",
    "support_address",
    "support_name",
    "sla_country",
    "sla_subdivision",
    "sla_timezone",
    "urgent_hours",
    "normal_target_business_hours",
    "normal_latest_business_hours",
    "high_confidence",
    "medium_confidence",
    "abstain_below",
    "web_undo_seconds",
    "web_session_hours",
    "web_secure_cookies",
    "web_page_size",
)


def _settings_shown(settings) -> list[tuple[str, str]]:
    """The settings in effect, as environment variables (secrets are never shown: they
    are not in this list). They are changed where the server is started."""
    shown = []
    for name in SHOWN_SETTINGS:
        alias = type(settings).model_fields[name].validation_alias
        shown.append(
            (
                alias if isinstance(alias, str) else f"ASSISTANT_{name.upper()}",
                str(getattr(settings, name)),
            )
        )
    return shown


@router.get("/accounts")
def accounts_page(request: Request, db: Db, agent: Admin) -> Response:
    return _accounts_page(request, db, agent)


@router.post("/accounts", dependencies=Checked)
def add_account(
    request: Request,
    db: Db,
    agent: Admin,
    name: Name,
    password: Password,
    role: Annotated[str, Form(max_length=16)] = "agent",
) -> Response:
    db.commit()  # no write lock held while the password is hashed
    try:
        accounts.add(db, name, role, password)
    except accounts.AccountError as error:
        db.rollback()
        return _accounts_page(request, db, agent, str(error))
    flash(request, f"Account {name.strip()} added.")
    return RedirectResponse("/accounts", status_code=303)


@router.post("/accounts/{name}/disable", dependencies=Checked)
def disable_account(request: Request, name: str, db: Db, agent: Admin) -> Response:
    return _set_disabled(request, db, agent, name, True)


@router.post("/accounts/{name}/enable", dependencies=Checked)
def enable_account(request: Request, name: str, db: Db, agent: Admin) -> Response:
    return _set_disabled(request, db, agent, name, False)


def _set_disabled(request: Request, db, agent, name: str, disabled: bool) -> Response:
    try:
        accounts.set_disabled(db, name, disabled)
    except accounts.AccountError as error:
        db.rollback()
        return _accounts_page(request, db, agent, str(error))
    flash(request, f"Account {name} {'disabled' if disabled else 'enabled'}.")
    return RedirectResponse("/accounts", status_code=303)


@router.get("/settings")
def own_settings(request: Request, agent: Agent) -> Response:
    return render(request, "settings.html", {"agent": agent, "error": None})


@router.post("/settings", dependencies=Checked)
def save_settings(
    request: Request,
    db: Db,
    agent: Agent,
    single_key_shortcuts: Annotated[bool, Form()] = False,
) -> Response:
    assert agent.id is not None
    accounts.set_shortcuts(db, agent.id, single_key_shortcuts)
    flash(request, "Settings saved.")
    return RedirectResponse("/settings", status_code=303)


@router.post("/settings/password", dependencies=Checked)
def change_password(
    request: Request,
    db: Db,
    agent: Agent,
    current: Password,
    new: Password,
) -> Response:
    address = request.client.host if request.client else "unknown"
    db.commit()  # no write lock held while passwords are hashed
    try:
        accounts.authenticate(db, agent.name, current, address=address)
        account = accounts.set_password(db, agent.name, new)
    except accounts.AccountError as error:
        db.rollback()
        return render(request, "settings.html", {"agent": agent, "error": str(error)}, status=400)
    start_session(request, db, account)  # this session goes on; the others end
    flash(request, "Password changed: your other sessions are logged out.")
    return RedirectResponse("/settings", status_code=303)

"""Workspace accounts: who may log in, with which role, and how a login is checked.

Passwords are hashed with argon2id (pwdlib); a hash made with older parameters is upgraded
at the next login. Failed logins are stored, so the limit holds across every process that
serves the workspace, and an unknown name costs as much time as a wrong password (no hint
of which names exist). The audit trail names an agent by the account's `name`.
"""

from __future__ import annotations

import re
import threading
from datetime import datetime, timedelta

from pwdlib import PasswordHash
from sqlalchemy import delete, func, or_
from sqlmodel import Session, col, select

from assistant.models import AccountRole
from assistant.storage.tables import AgentAccountRow, LoginFailureRow, utcnow
from assistant.workflow import Actor, WorkflowError

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
MIN_PASSWORD = 10
MAX_PASSWORD = 1024  # argon2 over megabytes of "password" is a denial of service
# Failed logins allowed in the window, per account name and per client address.
FAILURE_WINDOW = timedelta(minutes=15)
FAILURES_PER_NAME = 5
FAILURES_PER_ADDRESS = 20

_hasher = PasswordHash.recommended()
# argon2 takes ~0.1 s of a core and 64 MiB: a few at a time, whatever the login traffic.
_HASHING = threading.BoundedSemaphore(2)
_DUMMY_HASH = _hasher.hash("not a password of anyone's")


class AccountError(ValueError):
    """A refused account change or login, in words an agent or admin can act on."""


class TooManyAttempts(AccountError):
    pass


def _checked_name(name: str) -> str:
    name = (name or "").strip()
    if not NAME.fullmatch(name):
        raise AccountError(
            f"account names are 1-64 letters, digits, '.', '_', '-' or '@', not {name[:70]!r}"
        )
    return name


def _checked_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"a password needs at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"a password has at most {MAX_PASSWORD} characters")
    return password


def _hash(password: str) -> str:
    """The slow hash, a few at a time. Callers hold no transaction while it runs."""
    _checked_password(password)
    with _HASHING:
        return _hasher.hash(password)


def find(session: Session, name: str) -> AgentAccountRow | None:
    return session.exec(select(AgentAccountRow).where(AgentAccountRow.name == name)).first()


def add(session: Session, name: str, role: AccountRole | str, password: str) -> AgentAccountRow:
    name = _checked_name(name)
    try:
        role = AccountRole(role)
    except ValueError as error:
        roles = ", ".join(r.value for r in AccountRole)
        raise AccountError(f"unknown role {role!r}: {roles}") from error
    hashed = _hash(password)
    if find(session, name) is not None:
        raise AccountError(f"an account named {name!r} exists already")
    account = AgentAccountRow(name=name, role=role, password_hash=hashed, created_at=utcnow())
    session.add(account)
    session.commit()
    return account


def all_accounts(session: Session) -> list[AgentAccountRow]:
    return list(session.exec(select(AgentAccountRow).order_by(col(AgentAccountRow.name))))


def any_accounts(session: Session) -> bool:
    return session.exec(select(func.count()).select_from(AgentAccountRow)).one() > 0


def _existing(session: Session, name: str) -> AgentAccountRow:
    account = find(session, name)
    if account is None:
        raise AccountError(f"no account named {name[:70]!r}")
    return account


def set_disabled(session: Session, name: str, disabled: bool = True) -> AgentAccountRow:
    """Disable (or enable again) an account; a disabled one is logged out everywhere."""
    account = _existing(session, name)
    if disabled and account.role is AccountRole.admin and not account.disabled:
        admins = [
            a for a in all_accounts(session) if a.role is AccountRole.admin and not a.disabled
        ]
        if len(admins) == 1:
            raise AccountError(f"{name} is the last active admin: make another admin first")
    account.disabled = disabled
    account.session_epoch += 1
    session.add(account)
    session.commit()
    return account


def set_password(session: Session, name: str, password: str) -> AgentAccountRow:
    hashed = _hash(password)
    account = _existing(session, name)
    account.password_hash = hashed
    account.session_epoch += 1  # other sessions of this account end
    session.add(account)
    session.commit()
    return account


def set_shortcuts(session: Session, account_id: int, enabled: bool) -> None:
    account = session.get(AgentAccountRow, account_id)
    if account is not None:
        account.single_key_shortcuts = enabled
        session.add(account)
        session.commit()


def _recent_failures(session: Session, name: str, address: str, now: datetime) -> tuple[int, int]:
    since = now - FAILURE_WINDOW
    rows = session.exec(
        select(LoginFailureRow.name, LoginFailureRow.address).where(
            col(LoginFailureRow.at) >= since,
            or_(col(LoginFailureRow.name) == name, col(LoginFailureRow.address) == address),
        )
    ).all()
    return sum(r[0] == name for r in rows), sum(r[1] == address for r in rows)


def _too_many() -> TooManyAttempts:
    minutes = int(FAILURE_WINDOW.total_seconds() // 60)
    return TooManyAttempts(f"too many failed logins: wait {minutes} minutes and try again")


def authenticate(
    session: Session, name: str, password: str, *, address: str, now: datetime | None = None
) -> AgentAccountRow:
    """The account for this name and password, or AccountError (the same words for a wrong
    name as for a wrong password).

    Every attempt is recorded before the password is checked and forgotten once it
    succeeds, so parallel guesses count too; the slow hash runs outside any transaction
    (SQLite's write lock is never held through it), a few at a time. Past the limit for a
    name nothing is checked; past the limit for an address only a right password gets in,
    so guesses from a shared address (a proxy) cannot lock the team out."""
    now = now or utcnow()
    name, address = (name or "").strip()[:128], (address or "unknown")[:64]
    attempt = LoginFailureRow(name=name, address=address, at=now)
    session.add(attempt)
    session.commit()  # visible to every parallel attempt before any of them counts
    by_name, by_address = _recent_failures(session, name, address, now)
    account = find(session, name) if NAME.fullmatch(name) else None
    stored_hash = account.password_hash if account is not None else None
    session.execute(
        delete(LoginFailureRow).where(col(LoginFailureRow.at) < now - timedelta(days=1))
    )
    session.commit()
    if by_name > FAILURES_PER_NAME:
        raise _too_many()
    with _HASHING:
        valid, new_hash = _verify(password[:MAX_PASSWORD], stored_hash)
    if not valid or account is None or account.disabled:
        if by_address > FAILURES_PER_ADDRESS:
            raise _too_many()
        raise AccountError("wrong name or password, or the account is disabled")
    session.execute(delete(LoginFailureRow).where(col(LoginFailureRow.name) == name))
    account = session.get(AgentAccountRow, account.id)
    assert account is not None
    if new_hash:
        account.password_hash = new_hash
    account.last_login_at = now
    session.add(account)
    session.commit()
    return account


def _verify(password: str, stored_hash: str | None) -> tuple[bool, str | None]:
    if stored_hash is None:
        _hasher.verify(password, _DUMMY_HASH)  # as slow as a real check
        return False, None
    return _hasher.verify_and_update(password, stored_hash)


def actor(account: AgentAccountRow) -> Actor:
    """How the workflow knows this account: its name and its role."""
    return Actor.agent(account.name, role=account.role.value)


def cli_actor(session: Session, name: str) -> Actor:
    """The agent a terminal command acts as. Once the team has accounts, `--agent` must name
    an active one (its role applies); a single-user setup with no accounts at all acts as
    a senior, the only person there is."""
    if not any_accounts(session):
        return Actor.agent(name, role=AccountRole.senior.value)
    account = find(session, " ".join((name or "").split()))
    if account is None or account.disabled:
        raise WorkflowError(
            f"no active workspace account named {name[:70]!r}: --agent must name one "
            "(assistant agents list)"
        )
    return actor(account)

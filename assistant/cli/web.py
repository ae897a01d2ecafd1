"""The workspace and its accounts: `serve`, `agents add|list|disable|enable|password`."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from assistant.cli.common import JsonFlag, database, fail, print_json, say, settings

agents_app = typer.Typer(help="Workspace accounts (agents, seniors, admins).", no_args_is_help=True)


def _password(from_stdin: bool) -> str:
    if from_stdin:
        value = sys.stdin.readline().rstrip("\r\n")
        if not value:
            fail("no password on stdin")
        return value
    return typer.prompt("Password", hide_input=True, confirmation_prompt=True)


@agents_app.command("add")
def agents_add(
    name: str,
    role: Annotated[str, typer.Option("--role", help="agent | senior | admin")] = "agent",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin")
    ] = False,
) -> None:
    """Add an account; the password is asked for (or read from stdin)."""
    from assistant import accounts

    password = _password(password_stdin)
    with database() as db:
        try:
            account = accounts.add(db, name, role, password)
        except accounts.AccountError as error:
            fail(str(error))
    say(f"account {account.name} added ({account.role.value})")


@agents_app.command("list")
def agents_list(as_json: JsonFlag = False) -> None:
    """Every account, its role and whether it is active."""
    from assistant import accounts

    with database(read_only=True) as db:
        found = accounts.all_accounts(db)
    rows = [
        {
            "name": a.name,
            "role": a.role.value,
            "active": not a.disabled,
            "last_login_at": a.last_login_at.isoformat() if a.last_login_at else None,
        }
        for a in found
    ]
    if as_json:
        print_json(rows)
        return
    if not rows:
        say("no accounts yet: assistant agents add NAME --role admin")
    for row in rows:
        state = "active" if row["active"] else "disabled"
        say(
            f"{row['name']:<24} {row['role']:<7} {state:<9} last login {row['last_login_at'] or '—'}"
        )


def _set_disabled(name: str, disabled: bool) -> None:
    from assistant import accounts

    with database() as db:
        try:
            accounts.set_disabled(db, name, disabled)
        except accounts.AccountError as error:
            fail(str(error))
    say(f"account {name} {'disabled: logged out everywhere' if disabled else 'enabled'}")


@agents_app.command("disable")
def agents_disable(name: str) -> None:
    """Disable an account (its sessions end at once); the audit trail keeps its name."""
    _set_disabled(name, True)


@agents_app.command("enable")
def agents_enable(name: str) -> None:
    """Enable a disabled account again."""
    _set_disabled(name, False)


@agents_app.command("password")
def agents_password(
    name: str,
    password_stdin: Annotated[bool, typer.Option("--password-stdin")] = False,
) -> None:
    """Set an account's password (its sessions end)."""
    from assistant import accounts

    password = _password(password_stdin)
    with database() as db:
        try:
            accounts.set_password(db, name, password)
        except accounts.AccountError as error:
            fail(str(error))
    say(f"password of {name} changed")


def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535)] = 8000,
    ssl_certfile: Annotated[str | None, typer.Option("--ssl-certfile")] = None,
    ssl_keyfile: Annotated[str | None, typer.Option("--ssl-keyfile")] = None,
    demo_login: Annotated[
        bool,
        typer.Option("--demo-login", help="Create demo accounts with new passwords (demo only)"),
    ] = False,
    workers: Annotated[
        int,
        typer.Option("--workers", min=1, max=64, help="Server processes (a team: one per core)"),
    ] = 1,
) -> None:
    """Serve the agents' workspace until Ctrl-C."""
    import os

    import uvicorn

    from assistant.storage.db import open_database
    from assistant.web import create_app

    chosen = settings()
    try:
        engine = open_database(chosen.database_url)
    except Exception as error:  # noqa: BLE001 - one line, not a traceback
        fail(f"cannot open the database: {str(error).splitlines()[0]}")
    login = _demo_accounts(engine) if demo_login else None
    if ssl_certfile:
        os.environ["ASSISTANT_WEB_SECURE_COOKIES"] = "true"  # for every worker process
    if workers > 1 and not chosen.web_secret_key:
        from assistant.web.security import secret_key

        os.environ["ASSISTANT_WEB_SECRET_KEY"] = secret_key(None)  # one key for all of them
    scheme = "https" if ssl_certfile else "http"
    shown = f"[{host}]" if ":" in host else host
    say(f"Workspace: {scheme}://{shown}:{port}/" + (f"  {login}" if login else ""))
    sys.stdout.flush()
    target: Any
    if workers > 1:
        engine.dispose()  # each worker opens its own
        target = "assistant.web.app:create_app"
    else:
        target = create_app(
            engine=engine, settings=chosen, secure_cookies=bool(ssl_certfile) or None
        )
    uvicorn.run(
        target,
        factory=workers > 1,
        workers=workers if workers > 1 else None,
        host=host,
        port=port,
        ssl_certfile=ssl_certfile,
        ssl_keyfile=ssl_keyfile,
        log_level="warning",
        server_header=False,
    )


def _demo_accounts(engine) -> str:
    """A senior and an agent with fresh random passwords, for the demo database only."""
    import secrets

    from assistant import accounts
    from assistant.storage.db import session

    made = []
    with session(engine) as db:
        for name, role in (("demo", "senior"), ("demo-agent", "agent")):
            password = secrets.token_urlsafe(9)
            if accounts.find(db, name) is None:
                accounts.add(db, name, role, password)
            else:
                accounts.set_password(db, name, password)
            made.append(f"{name} / {password} ({role})")
    return "log in as " + ", or ".join(made)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.add_typer(agents_app, name="agents")

"""The workspace application: settings, database, sessions, templates and the routes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.middleware.sessions import SessionMiddleware

from assistant.models import AccountRole
from assistant.resources import shipped_dir
from assistant.settings import Settings, get_settings
from assistant.web import filters
from assistant.web.security import BodyLimit, SecurityHeaders, csrf_token, secret_key

STATIC = Path(__file__).resolve().parent / "static"
SESSION_COOKIE = "crocso_session"


def answer_text(body: str | None) -> str:
    from assistant.knowledge.saving import answer_text as without_greeting

    return without_greeting(body)


class LoginRequired(Exception):
    """No valid session: the agent is sent to the login page."""


def templates() -> Jinja2Templates:
    """Pages in `templates/web/`. Autoescaping is on for every page: all mail content is
    untrusted, and nothing in it is ever marked safe."""
    pages = Jinja2Templates(directory=str(shipped_dir("templates") / "web"))
    pages.env.autoescape = True
    pages.env.globals["csrf_token"] = csrf_token
    pages.env.globals["at_least"] = lambda agent, role: agent.role.at_least(AccountRole(role))
    pages.env.globals["answer_text"] = answer_text
    filters.install(pages.env)
    return pages


def create_app(
    *,
    engine: Engine | None = None,
    settings: Settings | None = None,
    secret: str | None = None,
    secure_cookies: bool | None = None,
) -> FastAPI:
    """The workspace over `engine` (default: the configured database, migrated)."""
    from assistant.logsafe import install_log_redaction
    from assistant.storage.db import open_database

    install_log_redaction()  # also in uvicorn's worker processes, which start here
    settings = settings or get_settings()
    engine = engine or open_database(settings.database_url)
    app = FastAPI(title="Crocso support workspace", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.engine = engine
    app.state.settings = settings
    app.state.pages = templates()
    configured = settings.web_secret_key.get_secret_value() if settings.web_secret_key else None
    secure = settings.web_secure_cookies if secure_cookies is None else secure_cookies
    app.add_middleware(
        SessionMiddleware,
        secret_key=secret or secret_key(configured),
        session_cookie=SESSION_COOKIE,
        max_age=int(timedelta(hours=settings.web_session_hours).total_seconds()),
        same_site="lax",
        https_only=secure,
    )
    app.add_middleware(BodyLimit)
    app.add_middleware(SecurityHeaders, hsts=secure)  # outermost: on every response
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    _handlers(app)
    from assistant.web import (
        routes_accounts,
        routes_auth,
        routes_knowledge,
        routes_queue,
        routes_review,
    )

    for module in (routes_auth, routes_queue, routes_review, routes_accounts, routes_knowledge):
        app.include_router(module.router)
    return app


def _handlers(app: FastAPI) -> None:
    @app.exception_handler(LoginRequired)
    async def _to_login(request: Request, _error: LoginRequired) -> Response:
        target = "/login"
        if request.method == "GET" and request.url.path not in ("/", "/login"):
            from urllib.parse import quote

            target += "?next=" + quote(
                request.url.path + (f"?{request.url.query}" if request.url.query else ""), safe=""
            )
        if request.headers.get("HX-Request"):
            return Response(status_code=401, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)

    @app.exception_handler(RequestValidationError)
    async def _bad_request(request: Request, error: RequestValidationError) -> Response:
        """A malformed request, said in words; what was sent (a password) is not echoed."""
        fields = sorted({str(e["loc"][-1]) for e in error.errors() if e.get("loc")})
        message = "This request is not valid" + (f" ({', '.join(fields)[:200]})" if fields else "")
        return render(
            request,
            "error.html",
            {"status": 422, "message": message + ".", "agent": None},
            status=422,
        )

    @app.exception_handler(HTTPException)
    async def _error_page(request: Request, error: HTTPException) -> Response:
        return render(
            request,
            "error.html",
            {"status": error.status_code, "message": error.detail, "agent": None},
            status=error.status_code,
        )


def render(request: Request, page: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    pages: Jinja2Templates = request.app.state.pages
    flashes = request.session.pop("flash", []) if "agent" in context else []
    return pages.TemplateResponse(
        request, page, {"flashes": flashes, **context}, status_code=status
    )


def flash(request: Request, text: str, kind: str = "info", **extra: Any) -> None:
    """A message for the next page the agent sees (after a redirect)."""
    request.session.setdefault("flash", []).append({"text": text[:600], "kind": kind, **extra})


def db_session(request: Request) -> Iterator[Session]:
    """A database session for one request (writes take SQLite's lock only when they write)."""
    from assistant.storage.db import session

    with session(request.app.state.engine, read_only=request.method == "GET") as db:
        yield db

"""Login and logout."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from assistant import accounts
from assistant.web.app import render
from assistant.web.auth import Db, end_session, start_session
from assistant.web.security import check_csrf

router = APIRouter()


def _local(target: str | None) -> str:
    """Only a path of this site after login (no open redirect to another one)."""
    if not target:
        return "/queue"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/queue"
    return target


@router.get("/login")
def login_page(request: Request, next: str | None = None) -> Response:
    return render(request, "login.html", {"next": _local(next), "error": None, "name": ""})


@router.post("/login", dependencies=[Depends(check_csrf)])
def login(
    request: Request,
    db: Db,
    name: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=2000)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/queue",
) -> Response:
    address = request.client.host if request.client else "unknown"
    try:
        account = accounts.authenticate(db, name, password, address=address)
    except accounts.TooManyAttempts as error:
        context = {"next": _local(next), "error": str(error), "name": name}
        return render(request, "login.html", context, status=429)
    except accounts.AccountError as error:
        context = {"next": _local(next), "error": str(error), "name": name}
        return render(request, "login.html", context, status=401)
    start_session(request, db, account)
    return RedirectResponse(_local(next), status_code=303)


@router.post("/logout", dependencies=[Depends(check_csrf)])
def logout(request: Request, db: Db) -> Response:
    end_session(request, db)
    return RedirectResponse("/login", status_code=303)


@router.get("/favicon.ico")
def favicon() -> Response:
    return Response(status_code=204)


@router.get("/healthz")
def health() -> dict[str, str]:
    return {"status": "ok"}

"""A workspace to test: a database with mail run through the pipeline, three accounts
(an agent, a senior, an admin), a logged-in client, and a real server on a free loopback
port for the browser tests."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi.testclient import TestClient

from assistant import accounts, pipeline
from assistant.backends.local import LocalBackend
from assistant.models import InquiryIn
from assistant.storage.db import session
from assistant.web import create_app

PASSWORDS = {"ann": "ann-password-1", "sam": "sam-password-1", "ada": "ada-password-1"}
ROLES = {"ann": "agent", "sam": "senior", "ada": "admin"}
SECRET = "test-secret-key-" + "x" * 32


def add_accounts(engine) -> None:
    with session(engine) as db:
        for name, password in PASSWORDS.items():
            accounts.add(db, name, ROLES[name], password)


def store_mail(engine, settings, policy, inquiries: list[InquiryIn]) -> None:
    with session(engine) as db:
        pipeline.run(db, inquiries, LocalBackend(settings, policy))


def workspace(engine, settings, **options):
    """The app over `engine` (accounts added by the caller or `add_accounts`)."""
    return create_app(engine=engine, settings=settings, secret=SECRET, **options)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no CSRF token"
    return found.group(1)


def logged_in(app, name: str) -> TestClient:
    """A client logged in as `name`, with its CSRF token in `client.csrf`."""
    client = TestClient(app)
    token = csrf_of(client.get("/login").text)
    answer = client.post(
        "/login", data={"name": name, "password": PASSWORDS[name], "csrf_token": token}
    )
    assert answer.status_code == 200 and "/queue" in str(answer.url), answer.text[:500]
    client.csrf = csrf_of(answer.text)  # type: ignore[attr-defined]
    return client


def post(client: TestClient, path: str, **fields):
    return client.post(path, data={"csrf_token": client.csrf, **fields})  # type: ignore[attr-defined]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def live_server(app) -> Iterator[str]:
    """The app served by uvicorn in a thread on a free loopback port; yields its URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the workspace server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)

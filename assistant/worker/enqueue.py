"""The edges' side of team mode: the workspace and the CLI enqueue work for the workers
from a process that is not one (one opened app per process), and ask what is pending."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable
from typing import Any

from procrastinate import App
from procrastinate.exceptions import AlreadyEnqueued
from sqlalchemy import text
from sqlmodel import Session

from assistant.settings import Settings
from assistant.worker.queue import REDRAFT, SEND, defer_processing, job_lock, make_app

_edge_lock = threading.Lock()
_edge_apps: dict[str, App] = {}


def edge_app(settings: Settings) -> App:
    """An opened app for enqueueing from the workspace or the CLI, one per process."""
    key = settings.database_url
    with _edge_lock:
        app = _edge_apps.get(key)
        if app is None:
            app = make_app(settings, for_worker=False)
            app.open()
            _edge_apps[key] = app
        return app


def close_edge_apps() -> None:
    with _edge_lock:
        for app in _edge_apps.values():
            app.close()
        _edge_apps.clear()


def enqueue_redraft(settings: Settings, inquiry_id: int, **request: Any) -> None:
    """The workspace's "g" in team mode: a worker writes the draft, the page does not wait."""
    app = edge_app(settings)
    app.tasks[REDRAFT].configure(lock=job_lock(inquiry_id)).defer(inquiry_id=inquiry_id, **request)


def enqueue_send(settings: Settings, after_seconds: float = 0.0) -> None:
    """An approval in team mode: a worker sends it once its undo window has passed, rather
    than at the next periodic run (a send already waiting takes it along)."""
    if settings.smtp_url is None:
        return  # replies are exported and marked sent by hand
    task = edge_app(settings).tasks[SEND]
    with contextlib.suppress(AlreadyEnqueued):
        task.configure(schedule_in={"seconds": max(0, round(after_seconds))}).defer()


REDRAFT_PENDING = text(
    "SELECT EXISTS (SELECT 1 FROM procrastinate_jobs"
    " WHERE task_name = :task AND lock = :lock AND status IN ('todo', 'doing'))"
)


def redraft_pending(session: Session, lock: str) -> bool:
    """A re-draft job for this inquiry waits or runs (shown on the review page)."""
    return bool(session.execute(REDRAFT_PENDING, {"task": REDRAFT, "lock": lock}).scalar())


def enqueue_processing(settings: Settings, inquiry_ids: Iterable[int]) -> int:
    return defer_processing(edge_app(settings), inquiry_ids)

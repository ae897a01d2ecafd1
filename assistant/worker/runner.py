"""Running the tasks: a Procrastinate worker on the team's PostgreSQL, or, alone on SQLite
(or PostgreSQL without team mode), the same task functions in rounds in this process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from sqlmodel import Session

from assistant.settings import Settings
from assistant.worker import tasks

log = logging.getLogger(__name__)


def run_worker(settings: Settings, concurrency: int, *, name: str = "worker") -> None:
    """A Procrastinate worker: `concurrency` jobs at once, until SIGINT/SIGTERM (it finishes
    the jobs it is running first; a second signal stops at once). A worker that Procrastinate
    stops by itself (the database gone for a moment, its listener or heartbeat failed)
    starts again after a pause: only a signal ends it."""
    from procrastinate.worker import Worker

    from assistant.worker.queue import make_app

    app = make_app(settings)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        # Sync tasks run in the loop's default executor: as many threads as jobs.
        loop.set_default_executor(
            ThreadPoolExecutor(max_workers=concurrency + 2, thread_name_prefix="job")
        )
        worker = Worker(
            app,
            name=name,
            concurrency=concurrency,
            update_heartbeat_interval=settings.worker_heartbeat_seconds,
            stalled_worker_timeout=settings.worker_stalled_seconds,
            install_signal_handlers=False,
        )
        stopping = asyncio.Event()

        def stop() -> None:
            if stopping.is_set():
                log.warning("second stop signal: stopping at once")
                os._exit(130)  # sync jobs cannot be cancelled; their work is re-run elsewhere
            stopping.set()
            worker.stop()

        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop)
        pause = 1.0
        async with app.open_async():
            heartbeat = asyncio.create_task(_heartbeat(app, worker, settings))
            try:
                while not stopping.is_set():
                    await _kick_off(app)
                    started = time.monotonic()
                    try:
                        await worker.run()
                    except Exception:  # noqa: BLE001 - logged; the worker starts again
                        log.exception("the worker stopped with an error")
                    if stopping.is_set():
                        break
                    pause = 1.0 if time.monotonic() - started > 60 else min(pause * 2, 30.0)
                    log.warning("the worker stopped by itself; starting again in %.0f s", pause)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stopping.wait(), pause)
            finally:
                heartbeat.cancel()

    asyncio.run(main())


async def _heartbeat(app, worker, settings: Settings) -> None:
    """Heartbeats for as long as this process lives. Procrastinate's own stop when a
    worker begins to shut down, before its running jobs have ended: a slow job during a
    deploy would look stalled, and the reaper would run it a second time elsewhere."""
    while True:
        await asyncio.sleep(settings.worker_heartbeat_seconds)
        if worker.worker_id is not None:
            try:
                await app.job_manager.update_heartbeat(worker.worker_id)
            except Exception:  # noqa: BLE001 - the database is away; try again next beat
                log.warning("could not record the worker's heartbeat", exc_info=True)


async def _kick_off(app) -> None:
    """A worker starting looks for what waits now, not at the next periodic run: a
    restarted fleet picks up at once. (Stalled jobs: the reaper runs every few seconds.)"""
    from procrastinate.exceptions import AlreadyEnqueued

    from assistant.worker.queue import SWEEP

    for name in (SWEEP,):
        with contextlib.suppress(AlreadyEnqueued):
            await app.tasks[name].defer_async()


@dataclass
class Round:
    """What one in-process round did."""

    polled: int = 0
    processed: int = 0
    sent: int = 0
    flagged: int = 0
    errors: list[str] = field(default_factory=list)


def run_inprocess(
    settings: Settings,
    *,
    concurrency: int,
    once: bool = False,
    report: Callable[[Round], None] | None = None,
) -> None:
    """The tasks without a queue: poll the mailbox (if configured), triage and draft what
    waits, send what is approved (if SMTP is configured), flag SLA risks; then wait for the
    next round. One failing step is reported and the others go on."""
    from assistant.storage.db import open_database

    engine = open_database(settings.database_url)
    stopping = threading.Event()
    if not once:
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stopping.set())
    owner = f"inprocess:{uuid.uuid4().hex[:12]}"
    local = threading.local()

    def backend():
        if getattr(local, "backend", None) is None:
            from assistant.backends import get_backend
            from assistant.policy import default_policy

            local.backend = get_backend(settings.backend, settings, default_policy())
        return local.backend

    def process(inquiry_id: int) -> None:
        with Session(engine) as session:
            tasks.process_inquiry(session, backend(), inquiry_id, owner)

    try:
        with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="task") as pool:
            while True:
                result = Round()
                with Session(engine) as session:
                    result = _round(session, settings, result, pool, process)
                if report:
                    report(result)
                if once or stopping.wait(settings.imap_poll_seconds):
                    return
    finally:
        engine.dispose()


def _round(session: Session, settings: Settings, result: Round, pool, process) -> Round:
    started = time.monotonic()
    if settings.imap_url is not None:
        from assistant.mailbox.polling import poll_once

        try:
            result.polled = poll_once(session, settings).ingested
        except Exception as error:  # noqa: BLE001 - the other tasks still run
            result.errors.append(f"poll: {error}")
    waiting = tasks.waiting_inquiries(session)
    for done in pool.map(_isolated(process, result), waiting):
        result.processed += done
    if settings.smtp_url is not None:
        from assistant.mailbox.sending import send_due

        try:
            result.sent = send_due(session, settings).sent
        except Exception as error:  # noqa: BLE001
            result.errors.append(f"send: {error}")
    try:
        result.flagged = len(tasks.check_sla(session, settings).flagged)
    except Exception as error:  # noqa: BLE001
        result.errors.append(f"SLA check: {error}")
    log.info("round done in %.1f s: %s", time.monotonic() - started, result)
    return result


def _isolated(process: Callable[[int], None], result: Round) -> Callable[[int], int]:
    def one(inquiry_id: int) -> int:
        try:
            process(inquiry_id)
            return 1
        except Exception as error:  # noqa: BLE001 - one inquiry never stops the others
            log.exception("inquiry %s could not be processed", inquiry_id)
            result.errors.append(f"inquiry {inquiry_id}: {type(error).__name__}: {error}"[:300])
            return 0

    return one

"""Team mode: the tasks of `worker.tasks` as Procrastinate jobs on the team's PostgreSQL.

Any number of `assistant worker` processes, on any number of machines, share the queue.
Procrastinate gives us what a home-made loop would get wrong: jobs fetched with
`SKIP LOCKED`, a lock per inquiry (one inquiry is never triaged or drafted by two jobs at
once), a queueing lock (one waiting job per inquiry, however often it is enqueued),
retries with exponential backoff, periodic tasks deferred once across all workers, and
worker heartbeats, from which the reaper finds the jobs of a worker that died (kill -9,
a machine gone) and runs them again. What the jobs *do* is made exactly once by our own
constraints (`worker.tasks`); a job that keeps failing ends in `task_failure`, shown to
agents, never silently dropped.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from procrastinate import App, PsycopgConnector, RetryStrategy, SyncPsycopgConnector
from procrastinate.exceptions import AlreadyEnqueued, UniqueViolation
from procrastinate.jobs import Status
from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session

from assistant.backends import Backend
from assistant.settings import Settings
from assistant.storage.failures import resolve_task_failures
from assistant.worker import tasks

log = logging.getLogger(__name__)

PROCESS = "process_inquiry"
POLL = "poll_mailbox"
SEND = "send_replies"
REDRAFT = "redraft"
SLA = "check_sla"
SWEEP = "sweep_waiting"
REAP = "reap_stalled"
PRUNE = "prune_jobs"
RETRY = "retry_fallbacks"
TASKS = (PROCESS, POLL, SEND, REDRAFT, SLA, SWEEP, REAP, PRUNE, RETRY)
TASK_WIDE = (POLL, SEND, SLA, SWEEP, RETRY)  # not about one inquiry: one failure row per task
# Fetched highest first: recovery and the mailbox never wait behind a backlog of new mail,
# and an agent's re-draft (someone is waiting for it) goes before the mail nobody has read.
PRIORITY = {
    REAP: 30,
    SWEEP: 20,
    SEND: 20,
    POLL: 20,
    SLA: 20,
    PRUNE: 10,
    REDRAFT: 5,
    RETRY: 1,  # after the agents' re-drafts, before the backlog of new mail
    PROCESS: 0,
}
# How often the drafts that fell back to the local template (the LLM server was away for a
# moment) are drafted again by the LLM, with an LLM backend.
RETRY_EVERY_S = 15 * 60.0


# The claim every queue job takes on its inquiry. Procrastinate's lock per inquiry already
# runs one job per inquiry at a time, so the claim only keeps `assistant run` and the
# queue apart; one owner for all jobs lets the job that replaces a dead worker's (another
# job id) take the inquiry over at once instead of waiting out the claim's lease.
QUEUE_OWNER = "queue"


def conninfo(database_url: str) -> str:
    """The libpq URI of our SQLAlchemy URL (driver name dropped; `?options=` kept, which is
    how a deployment or a test chooses its schema)."""
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def every(seconds: float) -> str:
    """A cron line (seconds as its sixth field, as croniter reads it) for "every N seconds"."""
    whole = max(1, round(seconds))
    if whole < 60:
        step = next(s for s in range(whole, 61) if 60 % s == 0)
        return f"* * * * * */{step}"
    minutes = max(1, round(whole / 60))
    return f"*/{minutes} * * * *" if minutes < 60 else "0 * * * *"


def job_lock(inquiry_id: int) -> str:
    return f"inquiry:{inquiry_id}"


@dataclass
class _Resources:
    """What a worker process shares between its jobs: the settings and one engine. Each
    thread gets its own backend (a backend keeps the LLM calls it made until drained)."""

    settings: Settings
    engine: Engine
    local: threading.local

    def backend(self) -> Backend:
        made = getattr(self.local, "backend", None)
        if made is None:
            from assistant.backends import get_backend
            from assistant.policy import default_policy

            made = get_backend(self.settings.backend, self.settings, default_policy())
            self.local.backend = made
        return made


def _lazy_resources(settings: Settings) -> Callable[[], _Resources]:
    """The process's resources, made by the first job that needs them (the worker's
    start stays fast, and an edge that only enqueues never opens an engine)."""

    @lru_cache(maxsize=1)
    def made() -> _Resources:
        from assistant.storage.db import open_database

        return _Resources(settings, open_database(settings.database_url), threading.local())

    return made


def make_app(settings: Settings, *, for_worker: bool = True, connector: Any = None) -> App:
    """The Procrastinate app with our tasks. `for_worker`: an async connector (the worker's
    event loop); otherwise a sync one, for the edges that only enqueue. `connector`: another
    one (Procrastinate's in-memory connector, in tests)."""
    if connector is None:
        url = conninfo(settings.database_url)
        connector = (
            PsycopgConnector(conninfo=url, min_size=1, max_size=10)
            if for_worker
            else SyncPsycopgConnector(conninfo=url, min_size=1, max_size=4)
        )
    app = App(connector=connector)
    _resources = _lazy_resources(settings)
    # Procrastinate counts retries, and reads max_attempts=0 as "no limit": one try is False.
    retry: RetryStrategy | bool = (
        RetryStrategy(max_attempts=settings.task_max_attempts - 1, exponential_wait=2)
        if settings.task_max_attempts > 1
        else False
    )
    last_try = settings.task_max_attempts - 1

    def guarded(name: str, work: Callable[..., Any]) -> Callable[..., Any]:
        """The job's body: its error, on the last try, becomes a visible task failure; a
        task not about one inquiry (poll, send, SLA check) that works again clears its own."""

        def run(context, *args: Any, **kwargs: Any) -> Any:
            try:
                result = work(context, *args, **kwargs)
                if name in TASK_WIDE:
                    with Session(_resources().engine) as session:
                        resolve_task_failures(session, name)
                return result
            except Exception as error:
                if context.job.attempts >= last_try:
                    _record(
                        _resources().engine,
                        name,
                        context.job.id,
                        kwargs.get("inquiry_id"),
                        error,
                        last_try,
                    )
                raise

        run.__name__ = name
        return run

    def process_inquiry(context, inquiry_id: int) -> str | None:
        res = _resources()
        with Session(res.engine) as session:
            status = tasks.process_inquiry(session, res.backend(), inquiry_id, owner=QUEUE_OWNER)
            if status is not None and status.value not in ("received", "triaged"):
                tasks.resolve_failures(session, inquiry_id)
        return status.value if status is not None else None

    def poll_mailbox(context, timestamp: int | None = None) -> dict:
        from assistant.mailbox.polling import poll_once

        res = _resources()
        with Session(res.engine) as session:
            summary = poll_once(session, settings)
        defer_processing(app, summary.new_ids)
        return {"stored": summary.ingested, "duplicates": summary.duplicates}

    def send_replies(context, timestamp: int | None = None) -> dict:
        from assistant.mailbox.sending import send_due

        res = _resources()
        with Session(res.engine) as session:
            summary = send_due(session, settings)
        return {"sent": summary.sent, "failed": summary.failed, "uncertain": summary.uncertain}

    def redraft(context, inquiry_id: int, **request: Any) -> int | None:
        res = _resources()
        with Session(res.engine) as session:
            version = tasks.redraft(session, res.backend(), inquiry_id, **request)
            if version is not None:
                tasks.resolve_failures(session, inquiry_id)
            return version

    def retry_fallbacks(context, timestamp: int | None = None) -> dict:
        res = _resources()
        with Session(res.engine) as session:
            return tasks.retry_fallbacks(session, res.backend())

    def check_sla(context, timestamp: int | None = None) -> int:
        res = _resources()
        with Session(res.engine) as session:
            return len(tasks.check_sla(session, settings).flagged)

    def sweep_waiting(context, timestamp: int | None = None) -> int:
        """Inquiries stored without a job (the poller died between storing and enqueueing,
        `assistant ingest` on the team's database) get one."""
        res = _resources()
        with Session(res.engine) as session:
            waiting = without_live_job(session, tasks.waiting_inquiries(session, skip_failed=True))
        return defer_processing(app, waiting)

    async def reap_stalled(context, timestamp: int | None = None) -> int:
        """Jobs left in `doing` by a worker whose heartbeat stopped run again elsewhere —
        unless the job had its last try (a mail that kills its worker every time): then it
        has failed, visibly. Each job is checked again just before: another reaper, or a
        worker that came back, may have dealt with it meanwhile."""
        stalled = await app.job_manager.get_stalled_jobs(
            seconds_since_heartbeat=settings.worker_stalled_seconds
        )
        count = 0
        for job in stalled:  # each on its own: one that cannot be dealt with stops no other
            try:
                count += await reap_one(job)
            except Exception:  # noqa: BLE001 - logged; the next run (seconds away) tries again
                log.exception("stalled job %s could not be dealt with", job.id)
        return count

    async def reap_one(job) -> int:
        assert job.id is not None
        still = await app.connector.execute_query_one_async(
            STILL_STALLED, job_id=job.id, seconds=settings.worker_stalled_seconds
        )
        if not still["stalled"]:
            return 0
        if job.attempts >= last_try:
            log.error("job %s (%s) stalled on its last try: failed", job.id, job.task_name)
            await app.job_manager.finish_job_by_id_async(job.id, Status.FAILED, delete_job=False)
            about = job.task_kwargs.get("inquiry_id")
            error = RuntimeError(f"its worker died {job.attempts + 1} times running it")
            await asyncio.to_thread(
                _record,
                _resources().engine,
                job.task_name,
                job.id,
                about if isinstance(about, int) else None,
                error,
                last_try,
            )
            return 1
        log.warning("job %s (%s) stalled: its worker is gone", job.id, job.task_name)
        try:
            await app.job_manager.retry_job(job)
        except UniqueViolation:  # the same task waits already (its queueing lock): it does it
            await app.job_manager.finish_job_by_id_async(job.id, Status.ABORTED, delete_job=False)
        return 1

    async def prune_jobs(context, timestamp: int | None = None) -> None:
        """Finished jobs older than `worker_keep_jobs_hours` go: at a million mails a day
        the jobs table would otherwise grow by millions of rows. What the work did is in
        our own tables and the audit trail; failed jobs stay a week, for operators."""
        await app.job_manager.delete_old_jobs(
            nb_hours=settings.worker_keep_jobs_hours, include_cancelled=True, include_aborted=True
        )
        await app.job_manager.delete_old_jobs(nb_hours=24 * 7, include_failed=True)

    inquiry_tasks: dict[str, Callable[..., Any]] = {PROCESS: process_inquiry, REDRAFT: redraft}
    for name, work in inquiry_tasks.items():  # locked per inquiry when deferred
        app.task(name=name, pass_context=True, retry=retry, priority=PRIORITY[name])(
            guarded(name, work)
        )
    singles: dict[str, Callable[..., Any]] = {
        SLA: check_sla,
        SWEEP: sweep_waiting,
        POLL: poll_mailbox,
        SEND: send_replies,
        RETRY: retry_fallbacks,
    }
    every_s = {SLA: 60.0, SWEEP: 60.0}
    if settings.backend != "local":  # with the local backend there is nothing to retry with
        every_s[RETRY] = RETRY_EVERY_S
    if settings.imap_url is not None:
        every_s[POLL] = settings.imap_poll_seconds
    if settings.smtp_url is not None:
        every_s[SEND] = float(settings.worker_send_seconds)
    for name, work in singles.items():  # one waiting and one running at a time, at most
        task = app.task(
            name=name,
            queueing_lock=name,
            lock=name,
            pass_context=True,
            retry=retry,
            priority=PRIORITY[name],
        )(guarded(name, work))
        if name in every_s:
            app.periodic(cron=every(every_s[name]), periodic_id=name)(task)
    # Not retried (the next run, seconds later, is the retry) and no lock: a reaper that
    # died in `doing` must not keep the next one from running.
    reaper = app.task(name=REAP, queueing_lock=REAP, pass_context=True, priority=PRIORITY[REAP])(
        reap_stalled
    )
    app.periodic(cron=every(max(1.0, settings.worker_stalled_seconds / 3)), periodic_id=REAP)(
        reaper
    )
    pruner = app.task(name=PRUNE, queueing_lock=PRUNE, pass_context=True, priority=PRIORITY[PRUNE])(
        prune_jobs
    )
    app.periodic(cron="17 * * * *", periodic_id=PRUNE)(pruner)  # hourly
    return app


def _record(
    engine: Engine,
    task: str,
    job_id: int | None,
    inquiry_id: int | None,
    error: Exception,
    attempts: int,
) -> None:
    try:
        with Session(engine) as session:
            tasks.record_failure(
                session,
                task=task,
                error=f"{type(error).__name__}: {' '.join(str(error).split())[:1000]}",
                job_id=job_id,
                inquiry_id=inquiry_id,
                attempts=attempts + 1,
            )
    except Exception:  # noqa: BLE001 - the job still ends failed in Procrastinate's table
        log.exception("could not record the failure of job %s", job_id)


def defer_processing(app: App, inquiry_ids: Iterable[int]) -> int:
    """A triage+draft job per inquiry; one already waiting is not enqueued again (its
    queueing lock). Returns how many were enqueued."""
    task = app.tasks[PROCESS]
    count = 0
    for inquiry_id in inquiry_ids:
        try:
            task.configure(lock=job_lock(inquiry_id), queueing_lock=f"process:{inquiry_id}").defer(
                inquiry_id=inquiry_id
            )
            count += 1
        except AlreadyEnqueued:
            pass
    return count


STILL_STALLED = """
SELECT EXISTS (
    SELECT 1 FROM procrastinate_jobs j LEFT JOIN procrastinate_workers w ON w.id = j.worker_id
     WHERE j.id = %(job_id)s AND j.status = 'doing'
       AND (j.worker_id IS NULL
            OR w.last_heartbeat < now() - make_interval(secs => %(seconds)s))
) AS stalled
"""
LIVE_JOBS = text(
    "SELECT lock FROM procrastinate_jobs"
    " WHERE task_name = :task AND status IN ('todo', 'doing') AND lock = ANY(:locks)"
)


def without_live_job(session: Session, inquiry_ids: list[int]) -> list[int]:
    """Those of `inquiry_ids` with no triage+draft job waiting or running: the sweep must
    not give a second job to an inquiry whose job is running (or stalled, for the reaper).
    (Without PostgreSQL — Procrastinate's in-memory queue in tests — its queueing lock
    alone keeps a second job from waiting.)"""
    if session.get_bind().dialect.name != "postgresql":
        return inquiry_ids
    live: set[str] = set()
    for start in range(0, len(inquiry_ids), 1000):
        locks = [job_lock(i) for i in inquiry_ids[start : start + 1000]]
        live.update(session.execute(LIVE_JOBS, {"task": PROCESS, "locks": locks}).scalars())
    session.commit()
    return [i for i in inquiry_ids if job_lock(i) not in live]

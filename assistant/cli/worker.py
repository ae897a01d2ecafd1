"""`assistant worker [status]`: run the background tasks, or see how the queue stands.
A thin edge over assistant.worker."""

from __future__ import annotations

from typing import Annotated

import typer

from assistant.cli.common import JsonFlag, database, fail, print_json, printable, say, settings

worker_app = typer.Typer(
    help="Background tasks: mail polling, triage and drafts, sending, re-drafts, SLA checks."
)


@worker_app.callback(invoke_without_command=True)
def worker(
    ctx: typer.Context,
    concurrency: Annotated[
        int | None,
        typer.Option("--concurrency", min=1, max=64, help="Jobs at once (default: settings)"),
    ] = None,
    once: Annotated[
        bool, typer.Option("--once", help="Without team mode: one round, then stop")
    ] = False,
) -> None:
    """Run the tasks until stopped (Ctrl-C finishes the jobs running, then stops).

    Team mode (ASSISTANT_WORKERS=true, on PostgreSQL): a Procrastinate worker; start as
    many as you like, on any machine. Otherwise the same tasks run here in rounds, every
    ASSISTANT_IMAP_POLL_SECONDS: poll the mailbox (if configured), triage and draft what
    waits, send approved replies (if SMTP is configured), flag SLA risks."""
    if ctx.invoked_subcommand is not None:
        return
    current = settings()
    jobs = concurrency or current.worker_concurrency
    if current.workers:
        if once:
            fail("--once is for running without team mode; a worker runs until stopped")
        from assistant.storage.db import open_database
        from assistant.worker.runner import run_worker

        try:
            open_database(current.database_url).dispose()  # migrated, the queue's schema too
        except Exception as error:  # noqa: BLE001 - one line, not a traceback
            fail(f"cannot open the database: {str(error).splitlines()[0]}")
        say(f"worker: {jobs} jobs at once on the team's queue (Ctrl-C stops)")
        run_worker(current, jobs)
        return
    from assistant.worker.runner import Round, run_inprocess

    def report(result: Round) -> None:
        say(
            f"polled {result.polled}, triaged and drafted {result.processed}, "
            f"sent {result.sent}, SLA warnings {result.flagged}"
        )
        for error in result.errors:
            say(printable(f"  problem: {error}"))

    with database():
        pass  # migrated before the first round
    run_inprocess(current, concurrency=jobs, once=once, report=report)


@worker_app.command()
def status(as_json: JsonFlag = False) -> None:
    """Jobs queued, doing, failed and stalled, per task, and the oldest waiting; tasks
    that failed for good, with their errors."""
    from assistant.worker.status import queue_status

    current = settings()
    with database(read_only=True) as db:
        result = queue_status(
            db, team_mode=current.workers, stalled_seconds=current.worker_stalled_seconds
        )
    if as_json:
        print_json(result.as_dict())
        return
    if result.team_mode:
        say(f"workers alive: {result.workers_alive}")
        if not result.tasks:
            say("no jobs waiting, running or failed")
        for name, counts in sorted(result.tasks.items()):
            oldest = (
                f", oldest waiting {counts.oldest_waiting_s:.0f} s"
                if counts.oldest_waiting_s is not None
                else ""
            )
            say(
                f"{name}: {counts.queued} queued, {counts.doing} doing, {counts.failed} failed, "
                f"{counts.stalled} stalled{oldest}"
            )
    else:
        say("no team mode: tasks run in-process (`assistant worker`)")
    say(f"inquiries waiting for triage or a draft: {result.waiting_inquiries}")
    for failure in result.failures:
        about = f" (inquiry {failure['inquiry_id']})" if failure["inquiry_id"] else ""
        say(
            printable(
                f"failed: {failure['task']}{about} after {failure['attempts']} tries: "
                f"{failure['error']}"
            )
        )


def register(app: typer.Typer) -> None:
    app.add_typer(worker_app, name="worker")

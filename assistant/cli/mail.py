"""`assistant mail poll|send|status|retry`: the mailbox, a thin edge over assistant.mailbox."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from assistant.cli.common import (
    EXIT_QUARANTINED,
    AgentOption,
    BackendOption,
    JsonFlag,
    backend,
    cli_actor,
    database,
    fail,
    print_json,
    printable,
    say,
    settings,
)

mail_app = typer.Typer(help="The mailbox: IMAP in, SMTP out.", no_args_is_help=True)


def _note(text: str) -> None:
    sys.stderr.write(printable(text) + "\n")
    sys.stderr.flush()


@mail_app.command()
def poll(
    once: Annotated[bool, typer.Option("--once", help="Read new mail once and stop")] = False,
    idle: Annotated[
        bool, typer.Option("--idle", help="Keep running: wait for new mail (IMAP IDLE)")
    ] = False,
    process: Annotated[
        bool, typer.Option("--process/--no-process", help="Triage and draft what arrives")
    ] = True,
    backend_name: BackendOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Store new mail from ASSISTANT_IMAP_URL (nothing is marked read), then triage and
    draft it. Auto-replies, bounces and lists are stored as needing no reply; unreadable
    or oversized mail is quarantined. Exit status 3: some mail was quarantined."""
    from assistant import pipeline
    from assistant.mailbox.imap import MailboxError
    from assistant.mailbox.polling import PollSummary, poll_once, watch
    from assistant.settings import SettingsError

    if once and idle:
        fail("--once or --idle, not both")
    current = settings()
    team_mode = current.workers  # workers triage and draft: the poller only enqueues
    chosen = backend(backend_name) if process and not team_mode else None

    def after(db, summary: PollSummary) -> None:
        if process and team_mode and summary.new_ids:
            from assistant.worker.enqueue import enqueue_processing

            _note(f"enqueued {enqueue_processing(current, summary.new_ids)} for the workers")
        elif process and chosen is not None and summary.stored:
            summary_run = pipeline.run_waiting(db, chosen)
            _note(f"triaged and drafted {summary_run.processed}")
        if as_json:
            print_json(summary.__dict__)
        else:
            say(_describe(summary))

    with database() as db:
        try:
            if not idle:
                summary = poll_once(db, current)
                after(db, summary)
                if summary.quarantined:
                    raise typer.Exit(EXIT_QUARANTINED)
                return
            stop = _stop_flag()
            watch(
                db,
                current,
                on_poll=lambda summary: after(db, summary),
                on_error=lambda message: _note(f"warning: {message}; connecting again"),
                stopping=stop,
            )
        except (MailboxError, SettingsError) as error:
            fail(str(error))


def _describe(summary) -> str:
    parts = [f"{summary.mailbox}: {summary.stored} new"]
    for name in ("duplicates", "no_reply_needed", "quarantined", "moved"):
        value = getattr(summary, name)
        if value:
            parts.append(f"{value} {name.replace('_', ' ')}")
    if summary.rescanned:
        parts.append("UIDVALIDITY changed: the folder was read again")
    lines = [", ".join(parts)]
    lines += [f"  quarantined {q['id']}: {q['reason']}" for q in summary.quarantine]
    return printable("\n".join(lines))


def _stop_flag():
    """SIGTERM and Ctrl-C end `--idle` between two polls, cleanly."""
    import signal

    stopped = {"now": False}

    def stop(signum, frame):
        stopped["now"] = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    return lambda: stopped["now"]


@mail_app.command()
def send(
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="Send at most N")] = None,
    wait: Annotated[
        bool, typer.Option("--wait", help="At the rate cap, wait instead of stopping")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Send the approved replies that are due through ASSISTANT_SMTP_URL, each at most
    once. Exit status 1 if the server cannot be used; 2 if some reply failed or is
    uncertain (see `mail status`)."""
    from assistant.mailbox.imap import MailboxError
    from assistant.mailbox.sending import send_due
    from assistant.settings import SettingsError

    def progress(reply, outcome: str) -> None:
        if not as_json:
            say(f"inquiry {reply.inquiry_id}: {outcome}")

    with database() as db:
        try:
            summary = send_due(db, settings(), limit=limit, wait=wait, progress=progress)
        except (MailboxError, SettingsError) as error:
            fail(str(error))
    if as_json:
        print_json(summary.__dict__)
    else:
        say(
            f"sent {summary.sent}, to retry later {summary.retry_later}, failed "
            f"{summary.failed}, uncertain {summary.uncertain}"
        )
        for name, count in summary.recovered.items():
            say(f"after an interrupted run: {count} {name.replace('_', ' ')}")
        if summary.rate_limited_for is not None:
            say(
                f"stopped at the send rate cap ({settings().send_rate}/min): the rest can go "
                f"in {summary.rate_limited_for:.0f} s (or use --wait)"
            )
        for note in summary.notes:
            _note(f"note: {note}")
    if summary.failed or summary.uncertain:
        raise typer.Exit(2)


@mail_app.command()
def status(as_json: JsonFlag = False) -> None:
    """The outbox by delivery state, and each reply that needs a person (failed, uncertain)."""
    from sqlmodel import col, select

    from assistant.mailbox.outbox import status_counts
    from assistant.models import DeliveryState
    from assistant.storage.tables import OutboundReplyRow

    with database(read_only=True) as db:
        counts = status_counts(db)
        problems = db.exec(
            select(OutboundReplyRow)
            .where(
                col(OutboundReplyRow.delivery).in_([DeliveryState.failed, DeliveryState.uncertain])
            )
            .order_by(col(OutboundReplyRow.id))
        ).all()
        rows = [
            {
                "inquiry_id": r.inquiry_id,
                "delivery": r.delivery.value,
                "to": r.to_address,
                "attempts": r.attempts,
                "error": r.delivery_error,
            }
            for r in problems
        ]
    if as_json:
        print_json({"counts": counts, "needs_a_person": rows})
        return
    say(", ".join(f"{name} {n}" for name, n in sorted(counts.items())) or "the outbox is empty")
    for row in rows:
        say(
            printable(
                f"inquiry {row['inquiry_id']} {row['delivery']} ({row['to']}): {row['error']}"
            )
        )
    if rows:
        say(
            "`assistant mail retry ID` sends one again; `assistant mark-sent ID` records it as sent"
        )


@mail_app.command()
def retry(
    inquiry_id: Annotated[int, typer.Argument(help="The inquiry whose reply to send again")],
    agent: AgentOption,
    not_received: Annotated[
        bool,
        typer.Option(
            "--not-received",
            help="For an uncertain reply: you checked that the customer did not get it",
        ),
    ] = False,
) -> None:
    """Send a failed or uncertain reply again with the next `mail send`."""
    from assistant.mailbox import outbox
    from assistant.models import DeliveryState
    from assistant.storage import records
    from assistant.workflow import WorkflowError

    with database() as db:
        reply = records.outbound_reply(db, inquiry_id)
        if reply is not None and reply.delivery is DeliveryState.uncertain and not not_received:
            fail(
                f"the reply to inquiry {inquiry_id} may have reached the customer: check, then "
                "use --not-received to send it again, or `assistant mark-sent` if it arrived"
            )
        try:
            outbox.retry(db, inquiry_id, agent=cli_actor(db, agent))
        except WorkflowError as error:
            fail(str(error))
    say(f"inquiry {inquiry_id}: its reply goes out with the next `mail send`")


def register(app: typer.Typer) -> None:
    app.add_typer(mail_app, name="mail")

"""Mail in: `ingest` (store), `run` (store, triage, draft), `triage` (one text, not stored)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from assistant.cli.common import (
    EXIT_QUARANTINED,
    BackendOption,
    JsonFlag,
    backend,
    database,
    fail,
    print_json,
    printable,
    say,
    settings,
)

InboxArgument = Annotated[
    list[Path] | None,
    typer.Argument(
        help="Folders or files of mail (.eml, .mbox, .jsonl, .txt), or - for stdin; "
        "none: what is stored and waiting"
    ),
]


def _stdin_text() -> str:
    from assistant.ingest import MAX_EMAIL_BYTES

    data = sys.stdin.buffer.read(MAX_EMAIL_BYTES + 1)
    if len(data) > MAX_EMAIL_BYTES:
        fail(f"stdin: over the {MAX_EMAIL_BYTES} byte limit of one mail")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        from charset_normalizer import from_bytes

        best = from_bytes(data).best()
        return str(best) if best is not None else data.decode("utf-8", "replace")


def collect(paths: list[Path]) -> list[Any]:
    """Every mail in the input; unreadable ones come back quarantined. A single message
    (one .eml or .txt file, or stdin) that cannot be read is an error and nothing is stored."""
    from assistant.ingest import IngestError, is_single_message, read_path, text_inquiry
    from assistant.models import QuarantinedMail

    own = settings().support_address
    items: list[Any] = []
    try:
        for path in paths:
            if str(path) == "-":
                items.append(text_inquiry(_stdin_text(), source="stdin"))
            else:
                items.extend(read_path(path, own))
    except IngestError as error:
        fail(str(error))
    if not items:
        fail("no inquiries found in the input")
    if is_single_message(paths) and isinstance(items[0], QuarantinedMail):
        fail(items[0].reason)
    return items


def ingest(
    paths: Annotated[
        list[Path], typer.Argument(help=".eml, .mbox, .jsonl, .txt files, folders, or - for stdin")
    ],
    as_json: JsonFlag = False,
) -> None:
    """Store inquiries without processing them (duplicates are recognised; mail that cannot
    be read is stored as quarantined, with the reason, and the exit status is 3). In team
    mode the workers are given the new ones to triage and draft."""
    from assistant import pipeline
    from assistant.models import InquiryStatus

    items = collect(paths)
    with database() as db:
        results = pipeline.ingest_many(db, items)
    if settings().workers:
        from assistant.worker.enqueue import enqueue_processing

        enqueue_processing(
            settings(), [r.id for r in results if r.created and r.status is InquiryStatus.received]
        )
    rows = [
        {
            "id": r.id,
            "created": r.created,
            "status": r.status.value,
            "subject": r.inquiry.subject if r.inquiry else "",
            "source": item.source,
            **({"reason": item.reason} if not r.inquiry else {}),
        }
        for r, item in zip(results, items)
    ]
    quarantined = [r for r in rows if r["created"] and r["status"] == InquiryStatus.quarantined]
    if as_json:
        print_json(rows)
    else:
        created = sum(r["created"] for r in rows)
        say(f"stored {created} new inquiries, {len(rows) - created} already known")
        for row in quarantined:
            say(printable(f"quarantined (inquiry {row['id']}): {row['reason']}"))
    if quarantined:
        raise typer.Exit(EXIT_QUARANTINED)


def _names_a_file(argument: str) -> bool:
    """One word that ends like a mail file or contains a folder separator: a path, not mail."""
    if any(c.isspace() for c in argument):
        return False
    return "/" in argument or Path(argument).suffix.lower() in (".eml", ".mbox", ".jsonl", ".txt")


def triage(
    text_or_file: Annotated[str, typer.Argument(help="The inquiry text, a file, or - for stdin")],
    backend_name: BackendOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Triage one inquiry without storing it."""
    from assistant.ingest import IngestError, text_inquiry

    path = Path(text_or_file)
    if text_or_file == "-" or path.is_file():
        inquiries = [i for i in collect([path])]
    elif path.is_dir():
        fail(f"{path}: is a folder; triage takes one inquiry (use `run` for a folder)")
    elif _names_a_file(text_or_file):
        fail(f"{path}: no such file")
    else:
        try:
            inquiries = [text_inquiry(text_or_file)]
        except IngestError as error:
            fail(str(error))
    from assistant.models import InquiryIn

    readable = [i for i in inquiries if isinstance(i, InquiryIn)]
    if not readable:
        fail(inquiries[0].reason)
    results = backend(backend_name).triage_many(readable)
    if as_json:
        payload = [r.model_dump(mode="json") for r in results]
        print_json(payload[0] if len(payload) == 1 else payload)
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    for result in results:
        table = Table(show_header=False, box=None)
        table.add_row(
            "category",
            f"{result.category.value} ({result.confidence_level.value}, {result.confidence:.2f})",
        )
        if result.needs_manual_triage:
            guesses = ", ".join(
                f"{g.category.value} {g.confidence:.2f}" for g in result.top_guesses
            )
            table.add_row("needs manual triage", guesses)
        table.add_row(
            "urgency",
            result.urgency.value + (f" ({result.urgency_rule})" if result.urgency_rule else ""),
        )
        table.add_row("escalation", result.escalation_reason or "no")
        table.add_row("language", f"{result.language} ({result.language_confidence:.2f})")
        table.add_row(
            "due",
            f"{result.due_at:%Y-%m-%d %H:%M} UTC (latest {result.due_latest_at:%Y-%m-%d %H:%M})",
        )
        table.add_row("reasons", "\n".join(result.reasons))
        console.print(table)


def run(
    inbox: InboxArgument = None,
    backend_name: BackendOption = None,
    batch_size: Annotated[
        int, typer.Option("--batch-size", min=1, help="Inquiries claimed and written at a time")
    ] = 256,
    as_json: JsonFlag = False,
    retry_fallbacks: Annotated[
        bool,
        typer.Option(
            "--retry-fallbacks",
            help="Draft again with the LLM the drafts that fell back to the local template "
            "because the server failed (timeout, connection, 429/5xx), unless an agent has "
            "taken them up",
        ),
    ] = False,
) -> None:
    """Ingest, triage and draft everything in INBOX (or, without INBOX, every stored inquiry
    still waiting, e.g. from `ingest`); drafts wait in the review queue. Another `run` at
    the same time is fine: each inquiry is processed once. Ctrl-C stops it: what is done
    is kept, the rest waits for the next run (exit status 130). Exit status 3: some mail
    was quarantined (see the summary)."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        Progress,
        TaskProgressColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from assistant import pipeline, recovery

    if retry_fallbacks and inbox:
        fail("--retry-fallbacks works on the stored drafts: give no INBOX with it")
    items = collect(inbox) if inbox else None
    chosen = backend(backend_name)
    if retry_fallbacks and chosen.name == "local":
        fail(
            "--retry-fallbacks drafts again with the LLM, and the backend is local: nothing "
            "to retry with (use --backend openai, or set ASSISTANT_BACKEND)"
        )
    _stop_on_sigterm()
    errors = Console(stderr=True)
    with (
        database() as db,
        Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            TaskProgressColumn(),  # steps: a triage and a draft per inquiry
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            "{task.fields[llm]}",  # the LLM server's adaptive concurrency, as it changes
            console=errors,
            disable=as_json or not errors.is_terminal,
        ) as progress,
    ):
        what = "re-draft fallbacks" if retry_fallbacks else "triage + draft"
        task = progress.add_task(what, total=None, llm="")

        def advance(done: int, total: int) -> None:
            limit = getattr(chosen, "concurrency", None)  # None: local, or no call yet
            llm = f"LLM concurrency {limit}" if limit else ""
            progress.update(task, completed=done, total=total, llm=llm)

        try:
            if retry_fallbacks:
                retried = recovery.retry_fallbacks(
                    db, chosen, batch_size=min(batch_size, 64), on_progress=advance
                )
            elif items is None:
                summary = pipeline.run_waiting(
                    db, chosen, batch_size=batch_size, on_progress=advance
                )
            else:
                summary = pipeline.run(
                    db, items, chosen, batch_size=batch_size, on_progress=advance
                )
        except pipeline.Interrupted as stop:
            progress.stop()
            summary = stop.summary
    if retry_fallbacks:
        if as_json:
            print_json(retried.__dict__)
        else:
            say(_retry_line(retried))
        return
    if summary.interrupted:
        if as_json:
            print_json(summary.__dict__)
        sys.stderr.write(_interrupted_line(summary) + "\n")
        raise typer.Exit(130)
    if as_json:
        print_json(summary.__dict__)
    else:
        _print_summary(summary)
    if summary.quarantined:
        raise typer.Exit(EXIT_QUARANTINED)


def pipeline_attempts() -> int:
    from assistant.recovery import MAX_RETRY_ATTEMPTS

    return MAX_RETRY_ATTEMPTS


def _retry_line(retried) -> str:
    """What `run --retry-fallbacks` did, in one line."""
    line = f"re-drafted {retried.redrafted} with the LLM, {retried.fell_back} fell back again"
    if retried.reasons:
        line += f" ({printable(retried.reasons[0])[:200]})"
    line += f", {retried.skipped} skipped (edited or approved by an agent)"
    if retried.given_up:
        line += (
            f", {retried.given_up} left to the agents after {pipeline_attempts()} failed retries"
        )
    usage = retried.llm
    if usage.get("calls"):
        line += f"; LLM: {usage['calls']} calls, est. ${usage['cost_usd']:.4f}"
    return line


def _interrupted_line(summary) -> str:
    calls = summary.llm.get("calls", 0)
    return (
        f"interrupted: {summary.processed} inquiries triaged and drafted and saved, "
        f"{summary.waiting} left waiting (run `assistant run` again to continue); "
        f"{calls} LLM calls stored"
    )


def _stop_on_sigterm() -> None:
    """A service manager's stop (SIGTERM) ends the run as Ctrl-C does: what is committed is
    kept and the inquiries claimed but not done are given back at once."""
    import signal

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def _print_summary(summary) -> None:
    line = (
        f"{summary.ingested} new, {summary.duplicates} duplicates, {summary.processed} "
        f"processed, {summary.failed} failed"
    )
    if summary.quarantined:
        line += f", {summary.quarantined} quarantined"
    if summary.no_reply_needed:
        line += f", {summary.no_reply_needed} need no reply"
    if summary.elsewhere:
        line += f", {summary.elsewhere} being processed by another run"
    if summary.by_status:
        line += " → " + ", ".join(f"{k}: {v}" for k, v in sorted(summary.by_status.items()))
    say(line)
    if summary.duplicates:
        say("duplicates: mail already stored, not processed again")
    if summary.failed:
        first = printable(summary.first_error or "")[:300]
        say(
            f"failed: {summary.failed} inquiries could not be triaged or drafted; they need "
            f"manual triage, with the error (first: {first})"
        )
    if summary.draft_fallbacks or summary.triage_fallbacks:
        first = printable(summary.first_fallback_reason or "")[:300]
        say(
            f"{summary.draft_fallbacks} drafts and {summary.triage_fallbacks} triages fell back "
            f"to local templates/triage after LLM errors (first reason: {first}); "
            "`assistant run --retry-fallbacks` retries the drafts when the server answers"
        )
    for entry in summary.quarantine:
        say(printable(f"quarantined (inquiry {entry['id']}): {entry['reason']}"))
    if summary.llm.get("calls"):
        usage = summary.llm
        say(
            f"LLM: {usage['calls']} calls ({usage['failed_calls']} failed), "
            f"{usage['prompt_tokens']} prompt tokens ({usage['cached_tokens']} cached), "
            f"{usage['completion_tokens']} completion tokens, est. ${usage['cost_usd']:.4f}"
        )


def register(app: typer.Typer) -> None:
    app.command()(ingest)
    app.command()(triage)
    app.command()(run)

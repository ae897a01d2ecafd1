"""Replies out: `export` (approved replies as .eml or JSONL) and `mark-sent`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from assistant.cli.common import (
    AgentOption,
    JsonFlag,
    cli_actor,
    database,
    fail,
    print_json,
    say,
    settings,
)


def export(
    output: Annotated[
        Path, typer.Option("--out", help="Folder for .eml files, or a .jsonl file")
    ] = Path("outbox"),
    fmt: Annotated[str, typer.Option("--format", help="eml or jsonl")] = "eml",
    mark_sent: Annotated[
        bool, typer.Option("--mark-sent", help="Record them as sent (handed to your mailer)")
    ] = False,
    include_exported: Annotated[
        bool, typer.Option("--all", help="Also replies exported before")
    ] = False,
    agent: Annotated[
        str | None, typer.Option("--agent", help="Who exports (default: the assistant)")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Write approved replies (only those) as threaded .eml files or JSONL; each export is
    recorded in the audit trail."""
    from assistant import export as exporter
    from assistant.storage import records
    from assistant.workflow import Actor, WorkflowError

    if fmt not in ("eml", "jsonl"):
        fail(f"unknown format {fmt!r}: eml or jsonl")
    with database() as db:
        try:
            actor = cli_actor(db, agent) if agent else Actor.system("export")
        except WorkflowError as error:
            fail(str(error))
        replies = records.approved_replies(db, include_exported=include_exported, for_export=True)
        if not replies:  # and an earlier export file stays as it was
            if as_json:
                print_json({"exported": 0, "files": []})
            else:
                say("nothing to export: no approved replies waiting")
            return
        replies, held = exporter.as_approved(db, replies)
        try:
            if fmt == "eml":
                done = exporter.write_eml(replies, output, settings())
            else:
                done = exporter.write_jsonl(replies, output, settings())
        except OSError as error:
            fail(f"cannot write to {output}: {error.strerror or error}")
        done.skipped.update(held)
        exporter.record_export(db, done.replies, actor=actor, how=f"export {fmt} to {output}")
        if mark_sent and done.replies:
            exporter.mark_sent(
                db, [r.inquiry_id for r in done.replies], actor=actor, transport=f"export {fmt}"
            )
    if as_json:
        print_json(
            {
                "exported": len(done.replies),
                "inquiry_ids": [reply.inquiry_id for reply in done.replies],
                "files": [str(path) for path in done.files],
                "marked_sent": mark_sent,
                "skipped": done.skipped,
            }
        )
    else:
        say(
            f"exported {len(done.replies)} approved replies to {output}"
            + (f" ({len(done.files)} files)" if fmt == "eml" else "")
        )
        for inquiry_id, why in done.skipped.items():
            say(f"skipped inquiry {inquiry_id}: {why}")
    if done.skipped:
        raise typer.Exit(1)


def mark_sent(
    inquiry_ids: Annotated[list[int], typer.Argument(help="Inquiries whose replies went out")],
    agent: AgentOption,
    via: Annotated[str, typer.Option("--via", help="How it was sent, for the audit trail")] = (
        "exported file"
    ),
) -> None:
    """Record that approved replies were sent (after `export` without --mark-sent). All or
    none: if one of them is not approved, nothing is marked."""
    from assistant import export as exporter
    from assistant.workflow import WorkflowError

    with database() as db:
        try:
            replies = exporter.mark_sent(db, inquiry_ids, actor=cli_actor(db, agent), transport=via)
        except WorkflowError as error:
            fail(str(error))
    say(f"marked sent: {', '.join(str(r.inquiry_id) for r in replies)}")


def register(app: typer.Typer) -> None:
    app.command()(export)
    app.command("mark-sent")(mark_sent)

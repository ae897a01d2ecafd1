"""The `assistant` command: a thin edge over pipeline, review and storage.

No business rule lives here. Bad input prints one line naming the problem and exits
non-zero; nothing is half-written (inputs are all parsed before anything is stored).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from assistant import pipeline, review
from assistant.backends import UnknownBackend, get_backend
from assistant.evaluation.cli import eval_app
from assistant.ingest import IngestError, read_path, text_inquiry
from assistant.models import Category, InquiryIn
from assistant.policy import PolicyError, default_policy
from assistant.settings import SettingsError, get_settings
from assistant.storage import records

app = typer.Typer(
    help="Crocso support assistant: triage, policy-grounded drafts, human review.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
policy_app = typer.Typer(help="The policy every draft is grounded in.", no_args_is_help=True)
app.add_typer(policy_app, name="policy")
app.add_typer(eval_app, name="eval")
console = Console()
errors = Console(stderr=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable JSON output.")]
AgentOption = Annotated[
    str, typer.Option("--agent", help="Your name, recorded in the audit trail.")
]
BackendOption = Annotated[
    str | None, typer.Option("--backend", help="local | openai | cascade (default: settings)")
]


def fail(message: str, code: int = 1) -> NoReturn:
    sys.stderr.write(f"error: {' '.join(message.split())}\n")  # one line, never wrapped
    raise typer.Exit(code)


@app.callback()
def _check_settings() -> None:
    """Read the settings once, up front: a bad one is a one-line error, not a traceback."""
    try:
        get_settings()
    except SettingsError as error:
        fail(str(error))


@contextmanager
def database():
    from assistant.storage.db import open_database, session

    settings = get_settings()
    try:
        engine = open_database(settings.database_url)
    except Exception as error:  # noqa: BLE001 - one line for the user, not a traceback
        fail(f"cannot open database {settings.database_url}: {error}".splitlines()[0])
    with session(engine) as db:
        yield db
    engine.dispose()


def _backend(name: str | None):
    settings = get_settings()
    try:
        return get_backend(name or settings.backend, settings)
    except UnknownBackend as error:
        fail(str(error))


def _collect(paths: list[Path]) -> list[InquiryIn]:
    """Parse every input before storing anything: a bad file stops the run untouched."""
    inquiries: list[InquiryIn] = []
    try:
        for path in paths:
            if str(path) == "-":
                data = sys.stdin.buffer.read()
                inquiries.append(text_inquiry(data.decode("utf-8", "replace"), source="stdin"))
            else:
                inquiries.extend(read_path(path))
    except IngestError as error:
        fail(str(error))
    if not inquiries:
        fail("no inquiries found in the input")
    return inquiries


def _print_json(payload) -> None:
    sys.stdout.write(json.dumps(payload, ensure_ascii=False, indent=2, default=str) + "\n")


@app.command()
def ingest(
    paths: Annotated[
        list[Path], typer.Argument(help=".eml, .mbox, .jsonl, .txt files, folders, or - for stdin")
    ],
    as_json: JsonFlag = False,
) -> None:
    """Store inquiries without processing them (duplicates are recognised)."""
    inquiries = _collect(paths)
    with database() as db:
        results = pipeline.ingest_many(db, inquiries)
    rows: list[dict[str, Any]] = [
        {"id": r.id, "created": r.created, "subject": r.inquiry.subject} for r in results
    ]
    if as_json:
        _print_json(rows)
    else:
        created = sum(r["created"] for r in rows)
        console.print(f"stored {created} new inquiries, {len(rows) - created} already known")


def _names_a_file(argument: str) -> bool:
    """One word that ends like a mail file or contains a folder separator: a path, not mail."""
    if any(c.isspace() for c in argument):
        return False
    return "/" in argument or Path(argument).suffix.lower() in (".eml", ".mbox", ".jsonl", ".txt")


@app.command()
def triage(
    text_or_file: Annotated[str, typer.Argument(help="The inquiry text, a file, or - for stdin")],
    backend: BackendOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Triage one inquiry without storing it."""
    path = Path(text_or_file)
    if text_or_file == "-" or path.is_file():
        inquiries = _collect([path])
    elif path.is_dir():
        fail(f"{path}: is a folder; triage takes one inquiry (use `run` for a folder)")
    elif _names_a_file(text_or_file):
        fail(f"{path}: no such file")
    else:
        try:
            inquiries = [text_inquiry(text_or_file)]
        except IngestError as error:
            fail(str(error))
    results = _backend(backend).triage_many(inquiries)
    if as_json:
        payload = [r.model_dump(mode="json") for r in results]
        _print_json(payload[0] if len(payload) == 1 else payload)
        return
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


@app.command()
def run(
    inbox: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Folders or files of mail (.eml, .mbox, .jsonl); none: what is stored and waiting"
        ),
    ] = None,
    backend: BackendOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Ingest, triage and draft everything in INBOX (or, without INBOX, every stored inquiry
    still waiting, e.g. from `ingest`); drafts wait in the review queue."""
    from rich.progress import (
        BarColumn,
        Progress,
        TaskProgressColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    inquiries = _collect(inbox) if inbox else None
    chosen = _backend(backend)
    policy = _policy()
    with (
        database() as db,
        Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            TaskProgressColumn(),  # steps: a triage and a draft per inquiry
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=errors,
            disable=as_json or not errors.is_terminal,
        ) as progress,
    ):
        task = progress.add_task("triage + draft", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        if inquiries is None:
            summary = pipeline.run_waiting(db, chosen, policy, on_progress=advance)
        else:
            summary = pipeline.run(db, inquiries, chosen, policy, on_progress=advance)
    if as_json:
        _print_json(summary.__dict__)
        return
    console.print(
        f"{summary.ingested} new, {summary.duplicates} duplicates, {summary.processed} processed, "
        f"{summary.failed} failed"
        + (" → " + ", ".join(f"{k}: {v}" for k, v in sorted(summary.by_status.items())))
        * bool(summary.by_status)
    )
    if summary.llm.get("calls"):
        usage = summary.llm
        console.print(
            f"LLM: {usage['calls']} calls ({usage['failed_calls']} failed), "
            f"{usage['prompt_tokens']} prompt tokens ({usage['cached_tokens']} cached), "
            f"{usage['completion_tokens']} completion tokens, est. ${usage['cost_usd']:.4f}"
        )


def _policy():
    try:
        return default_policy()
    except (OSError, PolicyError) as error:
        fail(f"cannot load the policy: {error}")


@app.command()
def queue(
    status: Annotated[str | None, typer.Option(help="Only this status (default: all open)")] = None,
    limit: Annotated[int, typer.Option(min=1)] = 200,
    translation: Annotated[
        bool | None,
        typer.Option(
            "--translation/--no-translation",
            help="Only the translation-support queue (or leave it out).",
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Open inquiries, urgent first, then by due time."""
    from assistant.models import InquiryStatus

    try:
        statuses = (InquiryStatus(status),) if status else records.OPEN_STATUSES
    except ValueError:
        fail(f"unknown status {status!r}; one of: " + ", ".join(s.value for s in InquiryStatus))
    with database() as db:
        rows = records.review_queue(
            db, statuses=statuses, limit=limit, translation_support=translation
        )
        items = [_queue_item(db, row) for row in rows]
    if as_json:
        _print_json(items)
        return
    # Plain fixed-width lines: they fit an 80-column terminal and survive copy-paste.
    columns = [
        ("id", 4),
        ("urgency", 9),
        ("due (UTC)", 11),
        ("status", 10),
        ("category", 15),
        ("lang", 4),
    ]
    # How sure triage was, and the sender, only where there is room: the subject matters more.
    if console.width >= 90:
        columns.append(("conf", 4))
    if console.width >= 110:
        columns.append(("from", 22))
    used = sum(width + 1 for _, width in columns)
    subject_width = max(10, console.width - used - 1)
    console.print(f"Review queue ({len(items)})", style="bold")
    header = " ".join(_fit(name, width) for name, width in columns) + " subject"
    console.print(header, style="dim", markup=False, highlight=False)
    for item in items:
        flags = ("⇑" if item["escalation"] else "") + ("⟲" if item["translation_support"] else "")
        values = [
            str(item["id"]),
            f"{item['urgency'] or ''} {flags}".strip(),
            (item["due_at"] or "")[5:16].replace("T", " "),
            item["status"],
            item["category"] or "",
            item["language"] or "",
            {"medium": "med"}.get(item["confidence"] or "", item["confidence"] or ""),
            item["from"],
        ][: len(columns)]
        line = " ".join(_fit(v, w) for v, (_, w) in zip(values, columns))
        line += " " + _fit(item["subject"] or "", subject_width).rstrip()
        console.print(
            line,
            style="bold red" if item["urgency"] == "urgent" else None,
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    console.print("⇑ escalation requested  ⟲ translation support", style="dim")


def _fit(text: str, width: int) -> str:
    """`text` in exactly `width` columns: padded, or cut with an ellipsis."""
    return text.ljust(width) if len(text) <= width else text[: width - 1] + "…"


def _queue_item(db, row) -> dict:
    triage_row = records.latest_triage(db, row.id)
    return {
        "id": row.id,
        "status": row.status,
        "urgency": row.urgency,
        "due_at": row.due_at.isoformat() if row.due_at else None,
        "category": triage_row.category if triage_row else None,
        "confidence": triage_row.confidence_level if triage_row else None,
        "escalation": bool(triage_row and triage_row.escalation),
        "language": row.language,
        "translation_support": row.translation_support,
        "from": row.from_address,
        "subject": row.subject,
    }


@app.command()
def show(inquiry_id: int, as_json: JsonFlag = False) -> None:
    """One inquiry: the email, its triage, the draft with citations, the audit trail."""
    with database() as db:
        row = records.get_inquiry(db, inquiry_id)
        if row is None:
            fail(f"no inquiry with id {inquiry_id}")
        triage_row = records.latest_triage(db, inquiry_id)
        draft = records.latest_draft(db, inquiry_id)
        trail = records.audit_trail(db, inquiry_id)
    policy = _policy()
    payload = {
        "inquiry": row.model_dump(mode="json", exclude={"raw"}),
        "triage": triage_row.model_dump(mode="json") if triage_row else None,
        "draft": draft.model_dump(mode="json") if draft else None,
        "audit": [event.model_dump(mode="json") for event in trail],
    }
    if as_json:
        _print_json(payload)
        return
    console.rule(f"Inquiry {row.id} · {row.status}")
    console.print(
        f"From: {row.from_name or ''} <{row.from_address}>  ·  received {row.received_at:%Y-%m-%d %H:%M}",
        markup=False,
    )
    console.print(f"Subject: {row.subject}", markup=False)
    console.print(row.body[:3000], markup=False)
    english_text = (triage_row.details or {}).get("english_text") if triage_row else None
    if english_text:
        console.rule(f"English translation (from {row.language})")
        console.print(english_text[:3000], markup=False)
    if row.error:
        console.print(f"[red]error:[/] {row.error}")
    if triage_row:
        console.rule(f"Triage ({triage_row.backend})")
        console.print(_triage_summary(triage_row), markup=False)
        console.print("\n".join(triage_row.details.get("reasons", [])), markup=False)
        if triage_row.details.get("fallback_reason"):
            console.print(f"[yellow]fallback:[/] {triage_row.details['fallback_reason']}")
    if draft:
        console.rule(f"Draft ({draft.backend}, policy {draft.policy_version})")
        if draft.fallback_reason:
            console.print(f"[yellow]fallback to the local template:[/] {draft.fallback_reason}")
        console.print(draft.body, markup=False)
        if draft.english_body:
            console.rule("English version (for review)")
            console.print(draft.english_body, markup=False)
        labels = [
            policy.section(c).label if policy.has_section(c) else f"{c} (unknown!)"
            for c in draft.citations
        ]
        console.print(f"[dim]cites:[/] {'; '.join(labels) or 'nothing'}")
        for finding in draft.grounding:
            console.print(
                f"[yellow]grounding:[/] {finding['message']}: “{finding['excerpt']}”",
                highlight=False,
            )
    console.rule("Audit trail")
    for event in trail:
        console.print(
            f"{event.at:%Y-%m-%d %H:%M:%S} {event.actor}: {event.action} → {event.to_status}"
            + (f" ({event.reason})" if event.reason else ""),
            markup=False,
        )


def _triage_summary(triage) -> str:
    """One line for the agent: category and how sure, urgency, escalation, language, due."""
    parts = [
        f"{triage.category} ({triage.confidence_level}, {triage.confidence:.2f})",
        triage.urgency + (f" ({triage.urgency_rule})" if triage.urgency_rule else ""),
    ]
    if triage.escalation:
        parts.append(f"escalation: {triage.escalation_reason or 'requested'}")
    parts.append(f"language {triage.language} ({triage.language_confidence:.2f})")
    parts.append(
        f"due {triage.due_at:%Y-%m-%d %H:%M} UTC, latest {triage.due_latest_at:%Y-%m-%d %H:%M}"
    )
    return "  ·  ".join(parts)


def _edited_text(
    body_file: Path | None, use_editor: bool, current: str
) -> tuple[str | None, Path | None]:
    """The edited reply, and the file the editor left it in (kept until it is approved)."""
    if body_file:
        try:
            return body_file.read_text(encoding="utf-8"), None
        except (OSError, UnicodeDecodeError) as error:
            fail(f"cannot read {body_file}: {error}")
    if use_editor:
        editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
        with tempfile.NamedTemporaryFile(
            "w+", suffix=".txt", prefix="crocso-reply-", delete=False, encoding="utf-8"
        ) as handle:
            handle.write(current)
        path = Path(handle.name)
        try:
            subprocess.run([*editor.split(), handle.name], check=True)
            return path.read_text(encoding="utf-8"), path
        except (OSError, subprocess.CalledProcessError) as error:
            path.unlink(missing_ok=True)
            fail(f"editor {editor!r} failed: {error}")
    return None, None


def _fail_keeping_edit(error: Exception, kept: Path | None) -> NoReturn:
    """A refused edit is not saved; one typed in the editor stays in its file, named here."""
    if kept is not None:
        fail(f"{error}; nothing was saved, your edit is in {kept} (--body-file {kept})")
    fail(str(error))


@app.command()
def approve(
    inquiry_id: int,
    agent: AgentOption,
    body_file: Annotated[
        Path | None, typer.Option("--body-file", help="Approve this edited text instead")
    ] = None,
    use_editor: Annotated[
        bool, typer.Option("--edit", help="Edit the draft in $EDITOR first")
    ] = False,
    override: Annotated[
        str | None, typer.Option("--override", help="Reason to approve despite grounding findings")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Approve the draft (optionally edited); only approved replies can be exported or sent."""
    if body_file and use_editor:
        fail("give either --body-file or --edit, not both")
    with database() as db:
        row = records.get_inquiry(db, inquiry_id)
        if row is None:
            fail(f"no inquiry with id {inquiry_id}")
        draft = records.latest_draft(db, inquiry_id)
        edited, kept = _edited_text(body_file, use_editor, draft.body if draft else "")
        try:
            reply = review.approve(
                db, inquiry_id, agent=agent, edited_body=edited, override_reason=override
            )
        except review.ReviewError as error:
            _fail_keeping_edit(error, kept)
    if kept is not None:
        kept.unlink(missing_ok=True)
    if as_json:
        _print_json(reply.model_dump(mode="json"))
    else:
        console.print(
            f"inquiry {inquiry_id} approved by {agent}; reply {reply.message_id} ready to send"
        )


@app.command()
def reject(
    inquiry_id: int,
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the audit trail)")],
    agent: AgentOption,
) -> None:
    """Reject the inquiry's draft; nothing will be sent."""
    with database() as db:
        try:
            review.reject(db, inquiry_id, agent=agent, reason=reason)
        except review.ReviewError as error:
            fail(str(error))
    console.print(f"inquiry {inquiry_id} rejected")


@app.command()
def escalate(
    inquiry_id: int,
    agent: AgentOption,
    reason: Annotated[str | None, typer.Option("--reason")] = None,
) -> None:
    """Hand the inquiry to a senior representative (policy §4)."""
    with database() as db:
        try:
            review.escalate(db, inquiry_id, agent=agent, reason=reason)
        except review.ReviewError as error:
            fail(str(error))
    console.print(f"inquiry {inquiry_id} escalated")


@app.command("mark-sent")
def mark_sent(
    inquiry_ids: Annotated[list[int], typer.Argument(help="Inquiries whose replies went out")],
    agent: AgentOption,
    via: Annotated[str, typer.Option("--via", help="How it was sent, for the audit trail")] = (
        "exported file"
    ),
) -> None:
    """Record that approved replies were sent (after `export` without --mark-sent)."""
    inquiry_ids = list(dict.fromkeys(inquiry_ids))
    with database() as db:
        for inquiry_id in inquiry_ids:  # all or none: check every one before marking any
            row = records.get_inquiry(db, inquiry_id)
            if row is None or row.status != "approved":
                state = row.status if row else "unknown"
                fail(f"inquiry {inquiry_id} is {state}, not approved: nothing was marked sent")
        for inquiry_id in inquiry_ids:
            review.mark_sent(db, inquiry_id, actor=agent, transport=via)
    console.print(f"marked sent: {', '.join(map(str, inquiry_ids))}")


@app.command()
def redraft(
    inquiry_id: int,
    agent: AgentOption,
    category: Annotated[
        Category | None, typer.Option(help="Set the category first (manual triage)")
    ] = None,
    backend: BackendOption = None,
) -> None:
    """Draft again, e.g. after setting the category of a 'needs manual triage' inquiry."""
    chosen = _backend(backend)
    with database() as db:
        try:
            review.redraft(
                db, inquiry_id, agent=agent, backend=chosen, policy=_policy(), category=category
            )
        except review.ReviewError as error:
            fail(str(error))
    console.print(f"inquiry {inquiry_id} re-drafted")


def _translator(backend: str | None):
    """The backend that translates, or None with the reason (the local one cannot)."""
    chosen = _backend(backend or "openai")
    return chosen if hasattr(chosen, "translate") else None


@app.command("edit-english")
def edit_english(
    inquiry_id: int,
    agent: AgentOption,
    body_file: Annotated[
        Path | None, typer.Option("--body-file", help="The edited English text")
    ] = None,
    use_editor: Annotated[bool, typer.Option("--edit", help="Edit in $EDITOR")] = False,
    retranslate_after: Annotated[
        bool,
        typer.Option("--retranslate/--no-retranslate", help="Translate the edited English again"),
    ] = True,
    backend: BackendOption = None,
) -> None:
    """Edit the English version of a reply in the customer's language (policy §6)."""
    with database() as db:
        draft = records.latest_draft(db, inquiry_id)
        current = (draft.english_body if draft else None) or ""
        text, kept = _edited_text(body_file, use_editor, current)
        if text is None:
            fail("nothing to save: give --body-file or --edit")
        translator = _translator(backend) if retranslate_after else None
        try:
            draft = review.edit_english(
                db,
                inquiry_id,
                agent=agent,
                english_body=text,
                translator=translator,
                policy=_policy(),
            )
        except review.ReviewError as error:
            _fail_keeping_edit(error, kept)
    if kept is not None:
        kept.unlink(missing_ok=True)
    state = "re-translated" if translator else "customer text NOT re-translated (blocks approval)"
    console.print(f"inquiry {inquiry_id}: English edited, {state}")
    for finding in draft.grounding:
        console.print(f"[yellow]grounding:[/] {finding['message']}", highlight=False)


@app.command()
def retranslate(inquiry_id: int, agent: AgentOption, backend: BackendOption = None) -> None:
    """Translate the reviewed English reply into the customer's language again."""
    translator = _translator(backend)
    if translator is None:
        fail("the local backend cannot translate; use --backend openai or cascade")
    with database() as db:
        try:
            draft = review.retranslate(
                db, inquiry_id, agent=agent, translator=translator, policy=_policy()
            )
        except review.ReviewError as error:
            fail(str(error))
    console.print(draft.body, markup=False)


@app.command()
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
    as_json: JsonFlag = False,
) -> None:
    """Write approved replies (only those) as threaded .eml files or JSONL."""
    from assistant import export as exporter
    from assistant.storage.tables import utcnow

    if fmt not in ("eml", "jsonl"):
        fail(f"unknown format {fmt!r}: eml or jsonl")
    settings = get_settings()
    with database() as db:
        replies = records.approved_replies(db, include_exported=include_exported)
        if not replies:  # and an earlier export file stays as it was
            if as_json:
                _print_json({"exported": 0, "files": []})
            else:
                console.print("nothing to export: no approved replies waiting")
            return
        try:
            if fmt == "eml":
                written = exporter.write_eml(replies, output, settings)
            else:
                output.parent.mkdir(parents=True, exist_ok=True)
                temporary = output.with_suffix(output.suffix + ".part")
                temporary.write_text(exporter.jsonl_lines(replies), encoding="utf-8")
                temporary.replace(output)
                written = [output]
        except OSError as error:
            fail(f"cannot write to {output}: {error.strerror or error}")
        for reply in replies:
            reply.exported_at = utcnow()
            db.add(reply)
        db.commit()
        if mark_sent:
            for reply in replies:
                review.mark_sent(db, reply.inquiry_id, actor="export", transport=f"export {fmt}")
    if as_json:
        _print_json(
            {
                "exported": len(replies),
                "inquiry_ids": [reply.inquiry_id for reply in replies],
                "files": [str(path) for path in written],
                "marked_sent": mark_sent,
            }
        )
        return
    console.print(
        f"exported {len(replies)} approved replies to {output}"
        + (f" ({len(written)} files)" if fmt == "eml" else "")
    )


@policy_app.command("show")
def policy_show(as_json: JsonFlag = False) -> None:
    """The policy sections with their ids, and the policy version drafts record."""
    policy = _policy()
    if as_json:
        _print_json(
            {
                "title": policy.title,
                "version": policy.version,
                "support_address": policy.support_address,
                "missing_documents": policy.missing_documents,
                "sections": [
                    {"id": s.id, "title": s.title, "text": s.text} for s in policy.sections
                ],
            }
        )
        return
    console.print(f"[bold]{policy.title}[/] — version {policy.version}")
    console.print(f"support address: {policy.support_address} (setting ASSISTANT_SUPPORT_ADDRESS)")
    if policy.missing_documents:
        console.print(f"named but not loaded: {', '.join(policy.missing_documents)}", style="dim")
    for section in policy.sections:
        console.rule(section.label)
        console.print(section.text, markup=False)


@app.command()
def train(
    output: Annotated[
        Path | None, typer.Option(help="Where to write the model (default: package)")
    ] = None,
) -> None:
    """Retrain the category classifier from the training data the project keeps."""
    from assistant.classifier import train_and_save

    classifier = train_and_save(output)
    console.print(
        f"trained on fingerprint {classifier.fingerprint[:12]}, labels: {', '.join(c.value for c in classifier.labels)}"
    )

"""The agent's actions: approve, edit, reject, escalate, redraft, correct, withdraw,
no-reply-needed, reopen (the translation edits are in `translation`). Each one is a call to `assistant.review`; a refusal is
its message on one line."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from assistant.cli.common import (
    AgentOption,
    BackendOption,
    JsonFlag,
    VersionOption,
    backend,
    cli_actor,
    database,
    fail,
    print_json,
    read_text_file,
    say,
)

BodyFile = Annotated[Path | None, typer.Option("--body-file", help="The edited text")]
UseEditor = Annotated[bool, typer.Option("--edit", help="Edit in $EDITOR first")]
Confirmed = Annotated[
    bool,
    typer.Option(
        "--translation-confirmed",
        help="You wrote or checked the customer-language text against the English yourself",
    ),
]


def _edited_text(
    body_file: Path | None, use_editor: bool, current: str
) -> tuple[str | None, Path | None]:
    """The edited text, and the file the editor left it in (kept until it is saved)."""
    if body_file and use_editor:
        fail("give either --body-file or --edit, not both")
    if body_file:
        return read_text_file(body_file), None
    if not use_editor:
        return None, None
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    with tempfile.NamedTemporaryFile(
        "w+", suffix=".txt", prefix="crocso-reply-", delete=False, encoding="utf-8"
    ) as handle:
        handle.write(current)
    path = Path(handle.name)
    try:
        subprocess.run([*editor.split(), handle.name], check=True)
        return path.read_text(encoding="utf-8"), path
    except (OSError, subprocess.CalledProcessError, UnicodeDecodeError) as error:
        path.unlink(missing_ok=True)
        fail(f"editor {editor!r} failed: {error}")


def _fail_keeping_edit(error: Exception, kept: Path | None) -> NoReturn:
    """A refused edit is not saved; one typed in the editor stays in its file, named here."""
    if kept is not None:
        fail(f"{error}; nothing was saved, your edit is in {kept} (--body-file {kept})")
    fail(str(error))


def _current(db, inquiry_id: int):
    """The inquiry's current draft (or None), after checking the inquiry exists. The read
    ends its transaction: nothing stays locked while the agent edits."""
    from assistant.storage import records

    row = records.get_inquiry(db, inquiry_id)
    if row is None:
        fail(f"no inquiry with id {inquiry_id}")
    draft = records.current_draft(db, row)
    db.commit()
    return draft


def approve(
    inquiry_id: int,
    agent: AgentOption,
    body_file: BodyFile = None,
    use_editor: UseEditor = False,
    override: Annotated[
        str | None, typer.Option("--override", help="Reason to approve despite grounding findings")
    ] = None,
    draft_version: VersionOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Approve the draft (optionally edited); only approved replies can be exported or sent."""
    from assistant import review
    from assistant.cli.common import policy

    with database() as db:
        draft = _current(db, inquiry_id)
        edited, kept = _edited_text(body_file, use_editor, draft.body if draft else "")
        version = draft_version if draft_version is not None else (draft.version if kept else None)
        try:
            reply = review.approve(
                db,
                inquiry_id,
                agent=cli_actor(db, agent),
                edited_body=edited,
                override_reason=override,
                policy=policy() if edited is not None else None,
                expected_version=version,
            )
        except review.ReviewError as error:
            _fail_keeping_edit(error, kept)
    if kept is not None:
        kept.unlink(missing_ok=True)
    if as_json:
        print_json(reply.model_dump(mode="json"))
    else:
        say(
            f"inquiry {inquiry_id} approved by {agent}; reply {reply.message_id} to {reply.to_address} ready to send"
        )


def edit(
    inquiry_id: int,
    agent: AgentOption,
    body_file: BodyFile = None,
    use_editor: UseEditor = False,
    translation_confirmed: Confirmed = False,
    draft_version: VersionOption = None,
) -> None:
    """Save an edit of the draft without approving it (the customer's text; for a reply in
    another language, `edit-english` edits the English)."""
    from assistant import review
    from assistant.cli.common import policy

    with database() as db:
        draft = _current(db, inquiry_id)
        text, kept = _edited_text(body_file, use_editor, draft.body if draft else "")
        if text is None:
            fail("nothing to save: give --body-file or --edit")
        try:
            saved = review.edit(
                db,
                inquiry_id,
                agent=cli_actor(db, agent),
                body=text,
                policy=policy(),
                expected_version=draft_version
                if draft_version is not None
                else (draft.version if draft else None),
                translation_confirmed=translation_confirmed,
            )
        except review.ReviewError as error:
            _fail_keeping_edit(error, kept)
    if kept is not None:
        kept.unlink(missing_ok=True)
    say(f"inquiry {inquiry_id}: draft saved as version {saved.version}")
    for finding in saved.grounding:
        say(f"grounding: {finding.message}: “{finding.excerpt}”")


def _decide(action, message: str) -> None:
    """Run one agent decision in its own session; its refusal is one line."""
    from assistant.review import ReviewError

    with database() as db:
        try:
            row = action(db)
        except ReviewError as error:
            fail(str(error))
    say(message.format(status=row.status.value) if "{status}" in message else message)


def reject(
    inquiry_id: int,
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the audit trail)")],
    agent: AgentOption,
) -> None:
    """Reject the inquiry's draft; nothing will be sent."""
    from assistant import review

    _decide(
        lambda db: review.reject(db, inquiry_id, agent=cli_actor(db, agent), reason=reason),
        f"inquiry {inquiry_id} rejected",
    )


def escalate(
    inquiry_id: int,
    agent: AgentOption,
    reason: Annotated[str, typer.Option("--reason", help="Why: the senior reads it")],
) -> None:
    """Hand the inquiry to a senior representative (policy §4); only a senior may then
    approve its reply."""
    from assistant import review

    _decide(
        lambda db: review.escalate(db, inquiry_id, agent=cli_actor(db, agent), reason=reason),
        f"inquiry {inquiry_id} escalated",
    )


def withdraw(
    inquiry_id: int,
    agent: AgentOption,
    reason: Annotated[str | None, typer.Option("--reason")] = None,
) -> None:
    """Withdraw an approval before the reply is sent: the draft is reviewable again."""
    from assistant import review

    _decide(
        lambda db: review.withdraw_approval(
            db, inquiry_id, agent=cli_actor(db, agent), reason=reason
        ),
        f"inquiry {inquiry_id}: approval withdrawn, {{status}} again",
    )


def no_reply_needed(
    inquiry_id: int,
    reason: Annotated[str, typer.Option("--reason", help="Why (an auto-reply, spam, ...)")],
    agent: AgentOption,
) -> None:
    """Mark an inquiry as needing no reply (auto-replies, bounces, spam); `reopen` undoes it."""
    from assistant import review

    _decide(
        lambda db: review.mark_no_reply_needed(
            db, inquiry_id, agent=cli_actor(db, agent), reason=reason
        ),
        f"inquiry {inquiry_id}: no reply needed",
    )


def reopen(
    inquiry_id: int,
    agent: AgentOption,
    reason: Annotated[str | None, typer.Option("--reason")] = None,
) -> None:
    """Undo "no reply needed": back to where it was (or to `run`, if it was never triaged)."""
    from assistant import review

    _decide(
        lambda db: review.reopen(db, inquiry_id, agent=cli_actor(db, agent), reason=reason),
        f"inquiry {inquiry_id} reopened: {{status}}",
    )


def redraft(
    inquiry_id: int,
    agent: AgentOption,
    category: Annotated[
        str | None,
        typer.Option(help="Set the category first (manual triage): product_info, order_status, …"),
    ] = None,
    backend_name: BackendOption = None,
    draft_version: VersionOption = None,
    instruction: Annotated[
        str | None,
        typer.Option(help='For an LLM backend: "shorter", "more formal", "mention the exchange"'),
    ] = None,
) -> None:
    """Draft again, e.g. after setting the category of a 'needs manual triage' inquiry."""
    from assistant import review
    from assistant.models import Category

    try:
        chosen_category = Category(category) if category else None
    except ValueError:
        fail(f"unknown category {category!r}; one of: " + ", ".join(c.value for c in Category))
    chosen = backend(backend_name)
    with database() as db:
        try:
            draft = review.redraft(
                db,
                inquiry_id,
                agent=cli_actor(db, agent),
                backend=chosen,
                category=chosen_category,
                expected_version=draft_version,
                instruction=instruction,
            )
        except review.ReviewError as error:
            fail(str(error))
    if instruction and not chosen.takes_instructions:
        say(f"note: the {chosen.name} backend drafts from templates and ignores --instruction")
    say(f"inquiry {inquiry_id} re-drafted (draft version {draft.version})")


def correct(
    inquiry_id: int,
    agent: AgentOption,
    category: Annotated[str | None, typer.Option(help="The right category")] = None,
    urgency: Annotated[str | None, typer.Option(help="urgent or normal")] = None,
    reason: Annotated[str | None, typer.Option("--reason")] = None,
) -> None:
    """Correct the triage (category, urgency): audited, kept by a re-draft, and exported
    for evaluation by `assistant eval corrections`."""
    from assistant import review

    _decide(
        lambda db: review.correct_triage(
            db,
            inquiry_id,
            agent=cli_actor(db, agent),
            category=category,
            urgency=urgency,
            reason=reason,
        ),
        f"triage of inquiry {inquiry_id} corrected",
    )


def register(app: typer.Typer) -> None:
    app.command()(approve)
    app.command()(edit)
    app.command()(reject)
    app.command()(escalate)
    app.command()(withdraw)
    app.command("no-reply-needed")(no_reply_needed)
    app.command()(reopen)
    app.command()(redraft)
    app.command()(correct)

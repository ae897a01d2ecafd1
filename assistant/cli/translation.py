"""The translation edits of a reply in the customer's language (policy §6): edit the
English and translate it again, or give your own translation; re-translate."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from assistant.cli.common import (
    AgentOption,
    BackendOption,
    VersionOption,
    backend,
    cli_actor,
    database,
    fail,
    read_text_file,
    say,
)
from assistant.cli.review import UseEditor, _current, _edited_text, _fail_keeping_edit


def edit_english(
    inquiry_id: int,
    agent: AgentOption,
    body_file: Annotated[
        Path | None, typer.Option("--body-file", help="The edited English text")
    ] = None,
    use_editor: UseEditor = False,
    customer_file: Annotated[
        Path | None,
        typer.Option(
            "--customer-file",
            help="Your own translation of it into the customer's language (no translator needed)",
        ),
    ] = None,
    retranslate_after: Annotated[
        bool,
        typer.Option("--retranslate/--no-retranslate", help="Translate the edited English again"),
    ] = True,
    backend_name: BackendOption = None,
    draft_version: VersionOption = None,
) -> None:
    """Edit the English version of a reply in the customer's language (policy §6)."""
    from assistant import review
    from assistant.cli.common import policy

    customer = read_text_file(customer_file) if customer_file else None
    translator = None
    if customer is None and retranslate_after:
        translator = review.translator_for(backend(backend_name))
    with database() as db:
        draft = _current(db, inquiry_id)
        text, kept = _edited_text(
            body_file, use_editor, (draft.english_body if draft else None) or ""
        )
        if text is None:
            fail("nothing to save: give --body-file or --edit")
        try:
            draft = review.edit_english(
                db,
                inquiry_id,
                agent=cli_actor(db, agent),
                english_body=text,
                translator=translator,
                customer_text=customer,
                policy=policy(),
                expected_version=draft_version
                if draft_version is not None
                else (draft.version if draft else None),
            )
        except review.ReviewError as error:
            _fail_keeping_edit(error, kept)
    if kept is not None:
        kept.unlink(missing_ok=True)
    if customer is not None:
        state = "your translation saved"
    elif translator is not None:
        state = "re-translated"
    elif retranslate_after:
        state = (
            "customer text NOT re-translated: no translator is configured (the local backend "
            "cannot translate); give your translation with --customer-file, or set "
            "ASSISTANT_BACKEND=openai"
        )
    else:
        state = "customer text NOT re-translated (blocks approval)"
    say(f"inquiry {inquiry_id}: English edited, {state}")
    for finding in draft.grounding:
        say(f"grounding: {finding.message}")


def retranslate(
    inquiry_id: int,
    agent: AgentOption,
    backend_name: BackendOption = None,
    draft_version: VersionOption = None,
) -> None:
    """Translate the reviewed English reply into the customer's language again."""
    from assistant import review
    from assistant.cli.common import policy

    translator = review.translator_for(backend(backend_name))
    with database() as db:
        try:
            draft = review.retranslate(
                db,
                inquiry_id,
                agent=cli_actor(db, agent),
                translator=translator,
                policy=policy(),
                expected_version=draft_version,
            )
        except review.ReviewError as error:
            fail(str(error))
    say(draft.body)


def register(app: typer.Typer) -> None:
    app.command("edit-english")(edit_english)
    app.command()(retranslate)

"""The assistant's own state: `policy show`, `audit verify`, `train`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from assistant.cli.common import JsonFlag, database, fail, policy, print_json, say

policy_app = typer.Typer(help="The policy every draft is grounded in.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit trail: who did what, tamper-evident.", no_args_is_help=True)


@policy_app.command("show")
def policy_show(as_json: JsonFlag = False) -> None:
    """The policy sections with their ids, and the policy version drafts record."""
    loaded = policy()
    if as_json:
        print_json(
            {
                "title": loaded.title,
                "version": loaded.version,
                "support_address": loaded.support_address,
                "missing_documents": loaded.missing_documents,
                "sections": [
                    {"id": s.id, "title": s.title, "text": s.text} for s in loaded.sections
                ],
            }
        )
        return
    say(f"{loaded.title} — version {loaded.version}")
    say(f"support address: {loaded.support_address} (setting ASSISTANT_SUPPORT_ADDRESS)")
    if loaded.missing_documents:
        say(f"named but not loaded: {', '.join(loaded.missing_documents)}")
    for section in loaded.sections:
        say(f"\n── {section.label} ──")
        say(section.text)


@audit_app.command("verify")
def audit_verify(
    anchor: Annotated[
        str | None,
        typer.Option(
            "--anchor",
            help="ID:HASH of an event noted earlier (the head verify printed): it must "
            "still be there, unchanged",
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Check the hash chain of the whole audit trail; exit 1 at the first broken link.
    Note the head it prints somewhere else: `--anchor` with it later proves the trail was
    not rewritten in between."""
    from assistant.storage import audit

    noted = _anchor(anchor) if anchor else None
    with database(read_only=True) as db:
        checked, broken = audit.verify(db, noted)
        last_id, last_hash = audit.head(db)
    if as_json:
        print_json(
            {
                "events_checked": checked,
                "ok": broken is None,
                "head": f"{last_id}:{last_hash}",
                "broken_at_event": broken.event_id if broken else None,
                "problem": broken.problem if broken else None,
            }
        )
    elif broken is None:
        say(f"audit trail intact: {checked} events, every link checks out")
        say(f"head: {last_id}:{last_hash}")
    else:
        say(f"audit trail BROKEN after {checked} good events: {broken.problem}")
    if broken is not None:
        raise typer.Exit(1)


def _anchor(text: str) -> tuple[int, str]:
    number, _, digest = text.partition(":")
    if not number.isdigit() or len(digest) != 64:
        fail(f"--anchor takes EVENT_ID:HASH as `audit verify` prints it, not {text!r}")
    return int(number), digest.lower()


def train(
    output: Annotated[
        Path | None, typer.Option(help="Where to write the model (default: package)")
    ] = None,
) -> None:
    """Retrain the category classifier from the training data the project keeps."""
    from assistant.classifier import train_and_save

    classifier = train_and_save(output)
    say(
        f"trained on fingerprint {classifier.fingerprint[:12]}, "
        f"labels: {', '.join(c.value for c in classifier.labels)}"
    )


def register(app: typer.Typer) -> None:
    app.add_typer(policy_app, name="policy")
    app.add_typer(audit_app, name="audit")
    app.command()(train)

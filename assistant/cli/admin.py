"""The assistant's own state: `policy show`, `audit verify`, `train`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from assistant.cli.common import JsonFlag, database, policy, print_json, say

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
def audit_verify(as_json: JsonFlag = False) -> None:
    """Check the hash chain of the whole audit trail; exit 1 at the first broken link."""
    from assistant.storage import audit

    with database() as db:
        checked, broken = audit.verify(db)
    if as_json:
        print_json(
            {
                "events_checked": checked,
                "ok": broken is None,
                "broken_at_event": broken.event_id if broken else None,
                "problem": broken.problem if broken else None,
            }
        )
    elif broken is None:
        say(f"audit trail intact: {checked} events, every link checks out")
    else:
        say(f"audit trail BROKEN after {checked} good events: {broken.problem}")
    if broken is not None:
        raise typer.Exit(1)


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

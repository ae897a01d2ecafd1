"""The audit trail is evidence: the database refuses to change it (UPDATE, DELETE, SQLite's
INSERT OR REPLACE, PostgreSQL's TRUNCATE), and `assistant audit verify` finds the first
broken link when someone with write access changed it anyway."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError
from typer.testing import CliRunner

from assistant import pipeline, review
from assistant.backends.local import LocalBackend
from assistant.cli import app
from assistant.models import InquiryIn
from assistant.storage import audit, records
from assistant.storage.db import session

runner = CliRunner()


def make_trail(db, settings, policy) -> list[int]:
    mails = [
        InquiryIn(
            body="Where is my order 558120?", message_id="<a@x>", from_address="a@example.com"
        ),
        InquiryIn(body="I love my clogs!", message_id="<b@x>", from_address="b@example.com"),
    ]
    pipeline.run(db, mails, LocalBackend(settings, policy))
    review.approve(db, 1, agent="ann")
    return sorted(event.id for i in (1, 2) for event in records.audit_trail(db, i))


@pytest.fixture
def trail(db, settings, policy) -> list[int]:
    """Two inquiries through triage, draft and a review action: a chain of events."""
    return make_trail(db, settings, policy)


def test_an_intact_trail_verifies(db, trail):
    assert audit.verify(db) == (len(trail), None)


def test_insert_or_replace_cannot_rewrite_an_event_on_sqlite(sqlite_engine, settings, policy):
    with session(sqlite_engine) as db:
        _replace_is_refused(db, make_trail(db, settings, policy))


def _replace_is_refused(db, trail: list[int]) -> None:
    with pytest.raises((DBAPIError, IntegrityError), match="append-only"):
        db.execute(
            text(
                "INSERT OR REPLACE INTO audit_event (id, inquiry_id, actor, action, to_status, at) "
                "VALUES (:id, 1, 'mallory', 'approve', 'approved', '2026-01-01')"
            ),
            {"id": trail[0]},
        )
    db.rollback()
    assert records.audit_trail(db, 1)[0].actor == "system"


@pytest.mark.parametrize("statement", ["TRUNCATE audit_event CASCADE", "TRUNCATE inquiry CASCADE"])
def test_truncate_cannot_empty_the_trail_on_postgres(postgres_engine, settings, policy, statement):
    with session(postgres_engine) as db:
        make_trail(db, settings, policy)
        with pytest.raises(DBAPIError, match="append-only"):
            db.execute(text(statement))
        db.rollback()
        assert len(records.audit_trail(db, 1)) == 4


def _without_guards(db) -> None:
    """What someone with write access to the database can do: drop the triggers."""
    if db.get_bind().dialect.name == "postgresql":
        db.execute(text("DROP TRIGGER audit_event_no_change ON audit_event"))
    else:
        db.execute(text("DROP TRIGGER audit_event_no_update"))
        db.execute(text("DROP TRIGGER audit_event_no_delete"))


def test_a_changed_event_is_found(db, trail):
    _without_guards(db)
    approval = trail[-1]  # the approval comes last
    db.execute(text("UPDATE audit_event SET actor = 'mallory' WHERE id = :id"), {"id": approval})
    db.commit()
    checked, broken = audit.verify(db)
    assert checked == len(trail) - 1 and broken.event_id == approval
    assert (
        "approve by mallory" in broken.problem and "changed after it was written" in broken.problem
    )


def test_a_removed_event_is_found(db, trail):
    _without_guards(db)
    db.execute(text("DELETE FROM audit_event WHERE id = :id"), {"id": trail[1]})
    db.commit()
    checked, broken = audit.verify(db)
    assert checked == 1 and broken.event_id == trail[2]
    assert "was removed" in broken.problem


def test_removing_the_last_events_is_found_by_the_head(db, trail):
    _without_guards(db)
    db.execute(text("DELETE FROM outbound_reply"))  # it points at the approval event
    db.execute(text("DELETE FROM audit_event WHERE id = :id"), {"id": max(trail)})
    db.commit()
    checked, broken = audit.verify(db)
    assert checked == len(trail) - 1 and broken.event_id is None
    assert f"names event {max(trail)}" in broken.problem


def test_audit_verify_command(tmp_path, monkeypatch, settings):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    from assistant.settings import get_settings

    get_settings.cache_clear()
    inbox = tmp_path / "mail.jsonl"
    inbox.write_text(json.dumps({"id": "1", "text": "Where is my order 558120?"}) + "\n")
    assert runner.invoke(app, ["run", str(inbox)]).exit_code == 0
    good = runner.invoke(app, ["audit", "verify"])
    assert good.exit_code == 0 and "audit trail intact: 3 events" in good.output
    from assistant.storage.db import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'cli.db'}")
    with engine.begin() as connection:
        connection.execute(text("DROP TRIGGER audit_event_no_update"))
        connection.execute(text("UPDATE audit_event SET reason = 'nothing to see' WHERE id = 2"))
    engine.dispose()
    bad = runner.invoke(app, ["audit", "verify", "--json"])
    assert bad.exit_code == 1
    assert json.loads(bad.stdout)["broken_at_event"] == 2


def test_a_rewritten_trail_is_found_by_an_anchor_noted_earlier(db, trail):
    from assistant.storage.audit import event_hash

    noted = audit.head(db)
    _without_guards(db)
    # A careful forger: change an event and recompute every hash after it, and the head.
    db.execute(text("UPDATE audit_event SET actor = 'mallory' WHERE id = :id"), {"id": trail[0]})
    table = audit.AuditEventRow.__table__
    previous = ""
    for row in db.execute(table.select().order_by(table.c.id)).mappings().all():
        values = {**row, "prev_hash": previous}
        previous = event_hash(values)
        db.execute(
            table.update()
            .where(table.c.id == row["id"])
            .values(prev_hash=values["prev_hash"], hash=previous)
        )
    db.execute(text("UPDATE audit_chain SET last_hash = :h"), {"h": previous})
    db.commit()
    assert audit.verify(db) == (len(trail), None)  # consistent again…
    checked, broken = audit.verify(db, anchor=noted)  # …but not what was noted
    assert broken is not None and "rewritten" in broken.problem

"""Migrations go down and up again without losing rows or the audit trail's protection."""

import pytest
from alembic import command
from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from assistant import pipeline, review
from assistant.backends.local import LocalBackend
from assistant.models import InquiryIn
from assistant.storage import audit, records
from assistant.storage.db import alembic_config, open_database, session
from assistant.storage.queue import review_queue


def _to(engine, revision: str, direction) -> None:
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        direction(config, revision)


def _audit_columns(engine) -> set[str]:
    return {column["name"] for column in inspect(engine).get_columns("audit_event")}


def _assert_append_only(engine, event_id: int) -> None:
    with engine.connect() as connection:
        for statement in (
            "UPDATE audit_event SET actor = 'mallory' WHERE id = :id",
            "DELETE FROM audit_event WHERE id = :id",
        ):
            with pytest.raises((DBAPIError, IntegrityError), match="append-only"):
                connection.execute(text(statement), {"id": event_id})
            connection.rollback()


def test_downgrade_and_upgrade_keep_rows_and_the_append_only_audit_trail(engine, settings, policy):
    inquiry = InquiryIn(
        body="Where is my order 558120?", message_id="<m@x>", from_address="a@example.com"
    )
    with session(engine) as db:
        pipeline.run(db, [inquiry], LocalBackend(settings, policy))
        inquiry_id = review_queue(db)[0].id
        events = [event.id for event in records.audit_trail(db, inquiry_id)]
    assert "english_text" in _audit_columns(engine)

    _to(engine, "0001", command.downgrade)
    assert "english_text" not in _audit_columns(engine)
    assert "llm_call" not in inspect(engine).get_table_names()
    _assert_append_only(engine, events[0])
    with engine.begin() as connection:  # the old code numbers events by the sequence again
        connection.execute(
            text(
                "INSERT INTO audit_event (inquiry_id, actor, action, to_status, at) "
                "VALUES (:id, 'ann', 'escalate', 'escalated', '2026-11-23 10:00:00+00')"
            ),
            {"id": inquiry_id},
        )
    events.append(max(events) + 1)

    _to(engine, "head", command.upgrade)
    assert {"english_text", "hash", "prev_hash"} <= _audit_columns(engine)
    _assert_append_only(engine, events[0])
    with session(engine) as db:
        assert [event.id for event in records.audit_trail(db, inquiry_id)] == events
        row = records.get_inquiry(db, inquiry_id)
        assert row.status == "drafted"
        # The current triage and draft are found again, and the old events are chained.
        assert records.current_draft(db, row).version == 1
        assert audit.verify(db) == (len(events), None)
        review.approve(db, inquiry_id, agent="ann")
        assert audit.verify(db) == (len(events) + 1, None)


def test_the_schema_head_the_code_knows_is_alembics():
    from alembic.script import ScriptDirectory

    from assistant.storage.db import MIGRATIONS, SCHEMA_HEAD

    config = alembic_config(open_database("sqlite://"))
    assert ScriptDirectory.from_config(config).get_current_head() == SCHEMA_HEAD
    assert (MIGRATIONS / "versions").is_dir()


def test_upgrading_a_database_with_duplicate_mail_keeps_both_rows(tmp_path):
    """The old check-then-insert could store the same mail (no Message-ID) twice; the new
    unique index must not make the upgrade fail, nor lose either row."""
    from assistant.storage.db import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    _to(engine, "0003", command.upgrade)
    with engine.begin() as connection:
        for row_id in (1, 2):
            connection.execute(
                text(
                    "INSERT INTO inquiry (id, content_hash, from_address, subject, body, source, "
                    "received_at, ingested_at, status, translation_support) VALUES (:id, 'same', "
                    "'a@example.com', 'Q', 'Where is my order?', 'text', '2026-11-23 10:00:00', "
                    "'2026-11-23 10:00:00', 'received', 0)"
                ),
                {"id": row_id},
            )
            connection.execute(
                text(
                    "INSERT INTO audit_event (inquiry_id, actor, action, to_status, at) "
                    "VALUES (:id, 'system', 'receive', 'received', '2026-11-23 10:00:00')"
                ),
                {"id": row_id},
            )
    _to(engine, "head", command.upgrade)
    with session(engine) as db:
        hashes = [records.get_inquiry(db, i).content_hash for i in (1, 2)]
        assert hashes[0] == "same" and hashes[1] != "same"
        assert audit.verify(db) == (2, None)
    engine.dispose()

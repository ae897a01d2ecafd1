"""workflow core: claims, current triage and draft, draft versions, hash-chained audit trail

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 09:30:00

* inquiry: reply_to, status_reason, claimed_by/claimed_until (work claimed by a process),
  triage_id/draft_id (the current rows, backfilled), source as TEXT (file paths); mail
  without a Message-ID is unique by content (a partial unique index), so two processes
  ingesting the same file cannot both store it.
* triage.set_by (the agent who set the category); draft.version, draft.promises_escalation.
* audit_event.prev_hash/hash, chained over the existing events; the head in audit_chain;
  REPLACE refused on SQLite, TRUNCATE refused on PostgreSQL.

Columns are added with plain ADD COLUMN: a batch (copy-and-move) rebuild on SQLite would
drop the append-only triggers.
"""

import sqlalchemy as sa
from alembic import op

from assistant.storage.audit import event_hash

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_APPEND_ONLY = "audit_event is append-only"


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    op.add_column("inquiry", sa.Column("reply_to", sa.String(320), nullable=True))
    op.add_column("inquiry", sa.Column("status_reason", sa.Text(), nullable=True))
    op.add_column("inquiry", sa.Column("claimed_by", sa.String(64), nullable=True))
    op.add_column("inquiry", sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True))
    op.add_column("inquiry", sa.Column("triage_id", sa.Integer(), nullable=True))
    op.add_column("inquiry", sa.Column("draft_id", sa.Integer(), nullable=True))
    if postgres:  # SQLite does not enforce VARCHAR lengths
        op.alter_column("inquiry", "source", type_=sa.Text(), existing_type=sa.String(64))
    op.create_index(
        "ix_inquiry_content_hash_no_id",
        "inquiry",
        ["content_hash"],
        unique=True,
        sqlite_where=sa.text("message_id IS NULL"),
        postgresql_where=sa.text("message_id IS NULL"),
    )
    op.create_index(
        "ix_inquiry_queue", "inquiry", ["status", "translation_support", "urgency", "due_at", "id"]
    )
    op.execute(
        "UPDATE inquiry SET triage_id = (SELECT max(id) FROM triage "
        "WHERE triage.inquiry_id = inquiry.id), draft_id = (SELECT max(id) FROM draft "
        "WHERE draft.inquiry_id = inquiry.id)"
    )

    op.add_column("triage", sa.Column("set_by", sa.String(128), nullable=True))
    op.add_column("draft", sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
    op.add_column(
        "draft",
        sa.Column("promises_escalation", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.execute(
        "UPDATE draft SET version = (SELECT count(*) FROM draft AS earlier "
        "WHERE earlier.inquiry_id = draft.inquiry_id AND earlier.id <= draft.id)"
    )
    op.execute(
        "UPDATE draft SET promises_escalation = TRUE WHERE template = 'replies/escalation.j2'"
        if postgres
        else "UPDATE draft SET promises_escalation = 1 WHERE template = 'replies/escalation.j2'"
    )

    op.add_column("audit_event", sa.Column("prev_hash", sa.String(64), nullable=True))
    op.add_column("audit_event", sa.Column("hash", sa.String(64), nullable=True))
    chain = op.create_table(
        "audit_chain",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("last_event_id", sa.Integer(), nullable=False),
        sa.Column("last_hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    _drop_guards(postgres)
    last_id, last_hash = _chain_existing_events()
    op.bulk_insert(chain, [{"id": 1, "last_event_id": last_id, "last_hash": last_hash}])
    _create_guards(postgres, refuse_replace_and_truncate=True)
    if postgres:  # explicit ids from now on (storage/audit.py); keep the sequence ahead anyway
        op.execute(
            "SELECT setval(pg_get_serial_sequence('audit_event', 'id'), "
            "greatest((SELECT max(id) FROM audit_event), 1))"
        )


def _chain_existing_events() -> tuple[int, str]:
    bind = op.get_bind()
    events = sa.table(
        "audit_event",
        *(sa.column(name) for name in ("id", "inquiry_id", "draft_id", "actor", "action")),
        *(sa.column(name) for name in ("from_status", "to_status", "text_before")),
        *(sa.column(name) for name in ("text_after", "reason", "english_text", "prev_hash")),
        sa.column("at", sa.DateTime(timezone=True)),
        sa.column("hash"),
    )
    previous, last_id = "", 0
    rows = bind.execute(sa.select(events).order_by(events.c.id)).mappings().all()
    for row in rows:
        values = {**row, "prev_hash": previous}
        digest = event_hash(values)
        bind.execute(
            events.update().where(events.c.id == row["id"]).values(prev_hash=previous, hash=digest)
        )
        previous, last_id = digest, row["id"]
    return last_id, previous


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    _drop_guards(postgres)
    op.drop_table("audit_chain")
    op.drop_column("audit_event", "hash")
    op.drop_column("audit_event", "prev_hash")
    _create_guards(postgres, refuse_replace_and_truncate=False)
    op.drop_column("draft", "promises_escalation")
    op.drop_column("draft", "version")
    op.drop_column("triage", "set_by")
    op.drop_index("ix_inquiry_queue", table_name="inquiry")
    op.drop_index("ix_inquiry_content_hash_no_id", table_name="inquiry")
    if postgres:  # longer sources would not fit again: cut, as 0003 would have refused them
        op.execute("UPDATE inquiry SET source = left(source, 64)")
        op.alter_column("inquiry", "source", type_=sa.String(64), existing_type=sa.Text())
    for column in ("draft_id", "triage_id", "claimed_until", "claimed_by", "status_reason"):
        op.drop_column("inquiry", column)
    op.drop_column("inquiry", "reply_to")


def _drop_guards(postgres: bool) -> None:
    if postgres:
        op.execute("DROP TRIGGER IF EXISTS audit_event_no_change ON audit_event")
        op.execute("DROP TRIGGER IF EXISTS audit_event_no_truncate ON audit_event")
    else:
        for name in ("no_update", "no_delete", "no_replace"):
            op.execute(f"DROP TRIGGER IF EXISTS audit_event_{name}")


def _create_guards(postgres: bool, *, refuse_replace_and_truncate: bool) -> None:
    """UPDATE and DELETE refused (as 0001 did); from 0004 also SQLite's INSERT OR REPLACE
    (which deletes without firing DELETE triggers) and PostgreSQL's TRUNCATE."""
    if postgres:
        op.execute(
            "CREATE TRIGGER audit_event_no_change BEFORE UPDATE OR DELETE ON audit_event "
            "FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()"
        )
        if refuse_replace_and_truncate:
            op.execute(
                "CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event "
                "FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only()"
            )
        return
    for verb in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER audit_event_no_{verb.lower()} BEFORE {verb} ON audit_event "
            f"BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY}'); END"
        )
    if refuse_replace_and_truncate:
        op.execute(
            "CREATE TRIGGER audit_event_no_replace BEFORE INSERT ON audit_event "
            "WHEN EXISTS (SELECT 1 FROM audit_event WHERE id = NEW.id) "
            f"BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY}'); END"
        )

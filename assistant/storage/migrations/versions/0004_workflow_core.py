"""workflow core: claims, current triage and draft, draft versions, hash-chained audit trail

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 09:30:00

* inquiry: reply_to, status_reason, claimed_by/claimed_until (work claimed by a process),
  triage_id/draft_id (the current rows, backfilled), source as TEXT (file paths); mail
  without a Message-ID is unique by content (a partial unique index), so two processes
  ingesting the same file cannot both store it.
* triage.set_by (the agent who set the category); draft.version, draft.promises_escalation.
* audit_event.actor_kind (agent or system), recipient (of an approval), prev_hash/hash, chained over the existing
  events; the head in audit_chain; REPLACE refused on SQLite, TRUNCATE on PostgreSQL.
* Mail without a Message-ID stored twice with the same content (the old check-then-insert
  could race) keeps both rows; the later copies get a content hash of their own, so the new
  unique index can be built and nothing is lost.

Columns are added with plain ADD COLUMN: a batch (copy-and-move) rebuild on SQLite would
drop the append-only triggers.
"""

import hashlib
import json
from datetime import UTC

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_APPEND_ONLY = "audit_event is append-only"
# storage/queue.py's ATTENTION_STATUSES, as of this revision.
_ATTENTION = "'received', 'needs_manual_triage', 'triaged', 'drafted', 'escalated', 'quarantined'"


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
    _separate_duplicates()
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
    if postgres:  # the default queue read in its order, stopping after a page (SQLite's
        # planner does not take a partial index for an IN list; ix_inquiry_queue serves it)
        op.execute(
            "CREATE INDEX ix_inquiry_attention ON inquiry "
            f"(urgency DESC NULLS LAST, due_at, id) WHERE status IN ({_ATTENTION})"
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
    # What the approval gate grepped for until now, so old drafts keep their guard.
    op.execute(
        "UPDATE draft SET promises_escalation = {true} WHERE template = 'replies/escalation.j2' "
        "OR lower(body) LIKE '%passed your case to a senior%' "
        "OR lower(coalesce(english_body, '')) LIKE '%passed your case to a senior%'".format(
            true="TRUE" if postgres else "1"
        )
    )

    op.add_column("audit_event", sa.Column("actor_kind", sa.String(16), nullable=True))
    op.add_column("audit_event", sa.Column("recipient", sa.String(320), nullable=True))
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


_HASHED = (
    "id",
    "inquiry_id",
    "draft_id",
    "actor",
    "actor_kind",
    "action",
    "from_status",
    "to_status",
    "text_before",
    "text_after",
    "reason",
    "english_text",
    "recipient",
    "at",
    "prev_hash",
)


def _event_hash(event: dict) -> str:
    """The chain's hash as of this revision (a copy of storage/audit.py's `event_hash`: a
    migration must keep doing what it did when it was written)."""
    fields = {}
    for name in _HASHED:
        value = event.get(name)
        if name == "at":
            value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
            value = value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        fields[name] = value
    canonical = json.dumps(fields, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def _chain_existing_events() -> tuple[int, str]:
    bind = op.get_bind()
    names = [name for name in _HASHED if name not in ("at", "actor_kind", "recipient")]
    events = sa.table(
        "audit_event",
        *(sa.column(name) for name in names),
        sa.column("actor_kind"),
        sa.column("recipient"),
        sa.column("at", sa.DateTime(timezone=True)),
        sa.column("hash"),
    )
    previous, last_id, updates = "", 0, []
    for row in bind.execute(sa.select(events).order_by(events.c.id)).mappings():
        digest = _event_hash({**row, "prev_hash": previous})
        updates.append({"b_id": row["id"], "b_prev": previous, "b_hash": digest})
        previous, last_id = digest, row["id"]
    if updates:
        bind.execute(
            events.update()
            .where(events.c.id == sa.bindparam("b_id"))
            .values(prev_hash=sa.bindparam("b_prev"), hash=sa.bindparam("b_hash")),
            updates,
        )
    return last_id, previous


def _separate_duplicates() -> None:
    bind = op.get_bind()
    inquiry = sa.table(
        "inquiry", sa.column("id"), sa.column("content_hash"), sa.column("message_id")
    )
    first = (
        sa.select(sa.func.min(inquiry.c.id))
        .where(inquiry.c.message_id.is_(None))
        .group_by(inquiry.c.content_hash)
    )
    later = bind.execute(
        sa.select(inquiry.c.id, inquiry.c.content_hash).where(
            inquiry.c.message_id.is_(None), inquiry.c.id.not_in(first)
        )
    ).all()
    for row_id, digest in later:
        own = hashlib.sha256(f"{digest}:{row_id}".encode()).hexdigest()
        bind.execute(inquiry.update().where(inquiry.c.id == row_id).values(content_hash=own))


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    _drop_guards(postgres)
    op.drop_table("audit_chain")
    op.drop_column("audit_event", "hash")
    op.drop_column("audit_event", "prev_hash")
    op.drop_column("audit_event", "actor_kind")
    op.drop_column("audit_event", "recipient")
    if postgres:  # the old code lets the sequence number events: it must be past our ids
        op.execute(
            "SELECT setval(pg_get_serial_sequence('audit_event', 'id'), "
            "greatest((SELECT max(id) FROM audit_event), 1))"
        )
    _create_guards(postgres, refuse_replace_and_truncate=False)
    op.drop_column("draft", "promises_escalation")
    op.drop_column("draft", "version")
    op.drop_column("triage", "set_by")
    if postgres:
        op.drop_index("ix_inquiry_attention", table_name="inquiry")
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

"""mailbox: the outbox's delivery states, IMAP cursors, the send gate, compressed raw mail

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 14:30:00

* outbound_reply.delivery (approved | sending | sent | failed | uncertain) and what the
  sender needs: attempts, next attempt, the claim, when the text was handed over, the
  server's answer. Replies sent before are `sent`; the others wait as `approved`.
* mailbox_cursor: per IMAP folder, its UIDVALIDITY and the highest UID stored.
* outbox_gate: the row senders lock to keep the send rate cap across processes.
* inquiry.raw_gz: the message as received, compressed (raw, as text, stays for older mail).
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _when(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.add_column(
        "outbound_reply",
        sa.Column("delivery", sa.String(16), nullable=False, server_default="approved"),
    )
    op.execute("UPDATE outbound_reply SET delivery = 'sent' WHERE sent_at IS NOT NULL")
    op.add_column(
        "outbound_reply", sa.Column("attempts", sa.Integer, nullable=False, server_default="0")
    )
    for name in ("next_attempt_at", "claimed_until", "attempt_started_at", "handed_over_at"):
        op.add_column("outbound_reply", _when(name))
    op.add_column("outbound_reply", sa.Column("claimed_by", sa.String(128), nullable=True))
    op.add_column("outbound_reply", sa.Column("delivery_error", sa.Text, nullable=True))
    op.add_column("outbound_reply", sa.Column("server_reply", sa.Text, nullable=True))
    # The outbox's claim: the oldest replies in a state, whatever the table's size.
    op.create_index("ix_outbound_reply_delivery", "outbound_reply", ["delivery", "id"])
    op.create_index(
        "ix_outbound_reply_attempt_started_at", "outbound_reply", ["attempt_started_at"]
    )
    op.create_table(
        "mailbox_cursor",
        sa.Column("mailbox", sa.String(512), primary_key=True),
        sa.Column("uidvalidity", sa.BigInteger, nullable=False),
        sa.Column("last_uid", sa.BigInteger, nullable=False, server_default="0"),
        _when("updated_at", False),
    )
    op.create_table(
        "outbox_gate",
        sa.Column("id", sa.Integer, primary_key=True),
        _when("touched_at"),
    )
    op.execute("INSERT INTO outbox_gate (id) VALUES (1)")
    op.add_column("inquiry", sa.Column("raw_gz", sa.LargeBinary, nullable=True))


def downgrade() -> None:
    op.drop_column("inquiry", "raw_gz")
    op.drop_table("outbox_gate")
    op.drop_table("mailbox_cursor")
    op.drop_index("ix_outbound_reply_attempt_started_at", table_name="outbound_reply")
    op.drop_index("ix_outbound_reply_delivery", table_name="outbound_reply")
    for name in (
        "server_reply",
        "delivery_error",
        "claimed_by",
        "handed_over_at",
        "attempt_started_at",
        "claimed_until",
        "next_attempt_at",
        "attempts",
        "delivery",
    ):
        op.drop_column("outbound_reply", name)

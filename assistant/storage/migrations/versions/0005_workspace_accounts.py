"""workspace: agent accounts, failed logins, who has an inquiry open, the undo window

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 12:00:00

* agent_account: the people who log in to the workspace (argon2 hashes, a role).
* web_session: each login's session, so logging out ends it even if its cookie was copied.
* login_failure: failed logins, for the rate limit across processes.
* inquiry_presence: who has an inquiry open (the collision indicator).
* outbound_reply.send_after: a reply approved in the workspace waits out the undo window.
* inquiry.attachments: name, type and size of each, listed at ingest.
* indexes: inquiry.from_address (a customer's other mail), audit_event.actor ("mine"),
  audit_event (action, at) (the team lead's metrics, by period).
* inquiry.hidden_text: what an HTML mail hid from its reader (a hidden prompt injection,
  say), kept apart from the body for the agent to see; no model reads it.
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _when(name: str, nullable: bool) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "agent_account",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("session_epoch", sa.Integer, nullable=False, server_default="0"),
        sa.Column("single_key_shortcuts", sa.Boolean, nullable=False, server_default=sa.true()),
        _when("created_at", False),
        _when("last_login_at", True),
    )
    op.create_index("ix_agent_account_name", "agent_account", ["name"], unique=True)
    op.create_table(
        "web_session",
        sa.Column("sid", sa.String(64), primary_key=True),
        sa.Column("account_id", sa.Integer, sa.ForeignKey("agent_account.id"), nullable=False),
        _when("created_at", False),
        _when("ended_at", True),
    )
    op.create_index("ix_web_session_account_id", "web_session", ["account_id"])
    op.create_table(
        "login_failure",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        _when("at", False),
    )
    for column in ("name", "address", "at"):
        op.create_index(f"ix_login_failure_{column}", "login_failure", [column])
    op.create_table(
        "inquiry_presence",
        sa.Column("inquiry_id", sa.Integer, sa.ForeignKey("inquiry.id"), primary_key=True),
        sa.Column("account", sa.String(128), primary_key=True),
        _when("opened_at", False),
        _when("seen_at", False),
    )
    op.create_index("ix_inquiry_presence_seen_at", "inquiry_presence", ["seen_at"])
    op.add_column("outbound_reply", _when("send_after", True))
    # The review page's "other mail from this customer"; the queue's "mine" filter.
    op.create_index("ix_inquiry_from_address", "inquiry", ["from_address"])
    op.create_index("ix_audit_event_actor", "audit_event", ["actor"])
    op.create_index("ix_audit_event_action_at", "audit_event", ["action", "at"])  # metrics
    op.add_column("inquiry", sa.Column("hidden_text", sa.Text, nullable=True))
    op.add_column("inquiry", sa.Column("attachments", sa.JSON, nullable=True))


def downgrade() -> None:
    op.drop_column("inquiry", "attachments")
    op.drop_column("inquiry", "hidden_text")
    op.drop_index("ix_audit_event_action_at", table_name="audit_event")
    op.drop_index("ix_audit_event_actor", table_name="audit_event")
    op.drop_index("ix_inquiry_from_address", table_name="inquiry")
    op.drop_column("outbound_reply", "send_after")
    op.drop_table("inquiry_presence")
    op.drop_table("login_failure")
    op.drop_table("web_session")
    op.drop_table("agent_account")

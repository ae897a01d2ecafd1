"""draft: the knowledge-base entries retrieved for it, and the base's version

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 22:00:00

* draft.knowledge: the entries retrieved for the inquiry (id, title, kind, score, whether
  the draft used them) as a JSON list; NULL for drafts written before, which used none.
  The agent sees them beside the draft; grounding lets a draft cite only these.
* draft.knowledge_version: the knowledge base's content hash, like policy_version.
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("draft", sa.Column("knowledge", sa.JSON, nullable=True))
    op.add_column("draft", sa.Column("knowledge_version", sa.String(128), nullable=True))


def downgrade() -> None:
    op.drop_column("draft", "knowledge_version")
    op.drop_column("draft", "knowledge")

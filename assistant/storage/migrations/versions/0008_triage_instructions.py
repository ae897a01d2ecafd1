"""triage: the instructions to the assistant found in the mail

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 19:00:00

* triage.instructions: the parts of the mail that speak to the assistant rather than the
  shop ("ignore previous instructions", a fake "SYSTEM:"), as short excerpts (JSON list;
  NULL when there are none, so triages stored before are unflagged). Triage left them out;
  agents see them as a warning on the review page and a badge in the queue.
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("triage", sa.Column("instructions", sa.JSON, nullable=True))


def downgrade() -> None:
    op.drop_column("triage", "instructions")

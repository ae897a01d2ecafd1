"""content hash no longer unique: only mail without a Message-ID is deduplicated by content

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 03:05:00
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain index operations: no table rebuild, so SQLite keeps its triggers.
    op.drop_index("ix_inquiry_content_hash", table_name="inquiry")
    op.create_index("ix_inquiry_content_hash", "inquiry", ["content_hash"], unique=False)


def downgrade() -> None:
    # Fails if the same text was since stored under two Message-IDs, rather than lose one.
    op.drop_index("ix_inquiry_content_hash", table_name="inquiry")
    op.create_index("ix_inquiry_content_hash", "inquiry", ["content_hash"], unique=True)

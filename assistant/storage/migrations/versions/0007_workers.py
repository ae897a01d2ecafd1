"""workers: Procrastinate's job queue (PostgreSQL), SLA warnings, failed background tasks

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 16:00:00

* On PostgreSQL, Procrastinate's own schema (jobs, locks, periodic runs, worker
  heartbeats), from the installed Procrastinate: the version is pinned in pyproject.toml,
  and upgrading it means a migration here that applies its new SQL migration files.
  SQLite has no queue: the same tasks run in-process there.
* inquiry.sla_warned_at: when the SLA check flagged it as about to breach.
* task_failure: a background task that failed for good (its retries spent), with the
  error, so agents see it rather than a job that silently vanished.
* draft (inquiry_id, version) unique: a draft version is written once.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# Every object Procrastinate's schema creates is named procrastinate_*.
_PROCRASTINATE_OBJECTS = """
SELECT 'TABLE' AS kind, quote_ident(tablename) AS name FROM pg_tables
  WHERE schemaname = current_schema() AND starts_with(tablename, 'procrastinate')
UNION ALL
SELECT 'FUNCTION', p.oid::regprocedure::text FROM pg_proc p
  JOIN pg_namespace n ON n.oid = p.pronamespace
  WHERE n.nspname = current_schema() AND starts_with(p.proname, 'procrastinate')
UNION ALL
SELECT 'TYPE', quote_ident(t.typname) FROM pg_type t
  JOIN pg_namespace n ON n.oid = t.typnamespace
  WHERE n.nspname = current_schema() AND starts_with(t.typname, 'procrastinate')
    AND (t.typtype = 'e' OR t.typrelid IN (SELECT oid FROM pg_class WHERE relkind = 'c'))
"""


def upgrade() -> None:
    op.add_column("inquiry", sa.Column("sla_warned_at", sa.DateTime(timezone=True)))
    op.create_table(
        "task_failure",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("task", sa.String(64), nullable=False),
        sa.Column("job_id", sa.BigInteger, nullable=True),
        sa.Column("inquiry_id", sa.Integer, sa.ForeignKey("inquiry.id"), nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="1"),
        sa.Column("error", sa.Text, nullable=False),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_task_failure_failed_at", "task_failure", ["failed_at"])
    op.create_index("ix_task_failure_inquiry", "task_failure", ["inquiry_id", "resolved_at"])
    # One draft per inquiry and version: a second writer of the same version is refused by
    # the database, whatever the code path (re-delivered jobs, two workers).
    op.create_index("ux_draft_inquiry_version", "draft", ["inquiry_id", "version"], unique=True)
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        from procrastinate.schema import SchemaManager

        # Straight to the driver, with no parameters: the schema is SQL text full of `::`
        # casts and `%` signs that SQLAlchemy or psycopg would otherwise read as placeholders.
        with bind.connection.dbapi_connection.cursor() as cursor:
            cursor.execute(SchemaManager.get_schema())
        # Fetching a job asks whether its lock is held by a waiting or running job, and the
        # sweep asks which inquiries have one: without this index, a backlog of thousands
        # (before the statistics catch up) makes every fetch a scan of the whole table.
        op.execute(
            "CREATE INDEX ix_procrastinate_jobs_live_lock ON procrastinate_jobs (lock)"
            " WHERE status IN ('todo', 'doing')"
        )


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        found = bind.exec_driver_sql(_PROCRASTINATE_OBJECTS).all()
        for kind in ("TABLE", "FUNCTION", "TYPE"):
            for object_kind, name in found:
                if object_kind == kind:
                    bind.exec_driver_sql(f"DROP {kind} IF EXISTS {name} CASCADE")
    op.drop_index("ux_draft_inquiry_version", table_name="draft")
    op.drop_index("ix_task_failure_inquiry", table_name="task_failure")
    op.drop_index("ix_task_failure_failed_at", table_name="task_failure")
    op.drop_table("task_failure")
    op.drop_column("inquiry", "sla_warned_at")

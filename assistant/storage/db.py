"""Engine, sessions and migrations. SQLite file by default; PostgreSQL via DATABASE_URL.

The schema is created and upgraded by Alembic migrations (shipped in the package), the
same way on a laptop's SQLite file and on the team's PostgreSQL. Several processes may
open the same database at once:

* SQLite: a transaction that may write starts with BEGIN IMMEDIATE, so writers queue (up to
  `SQLITE_BUSY_SECONDS`) instead of failing with "database is locked" when one of them
  read before it wrote. It holds the write lock until it ends: keep such transactions
  short, and never open while an editor or an LLM works. A read-only session
  (`session(engine, read_only=True)`: queue, show) starts a plain BEGIN and, in WAL
  mode, neither waits for writers nor blocks them.
* PostgreSQL: migrations run under an advisory lock, so two processes starting on a new
  database do not both create the tables.
* A database already at the newest revision is recognised with one query, without
  importing Alembic: commands that only read start fast.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import StaticPool
from sqlmodel import Session

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# The newest migration (tests check it against Alembic's own idea of the head).
SCHEMA_HEAD = "0009"
SQLITE_BUSY_SECONDS = 60.0
_MIGRATION_LOCK = 7_421_133  # pg_advisory_xact_lock key: "one migrator at a time"


def make_engine(url: str) -> Engine:
    """An engine for `url`, its parent folder created for a SQLite file. Statement
    parameters never appear in error messages or logs: they hold customers' mail."""
    if url.startswith("sqlite"):
        connect_args = {"check_same_thread": False, "timeout": SQLITE_BUSY_SECONDS}
        if url in ("sqlite://", "sqlite:///:memory:"):
            engine = create_engine(
                url, connect_args=connect_args, poolclass=StaticPool, hide_parameters=True
            )
        else:
            path = url.split("sqlite:///", 1)[-1]
            if path:
                Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(url, connect_args=connect_args, hide_parameters=True)
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    # A workspace serves tens of agents at once from one process: enough connections that
    # a burst of approvals waits on row locks, not on the pool.
    engine = create_engine(
        url, pool_pre_ping=True, hide_parameters=True, pool_size=10, max_overflow=30
    )
    event.listen(engine, "connect", _postgres_utc)
    return engine


def _postgres_utc(dbapi_connection, _record) -> None:
    """Times come back in UTC whatever the server's zone: the CLI labels them UTC."""
    with dbapi_connection.cursor() as cursor:
        cursor.execute("SET TIME ZONE 'UTC'")
    dbapi_connection.commit()


def _sqlite_connect(dbapi_connection, _record) -> None:
    # The driver's own transaction handling is off: `_sqlite_begin` starts every one.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(connection) -> None:
    """Take the write lock at the start: a transaction that read and then wanted to write
    would fail at once if another process wrote in between (WAL's "busy snapshot")."""
    mode = connection.get_execution_options().get("sqlite_begin", "IMMEDIATE")
    connection.exec_driver_sql(f"BEGIN {mode}")


def alembic_config(engine: Engine):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    url = engine.url.render_as_string(hide_password=False)
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))  # configparser syntax
    return config


def schema_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None for an empty database."""
    try:
        with engine.execution_options(sqlite_begin="DEFERRED").connect() as connection:
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except DBAPIError:
        return None


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (creates it on an empty database). One
    process at a time: the others wait, then find the work done."""
    if schema_revision(engine) == SCHEMA_HEAD:
        return
    from alembic import command

    config = alembic_config(engine)
    with engine.begin() as connection:  # on SQLite, BEGIN IMMEDIATE is the lock
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def open_database(url: str) -> Engine:
    engine = make_engine(url)
    migrate(engine)
    return engine


def session(engine: Engine, read_only: bool = False) -> Session:
    """A session; `read_only` ones (for commands that only read) take no write lock on
    SQLite. Nothing stops them writing, but a write there may fail with "busy"."""
    bind = engine.execution_options(sqlite_begin="DEFERRED") if read_only else engine
    return Session(bind, expire_on_commit=False)

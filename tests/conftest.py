"""Shared fixtures: isolated storage per test (SQLite in memory, or the real PostgreSQL),
settings that point nowhere outside the test, and no network for model calls.
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from assistant.policy import default_policy
from assistant.settings import Settings, get_settings
from assistant.storage.db import open_database, session

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "samples" / "inbox"
KNOWLEDGE_SAMPLES = REPO / "samples" / "knowledge"
POSTGRES_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session", autouse=True)
def trained_classifier():
    """The classifier, trained (or loaded) once for the whole session, before any test:
    no single test pays the ~20 s of a first training."""
    from assistant.classifier import load_classifier

    return load_classifier()


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path, monkeypatch):
    """Every test gets its own database file and the default policy and thresholds."""
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'assistant.db'}")
    monkeypatch.setenv("ASSISTANT_LLM_CAPABILITIES_FILE", str(tmp_path / "llm-capabilities.json"))
    monkeypatch.setenv("ASSISTANT_LLM_CALIBRATION_FILE", str(tmp_path / "llm-calibration.json"))
    for name in (
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "ASSISTANT_BACKEND",
        "ASSISTANT_KNOWLEDGE_DIR",
    ):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    default_policy.cache_clear()
    yield
    get_settings.cache_clear()
    default_policy.cache_clear()


@pytest.fixture
def settings() -> Settings:
    return get_settings()


@pytest.fixture
def example_knowledge(monkeypatch) -> Path:
    """The example knowledge base of samples/knowledge, configured as a team's would be."""
    monkeypatch.setenv("ASSISTANT_KNOWLEDGE_DIR", str(KNOWLEDGE_SAMPLES))
    get_settings.cache_clear()
    return KNOWLEDGE_SAMPLES


@pytest.fixture
def policy():
    return default_policy()


def _postgres_available() -> str | None:
    """None if PostgreSQL answers, else the reason it cannot be used."""
    try:
        import psycopg

        with psycopg.connect(
            POSTGRES_URL.replace("postgresql://", "postgresql://", 1), connect_timeout=3
        ):
            return None
    except Exception as error:  # noqa: BLE001
        return f"PostgreSQL at {POSTGRES_URL} is not reachable ({type(error).__name__})"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request):
    """The same storage tests on SQLite (in memory) and on the real PostgreSQL server."""
    yield from _engine(request.param, "sqlite://")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def shared_engine(request, tmp_path):
    """For tests with several sessions at once, as several processes have: a SQLite file
    (an in-memory database is one connection) or the real PostgreSQL server."""
    yield from _engine(request.param, f"sqlite:///{tmp_path / 'shared.db'}")


def require_postgres() -> None:
    """Skip without PostgreSQL, with the reason; under CI=true it must be there."""
    reason = _postgres_available()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI needs PostgreSQL: {reason}")
        pytest.skip(reason)


@pytest.fixture
def empty_postgres_url():
    """The URL of a new, empty PostgreSQL schema (dropped afterwards): a brand-new database
    as several processes may find it."""
    require_postgres()
    from assistant.storage.db import make_engine

    schema = f"t_{uuid.uuid4().hex[:10]}"
    admin = make_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    with admin.begin() as connection:
        connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


@pytest.fixture
def sqlite_engine():
    """For what only SQLite has (INSERT OR REPLACE, say)."""
    yield from _engine("sqlite", "sqlite://")


@pytest.fixture
def postgres_engine():
    """For what only PostgreSQL has (TRUNCATE, say): required under CI=true."""
    yield from _engine("postgres", "")


def _engine(kind: str, sqlite_url: str):
    if kind == "sqlite":
        engine = open_database(sqlite_url)
        yield engine
        engine.dispose()
        return
    require_postgres()
    schema = f"t_{uuid.uuid4().hex[:10]}"
    from assistant.storage.db import make_engine, migrate

    admin = make_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    engine = make_engine(f"{POSTGRES_URL}?options=-csearch_path%3D{schema}")
    migrate(engine)
    yield engine
    engine.dispose()
    with admin.begin() as connection:
        connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


@pytest.fixture
def db(engine):
    with session(engine) as db:
        yield db


MONDAY_MORNING = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)

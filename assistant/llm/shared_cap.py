"""A cap on requests in flight to one LLM server across every process of a team, held in
PostgreSQL, so ten workers do not flood a local server that answers one at a time.

Each slot is a session-level advisory lock (`pg_try_advisory_lock(server, k)`, k < cap)
on one connection per process: PostgreSQL releases a dead process's locks with its
session, so a worker killed with -9 leaks no slot. A process tracks which slots it holds
itself, as a session may take its own advisory lock twice.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import threading

import psycopg
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

UNSHARED = -1  # the database is unreachable: the request goes on under the local limit
POLL_FIRST, POLL_MAX = 0.02, 0.25  # seconds between tries while every slot is taken
_TAKE = """
SELECT k FROM generate_series(0, %(cap)s - 1) AS k
WHERE k <> ALL(%(held)s) AND pg_try_advisory_lock(%(space)s, k)
LIMIT 1
"""


def lock_space(server: str) -> int:
    """A stable 32-bit advisory-lock namespace for one server."""
    digest = hashlib.blake2b(f"crocso-llm-slots|{server}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big", signed=True)


def conninfo(database_url: str) -> str:
    """A libpq URL from our DATABASE_URL (which may name a SQLAlchemy driver)."""
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


class SharedSlots:
    """`cap` slots for one server, shared by every process on one PostgreSQL database."""

    def __init__(self, database_url: str, server: str, cap: int):
        self._conninfo = conninfo(database_url)
        self.space, self.cap = lock_space(server), max(1, cap)
        self._lock = threading.Lock()
        self._connection: psycopg.Connection | None = None
        self._held: set[int] = set()
        self._warned = False

    def try_take(self) -> int | None:
        """A free slot, now, or None when all are taken."""
        with self._lock:
            if len(self._held) >= self.cap:
                return None
            try:
                row = (
                    self._connect()
                    .execute(
                        _TAKE, {"cap": self.cap, "held": list(self._held), "space": self.space}
                    )
                    .fetchone()
                )
            except psycopg.Error as error:
                self._lost(error)
                return UNSHARED
            if row is None:
                return None
            self._held.add(row[0])
            return row[0]

    def give_back(self, slot: int) -> None:
        with self._lock:
            if slot not in self._held:
                return  # unshared, or the connection was lost and the server let it go
            self._held.discard(slot)
            try:
                self._connect().execute("SELECT pg_advisory_unlock(%s, %s)", (self.space, slot))
            except psycopg.Error as error:
                self._lost(error)

    async def take(self) -> int:
        """Wait for a slot; the database round trips run off the event loop."""
        pause = POLL_FIRST
        while (slot := await asyncio.to_thread(self.try_take)) is None:
            await asyncio.sleep(pause * random.uniform(0.5, 1.5))
            pause = min(POLL_MAX, pause * 1.5)
        return slot

    async def give_back_async(self, slot: int) -> None:
        if slot != UNSHARED:
            await asyncio.to_thread(self.give_back, slot)

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()  # the server releases every slot of this session
            self._connection, self._held = None, set()

    def _connect(self) -> psycopg.Connection:
        if self._connection is None or self._connection.closed:
            self._connection = psycopg.connect(self._conninfo, autocommit=True, connect_timeout=5)
            self._held = set()  # a new session holds nothing
        return self._connection

    def _lost(self, error: psycopg.Error) -> None:
        """The connection failed: its slots went with its session. Requests go on under the
        process's own limit rather than fail; said once, not per request."""
        if self._connection is not None:
            self._connection.close()
        self._connection, self._held = None, set()
        if not self._warned:
            log.warning("LLM slots not shared (PostgreSQL: %s); the local limit applies", error)
            self._warned = True


_lock = threading.Lock()
_slots: dict[tuple[str, str], SharedSlots] = {}


def shared_slots_for(database_url: str, server: str, cap: int | None) -> SharedSlots | None:
    """This process's shared slots for `server`, when a cap is set and the database is
    PostgreSQL (SQLite means one process: the local limit is the cap)."""
    if not cap or not database_url.startswith("postgresql"):
        return None
    with _lock:
        slots = _slots.get((database_url, server))
        if slots is None or slots.cap != cap:
            if slots is not None:
                slots.close()
            slots = _slots[(database_url, server)] = SharedSlots(database_url, server, cap)
        return slots

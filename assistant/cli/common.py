"""What every command shares: one-line errors, the database, the backend, the policy,
JSON output. Heavy modules (the classifier, Alembic, the LLM client, rich) are imported
only by the commands that need them, so a command that only reads starts fast.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

if TYPE_CHECKING:
    from sqlmodel import Session

    from assistant.backends import Backend
    from assistant.policy import Policy

JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable JSON output.")]
AgentOption = Annotated[
    str, typer.Option("--agent", help="Your name, recorded in the audit trail.")
]
BackendOption = Annotated[
    str | None, typer.Option("--backend", help="local | openai | cascade (default: settings)")
]
VersionOption = Annotated[
    int | None,
    typer.Option(
        "--draft-version",
        help="The draft version you reviewed (`show` prints it): refused if it changed since",
    ),
]
EXIT_QUARANTINED = 3  # the good mail was stored and processed; some was quarantined


def fail(message: str, code: int = 1) -> NoReturn:
    """One line on stderr (never wrapped, no terminal escapes from a file name) and exit."""
    sys.stderr.write(f"error: {' '.join(printable(str(message)).split())}\n")
    raise typer.Exit(code)


def print_json(payload: Any) -> None:
    sys.stdout.write(json.dumps(payload, ensure_ascii=False, indent=2, default=str) + "\n")


def say(text: str) -> None:
    sys.stdout.write(text + "\n")


_TERMINAL_SEQUENCES = re.compile(
    r"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC (links, titles), ended by BEL or ST
    r"|\x1b[\[P^_][0-?]*[ -/]*[@-~]?"  # CSI and friends (colours, clear screen, hidden text)
    r"|\x1b."
)
_INVISIBLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u200e\u200f]")


def printable(text: str | None) -> str:
    """Mail text made safe for the agent's terminal: no escape sequences (a sender could
    clear the screen, hide text or plant a link) and no bidirectional overrides (which
    make text read differently than it is stored)."""
    if not text:
        return ""
    return _INVISIBLE.sub("", _TERMINAL_SEQUENCES.sub("", text))


def settings():
    from assistant.settings import get_settings

    return get_settings()


@contextmanager
def database(read_only: bool = False) -> Iterator[Session]:
    """A session for one command; `read_only` for commands that only read (no lock)."""
    from assistant.storage.db import open_database, session

    url = settings().database_url
    try:
        engine = open_database(url)
    except Exception as error:  # noqa: BLE001 - one line for the user, not a traceback
        fail(f"cannot open database {_without_password(url)}: {str(error).splitlines()[0]}")
    try:
        with session(engine, read_only=read_only) as db:
            yield db
    finally:
        engine.dispose()


def cli_actor(db: Session, name: str):
    """The agent a command acts as: an active workspace account once the team has any."""
    from assistant.accounts import cli_actor as resolve

    return resolve(db, name)


def _without_password(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - unparseable: hide whatever stands before an @
        return re.sub(r"(?<=://)[^/]*@", "***@", url) if "@" in url else url


def policy() -> Policy:
    from assistant.policy import PolicyError, default_policy

    try:
        return default_policy()
    except (OSError, PolicyError) as error:
        fail(f"cannot load the policy: {error}")


def backend(name: str | None) -> Backend:
    from assistant.backends import UnknownBackend, get_backend

    chosen = settings()
    try:
        return get_backend(name or chosen.backend, chosen, policy())
    except UnknownBackend as error:
        fail(str(error))


def read_text_file(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        fail(f"cannot read {path}: {getattr(error, 'strerror', None) or error}")

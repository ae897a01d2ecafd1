"""`make bench` (part 5): the mailbox against real servers on loopback, on PostgreSQL.

* poll: 1,000 mails from Debian's Dovecot (a private instance, tests/mail_servers.py) into
  the database by `assistant.mailbox.polling.poll_once`: the test corpus
  (tests/mail_corpus.py: ordinary customer mail and its special mails, an auto-reply, a
  bounce, a MIME bomb..., without the 12 MB one), each given a Message-ID of its own so
  every mail is stored. Appending the mail is not timed, the poll is. Once read-only (the
  mail stays in INBOX) and once moving it to `Processed` (MOVE); a fresh database and a
  fresh Dovecot each time. Goal ≥ 100 mails/s.
* send: 500 approved replies (pipeline.run with the local backend, then review.approve;
  not timed) out through `assistant.mailbox.sending.send_due` to an aiosmtpd server; each
  must arrive once. Once plain, once also appending a copy of each reply to Dovecot's
  `Sent` folder; a fresh database each time. Goal ≥ 50 replies/s.

The database is `bench_mail` on the PostgreSQL server at --url (dropped and made again for
each run, as bench/web_bench.py does with its own). Without a reachable server the bench
says so and measures on a SQLite file instead (the report says which). `--profile` runs
each figure that misses its goal once more under cProfile (not counted in the figures) and
prints where the time goes; the .pstats files go to reports/.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

REPORT = REPO / "reports" / "mail-bench.json"
DATABASE = "bench_mail"
MAILS = 1000
REPLIES = 500
GOALS = {"poll": 100.0, "send": 50.0}  # mails a second in, replies a second out
UNIT = {"poll": "mails", "send": "replies"}


# -- the database -------------------------------------------------------------------------


class Databases:
    """A fresh, empty database for each run: `bench_mail` on PostgreSQL (dropped and made
    again), or a new SQLite file when no PostgreSQL server is reachable."""

    def __init__(self, base: str, *, force_sqlite: bool = False) -> None:
        import psycopg
        import web_bench  # its PostgreSQL helpers (bench/ is this script's folder)

        self.base, self.web = base, web_bench
        self.folder: Path | None = None
        self.note: str | None = None
        if force_sqlite:
            self.note = "SQLite asked for (--sqlite)"
        else:
            try:
                web_bench.recreate_database(base, DATABASE)
            except psycopg.OperationalError as error:
                said = str(error).strip()
                reason = said.splitlines()[0] if said else type(error).__name__
                self.note = f"PostgreSQL unreachable at {base} ({reason})"
        self.kind = "postgresql" if self.note is None else "sqlite"
        if self.kind == "sqlite":
            self.folder = Path(tempfile.mkdtemp(prefix="mail-bench-"))
            print(f"mail bench: {self.note}: measuring on a SQLite file instead")
        self.runs = 0

    def fresh(self) -> str:
        """The URL of an empty database (not migrated yet)."""
        self.runs += 1
        if self.folder is not None:
            return f"sqlite:///{self.folder / f'run-{self.runs}.db'}"
        if self.runs > 1:  # the first was made by __init__, to see whether the server is there
            self.web.recreate_database(self.base, DATABASE)
        return self.web.with_database(self.base, DATABASE)

    def describe(self) -> dict[str, Any]:
        if self.kind == "postgresql":
            return {"kind": "postgresql", "database": DATABASE}
        return {"kind": "sqlite", "sqlite": sqlite3.sqlite_version, "why": self.note}

    def machine(self) -> dict[str, Any]:
        if self.kind == "postgresql":
            found = self.web.machine(self.web.with_database(self.base, DATABASE))
        else:
            commit = subprocess.run(
                ["git", "-C", str(REPO), "describe", "--always", "--dirty"],
                capture_output=True,
                text=True,
            ).stdout.strip()
            found = {
                "cpus": os.cpu_count(),
                "python": sys.version.split()[0],
                "postgresql": None,
                "commit": commit or None,
            }
        dovecot = subprocess.run(["dovecot", "--version"], capture_output=True, text=True)
        found["dovecot"] = dovecot.stdout.strip() or None
        found["aiosmtpd"] = metadata.version("aiosmtpd")
        return found

    def close(self, keep: bool) -> None:
        if self.folder is not None:
            if keep:
                print(f"SQLite files kept in {self.folder}")
            else:
                shutil.rmtree(self.folder, ignore_errors=True)
        elif not keep:
            self.web.drop_database(self.base, DATABASE)


# -- the mail -----------------------------------------------------------------------------

MESSAGE_ID = re.compile(rb"^Message-ID:[^\r\n]*(?:\r?\n[ \t][^\r\n]*)*", re.IGNORECASE | re.M)


def with_message_id(data: bytes, message_id: str) -> bytes:
    """The mail with its (top-level) Message-ID replaced."""
    head, gap, body = data.partition(b"\r\n\r\n")
    if not gap:
        head, gap, body = data.partition(b"\n\n")
    head, found = MESSAGE_ID.subn(b"Message-ID: " + message_id.encode(), head, count=1)
    if not found:
        raise ValueError(f"no Message-ID in {data[:200]!r}")
    return head + gap + body


def bench_mails(n: int) -> tuple[list[bytes], int]:
    """n corpus mails without the 12 MB one, each with a Message-ID of its own; and their
    size in bytes."""
    from tests.mail_corpus import SPECIAL, corpus

    mails = [data for name, data in corpus(n + 1) if name != SPECIAL["large"]][:n]
    assert len(mails) == n, len(mails)
    unique = [
        with_message_id(data, f"<mail-bench-{i:05d}@bench.crocso.example>")
        for i, data in enumerate(mails)
    ]
    return unique, sum(len(data) for data in unique)


def approved_replies(engine, n: int) -> list[int]:
    """n customers' mails, drafted by the local backend and approved by an agent (as
    tests/test_mailbox.py's helper of that name makes them)."""
    from assistant import pipeline, review
    from assistant.backends.local import LocalBackend
    from assistant.models import InquiryIn, InquiryStatus
    from assistant.policy import default_policy
    from assistant.settings import Settings
    from assistant.storage import records
    from assistant.storage.db import session

    mails = [
        InquiryIn(
            message_id=f"<order-{i}@customer.example>",
            references=f"<earlier-{i}@customer.example>",
            from_address=f"customer{i}@customer.example",
            subject=f"Order {1000 + i}",
            body=f"Hello, where is my order {1000 + i}? It has not arrived yet. Thanks, C.",
        )
        for i in range(n)
    ]
    with session(engine) as db:
        pipeline.run(db, mails, LocalBackend(Settings(), default_policy()))
        ids = records.ids_with_status(db, InquiryStatus.drafted)
        for inquiry_id in ids:
            review.approve(db, inquiry_id, agent="ann", override_reason="checked by hand")
    if len(ids) != n:
        raise RuntimeError(f"{len(ids)} of {n} inquiries were drafted, to approve")
    return ids


# -- the runs -----------------------------------------------------------------------------


def timed(call: Callable[[], Any], profile: cProfile.Profile | None) -> tuple[Any, float]:
    started = time.perf_counter()
    result = call() if profile is None else profile.runcall(call)
    return result, time.perf_counter() - started


def poll_run(
    databases: Databases,
    mails: list[bytes],
    processed: str | None,
    profile: cProfile.Profile | None = None,
) -> dict[str, Any]:
    """Append the mails to a fresh Dovecot's INBOX, then time one poll into a fresh
    database."""
    from assistant.mailbox.polling import poll_once
    from assistant.settings import Settings
    from assistant.storage.db import open_database, session
    from tests.mail_servers import Dovecot

    url = databases.fresh()
    started = time.perf_counter()
    engine = open_database(url)
    dovecot = Dovecot()
    try:
        dovecot.append_many("INBOX", mails)
        settings = Settings(imap_url=dovecot.url(), imap_processed_folder=processed)
        setup = time.perf_counter() - started
        with session(engine) as db:
            summary, seconds = timed(lambda: poll_once(db, settings), profile)
        inbox_left = len(dovecot.uids("INBOX"))
        moved_there = len(dovecot.uids(processed)) if processed else 0
    finally:
        dovecot.stop(wait=False)
        engine.dispose()
    n = len(mails)
    problems = []
    if summary.fetched != n:
        problems.append(f"fetched {summary.fetched} of {n}")
    if summary.stored != n:
        problems.append(f"stored {summary.stored} of {n} ({summary.duplicates} duplicates)")
    if processed and (inbox_left, moved_there) != (0, n):
        problems.append(f"{inbox_left} left in INBOX, {moved_there} in {processed}")
    if not processed and inbox_left != n:
        problems.append(f"{inbox_left} of {n} left in INBOX")
    return {
        "mails": n,
        "seconds": round(seconds, 3),
        "per_s": round(n / seconds, 1),
        "setup_seconds_not_timed": round(setup, 1),
        "stored": summary.stored,
        "duplicates": summary.duplicates,
        "quarantined": summary.quarantined,
        "no_reply_needed": summary.no_reply_needed,
        "moved": summary.moved,
        "problems": problems,
    }


def send_run(
    databases: Databases,
    n: int,
    sent_copy: bool,
    profile: cProfile.Profile | None = None,
) -> dict[str, Any]:
    """n approved replies in a fresh database, then time one `send_due` to a fresh
    aiosmtpd (and a fresh Dovecot's Sent folder, with `sent_copy`)."""
    from sqlmodel import func, select

    from assistant.mailbox.sending import send_due
    from assistant.models import DeliveryState
    from assistant.settings import Settings
    from assistant.storage.db import open_database, session
    from assistant.storage.tables import OutboundReplyRow
    from tests.mail_servers import Dovecot, SmtpSink

    url = databases.fresh()
    started = time.perf_counter()
    engine = open_database(url)
    sink = SmtpSink()
    dovecot = Dovecot() if sent_copy else None
    try:
        approved_replies(engine, n)
        imap = {"imap_url": dovecot.url(), "imap_sent_folder": "Sent"} if dovecot else {}
        settings = Settings(smtp_url=sink.url, send_rate=1_000_000, **imap)
        setup = time.perf_counter() - started
        with session(engine) as db:
            summary, seconds = timed(lambda: send_due(db, settings), profile)
        with session(engine, read_only=True) as db:
            sent_rows = db.exec(
                select(func.count())
                .select_from(OutboundReplyRow)
                .where(OutboundReplyRow.delivery == DeliveryState.sent)
            ).one()
        in_sent = len(dovecot.uids("Sent")) if dovecot else None
    finally:
        sink.stop()
        if dovecot:
            dovecot.stop(wait=False)
        engine.dispose()
    received = len(sink.received)
    distinct = len({message.message_id for message in sink.received})
    problems = []
    if received != n or distinct != n:
        problems.append(f"the SMTP server received {received} ({distinct} distinct) of {n}")
    if summary.sent != n or sent_rows != n:
        problems.append(f"sent {summary.sent} of {n} ({sent_rows} rows marked sent)")
    if summary.failed or summary.retry_later or summary.uncertain:
        problems.append(
            f"failed {summary.failed}, retry later {summary.retry_later}, "
            f"uncertain {summary.uncertain}"
        )
    if dovecot and in_sent != n:
        problems.append(f"{in_sent} of {n} copies in Sent")
    problems.extend(summary.notes[:5])
    return {
        "replies": n,
        "seconds": round(seconds, 3),
        "per_s": round(n / seconds, 1),
        "setup_seconds_not_timed": round(setup, 1),
        "received_by_smtp": received,
        "copies_in_sent": in_sent,
        "problems": problems,
    }


RUNS: dict[str, tuple[str, str, Callable[..., dict[str, Any]]]] = {
    # key: (kind, label, run(databases, args, mails, profile))
    "poll_read_only": (
        "poll",
        "poll, mail left in INBOX",
        lambda dbs, args, mails, p: poll_run(dbs, mails, None, p),
    ),
    "poll_move": (
        "poll",
        "poll, MOVE to Processed",
        lambda dbs, args, mails, p: poll_run(dbs, mails, "Processed", p),
    ),
    "send": ("send", "send", lambda dbs, args, mails, p: send_run(dbs, args.replies, False, p)),
    "send_sent_copy": (
        "send",
        "send, copy appended to Sent",
        lambda dbs, args, mails, p: send_run(dbs, args.replies, True, p),
    ),
}


def met(result: dict[str, Any], kind: str) -> bool:
    return not result["problems"] and result["per_s"] >= GOALS[kind]


# -- the profile --------------------------------------------------------------------------

OURS = ("/assistant/", "/tests/mail_")


def where_the_time_goes(profile: cProfile.Profile, total: float, top: int = 18) -> list[dict]:
    """The functions of the assistant (and of the libraries it calls straight away) that
    take the most time, cumulative, with their own time."""
    stats = pstats.Stats(profile, stream=io.StringIO())
    rows = []
    for (path, line, name), (_cc, calls, own, cumulative, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        shown = path
        for marker in ("/site-packages/", str(REPO) + "/", "/lib/python"):
            if marker in path:
                shown = path.split(marker, 1)[1]
                break
        rows.append(
            {
                "function": f"{shown}:{line}({name})",
                "calls": calls,
                "cumulative_s": round(cumulative, 3),
                "own_s": round(own, 3),
                "share": round(cumulative / total, 3) if total else None,
                "ours": any(marker in path for marker in OURS),
            }
        )
    rows.sort(key=lambda row: row["cumulative_s"], reverse=True)
    ours = [row for row in rows if row["ours"]][:top]
    by_own = sorted(rows, key=lambda row: row["own_s"], reverse=True)[:top]
    return [*ours, *({**row, "ours": "own time"} for row in by_own)]


def profiled(key: str, databases: Databases, args, mails: list[bytes]) -> dict[str, Any]:
    kind, label, run = RUNS[key]
    profile = cProfile.Profile()
    result = run(databases, args, mails, profile)
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    path = REPORT.parent / f"mail-bench-{key}.pstats"
    profile.dump_stats(path)
    rows = where_the_time_goes(profile, result["seconds"])
    print(f"\nprofile of '{label}' ({result['seconds']} s under cProfile), {path.name}:")
    print(f"  {'cumulative':>10} {'own':>7} {'calls':>7}  function")
    for row in rows:
        if row["ours"] == "own time" and rows[rows.index(row) - 1]["ours"] is True:
            print("  -- by own time --")
        print(
            f"  {row['cumulative_s']:>8.3f} s {row['own_s']:>5.3f} s {row['calls']:>7}  "
            f"{row['function']}"
        )
    return {"seconds_under_profile": result["seconds"], "pstats": path.name, "top": rows}


# -- the report ---------------------------------------------------------------------------


def table(results: dict[str, Any]) -> str:
    database = results["database"]
    on = (
        f"PostgreSQL {results['machine'].get('postgresql')} ({DATABASE})"
        if database["kind"] == "postgresql"
        else f"SQLite {database['sqlite']} file (NOT PostgreSQL: {database['why']})"
    )
    lines = [
        f"mail bench on {on}; Dovecot {results['machine']['dovecot']}, "
        f"aiosmtpd {results['machine']['aiosmtpd']}, loopback",
        f"{'':32}{'count':>7}{'seconds':>10}{'per second':>12}  goal",
    ]
    for key, (kind, label, _) in RUNS.items():
        result = results["runs"].get(key)
        if result is None:
            continue
        goal = f"≥ {GOALS[kind]:g} {UNIT[kind]}/s: {'met' if met(result, kind) else 'MISSED'}"
        count = result.get("mails", result.get("replies"))
        lines.append(
            f"{label:32}{count:>7,}{result['seconds']:>9.2f}s{result['per_s']:>12.1f}  {goal}"
        )
        for problem in result["problems"]:
            lines.append(f"  ! {problem}")
    poll = results["runs"].get("poll_read_only")
    if poll:
        lines.append(
            f"poll: {poll['stored']} stored ({poll['quarantined']} quarantined, "
            f"{poll['no_reply_needed']} needing no reply), {results['mail_bytes'] / 1e6:.1f} MB"
        )
    lines.append(
        "not timed: "
        + ", ".join(
            f"{key} setup {result['setup_seconds_not_timed']} s"
            for key, result in results["runs"].items()
        )
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--url",
        default="postgresql://postgres@127.0.0.1:5432",
        help=f"the PostgreSQL server (its database {DATABASE} is dropped and made again)",
    )
    parser.add_argument("--mails", type=int, default=MAILS, help="mails to poll")
    parser.add_argument("--replies", type=int, default=REPLIES, help="approved replies to send")
    parser.add_argument("--sqlite", action="store_true", help="a SQLite file, not PostgreSQL")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="run each figure that misses its goal again under cProfile, and say where "
        "the time goes",
    )
    args = parser.parse_args()
    from tests.mail_servers import DOVECOT_BIN, DOVECOT_MISSING

    if not DOVECOT_BIN.is_file():
        print(f"mail bench skipped: {DOVECOT_MISSING}")
        return
    bench_started = time.perf_counter()
    mails, mail_bytes = bench_mails(args.mails)
    databases = Databases(args.url, force_sqlite=args.sqlite)
    results: dict[str, Any] = {
        "machine": databases.machine(),
        "database": databases.describe(),
        "mail_bytes": mail_bytes,
        "goals": {f"{kind} ({UNIT[kind]}/s)": goal for kind, goal in GOALS.items()},
        "runs": {},
    }
    try:
        for key, (_kind, _label, run) in RUNS.items():
            results["runs"][key] = run(databases, args, mails, None)
        if args.profile:
            results["profiles"] = {
                key: profiled(key, databases, args, mails)
                for key, (kind, _, _) in RUNS.items()
                if not met(results["runs"][key], kind)
            }
    finally:
        databases.close(args.keep)
    results["targets_met"] = {
        f"{label} ≥ {GOALS[kind]:g} {UNIT[kind]}/s": met(results["runs"][key], kind)
        for key, (kind, label, _) in RUNS.items()
    }
    results["bench_seconds"] = round(time.perf_counter() - bench_started, 1)
    print(table(results))
    print(f"bench run time: {results['bench_seconds']} s")
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8")
    print(f"written to {REPORT.relative_to(REPO)}")


if __name__ == "__main__":
    main()

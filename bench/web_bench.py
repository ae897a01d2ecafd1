"""`make bench` (part 4): the agents' web workspace on a PostgreSQL database of 100,000
inquiries, served by uvicorn (one worker) over real HTTP on loopback.

* the data: a fresh database (`bench_web`, dropped and created again), migrated by
  `open_database`, then filled in bulk (COPY, ~40 s): inquiries with their raw mail (1.5%
  with a small photo attached, one in 5,000 with a 1.4 MB one), current triage and draft
  (computed once per distinct text by the local backend, spread over the rows with their
  own times), the hash-chained audit trail (receive, triage, draft, and the agents'
  escalations and rejections), and 20 senior accounts with argon2 hashes. Statuses mostly
  drafted, some escalated, needing manual triage, rejected or needing no reply; ~10%
  urgent; due times on both sides of now; the seven languages of our examples.
* what is measured: the time the server spends on each request, from the moment uvicorn
  hands it to the application until the application hands over the last byte of the
  response (an ASGI wrapper around the app, in the server process; the app is not
  changed), and the client's round trip. One agent reads the queue (plain, f=urgent,
  page=5) and review pages (random drafted inquiries, then the mails with a big photo),
  one request at a time, and approves 20 inquiries alone; then 20 agents at once, each
  with its own client and session, approve 10 drafted inquiries each (the review page for
  the draft version and CSRF token, a read of 2 s on average, then the form as a browser
  posts it): a very busy team, ~10 approvals a second. Last, the same twenty approve back
  to back without reading: the server's capacity (approvals a second), which has no goal.
* goals: queue and review p95 ≤ 50 ms on the server; approve round trip p95 ≤ 150 ms
  with the 20 agents at work.

Without a reachable PostgreSQL server the bench says so in one line and exits 0 (skipped).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import html
import json
import math
import multiprocessing
import os
import random
import re
import socket
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

REPORT = REPO / "reports" / "web-bench.json"
DATABASE = "bench_web"
SECRET = "web-bench-secret-" + "x" * 32
AGENTS = 20
APPROVALS_EACH = 10
PASSWORD = "bench-password-1"
WARM_UP = 20
ALONE = 20  # approvals by one agent alone, before the twenty at once
READING_S = 2.0  # mean time an agent reads a draft before approving, in the busy-team run
GOALS_MS = {"queue_p95": 50.0, "review_p95": 50.0, "approve_round_trip_p95": 150.0}

# Shares of the rows (the rest is drafted).
ESCALATED, MANUAL, REJECTED, NO_REPLY = 0.05, 0.06, 0.02, 0.01
URGENT = 0.10
WITH_FINDING = 0.03  # drafts with a grounding finding (approved only with an override)
WITH_PHOTO = 0.015  # mail with a photo attached (~24 KB)
BIG_PHOTO_EVERY, BIG_PHOTO_BYTES = 5000, 1_400_000  # and one in 5,000 with a phone's photo
SPREAD = timedelta(days=3)  # received over the last three days: due times either side of now


# -- PostgreSQL ---------------------------------------------------------------------------


def with_database(base: str, name: str) -> str:
    """The server URL `base` with `name` as its database."""
    parts = urlsplit(base)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))


def admin(base: str):
    import psycopg

    return psycopg.connect(with_database(base, "postgres"), autocommit=True, connect_timeout=5)


def recreate_database(base: str, name: str) -> None:
    with admin(base) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def drop_database(base: str, name: str) -> None:
    with admin(base) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# -- the data -----------------------------------------------------------------------------


@dataclass
class Template:
    """One distinct text, triaged and drafted once by the local backend."""

    text: str
    subject: str
    triage: Any  # models.Triage
    draft: Any  # models.Draft
    triage_values: dict[str, Any]
    draft_values: dict[str, Any]
    citations_json: str
    grounding_json: str
    details_json: str
    manual_details_json: str


FIRST = [
    "Anna",
    "Ben",
    "Chloé",
    "Daan",
    "Elena",
    "Filip",
    "Giulia",
    "Hugo",
    "Inès",
    "João",
    "Kai",
    "Lena",
    "Marta",
    "Noah",
    "Olga",
    "Pia",
]
LAST = [
    "Rossi",
    "Müller",
    "García",
    "Silva",
    "Dubois",
    "Jansen",
    "Kowalski",
    "Novak",
    "Berg",
    "Costa",
    "Weber",
    "Moreau",
]
SUBJECTS = {
    "order_status": "Where is my order?",
    "returns_refunds": "Return / refund",
    "product_info": "Question about a product",
    "account": "My account",
    "technical": "Problem with the website",
    "feedback": "Feedback",
    "other": "Question",
}


def templates(base_time: datetime) -> list[Template]:
    from assistant.backends.local import LocalBackend
    from assistant.classifier.training import DATA_DIR, read_examples
    from assistant.models import InquiryIn
    from assistant.policy import load_policy
    from assistant.settings import Settings
    from assistant.storage import records

    files = [DATA_DIR / "crocso_train.jsonl", REPO / "evals" / "datasets" / "crocso.jsonl"]
    rows = read_examples([path for path in files if path.exists()])
    texts = list(dict.fromkeys(row["text"] for row in rows))
    backend = LocalBackend(Settings(), load_policy())
    inquiries = [
        InquiryIn(
            subject=text.split(".")[0][:70],
            body=text,
            from_address=f"template{i}@example.com",
            message_id=f"<template-{i}@example.com>",
            received_at=base_time,
        )
        for i, text in enumerate(texts)
    ]
    triages = backend.triage_many(inquiries)
    found = []
    for inquiry, triage in zip(inquiries, triages):
        draft = backend.draft(inquiry, triage)
        triage_values = records.triage_values(0, triage)
        draft_values = records.draft_values(0, draft)
        manual = dict(triage_values["details"])
        manual["reasons"] = ["confidence below the abstain threshold", *manual.get("reasons", [])]
        found.append(
            Template(
                text=inquiry.body,
                subject=SUBJECTS.get(triage.category.value, "Question")
                if len(inquiry.subject) < 12
                else inquiry.subject,
                triage=triage,
                draft=draft,
                triage_values=triage_values,
                draft_values=draft_values,
                citations_json=json.dumps(draft_values["citations"]),
                grounding_json=json.dumps([f.model_dump() for f in draft_values["grounding"]]),
                details_json=json.dumps(triage_values["details"], ensure_ascii=False),
                manual_details_json=json.dumps(manual, ensure_ascii=False),
            )
        )
    return found


def photo(rng: random.Random, size: int = 24_000) -> str:
    data = b"\xff\xd8\xff\xe0" + rng.randbytes(size) + b"\xff\xd9"
    encoded = base64.encodebytes(data).decode("ascii")
    return encoded


def raw_mail(
    *,
    message_id: str,
    sender: str,
    name: str,
    subject: str,
    body: str,
    when: datetime,
    attachment: str | None,
) -> str:
    headers = (
        f"Message-ID: {message_id}\nDate: {format_datetime(when)}\nFrom: {name} <{sender}>\n"
        f"To: support@crocso.example\nSubject: {subject}\nMIME-Version: 1.0\n"
    )
    if attachment is None:
        return (
            headers + "Content-Type: text/plain; charset=utf-8\n"
            "Content-Transfer-Encoding: 8bit\n\n" + body + "\n"
        )
    return (
        headers + 'Content-Type: multipart/mixed; boundary="b1"\n\n--b1\n'
        "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"
        + body
        + "\n--b1\nContent-Type: image/jpeg; name=photo.jpg\n"
        'Content-Disposition: attachment; filename="photo.jpg"\n'
        "Content-Transfer-Encoding: base64\n\n" + attachment + "--b1--\n"
    )


def finding_for(body: str) -> str:
    """A grounding finding on words the draft has (so the review page marks it in place)."""
    words = body.split()
    excerpt = " ".join(words[8:13]) if len(words) > 13 else " ".join(words[:3])
    return json.dumps(
        [
            {
                "kind": "date",
                "excerpt": excerpt,
                "message": "a date or time the policy does not give",
            }
        ]
    )


INQUIRY_COLUMNS = [
    "id",
    "message_id",
    "content_hash",
    "from_address",
    "from_name",
    "to_address",
    "reply_to",
    "subject",
    "body",
    "raw",
    "in_reply_to",
    '"references"',
    "source",
    "received_at",
    "ingested_at",
    "status",
    "status_reason",
    "error",
    "claimed_by",
    "claimed_until",
    "triage_id",
    "draft_id",
    "urgency",
    "due_at",
    "language",
    "translation_support",
    "attachments",
]
TRIAGE_COLUMNS = [
    "id",
    "inquiry_id",
    "category",
    "confidence",
    "confidence_level",
    "needs_manual_triage",
    "urgency",
    "urgency_rule",
    "escalation",
    "escalation_reason",
    "language",
    "language_confidence",
    "due_at",
    "due_latest_at",
    "details",
    "backend",
    "model",
    "set_by",
    "created_at",
]
DRAFT_COLUMNS = [
    "id",
    "inquiry_id",
    "version",
    "body",
    "english_body",
    "language",
    "citations",
    "grounding",
    "template",
    "promises_escalation",
    "backend",
    "model",
    "policy_version",
    "fallback_reason",
    "created_at",
]


def _value(value: Any) -> Any:
    return value.value if hasattr(value, "value") and not isinstance(value, bool) else value


def fill(url: str, n: int, seed: int = 7) -> dict[str, Any]:
    """Migrate the empty database at `url` and fill it with `n` inquiries in bulk."""
    import psycopg

    from assistant.storage.audit import HASHED_FIELDS, event_hash
    from assistant.storage.db import open_database

    event_columns = [*HASHED_FIELDS, "hash"]  # the chain's own fields, and its hash

    started = time.perf_counter()
    engine = open_database(url)  # the schema, by the Alembic migrations
    engine.dispose()
    migrated = time.perf_counter()
    # The argon2 hashes (C code, without the GIL) while the rows are made.
    hashing = ThreadPoolExecutor(1)
    accounts = hashing.submit(add_agents, url)
    now = datetime.now(UTC).replace(microsecond=0)
    base = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
    found = templates(base)
    urgent = [t for t in found if t.triage.urgency.value == "urgent"]
    normal = [t for t in found if t.triage.urgency.value != "urgent"]
    escalating = [t for t in found if t.triage.escalation]
    computed = time.perf_counter()

    rng = random.Random(seed)
    step = SPREAD / n
    inquiries, triages, drafts, events = [], [], [], []
    counts: dict[str, int] = {}
    last_hash, event_id = "", 0

    def event(**values: Any) -> None:
        nonlocal last_hash, event_id
        event_id += 1
        row = {
            "id": event_id,
            "draft_id": None,
            "text_before": None,
            "text_after": None,
            "reason": None,
            "english_text": None,
            "recipient": None,
            **values,
            "prev_hash": last_hash,
        }
        row["hash"] = last_hash = event_hash(row)
        events.append(tuple(row[name] for name in event_columns))

    big_photo = photo(rng, BIG_PHOTO_BYTES)
    big_photo_ids: list[int] = []
    customers = max(1, int(n * 0.6))  # some customers write more than once: the thread
    for i in range(1, n + 1):
        chance = rng.random()
        status = (
            "escalated"
            if chance < ESCALATED
            else "needs_manual_triage"
            if chance < ESCALATED + MANUAL
            else "rejected"
            if chance < ESCALATED + MANUAL + REJECTED
            else "no_reply_needed"
            if chance < ESCALATED + MANUAL + REJECTED + NO_REPLY
            else "drafted"
        )
        big = i % BIG_PHOTO_EVERY == BIG_PHOTO_EVERY // 2
        if big:
            status = "drafted"
            big_photo_ids.append(i)
        if status == "escalated" and escalating and rng.random() < 0.5:
            template = rng.choice(escalating)
        else:
            template = rng.choice(urgent if rng.random() < URGENT else normal)
        triage, draft = template.triage, template.draft
        received = now - SPREAD + step * i
        customer = rng.randrange(customers)
        sender = f"customer{customer}@example.com"
        name = f"{FIRST[customer % len(FIRST)]} {LAST[customer % len(LAST)]}"
        message_id = f"<web-bench-{i}@mail.example.com>"
        body = f"{template.text}\n\nThanks,\n{name.split()[0]}"
        attached = big_photo if big else photo(rng) if rng.random() < WITH_PHOTO else None
        raw = raw_mail(
            message_id=message_id,
            sender=sender,
            name=name,
            subject=template.subject,
            body=body,
            when=received,
            attachment=attached,
        )
        # As ingest lists them (assistant/ingest/attachments.listed): name, type, size.
        listed = (
            json.dumps(
                [
                    {
                        "name": "photo.jpg",
                        "content_type": "image/jpeg",
                        "size": len(base64.b64decode(attached)),
                    }
                ]
            )
            if attached
            else None
        )
        due = received + (triage.due_at - base)
        due_latest = received + (triage.due_latest_at - base)
        manual = status == "needs_manual_triage"
        has_draft = not manual
        translation = bool(
            has_draft
            and triage.needs_translation
            and (draft.template or "").startswith("acknowledgements/")
        )
        digest = hashlib.sha256(f"{sender}\x1f{template.subject}\x1f{body}".encode()).hexdigest()
        reasons = {
            "escalated": "customer asks for a manager",
            "rejected": "spam",
            "no_reply_needed": "a thank-you: nothing to answer",
        }
        inquiries.append(
            (
                i,
                message_id,
                digest,
                sender,
                name,
                "support@crocso.example",
                None,
                template.subject,
                body,
                raw,
                None,
                None,
                f"eml:/var/mail/inbox/{i:06d}.eml",
                received,
                received + timedelta(seconds=1),
                status,
                reasons.get(status),
                None,
                None,
                None,
                i,
                i if has_draft else None,
                triage.urgency.value,
                due,
                triage.language[:8],
                translation,
                listed,
            )
        )
        tv = template.triage_values
        triages.append(
            (
                i,
                i,
                _value(tv["category"]),
                0.31 if manual else tv["confidence"],
                "low" if manual else _value(tv["confidence_level"]),
                manual,
                _value(tv["urgency"]),
                tv["urgency_rule"],
                tv["escalation"],
                tv["escalation_reason"],
                tv["language"],
                tv["language_confidence"],
                due,
                due_latest,
                template.manual_details_json if manual else template.details_json,
                tv["backend"],
                tv["model"],
                None,
                received + timedelta(seconds=1),
            )
        )
        system = {"actor": "system", "actor_kind": "system", "inquiry_id": i}
        event(**system, action="receive", from_status=None, to_status="received", at=received)
        event(
            inquiry_id=i,
            actor=tv["backend"],
            actor_kind="system",
            action="triage",
            from_status="received",
            to_status="needs_manual_triage" if manual else "triaged",
            at=received + timedelta(seconds=1),
        )
        if has_draft:
            dv = template.draft_values
            finding = rng.random() < WITH_FINDING
            drafts.append(
                (
                    i,
                    i,
                    1,
                    dv["body"],
                    dv["english_body"],
                    dv["language"],
                    template.citations_json,
                    finding_for(dv["body"]) if finding else template.grounding_json,
                    dv["template"],
                    dv["promises_escalation"],
                    dv["backend"],
                    dv["model"],
                    dv["policy_version"],
                    dv["fallback_reason"],
                    received + timedelta(seconds=1),
                )
            )
            event(
                inquiry_id=i,
                actor=dv["backend"],
                actor_kind="system",
                action="draft",
                from_status="triaged",
                to_status="drafted",
                draft_id=i,
                text_after=dv["body"],
                english_text=dv["english_body"],
                at=received + timedelta(seconds=1),
            )
            if status != "drafted":
                action = {
                    "escalated": "escalate",
                    "rejected": "reject",
                    "no_reply_needed": "mark_no_reply_needed",
                }[status]
                event(
                    inquiry_id=i,
                    actor=f"agent{rng.randrange(1, AGENTS + 1):02d}",
                    actor_kind="agent",
                    action=action,
                    from_status="drafted",
                    to_status=status,
                    reason=reasons[status],
                    at=received + timedelta(seconds=2),
                )
        counts[status] = counts.get(status, 0) + 1
    generated = time.perf_counter()

    with psycopg.connect(url) as connection, connection.cursor() as cursor:
        for table, columns, rows in (
            ("inquiry", INQUIRY_COLUMNS, inquiries),
            ("triage", TRIAGE_COLUMNS, triages),
            ("draft", DRAFT_COLUMNS, drafts),
            ("audit_event", event_columns, events),
        ):
            with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        for table in ("inquiry", "triage", "draft", "audit_event"):
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
        cursor.execute(
            "UPDATE audit_chain SET last_event_id = %s, last_hash = %s WHERE id = 1",
            (event_id, last_hash),
        )
        connection.commit()
    copied = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE")
    analysed = time.perf_counter()
    accounts_seconds = accounts.result()
    hashing.shutdown()
    finished = time.perf_counter()
    return {
        "inquiries": n,
        "triages": len(triages),
        "drafts": len(drafts),
        "audit_events": len(events),
        "last_event_id": event_id,
        "big_photo_ids": big_photo_ids,
        "distinct_texts": len(found),
        "by_status": dict(sorted(counts.items())),
        "urgent": sum(1 for row in inquiries if row[22] == "urgent"),
        "languages": dict(
            sorted(
                {
                    lang: sum(1 for row in inquiries if row[24] == lang)
                    for lang in {row[24] for row in inquiries}
                }.items()
            )
        ),
        "overdue": sum(1 for row in inquiries if row[23] < now),
        "seconds": round(finished - started, 1),
        "seconds_by_step": {
            "migrate": round(migrated - started, 1),
            "triage_and_draft_distinct_texts": round(computed - migrated, 1),
            "generate_rows_and_audit_hashes": round(generated - computed, 1),
            "copy": round(copied - generated, 1),
            "vacuum_analyze": round(analysed - copied, 1),
            "accounts_argon2_meanwhile": round(accounts_seconds, 1),
        },
    }


def agent_names() -> list[str]:
    return [f"agent{i:02d}" for i in range(1, AGENTS + 1)]


def add_agents(url: str) -> float:
    """Twenty seniors (they may approve anything), each with its own argon2 hash."""
    from assistant import accounts
    from assistant.storage.db import make_engine, session

    started = time.perf_counter()
    engine = make_engine(url)
    with session(engine) as db:
        for name in agent_names():
            accounts.add(db, name, "senior", PASSWORD)
    engine.dispose()
    return time.perf_counter() - started


# -- the server ---------------------------------------------------------------------------


class ServerTiming:
    """ASGI wrapper: the time from the request reaching the application until the last
    body message leaves it, kept per `X-Bench` tag; read at /__bench__/timings."""

    def __init__(self, app):
        self.app = app
        self.timings: list[tuple[str, float, int]] = []

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if scope["path"] == "/__bench__/timings":
            body = json.dumps(self.timings).encode()
            self.timings = []
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return None
        tag = dict(scope["headers"]).get(b"x-bench", b"").decode()
        started = time.perf_counter()
        status = 0

        async def timed_send(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                self.timings.append((tag, (time.perf_counter() - started) * 1000, status))
            await send(message)

        return await self.app(scope, receive, timed_send)


def serve(url: str, port: int) -> None:
    """The workspace as `assistant web` serves it (one uvicorn worker), timed."""
    import uvicorn

    from assistant.settings import Settings
    from assistant.storage.db import open_database
    from assistant.web import create_app

    engine = open_database(url)
    app = create_app(engine=engine, settings=Settings(), secret=SECRET)
    timed = ServerTiming(app)
    config = uvicorn.Config(
        timed, host="127.0.0.1", port=port, log_level="warning", server_header=False
    )
    uvicorn.Server(config).run()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(url: str):
    port = free_port()
    process = multiprocessing.get_context("spawn").Process(
        target=serve, args=(url, port), daemon=True
    )
    process.start()
    base = f"http://127.0.0.1:{port}"
    import httpx

    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                return process, base
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or not process.is_alive():
            process.kill()
            raise RuntimeError("the workspace server did not start")
        time.sleep(0.1)


def stop_server(process) -> None:
    process.terminate()  # SIGTERM: uvicorn shuts down (and a profile is written)
    process.join(timeout=20)
    if process.is_alive():
        process.kill()
        process.join()


# -- the clients --------------------------------------------------------------------------

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
VERSION = re.compile(r'name="draft_version" value="(\d+)"')
REFUSAL = re.compile(r'id="refusal">(.*?)</div>', re.S)
COMPOSER = re.compile(r'<textarea name="body" id="composer"[^>]*>(.*?)</textarea>', re.S)


def log_in(base: str, name: str):
    import httpx

    client = httpx.Client(base_url=base, timeout=60)
    token = CSRF.search(client.get("/login").text).group(1)  # type: ignore[union-attr]
    answer = client.post(
        "/login",
        data={"name": name, "password": PASSWORD, "csrf_token": token},
        follow_redirects=True,
    )
    if answer.status_code != 200 or "/queue" not in str(answer.url):
        raise RuntimeError(f"login of {name} failed: {answer.status_code} {answer.text[:300]}")
    return client


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    if not ordered:
        return {"n": 0}

    def rank(p: float) -> float:
        return ordered[max(0, math.ceil(p * len(ordered)) - 1)]

    return {
        "n": len(ordered),
        "p50_ms": round(statistics.median(ordered), 1),
        "p95_ms": round(rank(0.95), 1),
        "max_ms": round(ordered[-1], 1),
    }


def server_times(base: str) -> dict[str, list[tuple[float, int]]]:
    """The server's timings since the last read, by tag: (milliseconds, HTTP status)."""
    import httpx

    found: dict[str, list[tuple[float, int]]] = {}
    for tag, ms, status in httpx.get(base + "/__bench__/timings", timeout=30).json():
        if tag:
            found.setdefault(tag, []).append((ms, status))
    return found


def ok_times(timings: list[tuple[float, int]]) -> list[float]:
    """The times of the requests that succeeded (a GET errs: the bench stops)."""
    return [ms for ms, status in timings if status < 400]


def measure_gets(base: str, client, name: str, paths: list[str], requests: int) -> dict:
    """`requests` GETs one after another (after a warm-up), cycling through `paths`."""
    for i in range(WARM_UP):
        client.get(paths[i % len(paths)], headers={"X-Bench": "warm-up"}).raise_for_status()
    server_times(base)
    client_ms = []
    for i in range(requests):
        started = time.perf_counter()
        answer = client.get(paths[i % len(paths)], headers={"X-Bench": name})
        client_ms.append((time.perf_counter() - started) * 1000)
        answer.raise_for_status()
    timings = server_times(base)[name]
    errors = [status for _, status in timings if status >= 400]
    if errors:
        raise RuntimeError(f"{name}: {len(errors)} requests failed (HTTP {errors[0]})")
    return {"server": percentiles(ok_times(timings)), "client": percentiles(client_ms)}


def as_a_browser_sends(textarea: str) -> str:
    """The composer's text as a browser submits it: the HTML parser drops one newline
    after <textarea>, and form submission turns every line break into CR LF."""
    text = html.unescape(textarea)
    if text.startswith("\n"):
        text = text[1:]
    return text.replace("\r\n", "\n").replace("\n", "\r\n")


def approve_round_trips(
    base: str, ids: list[int], body_mode: str, agents: list[str], reading_s: float = 0.0
) -> dict:
    """These agents at once, each approving len(ids) / len(agents) inquiries of its own:
    load the review page, read the draft for `reading_s` on average (exponentially
    distributed; 0: approve at once, back to back), approve."""
    clients = {name: log_in(base, name) for name in agents}
    each = len(ids) // len(agents)
    server_times(base)
    barrier = threading.Barrier(len(clients))
    round_trips: list[float] = []
    page_loads: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()

    def work(name: str, mine: list[int]) -> None:
        client = clients[name]
        reader = random.Random(name)
        barrier.wait()
        for inquiry_id in mine:
            started = time.perf_counter()
            page = client.get(f"/inquiries/{inquiry_id}", headers={"X-Bench": "approve_page"})
            loaded = (time.perf_counter() - started) * 1000
            if page.status_code != 200:
                with lock:
                    page_loads.append(loaded)
                    failures.append(
                        f"review page {inquiry_id}: HTTP {page.status_code} after {loaded:.0f} ms"
                    )
                continue
            form = {
                "csrf_token": CSRF.search(page.text).group(1),  # type: ignore[union-attr]
                "draft_version": VERSION.search(page.text).group(1),  # type: ignore[union-attr]
            }
            if body_mode == "browser":
                form["body"] = as_a_browser_sends(COMPOSER.search(page.text).group(1))  # type: ignore[union-attr]
            if reading_s:
                time.sleep(reader.expovariate(1 / reading_s))
            started = time.perf_counter()
            answer = client.post(
                f"/inquiries/{inquiry_id}/approve", data=form, headers={"X-Bench": "approve"}
            )
            took = (time.perf_counter() - started) * 1000
            with lock:
                page_loads.append(loaded)
                if answer.status_code == 303:
                    round_trips.append(took)
                if answer.status_code != 303:
                    refusal = REFUSAL.search(answer.text)
                    why = html.unescape(refusal.group(1)) if refusal else answer.text[:300]
                    failures.append(f"approve {inquiry_id}: HTTP {answer.status_code}: {why}")

    threads = []
    for index, name in enumerate(clients):
        mine = ids[index * each : (index + 1) * each]
        threads.append(threading.Thread(target=work, args=(name, mine)))
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    for client in clients.values():
        client.close()
    times = server_times(base)
    return {
        "agents": len(clients),
        "approvals": len(round_trips),
        "failed": len(failures),
        "server_errors": sum(
            1 for timings in times.values() for _, status in timings if status >= 500
        ),
        "failures": failures[:10],
        "body_sent": body_mode,
        "reading_s": reading_s,
        "wall_s": round(wall, 2),
        "approvals_per_s": round(len(round_trips) / wall, 1),
        "round_trip": percentiles(round_trips),
        "server": percentiles([ms for ms, _ in times.get("approve", [])]),
        "review_page_under_load": {
            "client": percentiles(page_loads),
            "server": percentiles([ms for ms, _ in times.get("approve_page", [])]),
            "server_errors": sum(1 for _, status in times.get("approve_page", []) if status >= 500),
        },
    }


def sample_ids(url: str, seed: int, review: int, approve: int) -> tuple[list[int], list[int]]:
    """Random drafted inquiries to review, and distinct ones to approve (a clean draft: no
    finding to override, no promise of a senior review, an address to reply to)."""
    import psycopg

    with psycopg.connect(url) as connection:
        drafted = [
            row[0] for row in connection.execute("SELECT id FROM inquiry WHERE status = 'drafted'")
        ]
        clean = [
            row[0]
            for row in connection.execute(
                "SELECT i.id FROM inquiry i JOIN draft d ON d.id = i.draft_id "
                "WHERE i.status = 'drafted' AND d.grounding::text = '[]' "
                "AND NOT d.promises_escalation"
            )
        ]
    rng = random.Random(seed)
    to_approve = rng.sample(clean, approve)
    taken = set(to_approve)
    to_review = rng.sample([i for i in drafted if i not in taken], review)
    return to_review, to_approve


def audit_after(url: str, after_event: int) -> dict[str, Any]:
    """What the approvals wrote, and whether the whole chain still verifies."""
    from sqlalchemy import text

    from assistant.storage import audit
    from assistant.storage.db import make_engine, session

    engine = make_engine(url)
    with session(engine, read_only=True) as db:
        by_action = dict(
            db.execute(
                text(
                    "SELECT action, count(*) FROM audit_event WHERE id > :after "
                    "GROUP BY action ORDER BY action"
                ),
                {"after": after_event},
            ).all()
        )
        replies = db.execute(text("SELECT count(*) FROM outbound_reply")).scalar()
        started = time.perf_counter()
        checked, broken = audit.verify(db)
        verify_s = time.perf_counter() - started
    engine.dispose()
    return {
        "events_written_by_the_bench": by_action,
        "outbound_replies": replies,
        "chain_events_checked": checked,
        "chain_ok": broken is None,
        "chain_problem": broken.problem if broken else None,
        "verify_seconds": round(verify_s, 1),
    }


# -- the report ---------------------------------------------------------------------------


def table(results: dict[str, Any]) -> str:
    fill = results["fill"]
    lines = [
        f"web bench: {fill['inquiries']:,} inquiries on PostgreSQL (filled in "
        f"{fill['seconds']} s), uvicorn, one worker",
        f"{'':38}{'server p50':>11}{'server p95':>11}{'client p50':>11}{'client p95':>11}  goal",
    ]

    def line(label: str, server: dict, client: dict, goal: str) -> None:
        if not server.get("n") or not client.get("n"):
            lines.append(f"{label:38}{'(no successful request)':>44}  {goal}")
            return
        lines.append(
            f"{label:38}{server['p50_ms']:>8.1f} ms{server['p95_ms']:>8.1f} ms"
            f"{client['p50_ms']:>8.1f} ms{client['p95_ms']:>8.1f} ms  {goal}"
        )

    def verdict(ok: bool) -> str:
        return "met" if ok else "MISSED"

    for key, label in (
        ("queue", "GET /queue"),
        ("queue_urgent", "GET /queue?f=urgent"),
        ("queue_page_5", "GET /queue?page=5"),
        ("review", "GET /inquiries/{id}"),
        ("review_big_photo", "  the same, mail with a 1.4 MB photo"),
    ):
        got = results["requests"].get(key)
        if got is None:
            continue
        limit = GOALS_MS["review_p95" if key.startswith("review") else "queue_p95"]
        goal = f"server p95 ≤ {limit:g} ms: {verdict(got['server']['p95_ms'] <= limit)}"
        line(label, got["server"], got["client"], goal)
    for key, label in (
        ("approve_alone", "1 agent alone"),
        ("approve", f"{AGENTS} agents, ~{READING_S:g} s reading"),
        ("approve_back_to_back", f"{AGENTS} agents, no reading"),
    ):
        approve = results.get(key)
        if approve is None:
            continue
        failed = f", {approve['failed']} FAILED" if approve["failed"] else ""
        goal = f"round trip p95 ≤ 150 ms: {verdict(approve_met(approve))}{failed}"
        if key == "approve_back_to_back":
            goal = f"capacity (no goal){failed}"
        line(f"POST approve ({label})", approve["server"], approve["round_trip"], goal)
        under = approve["review_page_under_load"]
        errors = under["server_errors"]
        note = f"(meanwhile; {errors} HTTP 500)" if errors else "(meanwhile)"
        line("  GET /inquiries/{id} before it", under["server"], under["client"], note)
    for key in ("approve", "approve_back_to_back"):
        together = results[key]
        lines.append(
            f"{together['agents']} agents, reading {together['reading_s']:g} s: "
            f"{together['approvals']} approvals in {together['wall_s']} s "
            f"({together['approvals_per_s']}/s, each after its review page)"
        )
    return "\n".join(lines)


def approve_met(approve: dict[str, Any]) -> bool:
    return (
        not approve["failed"]
        and bool(approve["round_trip"].get("n"))
        and approve["round_trip"]["p95_ms"] <= GOALS_MS["approve_round_trip_p95"]
    )


def measure(
    url: str, args, review_ids: list[int], approve_ids: list[int], big_photo_ids: list[int]
) -> dict[str, Any]:
    results: dict[str, Any] = {}
    alone = approve_ids[:ALONE]
    half = ALONE + (len(approve_ids) - ALONE) // 2
    together, back_to_back = approve_ids[ALONE:half], approve_ids[half:]
    process, base = start_server(url)
    try:
        reader = log_in(base, "agent01")
        results["requests"] = {
            "queue": measure_gets(base, reader, "queue", ["/queue"], args.requests),
            "queue_urgent": measure_gets(
                base, reader, "queue_urgent", ["/queue?f=urgent"], args.requests
            ),
            "queue_page_5": measure_gets(
                base, reader, "queue_page_5", ["/queue?page=5"], args.requests
            ),
            "review": measure_gets(
                base, reader, "review", [f"/inquiries/{i}" for i in review_ids], args.requests
            ),
        }
        if big_photo_ids:
            results["requests"]["review_big_photo"] = measure_gets(
                base,
                reader,
                "review_big_photo",
                [f"/inquiries/{i}" for i in big_photo_ids],
                min(args.requests, 100),
            )
        reader.close()
        # One agent alone first: what an approval costs when nothing else runs.
        results["approve_alone"] = approve_round_trips(base, alone, args.approve_body, ["agent01"])
        # Twenty agents at work: each reads a draft (READING_S on average) and approves it —
        # a very busy team, 10 approvals a second. The goal is about this.
        results["approve"] = approve_round_trips(
            base, together, args.approve_body, agent_names(), READING_S
        )
        # Capacity: the same twenty approving back to back, without reading (no goal).
        results["approve_back_to_back"] = approve_round_trips(
            base, back_to_back, args.approve_body, agent_names()
        )
    finally:
        stop_server(process)
    return results


def machine(url: str) -> dict[str, Any]:
    import subprocess

    import psycopg

    with psycopg.connect(url) as connection:
        server = connection.execute("SHOW server_version").fetchone()
    commit = subprocess.run(
        ["git", "-C", str(REPO), "describe", "--always", "--dirty"], capture_output=True, text=True
    ).stdout.strip()
    return {
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "postgresql": server[0] if server else None,
        "commit": commit or None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--url",
        default="postgresql://postgres@127.0.0.1:5432",
        help=f"the PostgreSQL server (its database {DATABASE} is dropped and made again)",
    )
    parser.add_argument("--inquiries", type=int, default=100_000)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--requests", type=int, default=300, help="timed GETs of each page")
    parser.add_argument(
        "--approve-body",
        choices=("browser", "none"),
        default="browser",
        help="approve with the composer's text as a browser posts it (CR LF), or without it",
    )
    args = parser.parse_args()
    import psycopg

    try:
        recreate_database(args.url, DATABASE)
    except psycopg.OperationalError as error:  # no server there: the other benches still run
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        print(f"web bench skipped: PostgreSQL unreachable at {args.url} ({reason})")
        return
    url = with_database(args.url, DATABASE)
    try:
        results: dict[str, Any] = {"machine": machine(url), "fill": fill(url, args.inquiries)}
        review_ids, approve_ids = sample_ids(
            url, 11, args.requests, ALONE + 2 * AGENTS * APPROVALS_EACH
        )
        big = results["fill"]["big_photo_ids"]
        results.update(measure(url, args, review_ids, approve_ids, big))
        results["after"] = audit_after(url, results["fill"]["last_event_id"])
    finally:
        if not args.keep:
            drop_database(args.url, DATABASE)
    requests = results["requests"]
    queue_p95 = max(
        requests[k]["server"]["p95_ms"] for k in ("queue", "queue_urgent", "queue_page_5")
    )
    results["targets_met"] = {
        "queue p95 ≤ 50 ms (server)": queue_p95 <= GOALS_MS["queue_p95"],
        "review p95 ≤ 50 ms (server)": requests["review"]["server"]["p95_ms"]
        <= GOALS_MS["review_p95"],
        "approve round trip p95 ≤ 150 ms, none failed": approve_met(results["approve"]),
    }
    if "review_big_photo" in requests:
        results["targets_met"]["review of a mail with a 1.4 MB photo p95 ≤ 50 ms (server)"] = (
            requests["review_big_photo"]["server"]["p95_ms"] <= GOALS_MS["review_p95"]
        )
    print(table(results))
    print(f"fill (s): {json.dumps(results['fill']['seconds_by_step'])}")
    print(f"after: {json.dumps(results['after'], ensure_ascii=False)}")
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8")
    print(f"written to {REPORT.relative_to(REPO)}")


if __name__ == "__main__":
    main()

"""Several processes on one database, as a team runs it: two `assistant run` over the same
inbox, started together on a brand-new database, give every mail one inquiry, one triage
and one draft, and both exit 0 — on SQLite and on PostgreSQL. Two agents acting on one
draft: the second, based on what it read before the first acted, is refused."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import func, text
from sqlmodel import select

from assistant import pipeline, review
from assistant.backends.local import LocalBackend
from assistant.models import InquiryIn
from assistant.storage import audit, records
from assistant.storage.db import make_engine, open_database, session
from assistant.storage.tables import AuditEventRow, DraftRow, InquiryRow, TriageRow
from tests.conftest import REPO

MAILS = 200
BODIES = [
    "Where is my order {n}? It has not arrived.",
    "I received the wrong item in order {n}, please help",
    "Do the Classic Clogs come in half sizes? ({n})",
    "I cannot log in to my account, reset my password please ({n})",
    "Your checkout page shows an error when I pay ({n})",
]


def write_inbox(folder: Path) -> Path:
    folder.mkdir()
    for n in range(MAILS):
        message = EmailMessage()
        message["From"] = f"Customer {n} <customer{n}@example.com>"
        message["To"] = "support@crocso.example"
        message["Subject"] = f"Question {n}"
        message["Message-ID"] = f"<race-{n}@example.com>"
        message["Date"] = "Mon, 23 Nov 2026 10:00:00 +0000"
        message.set_content(BODIES[n % len(BODIES)].format(n=100000 + n))
        (folder / f"{n:03d}.eml").write_bytes(bytes(message))
    return folder


def two_runs_at_once(database_url: str, inbox: Path) -> list[subprocess.CompletedProcess]:
    env = {**os.environ, "DATABASE_URL": database_url, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "assistant", "run", str(inbox), "--batch-size", "16", "--json"]
    runs = [
        subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    results = []
    for run in runs:
        out, err = run.communicate(timeout=300)
        results.append(subprocess.CompletedProcess(command, run.returncode, out, err))
    return results


def assert_each_mail_processed_once(engine, results) -> None:
    for result in results:
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr
    summaries = [json.loads(result.stdout) for result in results]
    assert sum(s["ingested"] for s in summaries) == MAILS
    assert sum(s["processed"] for s in summaries) == MAILS
    with session(engine) as db:
        assert db.exec(select(func.count()).select_from(InquiryRow)).one() == MAILS
        for table in (TriageRow, DraftRow):
            per_inquiry = db.exec(
                select(table.inquiry_id, func.count()).group_by(table.inquiry_id)
            ).all()
            assert len(per_inquiry) == MAILS and {count for _, count in per_inquiry} == {1}
        receives = db.exec(
            select(func.count()).select_from(AuditEventRow).where(AuditEventRow.action == "receive")
        ).one()
        assert receives == MAILS
        assert set(records.count_by_status(db)) <= {"drafted", "needs_manual_triage"}
        checked, broken = audit.verify(db)
        assert broken is None and checked == 3 * MAILS - records.count_by_status(db).get(
            "needs_manual_triage", 0
        )


@pytest.mark.slow
def test_two_runs_over_one_inbox_on_a_new_sqlite_database(tmp_path):
    inbox = write_inbox(tmp_path / "inbox")
    url = f"sqlite:///{tmp_path / 'new.db'}"
    results = two_runs_at_once(url, inbox)
    engine = make_engine(url)
    assert_each_mail_processed_once(engine, results)
    engine.dispose()


@pytest.mark.slow
@pytest.mark.postgres
def test_two_runs_over_one_inbox_on_a_new_postgres_schema(tmp_path, empty_postgres_url):
    results = two_runs_at_once(empty_postgres_url, write_inbox(tmp_path / "inbox"))
    engine = make_engine(empty_postgres_url)
    assert_each_mail_processed_once(engine, results)
    engine.dispose()


def test_a_claimed_inquiry_is_not_processed_by_a_second_run(db, settings, policy):
    """The claim, without processes: what a second run finds while the first works."""
    from assistant.storage import claims

    [stored] = pipeline.ingest_many(db, [InquiryIn(body="Where is my order 558120?")])
    assert claims.claim(db, [stored.id], owner="first run") == [stored.id]
    second = pipeline.run_waiting(db, LocalBackend(settings, policy))
    assert (second.processed, second.elsewhere) == (0, 1)
    assert records.get_inquiry(db, stored.id).status == "received"
    claims.release(db, [stored.id], owner="first run")
    third = pipeline.run_waiting(db, LocalBackend(settings, policy))
    assert third.processed == 1 and records.get_inquiry(db, stored.id).status == "drafted"


def _one_drafted_inquiry(engine, settings, policy) -> None:
    with session(engine) as setup:
        pipeline.run(
            setup,
            [InquiryIn(body="Where is my order 558120?", from_address="ana@example.com")],
            LocalBackend(settings, policy),
        )


def _read_version(engine) -> int:
    """What an agent's page (or `show`) read: a short session, as each request has."""
    with session(engine) as page:
        return records.latest_draft(page, 1).version


def test_the_second_agent_acting_on_a_changed_draft_is_refused(shared_engine, settings, policy):
    engine = shared_engine
    _one_drafted_inquiry(engine, settings, policy)
    read_by_ann, read_by_bob = _read_version(engine), _read_version(engine)
    with session(engine) as ann:
        review.edit(
            ann,
            1,
            agent="ann",
            body="Hi Ana, we are looking into order 558120.",
            expected_version=read_by_ann,
        )
    with session(engine) as bob:
        with pytest.raises(review.StaleDraft, match="changed since you read it"):
            review.approve(bob, 1, agent="bob", expected_version=read_by_bob)
        with pytest.raises(review.StaleDraft):
            review.edit(bob, 1, agent="bob", body="Something else", expected_version=read_by_bob)
    with session(engine) as db:
        assert records.get_inquiry(db, 1).status == "drafted"
        assert records.latest_draft(db, 1).body.startswith("Hi Ana")
        assert [e.actor for e in records.audit_trail(db, 1)][-1] == "ann"
    current = _read_version(engine)
    with session(engine) as bob:
        assert review.approve(bob, 1, agent="bob", expected_version=current).approved_by == "bob"


def test_an_approval_on_an_inquiry_another_agent_approved_is_refused(
    shared_engine, settings, policy
):
    engine = shared_engine
    _one_drafted_inquiry(engine, settings, policy)
    version = _read_version(engine)  # both agents see the same draft
    with session(engine) as ann:
        review.approve(ann, 1, agent="ann", expected_version=version)
    with session(engine) as bob, pytest.raises(review.ReviewError, match="is approved"):
        review.approve(bob, 1, agent="bob", expected_version=version)
    with session(engine) as db:
        approvals = [e for e in records.audit_trail(db, 1) if e.action == "approve"]
        assert [e.actor for e in approvals] == ["ann"]


def test_a_new_database_opened_twice_is_migrated_once(tmp_path):
    url = f"sqlite:///{tmp_path / 'twice.db'}"
    first, second = open_database(url), open_database(url)
    with first.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
    first.dispose(), second.dispose()


class AgentsMeanwhile(LocalBackend):
    """A slow backend: while it drafts for one agent, `meanwhile` (another agent) acts."""

    meanwhile = None

    def draft(self, inquiry, triage, instruction=None):
        if self.meanwhile is not None:
            work, self.meanwhile = self.meanwhile, None
            work()
        return super().draft(inquiry, triage)


def test_a_redraft_overtaken_by_another_agent_keeps_versions_unique_and_the_escalation(
    shared_engine, settings, policy
):
    engine = shared_engine
    _one_drafted_inquiry(engine, settings, policy)
    slow = AgentsMeanwhile(settings, policy)

    def bob_redrafts_and_escalates() -> None:
        with session(engine) as bob:
            review.redraft(bob, 1, agent="bob", backend=LocalBackend(settings, policy))
            review.escalate(bob, 1, agent="bob", reason="asked for a supervisor")

    slow.meanwhile = bob_redrafts_and_escalates
    with session(engine) as ann:
        annes = review.redraft(ann, 1, agent="ann", backend=slow)
    with session(engine) as db:
        versions = db.exec(select(DraftRow.version).where(DraftRow.inquiry_id == 1)).all()
        assert sorted(versions) == [1, 2, 3] and annes.version == 3
        assert records.get_inquiry(db, 1).status == "escalated"  # Ann's redraft kept it
        events = records.audit_trail(db, 1)
        assert [e.action.value for e in events][-3:] == ["redraft", "escalate", "redraft"]
        assert events[-1].draft_id == annes.id
    # Carol reviewed Bob's version 2, not Ann's version 3.
    with session(engine) as carol, pytest.raises(review.StaleDraft):
        review.approve(carol, 1, agent="carol", expected_version=2)


def test_the_approval_event_holds_the_text_that_is_sent(shared_engine, settings, policy):
    engine = shared_engine
    _one_drafted_inquiry(engine, settings, policy)
    with session(engine) as ann:
        records.latest_draft(ann, 1)  # Ann's session has the draft as it was…
        ann.commit()  # …and, as every command does, ended its read
        with session(engine) as bob:
            review.edit(bob, 1, agent="bob", body="Hi Ana, order 558120 is on its way to us.")
        reply = review.approve(ann, 1, agent="ann")
    with session(engine) as db:
        approval = records.audit_trail(db, 1)[-1]
        assert approval.action == "approve" and approval.text_after == reply.body
        assert reply.body.startswith("Hi Ana, order 558120")


def test_no_transaction_is_left_open_after_an_action(shared_engine, settings, policy):
    """On SQLite an open transaction holds the write lock: every other writer would wait."""
    engine = shared_engine
    _one_drafted_inquiry(engine, settings, policy)
    with session(engine) as db:
        review.escalate(db, 1, agent="ann", reason="asked for a supervisor")
        assert engine.pool.checkedout() == 0  # no connection, so no transaction, is held
        review.reject(db, 1, agent="ann", reason="duplicate of another ticket")
        assert engine.pool.checkedout() == 0


def test_an_agents_action_ends_a_claim(db, settings, policy):
    from assistant.storage import claims

    [stored] = pipeline.ingest_many(db, [InquiryIn(body="Out of office until Monday")])
    claims.claim(db, [stored.id], owner="a run that died")
    review.mark_no_reply_needed(db, stored.id, agent="ann", reason="auto-reply")
    review.reopen(db, stored.id, agent="ann")
    assert records.get_inquiry(db, stored.id).claimed_by is None
    assert pipeline.run_waiting(db, LocalBackend(settings, policy)).processed == 1


@pytest.mark.slow
@pytest.mark.postgres
def test_two_ingests_of_the_same_mail_in_opposite_orders_do_not_deadlock(
    tmp_path, empty_postgres_url
):
    import mailbox

    boxes = []
    for name, order in (("up", range(2000)), ("down", reversed(range(2000)))):
        box = mailbox.mbox(str(tmp_path / f"{name}.mbox"))
        for n in order:
            box.add(
                f"From: c{n}@example.com\nSubject: Q {n}\nMessage-ID: <dl-{n}@x>\n\n"
                f"Where is order {n}?\n"
            )
        box.close()
        boxes.append(tmp_path / f"{name}.mbox")
    env = {**os.environ, "DATABASE_URL": empty_postgres_url, "PYTHONPATH": str(REPO)}
    open_database(empty_postgres_url).dispose()
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "assistant", "ingest", str(box), "--json"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for box in boxes
    ]
    outputs = [run.communicate(timeout=300) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], [err for _, err in outputs]
    created = sum(row["created"] for out, _ in outputs for row in json.loads(out))
    assert created == 2000

"""Team mode on the real PostgreSQL: `assistant worker` processes share Procrastinate's
queue; every inquiry is triaged and drafted once, whichever worker takes it, and one
killed with -9 mid-job loses nothing (the reaper gives its jobs to the others). The
workspace's re-draft becomes a job, shown as pending until a worker has written it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import func, select

from assistant.llm.fake_server import FakeLlm, serve
from assistant.models import Action, InquiryStatus
from assistant.settings import Settings
from assistant.storage import records
from assistant.storage.db import make_engine, migrate, session
from assistant.storage.tables import AuditEventRow, DraftRow, TriageRow
from assistant.worker import queue as worker_queue
from assistant.worker.enqueue import close_edge_apps
from tests import mail_servers
from tests.conftest import REPO
from tests.web_support import add_accounts, logged_in, post, workspace

dovecot = mail_servers.dovecot
smtp_sink = mail_servers.smtp_sink

pytestmark = pytest.mark.postgres
S = InquiryStatus


@pytest.fixture
def team(empty_postgres_url, tmp_path):
    """A migrated team database and the environment its processes run with."""
    engine = make_engine(empty_postgres_url)
    migrate(engine)
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "DATABASE_URL": empty_postgres_url,
        "ASSISTANT_WORKERS": "true",
        "ASSISTANT_WORKER_HEARTBEAT_SECONDS": "1",
        "ASSISTANT_WORKER_STALLED_SECONDS": "3",
        "ASSISTANT_LLM_CAPABILITIES_FILE": str(tmp_path / "capabilities.json"),
    }
    for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "ASSISTANT_BACKEND"):
        env.pop(name, None)
    yield engine, env
    engine.dispose()


def inbox(tmp_path: Path, count: int) -> Path:
    path = tmp_path / "inbox.jsonl"
    lines = [
        json.dumps(
            {
                "body": f"Where is my order {500000 + n}? It has not arrived yet.",
                "subject": f"Order {n}",
                "from_address": f"customer{n}@example.com",
                "message_id": f"<team-{n}@example.com>",
            }
        )
        for n in range(count)
    ]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def cli(env: dict, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "assistant", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start_worker(env: dict, concurrency: int = 3) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "assistant", "worker", "--concurrency", str(concurrency)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def stop(worker: subprocess.Popen) -> tuple[int, str]:
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
    try:
        _, err = worker.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        worker.kill()
        _, err = worker.communicate()
    return worker.returncode, err


def jobs(engine, status: str, task: str = worker_queue.PROCESS) -> int:
    with engine.connect() as connection:
        return connection.execute(
            text("SELECT count(*) FROM procrastinate_jobs WHERE task_name = :t AND status = :s"),
            {"t": task, "s": status},
        ).scalar_one()


def wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


def all_processed(engine, count: int) -> bool:
    with session(engine, read_only=True) as db:
        done = db.exec(
            select(func.count()).where(
                records.InquiryRow.status.in_([S.drafted, S.needs_manual_triage])  # type: ignore[attr-defined]
            )
        ).one()
    return done == count and jobs(engine, "todo") == 0 and jobs(engine, "doing") == 0


def assert_each_once(engine, count: int) -> None:
    with session(engine, read_only=True) as db:
        for model in (TriageRow, DraftRow):
            per_inquiry = db.exec(
                select(model.inquiry_id, func.count()).group_by(model.inquiry_id)
            ).all()
            assert len(per_inquiry) == count
            assert {n for _, n in per_inquiry} == {1}, f"{model.__name__} written twice"
        for action in (Action.triage, Action.draft):
            events = db.exec(select(func.count()).where(AuditEventRow.action == action)).one()
            assert events == count


def test_workers_share_the_queue_and_each_inquiry_is_done_once(team, tmp_path):
    engine, env = team
    workers = [start_worker(env), start_worker(env)]
    try:
        stored = cli(env, "ingest", str(inbox(tmp_path, 40)))  # enqueues in team mode
        assert stored.returncode == 0, stored.stderr
        assert "stored 40 new" in stored.stdout
        wait_until(lambda: all_processed(engine, 40), 120, "the workers to process 40 mails")
        status = json.loads(cli(env, "worker", "status", "--json").stdout)
        assert status["team_mode"] and status["workers_alive"] == 2
        assert status["waiting_inquiries"] == 0
        assert status["tasks"].get(worker_queue.PROCESS, {}).get("queued", 0) == 0
        with engine.connect() as connection:  # both took a share (while they are alive)
            shares = connection.execute(
                text(
                    "SELECT count(DISTINCT worker_id) FROM procrastinate_jobs"
                    " WHERE task_name = :t AND worker_id IS NOT NULL"
                ),
                {"t": worker_queue.PROCESS},
            ).scalar_one()
        assert shares == 2
    finally:
        codes = [stop(worker) for worker in workers]
    assert all(code == 0 for code, _ in codes), codes
    assert_each_once(engine, 40)
    assert jobs(engine, "succeeded") >= 40  # the sweep may add a job that finds it done


@pytest.mark.slow
def test_a_worker_killed_mid_job_loses_nothing_and_duplicates_nothing(team, tmp_path):
    """kill -9 while LLM calls are in flight: its jobs stay `doing` until the reaper sees
    its heartbeat stopped; then another worker runs them, and finds what was done."""
    engine, env = team
    with serve(FakeLlm(delay=0.4)) as (base_url, fake):
        env = {**env, "ASSISTANT_BACKEND": "openai", "OPENAI_BASE_URL": base_url}
        env["OPENAI_API_KEY"] = "test-key"
        stored = cli(env, "ingest", str(inbox(tmp_path, 24)))
        assert stored.returncode == 0, stored.stderr
        doomed = start_worker(env, concurrency=4)
        wait_until(lambda: jobs(engine, "doing") >= 2, 60, "jobs in progress")
        os.kill(doomed.pid, signal.SIGKILL)
        doomed.wait()
        left_doing = jobs(engine, "doing")
        assert left_doing >= 1  # the killed worker's jobs, stuck until reaped
        survivor = start_worker(env, concurrency=4)
        try:
            wait_until(lambda: all_processed(engine, 24), 180, "the survivor to finish")
        finally:
            code, err = stop(survivor)
        assert code == 0, err[-2000:]
    assert_each_once(engine, 24)
    with engine.connect() as connection:
        retried = connection.execute(
            text("SELECT count(*) FROM procrastinate_jobs WHERE task_name = :t AND attempts > 0"),
            {"t": worker_queue.PROCESS},
        ).scalar_one()
    assert retried >= 1  # the reaper's retries


def test_a_redraft_in_the_workspace_becomes_a_job_a_worker_writes(team, tmp_path):
    engine, env = team
    stored = cli(env, "ingest", str(inbox(tmp_path, 1)))
    assert stored.returncode == 0, stored.stderr
    settings = Settings(database_url=env["DATABASE_URL"], workers=True)
    app = worker_queue.make_app(settings)
    app.run_worker(wait=False, install_signal_handlers=False, listen_notify=False)
    add_accounts(engine)
    with session(engine, read_only=True) as db:
        row = records.get_inquiry(db, 1)
        assert row.status is S.drafted
        version = records.current_draft(db, row).version
    web = workspace(engine, settings)
    client = logged_in(web, "ann")
    answer = post(client, "/inquiries/1/redraft", draft_version=version)
    assert answer.status_code == 200
    assert "Re-draft queued" in answer.text
    assert 'id="redraft-pending"' in answer.text
    stale = post(client, "/inquiries/1/redraft", draft_version=version - 1)
    assert stale.status_code == 409  # refused at once, not queued
    assert jobs(engine, "todo", worker_queue.REDRAFT) == 1
    app.run_worker(wait=False, install_signal_handlers=False, listen_notify=False)
    close_edge_apps()
    page = client.get("/inquiries/1")
    assert 'id="redraft-pending"' not in page.text
    with session(engine, read_only=True) as db:
        assert records.current_draft(db, records.get_inquiry(db, 1)).version == version + 1
        trail = [e for e in records.audit_trail(db, 1) if e.action is Action.redraft]
        assert [e.actor for e in trail] == ["ann"]


def _mail(n: int) -> bytes:
    from email.message import EmailMessage

    message = EmailMessage()
    message["From"] = f"Customer {n} <buyer{n}@example.com>"
    message["To"] = "support@crocso.example"
    message["Subject"] = f"Order {600000 + n}"
    message["Message-ID"] = f"<imap-team-{n}@example.com>"
    message["Date"] = "Mon, 23 Nov 2026 10:00:00 +0000"
    message.set_content(f"Where is my order {600000 + n}? It has not arrived.")
    return bytes(message)


def test_mail_in_and_out_through_the_workers(team, dovecot, smtp_sink):
    """The whole team flow on jobs: the poll job stores the mail and enqueues it, the
    workers triage and draft, an approval in the workspace enqueues the send, and the
    reply reaches the SMTP server once."""
    engine, env = team
    dovecot.append_many("INBOX", [_mail(n) for n in range(3)])
    settings = Settings(
        database_url=env["DATABASE_URL"],
        workers=True,
        imap_url=dovecot.url(),
        smtp_url=smtp_sink.url,
        send_rate=10_000,
        web_undo_seconds=0,
    )
    app = worker_queue.make_app(settings)

    def run_jobs() -> None:
        app.run_worker(wait=False, install_signal_handlers=False, listen_notify=False)

    with app.open():
        app.tasks[worker_queue.POLL].defer()  # as the periodic run would, once
        run_jobs()  # the poll, then the three jobs it enqueued
    with session(engine, read_only=True) as db:
        drafted = [r for r in records.inquiries_with_status(db, S.drafted)]
        assert len(drafted) == 3
        version = records.current_draft(db, drafted[0]).version
        first = drafted[0].id
    add_accounts(engine)
    client = logged_in(workspace(engine, settings), "ann")
    answer = post(client, f"/inquiries/{first}/approve", draft_version=version)
    assert answer.status_code == 200, answer.text[:500]
    close_edge_apps()
    assert jobs(engine, "todo", worker_queue.SEND) == 1  # the approval enqueued the send
    time.sleep(1.2)  # its undo window (0 s) and the job's 1 s margin
    with app.open():
        run_jobs()
    assert [m.rcpt_tos for m in smtp_sink.received] == [[drafted[0].from_address]]
    with session(engine, read_only=True) as db:
        assert records.get_inquiry(db, first).status is S.sent


def _stall(engine, job_id: int, attempts: int) -> None:
    """What a worker killed -9 leaves: its job `doing`, with no live worker."""
    with engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE procrastinate_jobs SET status = 'doing', worker_id = NULL,"
                " attempts = :a WHERE id = :id"
            ),
            {"a": attempts, "id": job_id},
        )


def _job(engine, job_id: int) -> tuple[str, int]:
    with engine.connect() as connection:
        row = connection.execute(
            text("SELECT status::text, attempts FROM procrastinate_jobs WHERE id = :id"),
            {"id": job_id},
        ).one()
    return row[0], row[1]


def test_the_reaper_retries_a_stalled_job_and_fails_one_on_its_last_try(team, tmp_path):
    engine, env = team
    assert cli(env, "ingest", str(inbox(tmp_path, 2))).returncode == 0
    settings = Settings(database_url=env["DATABASE_URL"], workers=True, task_max_attempts=3)
    app = worker_queue.make_app(settings)
    with engine.connect() as connection:
        first, second = connection.execute(
            text("SELECT id FROM procrastinate_jobs WHERE task_name = :t ORDER BY id"),
            {"t": worker_queue.PROCESS},
        ).scalars()
    _stall(engine, first, attempts=0)
    _stall(engine, second, attempts=2)  # its last try (3 in all): a mail that kills workers
    with app.open():
        # A sweep killed mid-run, and the next one already waiting (its queueing lock):
        # the dead one cannot go back to the queue; it is aborted, and the others reaped.
        dead_sweep = app.tasks[worker_queue.SWEEP].defer()
        _stall(engine, dead_sweep, attempts=0)
        app.tasks[worker_queue.SWEEP].defer()
        with session(engine) as db:  # the sweep leaves inquiries whose job is running alone
            assert worker_queue.without_live_job(db, [1, 2]) == []
        app.tasks[worker_queue.REAP].defer()
        app.run_worker(wait=False, install_signal_handlers=False, listen_notify=False)
    status, attempts = _job(engine, first)
    assert status == "succeeded" and attempts >= 1  # retried, then done
    assert _job(engine, second)[0] == "failed"
    assert _job(engine, dead_sweep)[0] == "aborted"
    with session(engine, read_only=True) as db:
        assert records.get_inquiry(db, 1).status is S.drafted
        assert records.get_inquiry(db, 2).status is S.received
        from assistant.storage.failures import open_failures

        [failure] = open_failures(db)
        assert failure.inquiry_id == 2 and "its worker died 3 times" in failure.error
        from assistant.worker import tasks

        assert tasks.waiting_inquiries(db, skip_failed=True) == []  # not swept again at once


@pytest.mark.slow
def test_a_worker_stopping_for_a_deploy_keeps_its_slow_job_its_own(team, tmp_path):
    """SIGTERM while a slow LLM call runs: the worker finishes it, and its heartbeat goes
    on meanwhile, so another worker's reaper does not run the same job a second time."""
    engine, env = team
    with serve(FakeLlm(delay=6.0)) as (base_url, fake):
        env = {**env, "ASSISTANT_BACKEND": "openai", "OPENAI_BASE_URL": base_url}
        env["OPENAI_API_KEY"] = "test-key"
        env["ASSISTANT_OPENAI_TIMEOUT"] = "60"
        assert cli(env, "ingest", str(inbox(tmp_path, 1))).returncode == 0
        leaving = start_worker(env, concurrency=1)
        wait_until(lambda: jobs(engine, "doing") == 1, 60, "the job to start")
        other = start_worker(env, concurrency=1)
        time.sleep(1.0)
        leaving.send_signal(signal.SIGTERM)  # the deploy
        try:
            wait_until(lambda: all_processed(engine, 1), 120, "the job to finish")
            code = leaving.wait(timeout=30)  # it leaves by itself once its job is done
        finally:
            if leaving.poll() is None:
                leaving.kill()
            stop(other)
        assert code == 0, leaving.stderr.read()[-2000:] if leaving.stderr else ""
    with engine.connect() as connection:
        statuses = (
            connection.execute(
                text("SELECT status::text FROM procrastinate_jobs WHERE task_name = :t"),
                {"t": worker_queue.PROCESS},
            )
            .scalars()
            .all()
        )
    assert statuses == ["succeeded"]  # never aborted, never run twice
    assert len(fake.requests) == 2  # one triage, one draft: nothing paid twice
    assert_each_once(engine, 1)

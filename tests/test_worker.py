"""Background tasks (assistant/worker): each one safe to run twice, the SLA check, task
failures that agents see, the in-process rounds without a queue, and the Procrastinate
jobs (retries, the last try's failure kept) on Procrastinate's in-memory connector. The
real queue on PostgreSQL, with worker processes killed -9, is in test_worker_postgres.py."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from procrastinate.testing import InMemoryConnector
from sqlmodel import func, select
from typer.testing import CliRunner

from assistant import pipeline
from assistant.backends.local import LocalBackend
from assistant.cli import app as cli_app
from assistant.models import Action, InquiryIn, InquiryStatus, Urgency
from assistant.settings import Settings
from assistant.storage import claims, records
from assistant.storage.db import open_database, session
from assistant.storage.failures import open_failures, record_failure
from assistant.storage.queue import QueueFilter, review_queue
from assistant.storage.tables import AuditEventRow, DraftRow, TriageRow, utcnow
from assistant.worker import queue as worker_queue
from assistant.worker import tasks

S = InquiryStatus


class CountingBackend(LocalBackend):
    """The local backend, counting what it is asked: a re-run must not ask again."""

    def __init__(self, settings, policy):
        super().__init__(settings, policy)
        self.triaged = 0
        self.drafted = 0

    def triage_many(self, inquiries, on_done=None):
        self.triaged += len(inquiries)
        return super().triage_many(inquiries, on_done)

    def draft_many(self, items, on_done=None):
        self.drafted += len(items)
        return super().draft_many(items, on_done)


def stored(db, body: str, message_id: str) -> int:
    inquiry = InquiryIn(
        body=body, subject="Question", message_id=message_id, from_address="c@example.com"
    )
    result = pipeline.ingest_many(db, [inquiry])[0]
    assert result.id is not None
    return result.id


def rows(db, model, inquiry_id: int) -> int:
    return db.exec(select(func.count()).where(model.inquiry_id == inquiry_id)).one()


def events(db, inquiry_id: int, action: Action) -> int:
    return db.exec(
        select(func.count()).where(
            AuditEventRow.inquiry_id == inquiry_id, AuditEventRow.action == action
        )
    ).one()


def test_a_job_run_again_finds_its_work_done(db, settings, policy):
    backend = CountingBackend(settings, policy)
    inquiry_id = stored(db, "Where is my order 123456? It has not arrived.", "<w1@example.com>")
    assert tasks.process_inquiry(db, backend, inquiry_id, owner="job:1") is S.drafted
    assert tasks.process_inquiry(db, backend, inquiry_id, owner="job:1") is S.drafted
    assert tasks.process_inquiry(db, backend, inquiry_id, owner="job:2") is S.drafted
    assert (backend.triaged, backend.drafted) == (1, 1)
    assert rows(db, TriageRow, inquiry_id) == 1 and rows(db, DraftRow, inquiry_id) == 1
    assert events(db, inquiry_id, Action.triage) == 1
    assert events(db, inquiry_id, Action.draft) == 1


def test_a_job_killed_after_the_triage_drafts_without_triaging_again(db, settings, policy):
    """The triage is committed before drafting starts: the stored answer is reused."""
    backend = CountingBackend(settings, policy)
    inquiry_id = stored(db, "Do the Classic Clogs come in half sizes?", "<w2@example.com>")

    class DiesWhileDrafting(CountingBackend):
        def draft_many(self, items, on_done=None):
            raise KeyboardInterrupt  # stands for kill -9: nothing after this line runs

    with pytest.raises(KeyboardInterrupt):
        tasks.process_inquiry(db, DiesWhileDrafting(settings, policy), inquiry_id, owner="job:7")
    db.rollback()
    assert records.get_inquiry(db, inquiry_id).status is S.triaged
    assert tasks.waiting_inquiries(db) == [inquiry_id]  # the sweep gives it a job again
    assert tasks.process_inquiry(db, backend, inquiry_id, owner="job:7") is S.drafted
    assert (backend.triaged, backend.drafted) == (0, 1)
    assert rows(db, TriageRow, inquiry_id) == 1 and rows(db, DraftRow, inquiry_id) == 1


def test_the_same_job_takes_its_own_claim_back_and_others_wait(db, settings, policy):
    backend = CountingBackend(settings, policy)
    inquiry_id = stored(db, "I cannot log in to my account", "<w3@example.com>")
    assert claims.claim(db, [inquiry_id], owner="job:5") == [inquiry_id]  # then it died
    assert tasks.process_inquiry(db, backend, inquiry_id, owner="job:6") is S.received
    assert backend.triaged == 0  # another job's live claim: left alone
    assert tasks.process_inquiry(db, backend, inquiry_id, owner="job:5") is S.drafted


def test_a_missing_inquiry_is_no_error(db, settings, policy):
    assert tasks.process_inquiry(db, LocalBackend(settings, policy), 999, owner="job:1") is None


def _due(db, inquiry_id: int, urgency: Urgency, in_hours: float) -> None:
    row = records.get_inquiry(db, inquiry_id)
    row.urgency, row.due_at = urgency, utcnow() + timedelta(hours=in_hours)
    db.add(row)
    db.commit()


def test_the_sla_check_flags_what_is_about_to_breach_once(db, settings, policy):
    backend = LocalBackend(settings, policy)
    ids = [
        stored(db, f"Question number {n} about my order {100000 + n}", f"<sla{n}@example.com>")
        for n in range(4)
    ]
    for inquiry_id in ids:
        tasks.process_inquiry(db, backend, inquiry_id, owner="t")
    _due(db, ids[0], Urgency.urgent, 1.5)  # inside the 2 h of an urgent one
    _due(db, ids[1], Urgency.urgent, 3)  # not yet
    _due(db, ids[2], Urgency.normal, 3)  # inside the 4 h of a normal one
    _due(db, ids[3], Urgency.normal, -1)  # overdue already: flagged too
    flagged = tasks.check_sla(db, settings).flagged
    assert sorted(flagged) == sorted([ids[0], ids[2], ids[3]])
    assert tasks.check_sla(db, settings).flagged == []  # once
    trail = [e for e in records.audit_trail(db, ids[0]) if e.action is Action.sla_warning]
    assert len(trail) == 1 and "about to breach its SLA: due in 1 h" in trail[0].reason
    assert records.get_inquiry(db, ids[0]).status is S.drafted  # a flag, not a status
    at_risk = review_queue(db, where=QueueFilter(at_risk=True))
    assert {item.id for item in at_risk} == set(flagged)
    assert all(item.sla_warned for item in at_risk)


def test_the_sla_check_leaves_closed_inquiries_alone(db, settings, policy):
    inquiry_id = stored(db, "Thanks, all good now", "<closed@example.com>")
    from assistant import review

    review.mark_no_reply_needed(db, inquiry_id, agent="ann", reason="thanks only")
    _due(db, inquiry_id, Urgency.urgent, 0.5)
    assert tasks.check_sla(db, settings).flagged == []


def test_a_failed_task_is_shown_to_agents_until_the_work_is_done(settings, policy):
    engine = open_database(settings.database_url)  # the file the CLI opens too
    with session(engine) as db:
        _failed_then_done(db, settings, policy)
    engine.dispose()


def _failed_then_done(db, settings, policy) -> None:
    inquiry_id = stored(db, "Where is my parcel?", "<fail@example.com>")
    record_failure(
        db,
        task="process_inquiry",
        error="OperationalError: server closed the connection",
        job_id=42,
        inquiry_id=inquiry_id,
        attempts=5,
    )
    [failure] = open_failures(db)
    assert (failure.task, failure.inquiry_id, failure.attempts) == (
        "process_inquiry",
        inquiry_id,
        5,
    )
    row = records.get_inquiry(db, inquiry_id)
    db.refresh(row)
    assert "after 5 tries" in row.error
    result = CliRunner().invoke(cli_app, ["worker", "status", "--json"])
    assert result.exit_code == 0, result.output
    status = json.loads(result.output)
    assert status["failures"][0]["error"].startswith("OperationalError")
    assert status["waiting_inquiries"] == 1
    tasks.process_inquiry(db, LocalBackend(settings, policy), inquiry_id, owner="job:43")
    tasks.resolve_failures(db, inquiry_id)
    assert open_failures(db) == []


def test_worker_once_without_a_queue_triages_and_drafts_what_waits(settings, tmp_path):
    runner = CliRunner()
    inbox = tmp_path / "inbox.jsonl"
    inbox.write_text(
        "\n".join(
            json.dumps({"body": f"Where is my order {200000 + n}?", "message_id": f"<r{n}@x>"})
            for n in range(6)
        ),
        encoding="utf-8",
    )
    assert runner.invoke(cli_app, ["ingest", str(inbox)]).exit_code == 0
    result = runner.invoke(cli_app, ["worker", "--once", "--concurrency", "3"])
    assert result.exit_code == 0, result.output
    assert "triaged and drafted 6" in result.output
    engine = open_database(settings.database_url)
    with session(engine) as db:
        assert tasks.waiting_inquiries(db) == []
        assert db.exec(select(func.count()).select_from(TriageRow)).one() == 6
    engine.dispose()


def test_team_mode_needs_postgresql(monkeypatch):
    monkeypatch.setenv("ASSISTANT_WORKERS", "true")
    from assistant.settings import get_settings

    get_settings.cache_clear()
    result = CliRunner().invoke(cli_app, ["worker", "status"])
    assert result.exit_code == 1
    assert "ASSISTANT_WORKERS needs the team's PostgreSQL" in result.output


# -- the Procrastinate jobs, on its in-memory connector (the real queue: postgres tests) --


@pytest.fixture
def in_memory(tmp_path):
    """A queue in memory over a SQLite database with two stored inquiries."""

    def make(**overrides):
        settings = Settings(database_url=f"sqlite:///{tmp_path / 'q.db'}", **overrides)
        connector = InMemoryConnector()
        app = worker_queue.make_app(settings, connector=connector)
        engine = open_database(settings.database_url)
        return settings, app, connector, engine

    return make


def _run_jobs(app) -> None:
    app.run_worker(wait=False, install_signal_handlers=False, listen_notify=False)


def test_jobs_triage_and_draft_once_however_often_they_are_enqueued(in_memory):
    settings, app, connector, engine = in_memory()
    with session(engine) as db:
        ids = [stored(db, f"My order {300000 + n} has not arrived", f"<j{n}@x>") for n in range(3)]
    with app.open():
        assert worker_queue.defer_processing(app, ids) == 3
        assert worker_queue.defer_processing(app, ids) == 0  # one waiting job per inquiry
        _run_jobs(app)
        assert worker_queue.defer_processing(app, ids) == 3  # done: a new job may be queued
        _run_jobs(app)  # ...and finds the work done
    with session(engine) as db:
        for inquiry_id in ids:
            assert records.get_inquiry(db, inquiry_id).status is S.drafted
            assert rows(db, TriageRow, inquiry_id) == 1 and rows(db, DraftRow, inquiry_id) == 1
    jobs = [j for j in connector.jobs.values() if j["task_name"] == worker_queue.PROCESS]
    assert len(jobs) == 6
    assert {job["lock"] for job in jobs} == {f"inquiry:{i}" for i in ids}
    assert all(job["status"] == "succeeded" for job in jobs)
    engine.dispose()


def test_a_passing_error_is_retried_and_the_last_try_is_kept_for_agents(in_memory, monkeypatch):
    settings, app, connector, engine = in_memory(task_max_attempts=1)
    with session(engine) as db:
        inquiry_id = stored(db, "Where is my order 400001?", "<k1@x>")

    def database_gone(*args, **kwargs):
        raise ConnectionError("the database went away")

    monkeypatch.setattr(tasks, "process_inquiry", database_gone)
    with app.open():
        worker_queue.defer_processing(app, [inquiry_id])
        _run_jobs(app)
    [job] = [j for j in connector.jobs.values() if j["task_name"] == worker_queue.PROCESS]
    assert job["status"] == "failed"
    with session(engine) as db:
        [failure] = open_failures(db)
        assert failure.inquiry_id == inquiry_id and "the database went away" in failure.error
        assert "background task process_inquiry failed" in records.get_inquiry(db, inquiry_id).error
    engine.dispose()


def test_a_job_with_tries_left_is_retried_later_not_recorded(in_memory, monkeypatch):
    settings, app, connector, engine = in_memory(task_max_attempts=3)
    with session(engine) as db:
        inquiry_id = stored(db, "Where is my order 400002?", "<k2@x>")
    monkeypatch.setattr(
        tasks, "process_inquiry", lambda *a, **k: (_ for _ in ()).throw(TimeoutError("slow"))
    )
    with app.open():
        worker_queue.defer_processing(app, [inquiry_id])
        _run_jobs(app)
    [job] = [j for j in connector.jobs.values() if j["task_name"] == worker_queue.PROCESS]
    assert job["status"] == "todo" and job["attempts"] == 1  # again in 2 s
    assert job["scheduled_at"] > utcnow()
    with session(engine) as db:
        assert open_failures(db) == []
    engine.dispose()


def test_a_redraft_job_delivered_twice_writes_one_new_version(in_memory):
    settings, app, connector, engine = in_memory()
    with session(engine) as db:
        inquiry_id = stored(db, "Do the Classic Clogs come in half sizes?", "<rd@x>")
        tasks.process_inquiry(db, LocalBackend(settings, _policy()), inquiry_id, owner="t")
        version = records.current_draft(db, records.get_inquiry(db, inquiry_id)).version
    request = dict(agent="ann", role="agent", expected_version=version)
    with app.open():
        for _ in range(2):  # the queue re-delivers it
            app.tasks[worker_queue.REDRAFT].defer(inquiry_id=inquiry_id, **request)
        _run_jobs(app)
    with session(engine) as db:
        assert rows(db, DraftRow, inquiry_id) == 2  # the first draft and one re-draft
        assert events(db, inquiry_id, Action.redraft) == 1
    engine.dispose()


def _policy():
    from assistant.policy import default_policy

    return default_policy()


def test_every_names_a_cron_line_croniter_reads():
    import croniter

    for seconds, line in ((5, "* * * * * */5"), (7, "* * * * * */10"), (60, "*/1 * * * *")):
        assert worker_queue.every(seconds) == line
        assert croniter.croniter.is_valid(line)
    assert worker_queue.every(3600) == "0 * * * *"


def test_the_queue_url_keeps_the_schema_option():
    url = "postgresql+psycopg://postgres@127.0.0.1:5432/test?options=-csearch_path%3Dt_1"
    assert worker_queue.conninfo(url).startswith("postgresql://postgres@127.0.0.1:5432/test?")
    assert "csearch_path" in worker_queue.conninfo(url)


def test_the_workspace_shows_failed_tasks_and_what_is_about_to_breach(
    shared_engine, settings, policy
):
    from tests.web_support import add_accounts, logged_in, store_mail, workspace

    add_accounts(shared_engine)
    store_mail(
        shared_engine,
        settings,
        policy,
        [
            InquiryIn(body=f"Where is my order {800000 + n}?", message_id=f"<ws{n}@x>")
            for n in range(2)
        ],
    )
    with session(shared_engine) as db:
        _due(db, 1, Urgency.urgent, 1)
        assert tasks.check_sla(db, settings).flagged == [1]
        record_failure(db, task="poll_mailbox", error="MailboxError: imap.example: login refused")
    client = logged_in(workspace(shared_engine, settings), "ann")
    page = client.get("/queue").text
    assert 'id="task-failures"' in page and "login refused" in page
    assert "about to breach" in page
    flagged = client.get("/queue?f=at_risk").text
    assert 'data-id="1"' in flagged and 'data-id="2"' not in flagged


def test_a_task_failing_again_is_one_line_and_clears_when_it_works(settings):
    engine = open_database(settings.database_url)
    with session(engine) as db:
        for _ in range(3):
            record_failure(db, task="poll_mailbox", error="MailboxError: login refused")
        [failure] = open_failures(db)
        assert failure.attempts == 3
        from assistant.storage.failures import resolve_task_failures

        resolve_task_failures(db, "poll_mailbox")
        assert open_failures(db) == []
        inquiry_id = stored(db, "Where is my order 123123?", "<gone@x>")
        record_failure(db, task="process_inquiry", error="boom", inquiry_id=inquiry_id)
        assert len(open_failures(db)) == 1
        from assistant import review

        review.reject(db, inquiry_id, agent="ann", reason="spam")
        assert open_failures(db) == []  # the inquiry is closed: its failure is past
    engine.dispose()


def test_a_redraft_refused_when_it_runs_is_shown_not_dropped(in_memory):
    settings, app, connector, engine = in_memory()
    with session(engine) as db:
        inquiry_id = stored(db, "Do the Classic Clogs come in half sizes?", "<rf@x>")
        tasks.process_inquiry(db, LocalBackend(settings, _policy()), inquiry_id, owner="t")
        version = records.current_draft(db, records.get_inquiry(db, inquiry_id)).version
    with app.open():  # asked for at version 1, but an agent edits first
        app.tasks[worker_queue.REDRAFT].defer(
            inquiry_id=inquiry_id, agent="ann", role="agent", expected_version=version - 1
        )
        _run_jobs(app)
    with session(engine) as db:
        [failure] = open_failures(db)
        assert failure.task == "redraft" and failure.inquiry_id == inquiry_id
        assert "re-draft asked for by ann not done" in failure.error
        assert "changed since you read it" in failure.error
        assert rows(db, DraftRow, inquiry_id) == 1
    engine.dispose()

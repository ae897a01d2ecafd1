"""The team lead's metrics, from data made by the real pipeline and review actions, at
times set by a test clock (the audit trail takes its time from `storage.audit.utcnow`)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event

from assistant import pipeline, review
from assistant.backends.local import LocalBackend
from assistant.models import Category, InquiryIn, InquiryStatus, Urgency
from assistant.storage import audit, records
from assistant.team_metrics import Share, edit_size, team_metrics

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # a Monday


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def at(self, minutes: float) -> None:
        self.now = T0 + timedelta(minutes=minutes)


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock(T0)
    monkeypatch.setattr(audit, "utcnow", clock)  # event times
    monkeypatch.setattr(records, "utcnow", clock)  # triage and draft rows' created_at
    return clock


@pytest.fixture
def backend(settings, policy) -> LocalBackend:
    return LocalBackend(settings, policy)


def mail(body: str, n: int, received_at: datetime = T0) -> InquiryIn:
    return InquiryIn(
        body=body,
        subject="Question",
        message_id=f"<m{n}@x>",
        from_address=f"customer{n}@example.com",
        received_at=received_at,
    )


def run(db, backend, *mails: InquiryIn) -> list[int]:
    """Ingest, triage and draft these mails; their inquiry ids, in order."""
    pipeline.run(db, list(mails), backend)
    ids = records.known_keys(db, message_ids=[m.message_id for m in mails], digests=[])
    return [ids[f"id:{m.message_id}"][0] for m in mails]


ORDER = "Where is my order 558120? It has not arrived yet."


def test_edit_size_counts_inserted_deleted_and_replaced_characters():
    assert edit_size("same text", "same text") == 0
    assert edit_size("Hello.", "Hello, Ann.") == 5  # inserted ", Ann"
    assert edit_size("Hello, Ann.", "Hello.") == 5  # deleted
    assert edit_size("abcdef", "abXYZf") == 3  # cde → XYZ
    assert edit_size("abcdef", "aQf") == 4  # bcde → Q: the longer side
    assert edit_size("", "new") == 3
    assert edit_size("a1b2c", "aXb2cY") == 2  # 1 → X, and Y inserted
    assert edit_size("a1b2c9", "aXbc9") == 2  # 1 → X, and 2 deleted


class LabelledBackend(LocalBackend):
    """Local drafts labelled as an LLM backend's, for the per-backend counts."""

    def draft_many(self, items, on_done=None):
        drafts = super().draft_many(items, on_done)
        return [d.model_copy(update={"backend": "openai"}) for d in drafts]


RETURN = "I would like to return my clogs from order 558125 and get a refund."


def test_unedited_rate_and_edit_size_per_category_and_backend(db, backend, settings, policy, clock):
    first, second = run(db, backend, mail(ORDER, 1), mail(ORDER + " Order 558121.", 2))
    review.approve(db, first, agent="ann")
    drafted = records.latest_draft(db, second).body
    addition = "\n\nKind regards,\nAnn"
    review.approve(db, second, agent="bob", edited_body=drafted + addition)

    assert team_metrics(db).unedited == Share(count=2, hits=1)
    [other] = run(db, LabelledBackend(settings, policy), mail(RETURN, 3))
    review.approve(db, other, agent="ann")

    metrics = team_metrics(db)

    assert metrics.unedited == Share(count=3, hits=2)
    assert metrics.unedited_by_category == {
        "order_status": Share(count=2, hits=1),
        "returns_refunds": Share(count=1, hits=1),
    }
    assert metrics.unedited_by_backend == {"local": Share(2, 1), "openai": Share(1, 1)}
    assert metrics.unedited_by_category["order_status"].rate == 0.5
    assert metrics.edit_size_count == metrics.edit_size_measured == 1
    assert metrics.edit_size_median == len(addition)


def test_an_edit_counts_until_a_new_draft_replaces_the_edited_one(db, backend, clock):
    [inquiry] = run(db, backend, mail(ORDER, 1))
    original = records.latest_draft(db, inquiry).body
    review.edit(db, inquiry, agent="ann", body=original.replace("Hello", "Hey", 1))
    review.approve(db, inquiry, agent="ann")  # edited: "llo" → "y" is 3 characters
    review.withdraw_approval(db, inquiry, agent="ann")
    review.approve(db, inquiry, agent="ann")  # the same edited draft: still edited
    review.withdraw_approval(db, inquiry, agent="ann")
    review.redraft(db, inquiry, agent="ann", backend=backend, category=Category.order_status)
    review.approve(db, inquiry, agent="ann")  # a fresh draft, approved as drafted

    metrics = team_metrics(db)

    assert original.startswith("Hello")
    assert metrics.unedited == Share(count=3, hits=1)
    assert metrics.edit_size_count == metrics.edit_size_measured == 2
    assert metrics.edit_size_median == 3
    assert metrics.sla["normal"].target.count == 1  # only the first approval of the inquiry


def test_sla_met_and_missed_per_urgency(db, backend, clock):
    late = T0 - timedelta(days=10)  # due long before the approval below
    on_time, overdue, urgent_late = run(
        db,
        backend,
        mail(ORDER, 1),
        mail(ORDER, 2, received_at=late),
        mail("My clogs arrived damaged, the strap is torn. Order 558122.", 3, late),
    )
    clock.at(30)
    for inquiry in (on_time, overdue, urgent_late):
        review.approve(db, inquiry, agent="ann")
    assert records.latest_triage(db, urgent_late).urgency is Urgency.urgent

    sla = team_metrics(db).sla

    assert sla["normal"].target == Share(count=2, hits=1) and sla["normal"].target.rate == 0.5
    assert sla["normal"].latest == Share(count=2, hits=1)
    assert sla["urgent"].target == Share(count=1, hits=0) == sla["urgent"].latest


def test_time_to_first_review_from_the_draft_or_arrival_whichever_is_later(db, backend, clock):
    clock.at(10)  # drafted ten minutes after arrival
    a, b, c = run(db, backend, mail(ORDER, 1), mail(ORDER, 2), mail(ORDER, 3))
    clock.at(40)
    review.approve(db, a, agent="ann")  # 30 minutes after the draft
    clock.at(70)
    review.escalate(db, b, agent="ann", reason="asked for a senior")  # 60 minutes
    clock.at(100)
    review.reject(db, b, agent="sam", reason="a duplicate")  # later events change nothing

    metrics = team_metrics(db, now=T0 + timedelta(minutes=130))

    assert metrics.first_reviewed == 2 and metrics.first_review_median_minutes == 45
    assert metrics.first_review_p90_minutes == 60
    assert metrics.awaiting_first_review == 1 and metrics.awaiting_oldest_minutes == 120


def test_auto_replies_do_not_wait_for_review(db, backend, clock):
    auto = InquiryIn(body="I am away", subject="Out of office", message_id="<ooo@x>")
    auto = auto.model_copy(update={"no_reply_reason": "auto-reply"})
    pipeline.run(db, [auto], backend)
    assert records.get_inquiry(db, 1).status is InquiryStatus.no_reply_needed
    assert team_metrics(db).awaiting_first_review == 0


def test_grounding_overrides_are_listed_with_their_reason(db, backend, clock):
    plain, overridden = run(db, backend, mail(ORDER, 1), mail(ORDER, 2))
    review.approve(db, plain, agent="ann")
    review.edit(db, overridden, agent="ann", body="We will refund you.")
    clock.at(5)
    review.approve(db, overridden, agent="bob", override_reason="refund confirmed, ticket 42")

    metrics = team_metrics(db)

    assert metrics.override_count == 1
    [override] = metrics.overrides
    assert (override.inquiry_id, override.actor, override.at) == (overridden, "bob", clock.now)
    assert override.reason == "refund confirmed, ticket 42"


class UnsureBackend(LocalBackend):
    """Local triage that always abstains, so the inquiry needs manual triage."""

    def triage_many(self, inquiries, on_done=None):
        triages = super().triage_many(inquiries, on_done)
        return [t.model_copy(update={"needs_manual_triage": True}) for t in triages]


class FallingBackBackend(LocalBackend):
    """As an LLM backend that failed and fell back to local for triage and drafts."""

    def triage_many(self, inquiries, on_done=None):
        triages = super().triage_many(inquiries, on_done)
        return [t.model_copy(update={"fallback_reason": "HTTP 500"}) for t in triages]

    def draft_many(self, items, on_done=None):
        drafts = super().draft_many(items, on_done)
        return [d.model_copy(update={"fallback_reason": "timeout"}) for d in drafts]


def test_manual_triage_and_fallback_rates(db, backend, settings, policy, clock):
    run(db, backend, mail(ORDER, 1))
    [unsure] = run(db, UnsureBackend(settings, policy), mail("Invoice 0877 attached", 2))
    review.redraft(db, unsure, agent="ann", backend=backend, category=Category.other)
    run(db, FallingBackBackend(settings, policy), mail(ORDER, 3), mail(ORDER, 4))

    metrics = team_metrics(db)

    assert metrics.manual_triage == Share(count=4, hits=1)  # resolved since: still counted
    assert metrics.draft_fallback == Share(count=4, hits=2)  # one draft each, and a redraft
    assert metrics.triage_fallback == Share(count=4, hits=2)  # not the agent's (redraft)


def test_agent_corrections_are_counted_and_their_triages_are_not_fallbacks(
    db, settings, policy, clock
):
    [inquiry] = run(db, FallingBackBackend(settings, policy), mail(ORDER, 1))
    clock.at(5)
    review.correct_triage(db, inquiry, agent="ann", category=Category.returns_refunds)
    review.correct_triage(db, inquiry, agent="ann", urgency=Urgency.urgent, reason="twice charged")

    metrics = team_metrics(db)

    assert metrics.triage_corrections == 2
    assert metrics.triage_fallback == Share(count=1, hits=1)  # corrected copies not counted
    assert team_metrics(db, until=T0 + timedelta(minutes=5)).triage_corrections == 0


def test_only_the_period_is_counted(db, backend, clock):
    early, later = run(db, backend, mail(ORDER, 1), mail(ORDER, 2, T0 + timedelta(hours=2)))
    review.approve(db, early, agent="ann")
    clock.at(180)
    review.approve(db, later, agent="ann")

    since = T0 + timedelta(hours=1)
    metrics = team_metrics(db, since=since)

    assert metrics.unedited.count == 1 and metrics.sla["normal"].target.count == 1
    assert metrics.manual_triage.count == 1  # received in the period: the later one
    assert metrics.draft_fallback.count == 0  # both drafts were made at T0
    assert team_metrics(db, until=since).unedited.count == 1
    assert team_metrics(db, since=T0 + timedelta(days=1)).unedited.rate is None


def test_csv_has_the_header_and_a_row_per_metric(db, backend, clock):
    plain, overridden = run(db, backend, mail(ORDER, 1), mail(ORDER, 2))
    review.approve(db, plain, agent="ann")
    review.edit(db, overridden, agent="ann", body="We will refund you.")
    review.approve(db, overridden, agent="bob", override_reason="finance said yes, ticket 7")

    rows = list(csv.reader(io.StringIO(team_metrics(db).to_csv())))

    assert rows[0] == ["metric", "group", "value"]
    values = {(metric, group): value for metric, group, value in rows[1:]}
    assert values[("approved", "all")] == "2"
    assert values[("approved_unedited_rate", "all")] == "0.5"
    assert values[("approved_unedited_rate", "backend=local")] == "0.5"
    assert values[("sla_met_target_rate", "urgency=normal")] == "1.0"
    assert values[("sla_met_target_rate", "urgency=urgent")] == ""  # nothing to measure
    assert values[("grounding_overrides", "all")] == "1"
    assert (
        "bob: finance said yes, ticket 7" in values[("grounding_override", f"inquiry={overridden}")]
    )
    assert len(rows) - 1 == len(team_metrics(db).rows())


def test_the_number_of_queries_does_not_grow_with_the_data(db, engine, backend, clock):
    def queries_for_metrics() -> int:
        statements: list[str] = []

        def count(conn, cursor, statement, *args):
            statements.append(statement)

        event.listen(engine, "before_cursor_execute", count)
        try:
            team_metrics(db)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        return len(statements)

    [one] = run(db, backend, mail(ORDER, 1))
    review.approve(db, one, agent="ann", edited_body=records.latest_draft(db, one).body + " Ann")
    few = queries_for_metrics()
    for inquiry in run(db, backend, *(mail(ORDER, n) for n in range(2, 12))):
        review.approve(db, inquiry, agent="ann", override_reason="checked")
    assert queries_for_metrics() == few


def test_many_edited_approvals_are_measured_on_an_even_sample(db, backend, clock, monkeypatch):
    from assistant import team_metrics as module

    inquiries = run(db, backend, *(mail(ORDER, n) for n in range(1, 9)))
    for inquiry in inquiries:
        body = records.latest_draft(db, inquiry).body
        review.approve(db, inquiry, agent="ann", edited_body=body + "\nAnn")  # 4 characters
    monkeypatch.setattr(module, "EDIT_SIZE_SAMPLE", 3)

    metrics = team_metrics(db)

    assert metrics.edit_size_count == 8
    assert 0 < metrics.edit_size_measured < 8 and metrics.edit_size_median == 4

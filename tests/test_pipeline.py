"""Store first, never lose an inquiry, one inquiry per email — on SQLite and PostgreSQL."""

from assistant import pipeline
from assistant.backends.local import LocalBackend
from assistant.models import InquiryIn
from assistant.storage import records
from assistant.storage.queue import review_queue


def mail(body: str, message_id: str | None = None, sender: str = "a@example.com") -> InquiryIn:
    return InquiryIn(body=body, subject="Question", message_id=message_id, from_address=sender)


def test_run_stores_triages_and_drafts_every_inquiry(db, settings, policy):
    inquiries = [mail("Where is my order 558120?", "<1@x>"), mail("I love my clogs!", "<2@x>")]
    summary = pipeline.run(db, inquiries, LocalBackend(settings, policy))
    assert summary.ingested == 2 and summary.processed == 2 and summary.failed == 0
    for row in review_queue(db):
        assert row.status == "drafted"
        assert records.latest_triage(db, row.id) is not None
        draft = records.latest_draft(db, row.id)
        assert draft.policy_version == policy.version
        actions = [event.action for event in records.audit_trail(db, row.id)]
        assert actions == ["receive", "triage", "draft"]


def test_same_message_id_or_same_content_is_one_inquiry(db, settings, policy):
    backend = LocalBackend(settings, policy)
    first = pipeline.run(db, [mail("Where is my order?", "<same@x>")], backend)
    again = pipeline.run(
        db,
        [mail("Where is my order? (resent)", "<same@x>"), mail("No id here"), mail("No id here")],
        backend,
    )
    assert first.ingested == 1
    assert again.ingested == 1 and again.duplicates == 2
    assert sum(records.count_by_status(db).values()) == 2


def test_the_same_text_under_a_new_message_id_is_a_new_inquiry(db, settings, policy):
    backend = LocalBackend(settings, policy)
    pipeline.run(db, [mail("Still no parcel, order 558120", "<first@x>")], backend)
    again = pipeline.run(db, [mail("Still no parcel, order 558120", "<chasing@x>")], backend)
    assert again.ingested == 1 and again.duplicates == 0


def test_twins_inside_one_batch_are_stored_once_wherever_they_stand(db, settings, policy):
    batch = [
        mail("Where is my order?", "<twin@x>"),
        mail("Where is my order? (sent twice)", "<twin@x>"),
        mail("No id"),
        mail("No id"),
    ]
    summary = pipeline.run(db, batch, LocalBackend(settings, policy))
    assert summary.ingested == 2 and summary.duplicates == 2
    assert {row.message_id for row in review_queue(db)} == {"<twin@x>", None}


def test_a_mail_repeated_in_a_later_batch_is_processed_once(db, settings, policy):
    a, b = mail("Where is my order?", "<a@x>"), mail("I love my clogs!", "<b@x>")
    summary = pipeline.run(db, [a, b, a], LocalBackend(settings, policy), batch_size=2)
    assert (summary.ingested, summary.duplicates, summary.processed) == (2, 1, 2)
    [first] = [r for r in review_queue(db) if r.message_id == "<a@x>"]
    assert [e.action for e in records.audit_trail(db, first.id)] == ["receive", "triage", "draft"]


class ExplodingBackend(LocalBackend):
    """Fails on one particular inquiry, as a flaky model server would."""

    def triage_many(self, inquiries, on_done=None):
        if any("explode" in i.body for i in inquiries):
            raise RuntimeError("model server went away")
        return super().triage_many(inquiries, on_done)


class BrokenDrafter(LocalBackend):
    def draft(self, inquiry, triage, instruction=None):
        raise ValueError("template missing")


def test_a_failure_leaves_the_inquiry_stored_as_needs_manual_triage(db, settings, policy):
    inquiries = [mail("Where is my order?", "<ok@x>"), mail("please explode", "<bad@x>")]
    summary = pipeline.run(db, inquiries, ExplodingBackend(settings, policy))
    assert summary.ingested == 2 and summary.failed == 1
    statuses = {row.message_id: row for row in review_queue(db)}
    assert statuses["<ok@x>"].status == "drafted"
    failed = statuses["<bad@x>"]
    assert failed.status == "needs_manual_triage"
    assert "model server went away" in failed.error
    assert [e.action for e in records.audit_trail(db, failed.id)] == ["receive", "triage_failed"]


def test_a_drafting_failure_keeps_the_triage(db, settings, policy):
    pipeline.run(db, [mail("Where is my order?", "<d@x>")], BrokenDrafter(settings, policy))
    row = review_queue(db)[0]
    assert row.status == "needs_manual_triage"
    assert records.latest_triage(db, row.id).category == "order_status"
    assert "draft failed" in row.error


def test_queue_puts_urgent_first_then_earliest_due(db, settings, policy):
    inquiries = [
        mail("What sizes does the Echo Clog come in?", "<n@x>"),
        mail("I received the wrong item, order 558120", "<u@x>"),
    ]
    pipeline.run(db, inquiries, LocalBackend(settings, policy))
    queue = review_queue(db)
    assert [row.message_id for row in queue] == ["<u@x>", "<n@x>"]
    assert queue[0].urgency == "urgent"

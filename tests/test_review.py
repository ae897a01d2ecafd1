"""The human gate, enforced in the service layer whatever the interface."""

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError

from assistant import export, pipeline, review
from assistant.backends.local import LocalBackend
from assistant.models import Category, InquiryIn
from assistant.storage import records
from assistant.storage.queue import review_queue
from assistant.workflow import Actor


@pytest.fixture
def drafted(db, settings, policy):
    inquiry = InquiryIn(
        body="Where is my order 558120?",
        subject="Order",
        message_id="<q@x>",
        from_address="maria@example.com",
        references="<older@x>",
    )
    pipeline.run(db, [inquiry], LocalBackend(settings, policy))
    return review_queue(db)[0].id


def test_approval_needs_a_named_agent(db, drafted):
    with pytest.raises(review.ReviewError, match="named agent"):
        review.approve(db, drafted, agent="  ")
    assert records.get_inquiry(db, drafted).status == "drafted"


def test_approved_reply_is_threaded_and_audited(db, drafted):
    reply = review.approve(db, drafted, agent="ann")
    assert reply.in_reply_to == "<q@x>"
    assert reply.references == "<older@x> <q@x>"
    assert reply.subject == "Re: Order"
    assert reply.to_address == "maria@example.com"
    trail = records.audit_trail(db, drafted)
    assert trail[-1].action == "approve" and trail[-1].actor == "ann"
    assert records.get_inquiry(db, drafted).status == "approved"


def test_only_approved_replies_can_be_exported_or_sent(db, drafted, settings, policy):
    assert records.approved_replies(db) == []
    with pytest.raises(review.ReviewError, match="is drafted, not approved"):
        export.mark_sent(db, [drafted], actor=Actor.system("smtp"), transport="smtp")
    review.approve(db, drafted, agent="ann")
    assert [r.inquiry_id for r in records.approved_replies(db)] == [drafted]
    export.mark_sent(db, [drafted], actor=Actor.system("smtp"), transport="smtp")
    assert records.get_inquiry(db, drafted).status == "sent"


def test_rejected_or_approved_inquiries_cannot_be_approved_again(db, drafted):
    with pytest.raises(review.ReviewError, match="needs a reason"):
        review.reject(db, drafted, agent="ann", reason="")
    review.reject(db, drafted, agent="ann", reason="customer wrote again")
    with pytest.raises(review.ReviewError, match="is rejected"):
        review.approve(db, drafted, agent="ann")


def test_grounding_findings_block_approval_until_edited_or_overridden(db, drafted):
    promise = "Hi,\n\nYour refund has been issued and you will get $80 back by Friday.\n"
    with pytest.raises(review.GroundingBlocked) as blocked:
        review.approve(db, drafted, agent="ann", edited_body=promise)
    assert {f.kind for f in blocked.value.findings} >= {
        "refund_commitment",
        "money_amount",
        "date",
    }
    # All or nothing: the refused edit is not saved either.
    assert records.get_inquiry(db, drafted).status == "drafted"
    original = records.latest_draft(db, drafted).body
    assert original != promise
    assert [e.action for e in records.audit_trail(db, drafted)] == ["receive", "triage", "draft"]
    clean = "Hi,\n\nThank you, we are looking into your order 558120.\n"
    reply = review.approve(db, drafted, agent="ann", edited_body=clean)
    assert reply.body == clean
    edits = [e for e in records.audit_trail(db, drafted) if e.action == "edit"]
    assert edits[-1].text_before == original and edits[-1].text_after == clean


def test_override_with_a_reason_is_recorded(db, drafted):
    review.edit(db, drafted, agent="ann", body="We will refund you.")
    with pytest.raises(review.GroundingBlocked):
        review.approve(db, drafted, agent="bob")
    review.approve(
        db, drafted, agent="bob", override_reason="refund confirmed by finance, ticket 42"
    )
    overrides = [e for e in records.audit_trail(db, drafted) if e.action == "override_grounding"]
    assert overrides[0].actor == "bob" and "finance" in overrides[0].reason


def test_escalated_inquiry_can_be_approved_by_a_senior(db, drafted):
    review.escalate(db, drafted, agent="ann", reason="customer asked for a senior rep")
    assert records.get_inquiry(db, drafted).status == "escalated"
    review.approve(db, drafted, agent=Actor.agent("senior sam", role="senior"))
    assert records.get_inquiry(db, drafted).status == "approved"


def test_redraft_with_a_category_set_by_the_agent(db, drafted, settings, policy):
    review.redraft(
        db,
        drafted,
        agent="ann",
        backend=LocalBackend(settings, policy),
        category=Category.returns_refunds,
    )
    assert records.latest_triage(db, drafted).category == "returns_refunds"
    assert "Refund Policy" in records.latest_draft(db, drafted).body
    assert records.audit_trail(db, drafted)[-1].action == "redraft"


def test_audit_trail_is_append_only_in_the_database(db, drafted):
    event_id = records.audit_trail(db, drafted)[0].id
    for statement in (
        "UPDATE audit_event SET actor = 'mallory' WHERE id = :id",
        "DELETE FROM audit_event WHERE id = :id",
    ):
        with pytest.raises((DBAPIError, IntegrityError), match="append-only"):
            db.execute(text(statement), {"id": event_id})
        db.rollback()
    assert records.audit_trail(db, drafted)[0].actor == "system"


def test_a_reply_promising_a_senior_review_needs_the_case_escalated_first(db, settings, policy):
    unhappy = InquiryIn(
        body="Your first answer did not help at all. I want to speak to a supervisor.",
        message_id="<senior@x>",
        from_address="unhappy@example.com",
    )
    pipeline.run(db, [unhappy], LocalBackend(settings, policy))
    [row] = [r for r in review_queue(db) if r.message_id == "<senior@x>"]
    assert "senior customer service representative" in records.latest_draft(db, row.id).body
    with pytest.raises(review.ReviewError, match="escalate it first"):
        review.approve(db, row.id, agent="ann")
    assert records.get_inquiry(db, row.id).status == "drafted"
    review.escalate(db, row.id, agent="ann", reason="asked for a supervisor")
    assert (
        review.approve(db, row.id, agent=Actor.agent("senior sam", role="senior")).approved_by
        == "senior sam"
    )


def test_escalating_twice_is_refused(db, drafted):
    review.escalate(db, drafted, agent="ann", reason="asked for a supervisor")
    with pytest.raises(review.ReviewError, match="is escalated"):
        review.escalate(db, drafted, agent="ann", reason="asked for a supervisor")
    assert [e.action for e in records.audit_trail(db, drafted)].count("escalate") == 1


class UnsureBackend(LocalBackend):
    """Local triage that always abstains, as on mail the classifier has never seen."""

    def triage_many(self, inquiries, on_done=None):
        return [
            t.model_copy(update={"needs_manual_triage": True})
            for t in super().triage_many(inquiries, on_done)
        ]


def test_redraft_of_a_manual_triage_needs_the_category(db, settings, policy):
    unsure = UnsureBackend(settings, policy)
    pipeline.run(db, [InquiryIn(body="Invoice 0877 attached", message_id="<inv@x>")], unsure)
    [row] = review_queue(db)
    assert row.status == "needs_manual_triage"
    with pytest.raises(review.ReviewError, match="give the category with --category"):
        review.redraft(db, row.id, agent="ann", backend=unsure)
    review.redraft(db, row.id, agent="ann", backend=unsure, category=Category.other)
    assert records.get_inquiry(db, row.id).status == "drafted"
    latest = records.latest_triage(db, row.id)
    assert latest.category == "other" and not latest.needs_manual_triage


def test_only_a_senior_approves_a_reply_to_an_escalated_inquiry(db, drafted):
    review.escalate(db, drafted, agent="ann", reason="customer asked for a supervisor")
    with pytest.raises(review.ReviewError, match="only a senior"):
        review.approve(db, drafted, agent=Actor.agent("ann", role="agent"))
    with pytest.raises(review.ReviewError, match="only a senior"):
        review.approve(db, drafted, agent="typed name")  # no account, no role
    assert records.get_inquiry(db, drafted).status == "escalated"
    review.approve(db, drafted, agent=Actor.agent("bea", role="admin"))
    assert records.get_inquiry(db, drafted).status == "approved"

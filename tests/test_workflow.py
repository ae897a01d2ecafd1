"""The workflow core as agents meet it: every state change goes through one table of rules,
is audited, and is refused in the agent's words when it does not apply."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from assistant import export, pipeline, review, workflow
from assistant.backends.local import LocalBackend
from assistant.cli import app
from assistant.ingest import parse_email_bytes
from assistant.models import Action, Category, InquiryIn, InquiryStatus
from assistant.storage import audit, records
from assistant.storage.queue import review_queue
from assistant.workflow import RULES, Actor

S = InquiryStatus
runner = CliRunner()


def mail(body: str, message_id: str, **fields) -> InquiryIn:
    fields.setdefault("from_address", "maria@example.com")
    return InquiryIn(body=body, subject="Question", message_id=message_id, **fields)


@pytest.fixture
def drafted(db, settings, policy) -> int:
    pipeline.run(db, [mail("Where is my order 558120?", "<w@x>")], LocalBackend(settings, policy))
    return 1


def actions(db, inquiry_id: int) -> list[str]:
    return [event.action.value for event in records.audit_trail(db, inquiry_id)]


def test_every_action_has_a_rule_and_every_status_is_reachable():
    assert set(RULES) == set(Action)
    targets = {t for rule in RULES.values() for t in (rule.targets or ())}
    assert targets == set(InquiryStatus)


def test_a_refused_action_changes_nothing(db, drafted):
    before = actions(db, drafted)
    with pytest.raises(review.ReviewError, match="is drafted; withdraw needs it approved"):
        review.withdraw_approval(db, drafted, agent="ann")
    with pytest.raises(review.ReviewError, match="reject needs a reason"):
        review.reject(db, drafted, agent="ann", reason="  ")
    with pytest.raises(review.ReviewError, match="named agent"):
        review.escalate(db, drafted, agent="", reason="asked for a supervisor")
    with pytest.raises(review.ReviewError, match="is done by the assistant itself"):
        workflow.apply(db, drafted, Action.draft, Actor.agent("ann"))
    assert actions(db, drafted) == before
    assert records.get_inquiry(db, drafted).status is S.drafted


def test_withdrawing_an_approval_makes_the_draft_reviewable_again(db, drafted):
    first = review.approve(db, drafted, agent="ann")
    review.withdraw_approval(db, drafted, agent="ann", reason="wrong order number")
    assert records.get_inquiry(db, drafted).status is S.drafted
    assert records.approved_replies(db) == [] and records.outbound_reply(db, drafted) is None
    again = review.approve(db, drafted, agent="bob")
    assert again.message_id != first.message_id
    assert actions(db, drafted)[-3:] == ["approve", "withdraw_approval", "approve"]
    withdrawal = records.audit_trail(db, drafted)[-2]
    assert withdrawal.actor == "ann" and withdrawal.reason == "wrong order number"


def test_an_escalated_approval_withdrawn_is_escalated_again(db, drafted):
    review.escalate(db, drafted, agent="ann", reason="asked for a senior")
    review.approve(db, drafted, agent=Actor.agent("sam", role="senior"))
    review.withdraw_approval(db, drafted, agent="sam")
    assert records.get_inquiry(db, drafted).status is S.escalated


def test_no_reply_needed_is_set_by_an_agent_and_undone(db, drafted):
    review.mark_no_reply_needed(db, drafted, agent="ann", reason="customer says it arrived")
    row = records.get_inquiry(db, drafted)
    assert row.status is S.no_reply_needed and row.status_reason == "customer says it arrived"
    assert drafted not in [item.id for item in review_queue(db)]
    review.reopen(db, drafted, agent="ann")
    assert records.get_inquiry(db, drafted).status is S.drafted
    assert actions(db, drafted)[-2:] == ["mark_no_reply_needed", "reopen"]


AUTO_REPLIES = {
    "out of office": b"From: Ana <ana@example.com>\r\nSubject: Out of office\r\n"
    b"Auto-Submitted: auto-replied\r\nMessage-ID: <ooo@x>\r\n\r\nI am away until Monday.\r\n",
    "bounce": b"From: MAILER-DAEMON@mx.example.com\r\nSubject: Undelivered Mail Returned\r\n"
    b"Message-ID: <bounce@x>\r\n\r\nYour message could not be delivered.\r\n",
    "newsletter": b"From: news@shop.example.com\r\nSubject: Our new sale\r\n"
    b"List-Unsubscribe: <mailto:unsub@shop.example.com>\r\nMessage-ID: <news@x>\r\n\r\nBuy now\r\n",
}


@pytest.mark.parametrize("kind", sorted(AUTO_REPLIES))
def test_auto_replies_are_stored_but_not_drafted(db, settings, policy, kind):
    inquiry = parse_email_bytes(AUTO_REPLIES[kind], source="eml:x.eml")
    summary = pipeline.run(db, [inquiry], LocalBackend(settings, policy))
    assert summary.no_reply_needed == 1 and summary.processed == 0
    [row] = records.inquiries_with_status(db, S.no_reply_needed)
    assert row.status_reason and row.draft_id is None
    assert actions(db, row.id) == ["receive", "mark_no_reply_needed"]
    review.reopen(db, row.id, agent="ann", reason="a real question after all")
    assert records.get_inquiry(db, row.id).status is S.received  # `run` will triage it
    assert pipeline.run_waiting(db, LocalBackend(settings, policy)).processed == 1


def test_a_customer_mail_is_not_taken_for_an_auto_reply():
    inquiry = parse_email_bytes(
        b"From: Ana <ana@example.com>\r\nSubject: Out of office? No, my order!\r\n"
        b"Auto-Submitted: no\r\nMessage-ID: <real@x>\r\n\r\nWhere is order 558120?\r\n"
    )
    assert inquiry.no_reply_reason is None


def test_quarantined_mail_can_be_dismissed_but_never_approved(db, tmp_path):
    from assistant.ingest import read_path

    (tmp_path / "bad.eml").write_bytes(b"")
    [stored] = pipeline.ingest_many(db, list(read_path(tmp_path)))
    assert stored.status is S.quarantined
    with pytest.raises(review.ReviewError, match="is quarantined; approve needs it"):
        review.approve(db, stored.id, agent="ann")
    review.reject(db, stored.id, agent="ann", reason="empty file")
    assert records.get_inquiry(db, stored.id).status is S.rejected


def test_a_mail_without_a_valid_address_cannot_be_approved(db, settings, policy):
    injected = mail(
        "Where is my order 558120?", "<crlf@x>", from_address="a@x.com\r\nBcc: all@x.com"
    )
    pipeline.run(db, [injected], LocalBackend(settings, policy))
    with pytest.raises(review.ReviewError, match="no address a reply can go to"):
        review.approve(db, 1, agent="ann")
    assert records.get_inquiry(db, 1).status is S.drafted


def test_reply_to_is_where_the_reply_goes(db, settings, policy):
    inquiry = parse_email_bytes(
        b"From: Ana <ana@work.example.com>\r\nReply-To: Ana <ana@home.example.com>\r\n"
        b"Subject: Order\r\nMessage-ID: <rt@x>\r\n\r\nWhere is order 558120?\r\n"
    )
    pipeline.run(db, [inquiry], LocalBackend(settings, policy))
    assert review.approve(db, 1, agent="ann").to_address == "ana@home.example.com"


def test_a_group_address_is_no_recipient():
    inquiry = parse_email_bytes(
        b"From: undisclosed-recipients:;\r\nSubject: Order\r\n\r\nWhere is order 558120?\r\n"
    )
    assert inquiry.from_address == ""


def test_export_is_recorded_and_dated_in_utc(db, drafted, settings, tmp_path):
    reply = review.approve(db, drafted, agent="ann")
    done = export.write_eml([reply], tmp_path, settings)
    export.record_export(db, done.replies, actor=Actor.agent("ann"), how="export eml")
    assert b"+0000" in done.files[0].read_bytes() and b"-0000" not in done.files[0].read_bytes()
    assert records.outbound_reply(db, drafted).exported_at is not None
    event = records.audit_trail(db, drafted)[-1]
    assert (event.action, event.actor, event.to_status) == (Action.export, "ann", S.approved)
    assert audit.verify(db)[1] is None


def test_mark_sent_is_all_or_none(db, settings, policy):
    mails = [mail("Where is my order 558120?", f"<m{i}@x>") for i in range(3)]
    pipeline.run(db, mails, LocalBackend(settings, policy))
    review.approve(db, 1, agent="ann")
    review.approve(db, 2, agent="ann")
    with pytest.raises(review.ReviewError, match="inquiry 3 is drafted, not approved"):
        export.mark_sent(db, [1, 2, 3], actor=Actor.agent("ann"), transport="Outlook")
    assert [records.get_inquiry(db, i).status for i in (1, 2)] == [S.approved, S.approved]
    export.mark_sent(db, [1, 2], actor=Actor.agent("ann"), transport="Outlook")
    assert [records.get_inquiry(db, i).status for i in (1, 2)] == [S.sent, S.sent]


# --- through the command line, as the agent sees it ---------------------------------------


def invoke(*args: str, input: str | None = None):
    return runner.invoke(app, list(args), input=input)


@pytest.fixture
def inbox(tmp_path):
    rows = [
        {"id": "1", "text": "Where is my order 558120?", "from": "maria@example.com"},
        {
            "id": "2",
            "text": "Invoice 0877 attached for your accounts team",
            "from": "b@example.com",
        },
        {
            "id": "3",
            "text": "Bonjour, ma commande CR-104233 n'est toujours pas arrivée. Pouvez-vous "
            "vérifier où elle en est ? Merci beaucoup.",
            "from": "claire@example.fr",
        },
    ]
    path = tmp_path / "mail.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    assert invoke("run", str(path)).exit_code == 0
    return path


def test_queue_says_escalated_when_an_agent_escalated(inbox):
    assert invoke("escalate", "1", "--agent", "ann", "--reason", "angry").exit_code == 0
    [item] = [i for i in json.loads(invoke("queue", "--json").stdout) if i["id"] == 1]
    assert item["escalation"] is True and item["status"] == "escalated"


def test_show_says_who_set_the_category(inbox):
    result = invoke("redraft", "2", "--agent", "ann", "--category", "other")
    assert result.exit_code == 0, result.output
    shown = invoke("show", "2").stdout
    assert "other (set by ann)" in shown and "(low, 1.00)" not in shown
    [item] = [i for i in json.loads(invoke("queue", "--json").stdout) if i["id"] == 2]
    assert item["category"] == "other" and item["category_set_by"] == "ann"


def test_edit_english_without_a_translator_says_so_and_takes_the_agents_translation(
    inbox, tmp_path
):
    english = tmp_path / "en.txt"
    english.write_text("Hello Claire,\n\nWe are checking order CR-104233.\n\nKind regards,\nCrocso")
    result = invoke("edit-english", "3", "--agent", "ann", "--body-file", str(english))
    assert result.exit_code == 0, result.output
    assert "no translator is configured" in result.stdout and "Traceback" not in result.output
    assert invoke("approve", "3", "--agent", "ann").exit_code == 1  # the French is stale
    french = tmp_path / "fr.txt"
    french.write_text(
        "Bonjour Claire,\n\nNous vérifions la commande CR-104233.\n\nCordialement,\nCrocso"
    )
    result = invoke(
        "edit-english",
        "3",
        "--agent",
        "ann",
        "--body-file",
        str(english),
        "--customer-file",
        str(french),
    )
    assert result.exit_code == 0 and "your translation saved" in result.stdout
    approved = invoke("approve", "3", "--agent", "ann", "--json")
    assert approved.exit_code == 0, approved.output
    assert json.loads(approved.stdout)["body"].startswith("Bonjour Claire")


def test_retranslate_without_a_translator_is_one_line(inbox):
    result = invoke("retranslate", "3", "--agent", "ann")
    assert result.exit_code == 1
    assert result.output.startswith("error: the draft of inquiry 3 is in English only") or (
        "no translator is configured" in result.output
    )
    assert len(result.output.strip().splitlines()) == 1


def test_withdraw_no_reply_needed_and_reopen_commands(inbox):
    assert invoke("approve", "1", "--agent", "ann").exit_code == 0
    assert invoke("withdraw", "1", "--agent", "ann").exit_code == 0
    assert (
        invoke("no-reply-needed", "1", "--agent", "ann", "--reason", "resolved by phone").exit_code
        == 0
    )
    statuses = {
        i["id"]: i["status"]
        for i in json.loads(invoke("queue", "--json", "--status", "no_reply_needed").stdout)
    }
    assert statuses == {1: "no_reply_needed"}
    assert invoke("reopen", "1", "--agent", "ann").exit_code == 0
    assert json.loads(invoke("show", "1", "--json").stdout)["inquiry"]["status"] == "drafted"


def test_a_stale_draft_version_from_the_command_line_is_refused(inbox, tmp_path):
    edited = tmp_path / "edit.txt"
    edited.write_text("Hi Maria,\n\nWe are looking into order 558120.\n")
    assert invoke("edit", "1", "--agent", "ann", "--body-file", str(edited)).exit_code == 0
    result = invoke("approve", "1", "--agent", "bob", "--draft-version", "1")
    assert result.exit_code == 1 and "changed since you read it" in result.output
    assert invoke("approve", "1", "--agent", "bob", "--draft-version", "2").exit_code == 0


def test_an_unexpected_error_is_one_line_unless_debug(inbox, monkeypatch):
    from assistant.storage import queue as stored

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire\nsecond line")

    monkeypatch.setattr(stored, "review_queue", broken)
    result = invoke("queue")
    assert result.exit_code == 1
    assert result.output.strip() == (
        "error: RuntimeError: disk on fire (run again with --debug for the details)"
    )
    with pytest.raises(RuntimeError):
        runner.invoke(app, ["--debug", "queue"], catch_exceptions=False)


def test_category_names_are_checked(inbox):
    result = invoke("redraft", "2", "--agent", "ann", "--category", "nonsense")
    assert result.exit_code == 1 and "unknown category 'nonsense'" in result.output
    assert Category.other.value in result.output


def test_reopen_goes_back_to_where_the_inquiry_was(db, drafted, tmp_path):
    review.escalate(db, drafted, agent="ann", reason="asked for a senior")
    review.mark_no_reply_needed(db, drafted, agent="sam", reason="customer withdrew")
    review.reopen(db, drafted, agent="sam")
    assert records.get_inquiry(db, drafted).status is S.escalated
    from assistant.ingest import read_path

    (tmp_path / "bad.eml").write_bytes(b"")
    [stored] = pipeline.ingest_many(db, list(read_path(tmp_path)))
    review.mark_no_reply_needed(db, stored.id, agent="ann", reason="junk")
    review.reopen(db, stored.id, agent="ann")
    assert records.get_inquiry(db, stored.id).status is S.quarantined  # not sent to triage


def test_a_reply_never_goes_to_our_own_address_or_a_mail_robot(db, settings, policy):
    loops = [
        mail("Where is my order 558120?", "<own@x>", from_address="support@crocso.example"),
        mail("Where is my order 558121?", "<robot@x>", from_address="postmaster@mx.example.com"),
        mail(
            "Where is my order 558122?",
            "<rt@x>",
            from_address="ana@example.com",
            reply_to="support@crocso.example",
        ),
    ]
    pipeline.run(db, loops, LocalBackend(settings, policy))
    for inquiry_id in (1, 2):
        status = records.get_inquiry(db, inquiry_id).status
        if status is S.drafted:
            with pytest.raises(review.ReviewError, match="no address a reply can go to"):
                review.approve(db, inquiry_id, agent="ann")
    assert review.approve(db, 3, agent="ann").to_address == "ana@example.com"


def test_the_trail_says_whether_a_person_or_the_assistant_acted(db, drafted):
    review.approve(db, drafted, agent="system")  # a person who calls themselves "system"
    events = records.audit_trail(db, drafted)
    assert [e.actor_kind.value for e in events] == ["system", "system", "system", "agent"]


def test_a_manual_triage_inquiry_has_no_draft_until_an_agent_sets_the_category(
    db, settings, policy
):
    from tests.test_review import UnsureBackend

    unsure = UnsureBackend(settings, policy)
    pipeline.run(db, [mail("Invoice 0877 attached", "<inv@x>")], unsure)
    row = records.get_inquiry(db, 1)
    assert row.status is S.needs_manual_triage and row.draft_id is None
    review.escalate(db, 1, agent="ann", reason="asked for a supervisor")
    with pytest.raises(review.ReviewError, match="no draft"):
        review.approve(db, 1, agent="sam")
    review.redraft(db, 1, agent="sam", backend=unsure, category=Category.other)
    assert records.get_inquiry(db, 1).status is S.escalated

"""Mail written to break the assistant, as an attacker or a broken mailer would send it:
each bad one is stored with its reason or refused in one line, and the others go on."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from assistant import pipeline, review
from assistant.backends.local import LocalBackend
from assistant.cli import app
from assistant.ingest import parse_email_bytes, read_path, text_inquiry
from assistant.ingest.addresses import valid_address
from assistant.models import InquiryIn, InquiryStatus, QuarantinedMail
from assistant.storage import audit, records
from assistant.workflow import Actor

runner = CliRunner()
SENIOR = Actor.agent("sam", role="senior")
S = InquiryStatus


def eml(sender: bytes, body: bytes = b"Where is my order 558120?", extra: bytes = b"") -> bytes:
    return b"From: " + sender + b"\r\nSubject: Order\r\n" + extra + b"\r\n" + body + b"\r\n"


def test_a_raw_utf8_display_name_is_read_not_fatal(db, settings, policy):
    inquiry = parse_email_bytes(eml("Éric Müller <eric@example.com>".encode()))
    assert inquiry.from_name == "Éric Müller" and inquiry.from_address == "eric@example.com"
    pipeline.run(db, [inquiry], LocalBackend(settings, policy))
    assert records.get_inquiry(db, 1).from_name == "Éric Müller"


def test_a_bad_jsonl_row_is_quarantined_and_the_others_are_stored(tmp_path: Path, db):
    rows = [
        {"id": "1", "text": "Where is my order?"},
        {"id": "2", "text": "hello \ud800 there"},  # a lone surrogate
        {"id": "3", "text": "Reset my password", "reply_to": 5},
        {"id": "4", "text": "My clogs", "received_at": "9999-12-31T23:59:59-14:00"},
        {"id": "5", "text": "Sizes?", "subject": "Hi\r\nBcc: evil@attacker.example"},
    ]
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    items = list(read_path(path))
    assert [type(i).__name__ for i in items] == [
        "InquiryIn",
        "InquiryIn",
        "QuarantinedMail",
        "InquiryIn",
        "InquiryIn",
    ]
    assert items[1].body == "hello \ufffd there"
    assert "'reply_to' must be text, not int" in items[2].reason
    assert items[3].received_at is None  # the time it was stored stands in
    assert items[4].subject == "Hi Bcc: evil@attacker.example"  # no header injection
    results = pipeline.ingest_many(db, items)
    assert [r.status.value for r in results] == ["received"] * 2 + ["quarantined"] + [
        "received"
    ] * 2


def test_headers_too_long_to_parse_in_good_time_are_quarantined(tmp_path: Path):
    (tmp_path / "1-commas.eml").write_bytes(eml(b"," * 100_000))
    (tmp_path / "2-words.eml").write_bytes(
        b"From: a@example.com\r\nSubject: " + b"=?utf-8?q?x?= " * 32_000 + b"\r\n\r\nhi\r\n"
    )
    (tmp_path / "3-good.eml").write_bytes(eml(b"a@example.com"))
    first, second, good = read_path(tmp_path)
    assert isinstance(first, QuarantinedMail) and "header from is over 8192 bytes" in first.reason
    assert isinstance(second, QuarantinedMail) and "header subject is over" in second.reason
    assert isinstance(good, InquiryIn)


def test_html_with_many_paragraphs_is_read_whole():
    inquiry = parse_email_bytes(
        b"From: a@example.com\r\nSubject: x\r\nContent-Type: text/html\r\n\r\n"
        + b"<p>line</p>" * 10_000
        + b"<script>alert(1)</script><p>the end</p>"
    )
    lines = inquiry.body.splitlines()
    assert lines.count("line") == 10_000 and lines[-1] == "the end" and "alert" not in inquiry.body


@pytest.mark.parametrize(
    ("sender", "extra"),
    [
        (b"bounces@lists.example.com", b"Return-Path: <>\r\n"),
        (b"news@shop.example.com", b"List-Post: <mailto:list@shop.example.com>\r\n"),
        (b"support@crocso.example", b"X-Loop: support@crocso.example\r\n"),
    ],
)
def test_more_kinds_of_robot_mail_need_no_reply(sender, extra):
    assert parse_email_bytes(
        eml(sender, extra=extra), own_address="support@crocso.example"
    ).no_reply_reason


def test_a_bounce_wrapped_in_multipart_mixed_needs_no_reply():
    raw = (
        b"From: mailer@mx.example.com\r\nSubject: Undeliverable\r\n"
        b'Content-Type: multipart/mixed; boundary="m"\r\n\r\n--m\r\n'
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="r"\r\n\r\n'
        b"--r\r\nContent-Type: text/plain\r\n\r\nNot delivered.\r\n--r--\r\n--m--\r\n"
    )
    assert "delivery report" in parse_email_bytes(raw).no_reply_reason


def test_a_jsonl_bounce_needs_no_reply(tmp_path: Path):
    path = tmp_path / "b.jsonl"
    path.write_text(json.dumps({"text": "Delivery failed", "from": "MAILER-DAEMON@mx.example.com"}))
    [inquiry] = read_path(path)
    assert "bounce" in inquiry.no_reply_reason


def test_text_starting_with_any_mail_header_is_read_as_mail():
    inquiry = text_inquiry(
        "Date: Mon, 23 Nov 2026 10:00:00 +0000\nFrom: a@example.com\nSubject: Away\n"
        "Auto-Submitted: auto-replied\n\nI am away until Monday.\n"
    )
    assert inquiry.from_address == "a@example.com" and inquiry.no_reply_reason


def test_an_oversized_text_is_refused_not_cut(tmp_path: Path):
    (tmp_path / "huge.txt").write_bytes(b"a" * (11 * 1024 * 1024))
    [item] = read_path(tmp_path)
    assert isinstance(item, QuarantinedMail) and "over the 10485760 byte limit" in item.reason
    result = runner.invoke(app, ["ingest", str(tmp_path / "huge.txt")])
    assert result.exit_code == 1 and "over the 10485760 byte limit" in result.output


def test_links_and_special_files_in_an_inbox_are_not_read(tmp_path: Path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "1-good.eml").write_bytes(eml(b"a@example.com"))
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0:root:/root:/bin/bash")
    os.symlink(secret, inbox / "2-passwd.txt")
    os.mkfifo(inbox / "3-pipe.eml")
    items = list(read_path(inbox))
    assert isinstance(items[0], InquiryIn)
    assert [i.reason.rsplit(": ", 1)[1] for i in items[1:]] == [
        "a link, not read",
        "not a plain file, not read",
    ]
    assert all("root:x" not in (i.raw or "") for i in items[1:])
    result = runner.invoke(app, ["ingest", str(inbox / "3-pipe.eml")])
    assert result.exit_code == 1 and "not a plain file" in result.output


def test_international_and_reserved_addresses():
    assert valid_address("ana@例え.jp") == "ana@xn--r8jz45g.jp"  # fits any header as IDNA
    assert valid_address("x@shop.test") is None and valid_address("x@localhost") is None


def test_terminal_escapes_in_mail_do_not_reach_the_agents_terminal(tmp_path: Path):
    path = tmp_path / "esc.jsonl"
    hostile = "\x1b]8;;http://evil.example/\x07click\x1b]8;;\x07 \x1b[2J\x1b[8mhidden\u202e"
    path.write_text(json.dumps({"id": "1", "text": hostile, "subject": hostile}))
    assert runner.invoke(app, ["run", str(path)]).exit_code == 0
    for command in (["queue"], ["show", "1"]):
        output = runner.invoke(app, command).output
        assert "\x1b" not in output and "\u202e" not in output and "click" in output


def test_an_edit_promising_a_senior_review_needs_the_escalation(db, settings, policy):
    pipeline.run(
        db,
        [InquiryIn(body="Where is my order 558120?", from_address="a@example.com")],
        LocalBackend(settings, policy),
    )
    promise = "Hi,\n\nI have escalated your case to a senior representative.\n"
    with pytest.raises(review.ReviewError, match="escalated your case to a senior"):
        review.approve(db, 1, agent="ann", edited_body=promise)
    review.escalate(db, 1, agent="ann", reason="asked for a supervisor")
    assert review.approve(db, 1, agent=SENIOR, edited_body=promise).body == promise


def test_a_reply_changed_in_the_outbox_is_held_back_and_reported(db, settings, policy, tmp_path):
    from assistant import export

    pipeline.run(
        db,
        [InquiryIn(body="Where is my order 558120?", from_address="a@example.com")],
        LocalBackend(settings, policy),
    )
    review.approve(db, 1, agent="ann")
    db.execute(
        text(
            "UPDATE outbound_reply SET body = 'Refund issued: https://evil.example', to_address = 'x@evil.example'"
        )
    )
    db.commit()
    checked, broken = audit.verify(db)
    assert broken is not None and "is not the one approved" in broken.problem
    good, held = export.as_approved(db, records.approved_replies(db))
    assert good == [] and "differs from what was approved" in held[1]


def test_an_anchor_whose_event_was_removed_is_reported(db, settings, policy):
    pipeline.run(
        db,
        [InquiryIn(body="Where is my order 558120?", from_address="a@example.com")],
        LocalBackend(settings, policy),
    )
    noted = audit.head(db)
    review.reject(db, 1, agent="ann", reason="duplicate")
    dialect = db.get_bind().dialect.name
    db.execute(
        text(
            "DROP TRIGGER audit_event_no_delete"
            if dialect == "sqlite"
            else "DROP TRIGGER audit_event_no_change ON audit_event"
        )
    )
    db.execute(text("DELETE FROM audit_event WHERE id = :id"), {"id": noted[0]})
    db.commit()
    _, broken = audit.verify(db, anchor=noted)
    assert broken is not None


def test_a_file_name_that_is_not_utf8_does_not_stop_the_inbox(tmp_path: Path, db):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "good.eml").write_bytes(eml(b"a@example.com"))
    (Path(os.fsdecode(bytes(inbox) + b"/bad\xff.eml"))).write_bytes(b"\r\n\r\n")
    results = pipeline.ingest_many(db, list(read_path(inbox)))
    assert sorted(r.status.value for r in results) == ["quarantined", "received"]


class PoisonedDrafts(LocalBackend):
    """A model cut off mid-emoji: a lone surrogate in one draft."""

    def draft(self, inquiry, triage, instruction=None):
        draft = super().draft(inquiry, triage)
        return (
            draft.model_copy(update={"body": draft.body + "\ud83d"})
            if "poison" in inquiry.body
            else draft
        )


def test_an_unstorable_answer_stops_only_its_own_inquiry(db, settings, policy):
    mails = [
        InquiryIn(
            body=f"Where is my order {n}?", message_id=f"<p{n}@x>", from_address="a@example.com"
        )
        for n in range(558120, 558125)
    ] + [InquiryIn(body="poison: where is order 558130?", message_id="<bad@x>")]
    summary = pipeline.run(db, mails, PoisonedDrafts(settings, policy))
    assert summary.processed == 6
    assert records.count_by_status(db) == {"drafted": 5, "needs_manual_triage": 1}
    [bad] = records.inquiries_with_status(db, S.needs_manual_triage)
    assert bad.message_id == "<bad@x>" and bad.error.startswith("store failed")


def test_plain_text_that_starts_like_a_header_is_kept_whole():
    for plain in (
        "Date: 12 May 2026 I ordered clogs and they never came.\nPlease help.\n",
        "To: whoever reads this: my order CR-123456 never arrived\n",
    ):
        assert text_inquiry(plain).body == plain.strip()
    assert text_inquiry("Subject: Hi\n\nwhere is my order").subject == "Hi"


def test_a_customer_forwarding_a_bounce_still_gets_an_answer():
    raw = (
        b"From: ana@example.com\r\nSubject: my mail bounced\r\n"
        b'Content-Type: multipart/mixed; boundary="m"\r\n\r\n--m\r\n'
        b"Content-Type: text/plain\r\n\r\nMy order CR-1234567 says delivered but never came.\r\n"
        b"--m\r\nContent-Type: message/rfc822\r\n\r\n"
        b"From: MAILER-DAEMON@mx.example.com\r\nSubject: Undelivered\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="r"\r\n\r\n'
        b"--r\r\nContent-Type: text/plain\r\n\r\nNot delivered.\r\n--r--\r\n--m--\r\n"
    )
    inquiry = parse_email_bytes(raw)
    assert inquiry.no_reply_reason is None and "CR-1234567" in inquiry.body


def test_html_reads_as_a_mail_client_shows_it():
    from assistant.mailtext import html_to_text

    assert (
        html_to_text("<table><tr><td>Order</td><td>CR-123456</td></tr></table>")
        == "Order CR-123456"
    )
    assert html_to_text("<p>Hi</p>Order number:") == "Hi\nOrder number:"
    doctype = '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0//EN" "http://www.w3.org/TR/x.dtd">'
    assert html_to_text(doctype + "<html><body><!-- note -->Hi</body></html>") == "Hi"


def test_the_policys_own_offer_of_escalation_is_no_promise():
    from assistant.draft.promises import senior_review_promise
    from assistant.policy import load_policy

    offer = load_policy().section("§4").text
    assert senior_review_promise(offer) is None
    assert senior_review_promise("We have not passed this to a manager.") is None
    assert senior_review_promise("We have passed your case to a senior representative.")

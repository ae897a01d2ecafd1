import json
import mailbox
from email.message import EmailMessage
from pathlib import Path

import pytest

from assistant.ingest import IngestError, parse_email_bytes, read_path, text_inquiry
from assistant.models import InquiryIn, QuarantinedMail


def email_bytes(body="Where is my order?", subtype="plain", charset="utf-8", **headers) -> bytes:
    message = EmailMessage()
    message["From"] = headers.get("sender", "Maria Lopez <maria@example.com>")
    message["To"] = "support@crocso.example"
    message["Subject"] = headers.get("subject", "Order question")
    message["Date"] = "Mon, 23 Nov 2026 10:00:00 +0000"
    message["Message-ID"] = headers.get("message_id", "<m1@example.com>")
    message.set_content(body, subtype=subtype, charset=charset)
    return bytes(message)


def test_plain_email_becomes_an_inquiry_with_its_headers():
    inquiry = parse_email_bytes(email_bytes())
    assert inquiry.from_address == "maria@example.com"
    assert inquiry.from_name == "Maria Lopez"
    assert inquiry.subject == "Order question"
    assert inquiry.body == "Where is my order?"
    assert inquiry.message_id == "<m1@example.com>"
    assert inquiry.received_at.isoformat() == "2026-11-23T10:00:00+00:00"
    assert inquiry.raw and "Message-ID" in inquiry.raw


def test_html_only_email_is_read_as_text():
    html = "<html><body><p>Hello &amp; thanks,</p><p>my <b>order</b> is late.<br>Maria</p></body></html>"
    inquiry = parse_email_bytes(email_bytes(html, subtype="html"))
    assert "Hello & thanks," in inquiry.body
    assert "my order is late." in inquiry.body
    assert "<" not in inquiry.body


def test_encoded_subject_quoted_printable_and_latin1_are_decoded():
    raw = (
        "From: =?UTF-8?B?SsO8cmdlbiBNw7xsbGVy?= <j@example.de>\r\n"
        "Subject: =?UTF-8?B?R3LDtsOfZSBmYWxzY2g=?=\r\n"
        "Message-ID: <qp@example.de>\r\n"
        "Content-Type: text/plain; charset=iso-8859-1\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        "Die Gr=F6=DFe ist falsch.\r\n"
    ).encode("ascii")
    inquiry = parse_email_bytes(raw)
    assert inquiry.from_name == "Jürgen Müller"
    assert inquiry.subject == "Größe falsch"
    assert inquiry.body == "Die Größe ist falsch."


def test_unknown_charset_falls_back_without_losing_the_message():
    raw = b"From: a@example.com\r\nSubject: hi\r\nContent-Type: text/plain; charset=x-klingon\r\n\r\nhello there\r\n"
    assert parse_email_bytes(raw).body == "hello there"


def test_malformed_date_is_ignored_not_fatal():
    raw = b"From: a@example.com\r\nSubject: hi\r\nDate: yesterday-ish\r\n\r\nhello\r\n"
    assert parse_email_bytes(raw).received_at is None


@pytest.mark.parametrize(
    ("data", "problem"),
    [(b"", "empty"), (b"   \n", "empty"), (b"just some words with no headers", "no headers")],
)
def test_bad_email_is_a_clear_error(data, problem):
    with pytest.raises(IngestError, match=problem):
        parse_email_bytes(data, source="eml:x.eml")


def test_huge_email_is_refused():
    with pytest.raises(IngestError, match="over"):
        parse_email_bytes(b"Subject: x\r\n\r\n" + b"a" * (11 * 1024 * 1024))


def test_mbox_jsonl_and_folders(tmp_path: Path):
    box = mailbox.mbox(str(tmp_path / "mail.mbox"))
    box.add(email_bytes(message_id="<a@x>"))
    box.add(email_bytes("Second one", message_id="<b@x>"))
    box.close()
    (tmp_path / "rows.jsonl").write_text(
        json.dumps({"id": "r1", "text": "Reset my password"}) + "\n\n", encoding="utf-8"
    )
    (tmp_path / "one.eml").write_bytes(email_bytes(message_id="<c@x>"))
    (tmp_path / "notes.pdf").write_bytes(b"%PDF")
    inquiries = list(read_path(tmp_path))
    # Files are read in name order; the PDF is not mail and is left alone.
    assert [i.source.split(":")[0] for i in inquiries] == ["mbox", "mbox", "eml", "jsonl"]
    assert {i.body for i in inquiries} >= {"Where is my order?", "Second one", "Reset my password"}
    assert len(inquiries) == 4


def test_bad_jsonl_line_is_quarantined_with_file_and_line(tmp_path: Path):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"text": "ok"}\n{not json\n{"subject": "no text"}\n', encoding="utf-8")
    good, bad, empty = read_path(path)
    assert isinstance(good, InquiryIn) and good.body == "ok"
    assert isinstance(bad, QuarantinedMail) and bad.reason.endswith(
        "rows.jsonl:2: not valid JSON (Expecting property name enclosed in double quotes)"
    )
    assert bad.raw == "{not json\n"
    assert isinstance(empty, QuarantinedMail) and "needs a non-empty 'text'" in empty.reason


def test_missing_and_unknown_files_are_clear_errors(tmp_path: Path):
    with pytest.raises(IngestError, match="no such file"):
        list(read_path(tmp_path / "nope.eml"))
    (tmp_path / "x.docx").write_bytes(b"PK")
    with pytest.raises(IngestError, match="unknown file type"):
        list(read_path(tmp_path / "x.docx"))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(IngestError, match="no .eml"):
        list(read_path(empty))


def test_text_with_headers_is_parsed_as_an_email_and_plain_text_as_a_body():
    assert text_inquiry("Subject: Hi\n\nwhere is my order").subject == "Hi"
    assert text_inquiry("where is my order").body == "where is my order"
    with pytest.raises(IngestError, match="empty"):
        text_inquiry("  ")


# --- hostile and broken mail: a clear reason, nothing lost, the rest goes on ---------------


def mime_bomb(depth: int) -> bytes:
    head = b"From: a@example.com\r\nSubject: bomb\r\nMessage-ID: <bomb@x>\r\n"
    opening = b"".join(
        b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i)
        for i in range(depth)
    )
    closing = b"".join(b"\r\n--b%d--\r\n" % i for i in reversed(range(depth)))
    return head + opening + b"Content-Type: text/plain\r\n\r\nhello\r\n" + closing


@pytest.mark.parametrize("depth", [40, 1000])
def test_deeply_nested_mime_is_refused_with_a_reason_not_a_recursion_error(depth):
    with pytest.raises(IngestError, match="MIME"):
        parse_email_bytes(mime_bomb(depth), source="eml:bomb.eml")


def test_ordinary_nesting_is_fine():
    assert parse_email_bytes(mime_bomb(3)).body == "hello"


def test_nul_bytes_are_removed():
    raw = b"From: a@example.com\r\nSubject: hi\x00 there\r\n\r\nwhere is\x00 my order\r\n"
    inquiry = parse_email_bytes(raw)
    assert inquiry.subject == "hi there" and inquiry.body == "where is my order"
    assert InquiryIn(body="a\x00b", from_name="x\x00y").body == "ab"


def test_a_folder_with_broken_mail_yields_the_good_ones_and_the_reasons(tmp_path: Path):
    (tmp_path / "1-good.eml").write_bytes(email_bytes(message_id="<g@x>"))
    (tmp_path / "2-bomb.eml").write_bytes(mime_bomb(1000))
    (tmp_path / "3-huge.eml").write_bytes(email_bytes("x" * (12 * 1024 * 1024), message_id="<h@x>"))
    (tmp_path / "4-empty.eml").write_bytes(b"")
    box = mailbox.mbox(str(tmp_path / "5-box.mbox"))
    box.add(email_bytes("First", message_id="<m1@x>"))
    box.add(b"From: x@example.com\r\n\r\n")  # neither subject nor text
    box.add(email_bytes("Third", message_id="<m3@x>"))
    box.close()
    items = list(read_path(tmp_path))
    good = [i.body for i in items if isinstance(i, InquiryIn)]
    assert good == ["Where is my order?", "First", "Third"]
    reasons = [i.reason for i in items if isinstance(i, QuarantinedMail)]
    assert len(reasons) == 4
    assert "2-bomb.eml: more than 500 MIME parts" in reasons[0]
    assert "3-huge.eml: message is" in reasons[1] and "10485760 byte limit" in reasons[1]
    assert reasons[2].endswith("4-empty.eml: empty message")
    assert reasons[3].endswith("5-box.mbox#2: message has neither subject nor text")


def test_bytes_invalid_in_the_declared_charset_are_detected_not_replaced():
    raw = (
        "From: j@example.de\r\nSubject: Größe\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n"
        "Die Größe meiner Bestellung ist falsch, ich möchte sie umtauschen. Grüße aus Köln.\r\n"
    ).encode("latin-1")
    inquiry = parse_email_bytes(raw)
    assert "\ufffd" not in inquiry.body
    assert "Die Größe meiner Bestellung ist falsch" in inquiry.body


def test_values_too_long_for_a_column_are_stored_on_every_database(db):
    from assistant import pipeline
    from assistant.storage import records

    long = InquiryIn(
        message_id="<" + "m" * 2000 + "@x>",
        from_address="a" * 400 + "@example.com",
        from_name="N" * 1000,
        subject="S" * 5000,
        body="Where is my order?",
        source="eml:/" + "deep/" * 100 + "mail.eml",
        in_reply_to="<" + "r" * 1500 + ">",
    )
    [stored] = pipeline.ingest_many(db, [long])
    row = records.get_inquiry(db, stored.id)
    assert len(row.from_name) == 320 and row.subject == "S" * 5000
    assert row.message_id.endswith("@long-message-id.invalid>")  # kept whole, as a digest
    assert row.source.endswith("mail.eml")
    again = pipeline.ingest_many(db, [long])  # and it is recognised when it comes again
    assert again[0].created is False and again[0].id == stored.id
    other = InquiryIn(message_id="<" + "m" * 2000 + "@y>", body="Another mail")
    assert pipeline.ingest_many(db, [other])[0].created  # same first 998 characters, other mail


def test_mail_the_database_refuses_is_quarantined_and_the_batch_goes_on(db, monkeypatch):
    from sqlalchemy.exc import DataError

    from assistant import pipeline
    from assistant.storage import records

    real = records.insert_new_inquiries

    def refuse_the_poisoned_one(session, rows):
        if any("poison" in (row.get("body") or "") for row in rows):
            raise DataError("INSERT", {}, Exception("value out of range"))
        return real(session, rows)

    monkeypatch.setattr(records, "insert_new_inquiries", refuse_the_poisoned_one)
    batch = [
        InquiryIn(body="Where is my order?", message_id="<ok1@x>"),
        InquiryIn(body="poison", message_id="<bad@x>", source="eml:/in/bad.eml"),
        InquiryIn(body="Reset my password", message_id="<ok2@x>"),
    ]
    results = pipeline.ingest_many(db, batch)
    assert [r.status.value for r in results] == ["received", "quarantined", "received"]
    bad = records.get_inquiry(db, results[1].id)
    assert bad.status_reason == "eml:/in/bad.eml: the database refused to store this mail"
    assert b"poison" in records.raw_message(bad)

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

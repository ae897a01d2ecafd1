"""Regression tests from an attack on the mailbox (IMAP poll, SMTP send): forged and
mistaken bounces must not mark a delivered reply failed (an agent's "send again" would give
the customer a second copy); odd headers must not cost the customer an answer; a database
URL must not be echoed with its password. Each failed before it was fixed.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from assistant.ingest.mime import parse_email_bytes
from assistant.mailbox.polling import poll_once
from assistant.mailbox.sending import send_due
from assistant.models import DeliveryState, InquiryIn
from assistant.storage import records
from assistant.storage.db import session
from tests import mail_servers
from tests.test_mailbox import _settings, approved_replies

dovecot = mail_servers.dovecot
smtp_sink = mail_servers.smtp_sink


def _dsn(sender: str, recipient_block: str, ours: str, mid: str) -> bytes:
    """A multipart/report delivery status notification naming our reply `ours`."""
    return (
        f"From: {sender}\r\nTo: support@crocso.example\r\nSubject: Undelivered Mail\r\n"
        f"Message-ID: {mid}\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="R"\r\n\r\n'
        "--R\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        "--R\r\nContent-Type: message/delivery-status\r\n\r\n"
        f"Reporting-MTA: dns; mx.example.net\r\n\r\n{recipient_block}\r\n"
        f"--R\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: {ours}\r\n--R--\r\n"
    ).encode()


FORGED = [
    pytest.param(
        lambda customer: ("MAILER-DAEMON@evil.example", "Action: failed\r\nStatus: 5.1.1"),
        id="no-final-recipient",
    ),
    pytest.param(
        lambda customer: (
            "MAILER-DAEMON@mx.example",
            "Final-Recipient: rfc822; other@else.example\r\nAction: failed\r\nStatus: 5.1.1\r\n"
            f"Diagnostic-Code: smtp; 550 5.1.1 copy for {customer} rejected",
        ),
        id="other-recipient-customer-named-in-diagnostic",
    ),
    pytest.param(
        lambda customer: (
            "MAILER-DAEMON@mx.example",
            f"Final-Recipient: rfc822; x{customer}\r\nAction: failed\r\nStatus: 5.1.1",
        ),
        id="final-recipient-is-a-superstring",
    ),
    pytest.param(
        lambda customer: (
            customer,
            f"Final-Recipient: rfc822; {customer}\r\nAction: failed\r\nStatus: 5.1.1",
        ),
        id="dsn-sent-by-the-customer-not-a-robot",
    ),
    pytest.param(
        lambda customer: (
            "MAILER-DAEMON@mx.example",
            f"Final-Recipient: rfc822; {customer}\r\nAction: delayed\r\nStatus: 4.4.1\r\n"
            "Diagnostic-Code: X-Postfix; connect to mx.customer.example[192.0.2.1]:587: "
            "Connection timed out",
        ),
        id="delay-warning-mentioning-port-587",
    ),
]


@pytest.mark.parametrize("forge", FORGED)
def test_a_forged_or_mistaken_bounce_leaves_our_sent_reply_sent(engine, dovecot, smtp_sink, forge):
    [inquiry_id] = approved_replies(engine, 1)
    with session(engine) as db:
        send_due(db, _settings(smtp_url=smtp_sink.url))
        reply = records.outbound_reply(db, inquiry_id)
    sender, block = forge(reply.to_address)
    dovecot.append("INBOX", _dsn(sender, block, reply.message_id, "<forged@mx.example>"))
    with session(engine) as db:
        poll_once(db, _settings(imap_url=dovecot.url()))
        assert records.outbound_reply(db, inquiry_id).delivery is DeliveryState.sent


def test_control_a_real_dsn_naming_the_recipient_in_capitals_marks_it_failed(
    engine, dovecot, smtp_sink
):
    [inquiry_id] = approved_replies(engine, 1)
    with session(engine) as db:
        send_due(db, _settings(smtp_url=smtp_sink.url))
        reply = records.outbound_reply(db, inquiry_id)
    block = (
        f"Final-Recipient: rfc822; {reply.to_address.upper()}\r\nAction: failed\r\nStatus: 5.1.1"
    )
    dovecot.append(
        "INBOX", _dsn("MAILER-DAEMON@mx.example", block, reply.message_id, "<real@mx.example>")
    )
    with session(engine) as db:
        poll_once(db, _settings(imap_url=dovecot.url()))
        assert records.outbound_reply(db, inquiry_id).delivery is DeliveryState.failed


def test_a_utf8_reply_to_is_kept():
    data = (
        "From: Ann <ann@customer.example>\r\nReply-To: jörg@exämple.de\r\n"
        "Subject: Bestellung\r\nMessage-ID: <u8@customer.example>\r\n\r\nWo ist sie?\r\n"
    ).encode()
    assert parse_email_bytes(data, "t").reply_to == "jörg@exämple.de"


def test_a_subject_with_a_unicode_line_separator_can_still_be_answered():
    inquiry = InquiryIn(from_address="c@customer.example", subject="Order\u2028Bcc: v@x.example")
    assert not any(c in inquiry.subject for c in "\u2028\u2029\x85")


def test_an_unparseable_database_url_is_not_echoed_with_its_password(tmp_path):
    env = {**os.environ, "DATABASE_URL": "postgresql://u:Zq9SECRET@[::1/x"}
    run = subprocess.run(
        [sys.executable, "-m", "assistant", "mail", "status"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert run.returncode != 0
    assert "Zq9SECRET" not in run.stderr + run.stdout

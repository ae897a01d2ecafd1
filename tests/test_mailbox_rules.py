"""The mailbox's rules that need no server: reading the two URLs, recognising robots and
bounces, and the outbox's recovery after a sender died."""

from __future__ import annotations

import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from assistant.cli import app
from assistant.ingest import parse_email_bytes
from assistant.mailbox import outbox, recovery
from assistant.mailbox.servers import imap_server, smtp_server
from assistant.models import DeliveryState
from assistant.settings import Settings, SettingsError
from assistant.storage import records
from assistant.storage.tables import utcnow

runner = CliRunner()


def test_the_urls_give_host_port_folder_and_a_secret_password():
    settings = Settings(
        imap_url=SecretStr(
            "imaps://support%40crocso.com:p%40ss:word@imap.example.com/Support%20Box"
        ),
        smtp_url=SecretStr("smtp://support%40crocso.com:pw@smtp.example.com"),
    )
    imap = imap_server(settings)
    assert (imap.host, imap.port, imap.folder, imap.tls) == (
        "imap.example.com",
        993,
        "Support Box",
        True,
    )
    assert imap.user == "support@crocso.com"
    assert imap.password.get_secret_value() == "p@ss:word"
    assert "p@ss" not in imap.shown and "p@ss" not in repr(settings)
    smtp = smtp_server(settings)
    assert (smtp.port, smtp.tls) == (587, False)  # STARTTLS on the submission port


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://x.example", "must start with imap:// or imaps://"),
        ("imap://", "names no host"),
        ("imap://host.example/INBOX", "needs a user and password"),
        ("imap://u:p@host.example:99999/INBOX", "not a valid URL"),
    ],
)
def test_a_bad_imap_url_is_a_clear_error(url, says):
    with pytest.raises(SettingsError, match=says):
        imap_server(Settings(imap_url=SecretStr(url)))


def test_mail_commands_without_a_server_say_what_to_set(monkeypatch):
    for command, setting in ((["mail", "poll", "--once"], "IMAP"), (["mail", "send"], "SMTP")):
        result = runner.invoke(app, command)
        assert result.exit_code == 1
        assert f"set ASSISTANT_{setting}_URL" in result.output
        assert "Traceback" not in result.output


def _mail(headers: str, body: str = "hello") -> bytes:
    return (
        "From: Ana <ana@example.com>\r\nTo: support@crocso.example\r\nSubject: Re: your order\r\n"
        f"Message-ID: <m@example.com>\r\n{headers}\r\n{body}\r\n"
    ).encode()


@pytest.mark.parametrize(
    ("headers", "why"),
    [
        ("Auto-Submitted: auto-generated\r\n", "Auto-Submitted"),
        ("Precedence: junk\r\n", "Precedence: junk"),
        ("Precedence: list\r\n", "Precedence: list"),
        ("X-Loop: support@crocso.example\r\n", "X-Loop"),
        ("List-Id: Deals <deals.shop.example>\r\n", "mailing-list"),
        ("Return-Path: <>\r\n", "empty Return-Path"),  # no reply; not a bounce by itself
    ],
)
def test_robots_are_recognised_by_their_headers(headers, why):
    inquiry = parse_email_bytes(_mail(headers), own_address="support@crocso.example")
    assert inquiry.no_reply_reason and why in inquiry.no_reply_reason


def test_an_out_of_office_naming_our_reply_is_not_a_bounce():
    inquiry = parse_email_bytes(
        _mail("Auto-Submitted: auto-replied\r\nIn-Reply-To: <reply-1@crocso.example>\r\n")
    )
    assert inquiry.no_reply_reason and inquiry.bounce_of == []


def test_a_plain_text_bounce_names_the_message_it_returns():
    bounce = (
        b"From: Mail Delivery System <MAILER-DAEMON@mx.example.net>\r\n"
        b"To: support@crocso.example\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        b"Message-ID: <b2@mx.example.net>\r\n\r\n"
        b"This is the mail system at host mx.example.net.\r\n"
        b"<nobody@example.org>: host said: 550 5.1.1 user unknown\r\n\r\n"
        b"--- original message headers ---\r\n"
        b"From: support@crocso.example\r\nMessage-ID: <reply-77.abc@crocso.example>\r\n"
    )
    inquiry = parse_email_bytes(bounce)
    assert "bounce" in inquiry.no_reply_reason
    assert inquiry.bounce_of == ["<reply-77.abc@crocso.example>"]


def test_a_reply_left_sending_by_a_dead_sender_goes_again_unless_it_was_handed_over(db):
    from tests.test_mailbox import approved_replies

    first, second = approved_replies(db.get_bind(), 2)
    settings = Settings(send_rate=1000)
    gone = "this-host-is-not-here:1:1"
    for inquiry_id in (first, second):
        claimed = outbox.claim_next(db, settings, owner=gone)
        assert claimed.inquiry_id == inquiry_id
    held = records.outbound_reply(db, second)
    outbox.mark_handed_over(db, held, gone)
    for inquiry_id in (first, second):  # the lease ran out: the other machine is gone
        reply = records.outbound_reply(db, inquiry_id)
        reply.claimed_until = utcnow()
        db.add(reply)
    db.commit()

    counts = recovery.recover_abandoned(db, sent_folder_has=lambda message_id: False)
    assert counts == {"requeued": 1, "found_sent": 0, "uncertain": 1}
    assert records.outbound_reply(db, first).delivery is DeliveryState.approved
    uncertain = records.outbound_reply(db, second)
    assert uncertain.delivery is DeliveryState.uncertain
    assert "not in the Sent folder" in uncertain.delivery_error


def test_a_claim_of_a_live_sender_elsewhere_is_left_alone(db):
    from tests.test_mailbox import approved_replies

    [inquiry_id] = approved_replies(db.get_bind(), 1)
    outbox.claim_next(db, Settings(send_rate=1000), owner="another-machine:5:5")
    assert recovery.recover_abandoned(db) == {"requeued": 0, "found_sent": 0, "uncertain": 0}
    assert records.outbound_reply(db, inquiry_id).delivery is DeliveryState.sending


def test_a_password_crosses_the_network_in_clear_only_when_allowed():
    remote = imap_server(Settings(imap_url=SecretStr("imap://u:pw@mail.example.com/INBOX")))
    with pytest.raises(SettingsError, match="password would cross the network in clear"):
        remote.refuse_plaintext_login()
    allowed = imap_server(
        Settings(
            imap_url=SecretStr("imap://u:pw@mail.example.com/INBOX"),
            mail_allow_plaintext_login=True,
        )
    )
    allowed.refuse_plaintext_login()  # the team said so
    for host in ("127.0.0.1", "localhost", "[::1]"):
        local = smtp_server(Settings(smtp_url=SecretStr(f"smtp://u:pw@{host}:2525")))
        local.refuse_plaintext_login()  # a server on this machine


@pytest.mark.parametrize(
    "headers",
    [
        "Auto-Submitted: No (a person wrote this)\r\n",
        "X-Autoreply: no\r\n",
        "X-Loop: notsupport@crocso.example.org\r\n",  # another address that contains ours
    ],
)
def test_a_person_s_mail_is_not_taken_for_a_robot(headers):
    inquiry = parse_email_bytes(_mail(headers), own_address="support@crocso.example")
    assert inquiry.no_reply_reason is None

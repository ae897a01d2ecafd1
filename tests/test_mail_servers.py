"""The mail test fixtures themselves: the mailbox tests can only be trusted if Dovecot,
the dropping proxy, the SMTP sink's faults and the corpus do what they say."""

from __future__ import annotations

import email
import email.parser
import email.policy
import smtplib

import pytest
from imapclient import IMAPClient

from tests import mail_servers
from tests.mail_corpus import (
    DUPLICATE_MESSAGE_ID,
    HIDDEN_DIV,
    MESSAGE_IDS,
    MIME_BOMB_DEPTH,
    SPECIAL,
    corpus,
)
from tests.mail_servers import KillableProxy, SmtpSink

# The fixtures, under the names the tests ask for (an import of them would trip ruff's
# F811 at every test's argument).
dovecot = mail_servers.dovecot
smtp_sink = mail_servers.smtp_sink

MAIL = (
    b"From: Ann Example <ann@example.com>\r\n"
    b"To: support@crocso.example\r\n"
    b"Subject: Where is my order #12345\r\n"
    b"Message-ID: <fixture-1@example.com>\r\n"
    b"\r\n"
    b"Hello, where is my order?\r\n"
)


def send(sink: SmtpSink, data: bytes = MAIL, *, login: bool = False) -> None:
    with smtplib.SMTP(sink.host, sink.port, local_hostname="client.test", timeout=10) as smtp:
        if login:
            smtp.login(sink.user, sink.password)
        smtp.sendmail("support@crocso.example", ["ann@example.com"], data)


# -- Dovecot -----------------------------------------------------------------------------


def test_dovecot_appends_and_gives_back_the_same_bytes(dovecot):
    assert dovecot.url() == f"imap://crocso:s3cret@127.0.0.1:{dovecot.port}/INBOX"
    assert dovecot.url("Processed").endswith("/Processed")
    uid = dovecot.append("INBOX", MAIL)
    with dovecot.client() as imap:
        assert {b"IDLE", b"MOVE", b"UIDPLUS"} <= set(imap.capabilities())
        imap.create_folder("Sent")
        imap.create_folder("Processed")
        folders = {name: flags for flags, _sep, name in imap.list_folders()}
        assert {"INBOX", "Sent", "Processed"} <= set(folders)
        assert b"\\Sent" in folders["Sent"]  # special-use, as a mail client finds it
        imap.select_folder("INBOX")
        assert imap.fetch([uid], ["BODY.PEEK[]"])[uid][b"BODY[]"] == MAIL
        imap.move([uid], "Processed")
    assert dovecot.messages("INBOX") == []
    assert dovecot.messages("Processed") == [MAIL]


def test_dovecot_takes_the_whole_corpus_in_one_connection(dovecot):
    mails = corpus(200)
    uids = dovecot.append_many("INBOX", [data for _name, data in mails])
    assert uids == list(range(1, 201))
    stored = dovecot.messages("INBOX")
    assert stored == [data for _name, data in mails]  # the 12 MB one and the MIME bomb too


def test_recreate_changes_uidvalidity(dovecot):
    dovecot.append("Processed", MAIL)
    dovecot.append("INBOX", MAIL)
    seen = {dovecot.uidvalidity("Processed")}
    for _ in range(3):  # within one second: the value must change every time
        seen.add(dovecot.recreate("Processed"))
    assert len(seen) == 4
    assert dovecot.messages("Processed") == []

    before = dovecot.uidvalidity("INBOX")
    after = dovecot.recreate("INBOX")  # INBOX cannot be deleted: expunged, new UIDVALIDITY
    assert after != before
    assert dovecot.messages("INBOX") == []
    dovecot.append("INBOX", MAIL)
    assert dovecot.messages("INBOX") == [MAIL]


def test_the_proxy_cut_breaks_a_fetch_and_new_connections_work(dovecot):
    big = MAIL + b"x" * 76 * 13_000 + b"\r\n"  # about 1 MB: many reads to cut in
    uid = dovecot.append("INBOX", big)
    proxy = KillableProxy(dovecot.host, dovecot.port)
    try:
        imap = IMAPClient(proxy.host, proxy.port, ssl=False, timeout=5)
        imap.login(dovecot.user, dovecot.password)
        imap.select_folder("INBOX")
        proxy.cut_after(50_000)
        with pytest.raises((IMAPClient.AbortError, OSError)):
            imap.fetch([uid], ["BODY.PEEK[]"])
        imap.shutdown()
        assert proxy.cut_done.wait(5) and proxy.cuts == 1

        with IMAPClient(proxy.host, proxy.port, ssl=False, timeout=5) as again:
            again.login(dovecot.user, dovecot.password)
            again.select_folder("INBOX")
            assert again.fetch([uid], ["BODY.PEEK[]"])[uid][b"BODY[]"] == big

        idle = IMAPClient(proxy.host, proxy.port, ssl=False, timeout=5)
        idle.login(dovecot.user, dovecot.password)
        proxy.cut_now()
        with pytest.raises((IMAPClient.AbortError, OSError)):
            idle.noop()
        idle.shutdown()
        assert proxy.connections == 3
    finally:
        proxy.stop()


def test_without_dovecot_the_tests_skip_except_under_ci(monkeypatch, tmp_path):
    missing = tmp_path / "no-dovecot"
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(
        pytest.skip.Exception, match=r"dovecot-imapd is not installed \(make mailservers\)"
    ):
        mail_servers.require_dovecot(missing)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI needs Dovecot"):
        mail_servers.require_dovecot(missing)


# -- the SMTP sink -----------------------------------------------------------------------


def test_the_sink_records_mail_with_and_without_auth(smtp_sink):
    assert smtp_sink.url == f"smtp://sender:pw@127.0.0.1:{smtp_sink.port}"
    send(smtp_sink)
    send(smtp_sink, MAIL.replace(b"fixture-1", b"fixture-2"), login=True)
    first, second = smtp_sink.wait_received(2)
    assert (first.auth_user, second.auth_user) == (None, "sender")
    assert first.data == MAIL and first.message_id == "<fixture-1@example.com>"
    assert second.message_id == "<fixture-2@example.com>"
    assert first.mail_from == "support@crocso.example" and first.rcpt_tos == ["ann@example.com"]
    with (
        pytest.raises(smtplib.SMTPAuthenticationError),
        smtplib.SMTP(smtp_sink.host, smtp_sink.port, local_hostname="client.test") as smtp,
    ):
        smtp.login("sender", "wrong")

    with SmtpSink(require_auth=True) as strict:
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            send(strict)
        assert refused.value.smtp_code == 530
        send(strict, login=True)
        assert [m.auth_user for m in strict.received] == ["sender"]


def test_the_sink_refuses_and_drops_as_scripted(smtp_sink):
    smtp_sink.reply_at_data("451 4.3.0 try again later")
    smtp_sink.reply_at_data("550 5.1.1 user unknown")
    smtp_sink.drop_after_data(1)
    with pytest.raises(smtplib.SMTPDataError) as refused:
        send(smtp_sink)
    assert refused.value.smtp_code == 451
    with pytest.raises(smtplib.SMTPDataError) as refused:
        send(smtp_sink)
    assert refused.value.smtp_code == 550
    assert smtp_sink.received == [] and len(smtp_sink.refused) == 2

    with pytest.raises(smtplib.SMTPServerDisconnected):
        send(smtp_sink, login=True)
    assert [m.message_id for m in smtp_sink.dropped] == ["<fixture-1@example.com>"]
    assert smtp_sink.received == smtp_sink.dropped  # it may have been delivered

    send(smtp_sink)  # the script is used up: accepted again
    assert len(smtp_sink.received) == 2 and len(smtp_sink.dropped) == 1


def test_the_sink_calls_the_hook_before_its_250(smtp_sink):
    seen = []
    smtp_sink.hook(lambda message: seen.append((message.message_id, len(smtp_sink.received))))
    send(smtp_sink)
    assert seen == [("<fixture-1@example.com>", 1)]
    smtp_sink.hook(None)
    send(smtp_sink)
    assert len(seen) == 1


# -- the corpus --------------------------------------------------------------------------


def _headers(data: bytes):
    return email.parser.BytesHeaderParser(policy=email.policy.default).parsebytes(data)


def test_the_corpus_holds_ordinary_mail_and_one_of_each_special():
    mails = corpus(200, bounce_of="<reply-77@crocso.example>")
    assert len(mails) == 200
    names = [name for name, _data in mails]
    assert len(set(names)) == 200
    by_name = dict(mails)
    assert set(SPECIAL.values()) <= set(names)
    assert names.index(SPECIAL["duplicate_original"]) < names.index(SPECIAL["duplicate"])

    headers = {name: _headers(data) for name, data in mails}
    ids = [str(h["Message-ID"]) for h in headers.values()]
    assert ids.count(DUPLICATE_MESSAGE_ID) == 2 and len(set(ids)) == 199
    for kind, name in SPECIAL.items():
        assert str(headers[name]["Message-ID"]) == MESSAGE_IDS[kind]
    assert by_name[SPECIAL["duplicate"]] != by_name[SPECIAL["duplicate_original"]]

    ooo = headers[SPECIAL["out_of_office"]]
    assert ooo["Auto-Submitted"] == "auto-replied" and ooo["Subject"] == "Out of office"
    assert sum(h["Auto-Submitted"] is not None for h in headers.values()) == 1

    bounce = email.message_from_bytes(by_name[SPECIAL["bounce"]], policy=email.policy.default)
    assert "MAILER-DAEMON" in bounce["From"]
    assert bounce.get_content_type() == "multipart/report"
    assert bounce.get_param("report-type") == "delivery-status"
    types = [part.get_content_type() for part in bounce.iter_parts()]
    assert types == ["text/plain", "message/delivery-status", "text/rfc822-headers"]
    assert b"Status: 5.1.1" in by_name[SPECIAL["bounce"]]
    assert b"Diagnostic-Code: smtp; 550 5.1.1" in by_name[SPECIAL["bounce"]]
    assert b"Message-ID: <reply-77@crocso.example>" in by_name[SPECIAL["bounce"]]

    newsletter = headers[SPECIAL["newsletter"]]
    assert newsletter["List-Id"] and newsletter["List-Unsubscribe"]

    hidden = by_name[SPECIAL["hidden_html"]]
    assert HIDDEN_DIV.encode() in hidden and b"Where is my order #48213?" in hidden
    assert headers[SPECIAL["hidden_html"]].get_content_type() == "text/html"

    bomb = by_name[SPECIAL["mime_bomb"]]
    assert bomb.count(b"Content-Type: multipart/mixed") == MIME_BOMB_DEPTH

    large = by_name[SPECIAL["large"]]
    assert len(large) > 12_000_000
    assert all(len(data) < 200_000 for name, data in mails if name != SPECIAL["large"])

    ordinary = [name for name in names if name[0].isdigit()]
    assert len(ordinary) == 200 - len(SPECIAL)
    for language in ("en", "fr", "es", "de"):
        assert any(f"-{language}-" in name for name in ordinary), language
    assert any(name.endswith("-pdf") for name in ordinary)
    assert any(name.endswith("-png") for name in ordinary)
    assert any("-alternative" in name for name in ordinary)
    assert any("-plain" in name for name in ordinary)
    assert all(str(headers[name]["To"]) == "support@crocso.example" for name in ordinary)
    assert len({str(headers[name]["From"]) for name in ordinary}) > 20


def test_a_small_corpus_still_has_the_specials_and_is_deterministic():
    small = corpus(len(SPECIAL))
    assert {name for name, _ in small} == set(SPECIAL.values())
    assert corpus(30) == corpus(30)
    with pytest.raises(ValueError):
        corpus(len(SPECIAL) - 1)

"""The mailbox against real servers: Debian's Dovecot for IMAP, aiosmtpd for SMTP.

What an agent would notice: every mail in the inbox arrives once (also after a dropped
connection or a renumbered folder), auto-replies and bounces are not answered, hostile
mail is quarantined, and every approved reply reaches the customer once — never twice,
whatever the SMTP server or a kill -9 does.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from email import message_from_bytes
from email import policy as email_policy

import pytest
from sqlmodel import func, select

from assistant import review
from assistant.backends.local import LocalBackend
from assistant.mailbox import outbox
from assistant.mailbox.imap import MailboxError
from assistant.mailbox.polling import poll_once
from assistant.mailbox.sending import send_due
from assistant.mailbox.servers import imap_server
from assistant.models import Action, DeliveryState, InquiryIn, InquiryStatus
from assistant.settings import Settings
from assistant.storage import records
from assistant.storage.db import session
from assistant.storage.tables import AuditEventRow, InquiryRow, OutboundReplyRow
from assistant.workflow import Actor
from tests import mail_servers
from tests.mail_corpus import DUPLICATE_MESSAGE_ID, MESSAGE_IDS, corpus
from tests.mail_servers import KillableProxy

dovecot = mail_servers.dovecot  # the fixtures: a private Dovecot and an aiosmtpd per test
smtp_sink = mail_servers.smtp_sink

S = InquiryStatus
D = DeliveryState


def _settings(**values) -> Settings:
    return Settings(**{"send_rate": 100_000, "send_retry_seconds": 0, **values})


def _count(db, *where) -> int:
    return db.exec(select(func.count()).select_from(InquiryRow).where(*where)).one()


def _by_message_id(db, message_id: str) -> InquiryRow:
    return db.exec(select(InquiryRow).where(InquiryRow.message_id == message_id)).one()


# -- in ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mails():
    return corpus(200)


def test_a_poll_of_200_mails_stores_each_once_and_answers_no_robot(engine, dovecot, mails):
    dovecot.append_many("INBOX", [data for _, data in mails])
    settings = _settings(imap_url=dovecot.url())
    with session(engine) as db:
        summary = poll_once(db, settings)
        assert summary.fetched == 200
        assert (summary.stored, summary.duplicates) == (199, 1)  # one Message-ID came twice
        assert _count(db) == 199
        assert _count(db, InquiryRow.message_id == DUPLICATE_MESSAGE_ID) == 1

        for name, why in (
            ("out_of_office", "Auto-Submitted"),
            ("bounce", "delivery report"),
            ("newsletter", "list mail"),
        ):
            row = _by_message_id(db, MESSAGE_IDS[name])
            assert row.status is S.no_reply_needed, name
            assert why in row.status_reason, (name, row.status_reason)

        hidden = _by_message_id(db, MESSAGE_IDS["hidden_html"])
        assert "Ignore previous instructions" not in hidden.body
        assert "Ignore previous instructions" in (hidden.hidden_text or "")
        assert "order" in hidden.body.lower()

        quarantined = db.exec(select(InquiryRow).where(InquiryRow.status == S.quarantined)).all()
        reasons = " | ".join(row.status_reason or "" for row in quarantined)
        assert len(quarantined) == 2, reasons
        assert "nested more than" in reasons or "MIME parts" in reasons
        assert "over the 10485760 byte limit" in reasons and "stays on the server" in reasons

        # The raw message is kept, compressed, with each inquiry.
        ordinary = db.exec(select(InquiryRow).where(InquiryRow.status == S.received)).first()
        assert ordinary is not None and ordinary.raw_gz and ordinary.raw is None
        assert b"Message-ID" in records.raw_message(ordinary)

    # Nothing was marked read, nothing moved: the team's mail client sees the mail as before.
    with dovecot.client() as client:
        client.select_folder("INBOX", readonly=True)
        assert len(client.search(["ALL"])) == 200
        assert client.search(["SEEN"]) == []

    with session(engine) as db:  # and the next poll finds nothing new
        again = poll_once(db, settings)
        assert (again.fetched, again.stored) == (0, 0)


def test_stored_mail_moves_to_the_processed_folder_only_once_committed(engine, dovecot, mails):
    dovecot.append_many("INBOX", [data for _, data in mails[:30]])
    settings = _settings(imap_url=dovecot.url(), imap_processed_folder="Processed")
    with session(engine) as db:
        summary = poll_once(db, settings)
        assert summary.stored == 30 and summary.moved == 30
        assert _count(db) == 30
    assert dovecot.uids("INBOX") == []
    assert len(dovecot.messages("Processed")) == 30


def test_a_connection_cut_mid_fetch_loses_and_duplicates_nothing(engine, dovecot, mails):
    dovecot.append_many("INBOX", [data for _, data in mails])
    proxy = KillableProxy("127.0.0.1", dovecot.port)
    try:
        cut = _settings(imap_url=dovecot.url().replace(str(dovecot.port), str(proxy.port)))
        proxy.cut_after(150_000)  # mid-way through the mail, within a batch
        with session(engine) as db:
            with pytest.raises(MailboxError, match="connection lost while reading mail"):
                poll_once(db, cut)
            first = _count(db)
            assert 0 < first < 199
    finally:
        proxy.stop()
    with session(engine) as db:
        summary = poll_once(db, _settings(imap_url=dovecot.url()))
        assert _count(db) == 199  # all 200 exactly once (one is the duplicate Message-ID)
        assert summary.stored == 199 - first


def test_a_new_uidvalidity_reads_the_folder_again_without_duplicates(engine, dovecot, mails):
    first = [data for _, data in mails[:20]]
    dovecot.append_many("INBOX", first)
    settings = _settings(imap_url=dovecot.url())
    with session(engine) as db:
        assert poll_once(db, settings).stored == 20
    before = dovecot.uidvalidity("INBOX")
    assert dovecot.recreate("INBOX") != before
    dovecot.append_many("INBOX", first + [data for _, data in mails[20:25]])
    with session(engine) as db:
        summary = poll_once(db, settings)
        assert summary.rescanned
        assert (summary.stored, summary.duplicates) == (5, 20)
        assert _count(db) == 25


def test_a_refused_login_is_one_clear_line_without_the_password(engine, dovecot):
    settings = _settings(imap_url=dovecot.url().replace(":s3cret@", ":wrong-pass@"))
    with session(engine) as db, pytest.raises(MailboxError) as raised:
        poll_once(db, settings)
    assert "login refused" in str(raised.value) and "wrong-pass" not in str(raised.value)


# -- out --------------------------------------------------------------------------------


def approved_replies(engine, n: int, *, first: int = 0, settings=None, policy=None) -> list[int]:
    """n customers' mails (numbered from `first`), drafted by the local backend and
    approved by an agent."""
    from assistant import pipeline
    from assistant.policy import default_policy

    mails = [
        InquiryIn(
            message_id=f"<order-{i}@customer.example>",
            references=f"<earlier-{i}@customer.example>",
            from_address=f"customer{i}@customer.example",
            subject=f"Order {1000 + i}",
            body=f"Hello, where is my order {1000 + i}? It has not arrived yet. Thanks, C.",
        )
        for i in range(first, first + n)
    ]
    chosen = settings or _settings()
    with session(engine) as db:
        pipeline.run(db, mails, LocalBackend(chosen, policy or default_policy()))
        ids = records.ids_with_status(db, S.drafted)
        for inquiry_id in ids:
            review.approve(db, inquiry_id, agent="ann", override_reason="checked by hand")
    assert len(ids) == n
    return ids


def test_fifty_approved_replies_go_out_once_threaded_with_a_copy_in_sent(
    engine, dovecot, smtp_sink
):
    ids = approved_replies(engine, 50)
    settings = _settings(smtp_url=smtp_sink.url, imap_url=dovecot.url(), imap_sent_folder="Sent")
    with session(engine) as db:
        summary = send_due(db, settings)
        assert summary.sent == 50 and not summary.failed
        replies = db.exec(select(OutboundReplyRow)).all()
        assert {r.delivery for r in replies} == {D.sent}
        assert _count(db, InquiryRow.status == S.sent) == 50
        assert send_due(db, settings).sent == 0  # a second run sends nothing
        by_id = {r.message_id: r for r in replies}
        ids_sent = sorted(r.inquiry_id for r in replies)
    assert len(smtp_sink.received) == 50
    for got in smtp_sink.received:
        message = message_from_bytes(got.data, policy=email_policy.default)
        reply = by_id[message["Message-ID"].strip()]  # a long one is folded
        index = reply.to_address.removeprefix("customer").split("@")[0]
        assert got.rcpt_tos == [reply.to_address]
        assert message["In-Reply-To"].strip() == f"<order-{index}@customer.example>"
        assert " ".join(message["References"].split()) == (
            f"<earlier-{index}@customer.example> <order-{index}@customer.example>"
        )
        assert message["Subject"] == f"Re: Order {1000 + int(index)}"
        assert "support@crocso.example" in message["From"]
    assert len(dovecot.messages("Sent")) == 50
    assert sorted(ids) == ids_sent


def test_a_connection_dropped_after_data_is_uncertain_and_never_resent(engine, smtp_sink):
    [inquiry_id] = approved_replies(engine, 1)
    settings = _settings(smtp_url=smtp_sink.url)
    smtp_sink.drop_after_data(1)
    with session(engine) as db:
        summary = send_due(db, settings)
        assert summary.uncertain == 1 and summary.sent == 0
        reply = records.outbound_reply(db, inquiry_id)
        assert reply.delivery is D.uncertain
        assert "may have" in reply.delivery_error
        assert send_due(db, settings).sent == 0  # never retried by itself
        assert records.get_inquiry(db, inquiry_id).status is S.approved
        events = [e.action for e in records.audit_trail(db, inquiry_id)]
        assert Action.delivery_uncertain in events
    assert len(smtp_sink.received) == 1  # the server had it: 0 resends

    with session(engine) as db:  # a person checked: not received; it goes again, once
        outbox.retry(db, inquiry_id, agent=Actor.agent("ann"))
        assert send_due(db, settings).sent == 1
    assert len(smtp_sink.received) == 2


def test_a_451_is_tried_again_and_a_550_fails_with_the_servers_words(engine, smtp_sink):
    first, second = approved_replies(engine, 2)
    settings = _settings(smtp_url=smtp_sink.url)
    smtp_sink.reply_at_data("451 4.3.0 Mailbox busy, try again later", 1)
    with session(engine) as db:
        summary = send_due(db, settings)
        assert (summary.sent, summary.retry_later) == (1, 1)
        waiting = records.outbound_reply(db, first)
        assert waiting.delivery is D.approved and "451" in waiting.delivery_error
        assert send_due(db, settings).sent == 1  # the retry (no backoff in this test)
        assert records.outbound_reply(db, first).delivery is D.sent
    assert len(smtp_sink.received) == 2

    [third] = approved_replies(engine, 1, first=2)
    smtp_sink.reply_at_data("550 5.1.1 No such user here", 1)
    with session(engine) as db:
        summary = send_due(db, settings)
        assert summary.failed == 1
        failed = records.outbound_reply(db, third)
        assert failed.delivery is D.failed
        assert "550 5.1.1 No such user here" in failed.delivery_error
        assert send_due(db, settings).sent == 0
        with pytest.raises(review.ReviewError):  # nothing is sent twice by an agent's mistake
            outbox.retry(db, second, agent=Actor.agent("ann"))


def test_a_4xx_that_never_ends_fails_after_the_last_try(engine, smtp_sink):
    [inquiry_id] = approved_replies(engine, 1)
    settings = _settings(smtp_url=smtp_sink.url, send_max_attempts=3)
    smtp_sink.reply_at_data("451 4.7.1 Greylisted", 10)
    with session(engine) as db:
        for _ in range(3):
            send_due(db, settings)
        reply = records.outbound_reply(db, inquiry_id)
        assert reply.delivery is D.failed and "gave up after 3 tries" in reply.delivery_error
    assert smtp_sink.received == []


def test_a_bounce_of_our_reply_marks_its_delivery_failed(engine, dovecot, smtp_sink):
    [inquiry_id] = approved_replies(engine, 1)
    with session(engine) as db:
        send_due(db, _settings(smtp_url=smtp_sink.url))
        ours = records.outbound_reply(db, inquiry_id).message_id
        customer = records.outbound_reply(db, inquiry_id).to_address
    [(_, bounce)] = [m for m in corpus(20, bounce_of=ours) if m[0] == "bounce"]
    # A forged or mistaken bounce (another recipient) and a mere delay change nothing.
    dovecot.append("INBOX", bounce.replace(b"<20261121.4410.bounce@", b"<forged.4410.bounce@"))
    delayed = bounce.replace(b"jane.doe@example.net", customer.encode())
    delayed = delayed.replace(b"Action: failed", b"Action: delayed").replace(b"5.1.1", b"4.4.7")
    delayed = delayed.replace(b"550 ", b"451 ")
    dovecot.append("INBOX", delayed.replace(b"<20261121.4410.bounce@", b"<delayed.4410.bounce@"))
    with session(engine) as db:
        poll_once(db, _settings(imap_url=dovecot.url()))
        assert records.outbound_reply(db, inquiry_id).delivery is D.sent
    dovecot.append("INBOX", bounce.replace(b"jane.doe@example.net", customer.encode()))
    with session(engine) as db:
        poll_once(db, _settings(imap_url=dovecot.url()))
        reply = records.outbound_reply(db, inquiry_id)
        assert reply.delivery is D.failed and "bounced" in reply.delivery_error
        assert "5.1.1" in reply.delivery_error
        assert records.get_inquiry(db, inquiry_id).status is S.approved  # back for an agent
        the_bounce = _by_message_id(db, MESSAGE_IDS["bounce"])
        assert the_bounce.status is S.no_reply_needed  # and no reply to MAILER-DAEMON


def test_the_rate_cap_holds_across_processes(shared_engine, smtp_sink):
    approved_replies(shared_engine, 12)
    url = shared_engine.url.render_as_string(hide_password=False)
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "ASSISTANT_SMTP_URL": smtp_sink.url,
        "ASSISTANT_SEND_RATE": "5",
    }
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "assistant", "mail", "send"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=120) for run in runs]
    assert all(run.returncode == 0 for run in runs), outputs
    assert len(smtp_sink.received) == 5
    assert any("rate cap" in out for out, _ in outputs)
    with session(shared_engine) as db:
        assert _count(db, InquiryRow.status == S.sent) == 5


def _sender(env) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "assistant", "mail", "send"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize("moment", ["before_the_servers_answer", "at_any_time"])
def test_kill_9_mid_batch_then_a_rerun_delivers_every_reply_once(
    shared_engine, dovecot, smtp_sink, moment
):
    approved_replies(shared_engine, 40)
    env = {
        **os.environ,
        "DATABASE_URL": shared_engine.url.render_as_string(hide_password=False),
        "ASSISTANT_SMTP_URL": smtp_sink.url,
        "ASSISTANT_IMAP_URL": dovecot.url(),
        "ASSISTANT_IMAP_SENT_FOLDER": "Sent",
        "ASSISTANT_SEND_RATE": "100000",
    }
    first = _sender(env)
    if moment == "before_the_servers_answer":  # the server has the 15th; we never hear "250"

        def kill_on_the_15th(message):
            if len(smtp_sink.received) == 15:
                os.kill(first.pid, signal.SIGKILL)
                time.sleep(0.2)

        smtp_sink.hook(kill_on_the_15th)
    else:
        smtp_sink.wait_received(8, timeout=60)
        os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=30)
    assert first.returncode == -signal.SIGKILL
    smtp_sink.hook(None)
    second = _sender(env)
    out, err = second.communicate(timeout=120)
    assert second.returncode in (0, 2), err

    received: dict[str, int] = {}
    for got in smtp_sink.received:
        received[got.message_id] = received.get(got.message_id, 0) + 1
    assert max(received.values()) == 1, "a customer got the same reply twice"
    with session(shared_engine) as db:
        replies = db.exec(select(OutboundReplyRow)).all()
        uncertain = [r for r in replies if r.delivery is D.uncertain]
        assert len(uncertain) <= 1  # at most the one in flight when the sender died
        for reply in replies:
            if reply.delivery is D.sent:
                assert received.get(reply.message_id) == 1
        if moment == "before_the_servers_answer":
            # The one the server took as the sender died: not sent again, asked about.
            assert len(uncertain) == 1 and received.get(uncertain[0].message_id) == 1
            assert "check whether the customer got it" in uncertain[0].delivery_error
        assert {r.delivery for r in replies} <= {D.sent, D.uncertain}
    assert len(received) >= 39


def test_withdrawing_an_approval_is_refused_while_a_sender_has_the_reply(engine, smtp_sink):
    [inquiry_id] = approved_replies(engine, 1)
    settings = _settings(smtp_url=smtp_sink.url)
    with session(engine) as db:
        claimed = outbox.claim_next(db, settings, owner="other-host:1:1")
        assert isinstance(claimed, OutboundReplyRow)
        with pytest.raises(review.ReviewError, match="sending"):
            review.withdraw_approval(db, inquiry_id, agent="ann")
        assert records.outbound_reply(db, inquiry_id).delivery is D.sending


def test_mail_poll_idle_picks_up_new_mail_and_stops_on_sigterm(tmp_path, dovecot, mails):
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'idle.db'}",
        "ASSISTANT_IMAP_URL": dovecot.url(),
    }
    watcher = subprocess.Popen(
        [sys.executable, "-m", "assistant", "mail", "poll", "--idle", "--no-process"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(3)  # it polled the empty inbox and waits in IDLE
        dovecot.append("INBOX", mails[0][1])
        from assistant.storage.db import open_database

        engine = open_database(env["DATABASE_URL"])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with session(engine) as db:
                if _count(db):
                    break
            time.sleep(0.3)
        with session(engine) as db:
            assert _count(db) == 1
        engine.dispose()
    finally:
        watcher.send_signal(signal.SIGTERM)
        out, err = watcher.communicate(timeout=30)
    assert watcher.returncode == 0, err
    assert "1 new" in out


def test_the_audit_trail_names_each_outcome(engine, smtp_sink):
    [inquiry_id] = approved_replies(engine, 1)
    with session(engine) as db:
        send_due(db, _settings(smtp_url=smtp_sink.url))
        [sent] = db.exec(
            select(AuditEventRow).where(
                AuditEventRow.inquiry_id == inquiry_id, AuditEventRow.action == Action.send
            )
        ).all()
        assert sent.actor == "mail send" and sent.reason.startswith("sent via smtp://")
        assert "250" in sent.reason


def test_the_workspace_shows_a_delivery_problem_and_lets_an_agent_resolve_it(engine, smtp_sink):
    from tests.web_support import add_accounts, logged_in, post, workspace

    uncertain, failed = approved_replies(engine, 2)
    settings = _settings(smtp_url=smtp_sink.url)
    smtp_sink.drop_after_data(1)
    with session(engine) as db:
        send_due(db, settings, limit=1)  # the first: dropped after DATA
    smtp_sink.reply_at_data("550 5.1.1 No such user here", 1)
    with session(engine) as db:
        send_due(db, settings)  # the second: refused
    add_accounts(engine)
    ann = logged_in(workspace(engine, settings), "ann")

    queue = ann.get("/queue").text
    assert "2 approved replies could not be delivered or may not have arrived" in queue
    listed = ann.get("/queue?f=delivery").text
    assert f"/inquiries/{uncertain}" in listed and f"/inquiries/{failed}" in listed

    page = ann.get(f"/inquiries/{failed}").text
    assert "Reply failed" in page and "550 5.1.1 No such user here" in page
    page = ann.get(f"/inquiries/{uncertain}").text
    assert "Reply uncertain" in page and "The customer did not get it" in page
    assert "Withdraw approval" not in page  # it may be in the customer's inbox already

    refused = post(ann, f"/inquiries/{uncertain}/send-again")  # without the check
    assert "may have reached the customer" in refused.text
    post(ann, f"/inquiries/{uncertain}/delivered")
    post(ann, f"/inquiries/{failed}/send-again")
    with session(engine) as db:
        assert records.get_inquiry(db, uncertain).status is S.sent
        assert records.outbound_reply(db, failed).delivery is D.approved
        assert send_due(db, settings).sent == 1  # only the failed one goes again
        trail = [(e.action, e.actor) for e in records.audit_trail(db, failed)]
        assert (Action.retry_delivery, "ann") in trail
    assert len(smtp_sink.received) == 2  # the dropped one (once) and the retried one


def test_a_folder_that_does_not_exist_is_one_clear_line(engine, dovecot):
    settings = _settings(imap_url=dovecot.url("No-Such-Folder"))
    with session(engine) as db, pytest.raises(MailboxError, match="cannot open the folder"):
        poll_once(db, settings)


def test_a_mail_the_server_will_not_hand_out_is_quarantined_and_the_rest_stored(
    engine, dovecot, mails
):
    from imapclient.exceptions import IMAPClientError

    from assistant.mailbox import imap

    dovecot.append_many("INBOX", [data for _, data in mails[:10]])
    settings = _settings(imap_url=dovecot.url())
    client = imap.connect(imap_server(settings), 10)
    refused_uid = dovecot.uids("INBOX")[3]
    real_fetch = client.fetch

    def fetch(uids, what):
        if refused_uid in uids and what == ["BODY.PEEK[]"]:
            raise IMAPClientError("FETCH failed: NO [SERVERBUG] internal error")
        return real_fetch(uids, what)

    client.fetch = fetch
    try:
        with session(engine) as db:
            summary = poll_once(db, settings, client)
            assert summary.ingested == 10 and summary.quarantined == 1
            [bad] = db.exec(select(InquiryRow).where(InquiryRow.status == S.quarantined)).all()
            assert "would not hand this mail out" in bad.status_reason
            assert _count(db, InquiryRow.status == S.received) == 9
    finally:
        imap.close(client)

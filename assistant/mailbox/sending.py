"""`assistant mail send`: approved replies out through SMTP, each at most once.

One connection for the run (STARTTLS when offered, AUTH when the URL names a user). For
each reply the outbox (assistant/mailbox/outbox.py) is asked for the next one due; the
server's answers decide what becomes of it:

* 250 after DATA: sent (and a copy is appended to the Sent folder when one is set);
* a 4xx at any step: tried again later, with backoff, until the tries are used up;
* a 5xx: failed, with the server's words shown to the agents;
* the connection lost or timed out after the text was handed over: uncertain — the
  server may have the mail, so it is never sent again without a person's word;
* lost before that: tried again (nothing reached the server).
"""

from __future__ import annotations

import contextlib
import email.policy
import smtplib
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlmodel import Session

from assistant import export
from assistant.mailbox import outbox, recovery
from assistant.mailbox.claimant import sender_token
from assistant.mailbox.imap import MailboxError, SentFolder
from assistant.mailbox.servers import MailServer, imap_server, smtp_server
from assistant.settings import Settings, SettingsError
from assistant.storage.tables import OutboundReplyRow
from assistant.workflow import WorkflowError


@dataclass
class SendSummary:
    sent: int = 0
    retry_later: int = 0
    failed: int = 0
    uncertain: int = 0
    recovered: dict[str, int] = field(default_factory=dict)
    rate_limited_for: float | None = None  # seconds: stopped at the cap (without --wait)
    notes: list[str] = field(default_factory=list)


class _Link:
    """The SMTP connection, opened when the first reply needs it, again after a loss."""

    def __init__(self, server: MailServer, timeout: float, local_hostname: str):
        self.server, self.timeout, self.local_hostname = server, timeout, local_hostname
        self.smtp: smtplib.SMTP | None = None

    def open(self) -> smtplib.SMTP:
        if self.smtp is not None:
            return self.smtp
        server = self.server
        try:
            if server.tls:
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    server.host,
                    server.port,
                    local_hostname=self.local_hostname,
                    timeout=self.timeout,
                    context=ssl.create_default_context(),
                )
            else:
                smtp = smtplib.SMTP(
                    server.host,
                    server.port,
                    local_hostname=self.local_hostname,
                    timeout=self.timeout,
                )
            smtp.ehlo()
            if not server.tls and smtp.has_extn("starttls"):
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            elif not server.tls and server.user and not server.plaintext_login_ok:
                smtp.close()
                server.refuse_plaintext_login()
            if server.user:
                smtp.login(
                    server.user, server.password.get_secret_value() if server.password else ""
                )
        except SettingsError as error:
            raise MailboxError(str(error)) from None
        except smtplib.SMTPAuthenticationError as error:
            raise MailboxError(
                f"{server.shown}: login refused ({error.smtp_code} {_text(error.smtp_error)})"
            ) from None
        except (OSError, smtplib.SMTPException) as error:
            raise MailboxError(f"{server.shown}: cannot connect ({error})") from None
        self.smtp = smtp
        return smtp

    def drop(self) -> None:
        if self.smtp is not None:
            with contextlib.suppress(OSError):
                self.smtp.close()
        self.smtp = None

    def quit(self) -> None:
        if self.smtp is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                self.smtp.quit()
        self.drop()


def _text(value: bytes | str) -> str:
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return " ".join(text.split())[:300]


class _Refused(Exception):
    """The server answered with an error code before the text was handed over."""

    def __init__(self, code: int, said: str):
        super().__init__(f"{code} {said}")
        self.code = code


def _check(answer: tuple[int, bytes], ok: tuple[int, ...], step: str) -> None:
    code, said = answer
    if code not in ok:
        raise _Refused(code, f"{_text(said)} (at {step})")


def send_due(
    session: Session,
    settings: Settings,
    *,
    limit: int | None = None,
    wait: bool = False,
    progress: Callable[[OutboundReplyRow, str], None] | None = None,
) -> SendSummary:
    """Send the approved replies that are due; stop at `limit`, when none is left, or at
    the rate cap (or wait for it, with `wait`). MailboxError if the server cannot be used
    at all (the reply it was for waits for the next run)."""
    server = smtp_server(settings)
    sent_folder = (
        SentFolder(imap_server(settings), settings.imap_sent_folder, settings.imap_timeout)
        if settings.imap_sent_folder and settings.imap_url
        else None
    )
    summary = SendSummary()
    summary.recovered = {
        k: v
        for k, v in recovery.recover_abandoned(
            session, sent_folder_has=sent_folder.has if sent_folder else None
        ).items()
        if v
    }
    domain = settings.support_address.rpartition("@")[2] or "localhost"
    link = _Link(server, settings.smtp_timeout, domain)
    owner = sender_token()
    after, done = 0, 0
    waiting: list[OutboundReplyRow] = []
    try:
        while limit is None or done < limit:
            if not waiting:
                most = (
                    outbox.CLAIM_BATCH if limit is None else min(outbox.CLAIM_BATCH, limit - done)
                )
                claimed = outbox.claim_due(session, settings, owner=owner, after=after, most=most)
                if isinstance(claimed, outbox.RateLimited):
                    if not wait:
                        summary.rate_limited_for = claimed.wait
                        break
                    time.sleep(min(claimed.wait, 5.0))
                    continue
                if claimed.last_id == after:
                    break  # nothing more is due
                after, waiting = claimed.last_id, claimed.replies
                continue
            reply = waiting.pop(0)
            try:
                outcome = _send_one(session, settings, reply, link, owner, sent_folder, summary)
            except (MailboxError, KeyboardInterrupt):
                raise
            except Exception as error:  # noqa: BLE001 - one bad reply never stops the others
                outcome = _unexpected(session, reply, owner, error, summary)
                link.drop()
            done += 1
            if progress:
                progress(reply, outcome)
    finally:
        outbox.release(session, waiting, owner)  # stopped early: the rest are due again
        link.quit()
        if sent_folder:
            sent_folder.close()
    return summary


def _send_one(
    session: Session,
    settings: Settings,
    reply: OutboundReplyRow,
    link: _Link,
    owner: str,
    sent_folder: SentFolder | None,
    summary: SendSummary,
) -> str:
    """Send one claimed reply and record what became of it; returns that, in a word."""
    try:
        message = export.reply_message(reply, settings)
    except (ValueError, TypeError) as error:
        return _failed(session, reply, owner, f"cannot be written as mail: {error}", summary)
    approved, _ = export.as_approved(session, [reply])
    if not approved:
        why = "held back: it differs from what was approved (see `assistant audit verify`)"
        return _failed(session, reply, owner, why, summary)
    utf8 = not reply.to_address.isascii()
    data = message.as_bytes(policy=(email.policy.SMTPUTF8 if utf8 else email.policy.SMTP))
    session.commit()  # no transaction (on SQLite: no write lock) while we talk to the server
    try:
        smtp = link.open()
    except MailboxError:
        outbox.record_retry(
            session, reply, owner, "the SMTP server could not be reached", settings, counts=False
        )
        raise
    try:
        options = []
        if utf8:
            if not smtp.has_extn("smtputf8"):
                raise _Refused(553, "the server cannot take a non-ASCII address (no SMTPUTF8)")
            options.append("SMTPUTF8")
        code, said = smtp.mail(settings.support_address, options)
        if code != 250:  # our sender refused (auth, quota, policy): no reply's fault
            outbox.record_retry(
                session,
                reply,
                owner,
                f"{code} {_text(said)} (at MAIL FROM)",
                settings,
                counts=False,
            )
            raise MailboxError(
                f"{link.server.shown} refused our sender {settings.support_address}: "
                f"{code} {_text(said)}"
            )
        _check(smtp.rcpt(reply.to_address), (250, 251), "RCPT TO")
    except _Refused as refused:
        _reset(link)
        return _refused(session, settings, reply, owner, refused.code, str(refused), summary)
    except (OSError, smtplib.SMTPException) as error:  # lost before anything was handed over
        link.drop()
        outbox.record_retry(session, reply, owner, f"connection lost: {error}", settings)
        summary.retry_later += 1
        return "retry"
    outbox.mark_handed_over(session, reply, owner)
    try:
        code, said = smtp.data(data)  # the final answer is returned, not raised
    except smtplib.SMTPDataError as error:  # DATA itself refused: nothing was taken
        code = error.smtp_code
        said = error.smtp_error if isinstance(error.smtp_error, bytes) else str(error).encode()
    except (OSError, smtplib.SMTPException) as error:
        link.drop()
        lost = str(error) or type(error).__name__
        outbox.record_uncertain(
            session,
            reply,
            owner,
            f"the connection was lost after the reply was handed to the server ({lost}): "
            "the customer may have it; check before sending it again",
        )
        summary.uncertain += 1
        return "uncertain"
    if code != 250:  # a definite answer: the mail was not taken
        _reset(link)
        said_text = f"{code} {_text(said)} (after DATA)"
        return _refused(session, settings, reply, owner, code, said_text, summary)
    outbox.record_sent(
        session, reply, owner, server_reply=f"{code} {_text(said)}", via=link.server.shown
    )
    summary.sent += 1
    if sent_folder:
        note = sent_folder.append(data)
        if note:
            summary.notes.append(f"inquiry {reply.inquiry_id}: {note}")
    return "sent"


def _unexpected(
    session: Session, reply: OutboundReplyRow, owner: str, error: Exception, summary: SendSummary
) -> str:
    """Something no rule foresaw: before the hand-over the reply failed (nothing left);
    after it, whether it arrived is unknown."""
    session.rollback()
    what = f"{type(error).__name__}: {str(error)[:200]}"
    handed_over = session.get(OutboundReplyRow, reply.id)
    try:
        if handed_over is not None and handed_over.handed_over_at is not None:
            outbox.record_uncertain(session, reply, owner, f"an error after the hand-over ({what})")
            summary.uncertain += 1
            return "uncertain"
        return _failed(session, reply, owner, f"could not be sent ({what})", summary)
    except WorkflowError as lost:  # another process has it now
        summary.notes.append(str(lost))
        return "lost claim"


def _failed(
    session: Session, reply: OutboundReplyRow, owner: str, why: str, summary: SendSummary
) -> str:
    outbox.record_failed(session, reply, owner, why)
    summary.failed += 1
    return "failed"


def _reset(link: _Link) -> None:
    """After a refusal the connection is reused for the next reply, if it still works."""
    try:
        if link.smtp is not None:
            link.smtp.rset()
    except (OSError, smtplib.SMTPException):
        link.drop()


def _refused(
    session: Session,
    settings: Settings,
    reply: OutboundReplyRow,
    owner: str,
    code: int,
    said: str,
    summary: SendSummary,
) -> str:
    try:
        if 400 <= code < 500:
            if outbox.record_retry(session, reply, owner, said, settings):
                summary.retry_later += 1
                return "retry"
        else:
            outbox.record_failed(session, reply, owner, f"refused by the server: {said}")
        summary.failed += 1
        return "failed"
    except WorkflowError as error:
        summary.notes.append(str(error))
        return "lost claim"

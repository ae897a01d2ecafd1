"""`assistant mail poll`: new mail from an IMAP folder into the same ingest as files.

A cursor per folder (UIDVALIDITY and the highest UID stored) says where to go on. Mail is
fetched with BODY.PEEK[] (nothing is marked read), a batch at a time; each batch is
stored and committed, then the cursor, and only then is the mail moved to the processed
folder. A connection lost anywhere loses nothing (the server still has the mail) and
duplicates nothing (what is stored is recognised by its Message-ID, or its content, when
it is fetched again). A new UIDVALIDITY means the server renumbered the folder: it is
read again from the start, deduplicated the same way.

Mail over the size limit is not downloaded: its headers are stored as quarantined, with
the reason, and the mail stays on the server.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from assistant.ingest.mime import MAX_EMAIL_BYTES, parse_email_bytes
from assistant.ingest.sources import Item, guarded, quarantined
from assistant.ingest.store import ingest_many, tally
from assistant.mailbox import imap
from assistant.mailbox.imap import MailboxError
from assistant.mailbox.servers import MailServer, imap_server
from assistant.models import QuarantinedMail
from assistant.settings import Settings
from assistant.storage.tables import MailboxCursorRow, utcnow

BATCH = 50  # messages fetched, stored and committed at a time
BATCH_BYTES = 32 * 1024 * 1024  # and at most this much of them
SIZE_CHUNK = 1000  # UIDs whose sizes are asked in one FETCH
IDLE_RENEW_SECONDS = 25 * 60  # RFC 2177: re-issue IDLE before 29 minutes


@dataclass
class PollSummary:
    mailbox: str
    fetched: int = 0
    ingested: int = 0  # new inquiries stored (the rest: duplicates)
    duplicates: int = 0
    quarantined: int = 0
    no_reply_needed: int = 0
    moved: int = 0
    rescanned: bool = False  # UIDVALIDITY changed: the folder was read again
    new_ids: list[int] = field(default_factory=list)
    quarantine: list[dict[str, str]] = field(default_factory=list)

    @property
    def stored(self) -> int:
        return self.ingested


def poll_once(
    session: Session, settings: Settings, client: IMAPClient | None = None
) -> PollSummary:
    """Store every mail in the folder newer than the cursor. MailboxError if the server
    cannot be reached or the connection is lost (what was stored before stays stored)."""
    server = imap_server(settings)
    own = client is None
    client = client or imap.connect(server, settings.imap_timeout)
    try:
        return _poll(session, settings, server, client)
    except (IMAPClientError, OSError) as error:
        session.rollback()
        raise MailboxError(
            f"{server.shown}: connection lost while reading mail ({error or type(error).__name__});"
            " what was stored is kept, and the next poll goes on from there"
        ) from None
    finally:
        if own:
            imap.close(client)


def _poll(
    session: Session, settings: Settings, server: MailServer, client: IMAPClient
) -> PollSummary:
    summary = PollSummary(server.shown)
    moving = settings.imap_processed_folder
    if moving and not client.folder_exists(moving):
        client.create_folder(moving)
    try:
        info = client.select_folder(server.folder, readonly=not moving)
    except IMAPClientAbortError:
        raise
    except IMAPClientError as error:  # no such folder, no right to it
        raise MailboxError(f"{server.shown}: cannot open the folder ({str(error)[:200]})") from None
    if b"UIDVALIDITY" not in info:
        raise MailboxError(f"{server.shown}: the server gives the folder no UIDVALIDITY")
    uidvalidity = int(info[b"UIDVALIDITY"])
    cursor = session.get(MailboxCursorRow, server.shown)
    last = cursor.last_uid if cursor and cursor.uidvalidity == uidvalidity else 0
    summary.rescanned = cursor is not None and cursor.uidvalidity != uidvalidity
    session.rollback()  # no transaction open while we wait for the server
    uids = sorted(uid for uid in client.search(["UID", f"{last + 1}:*"]) if uid > last)
    for batch, sizes in _batches(client, uids):
        items = _fetch(client, server, batch, sizes, settings.support_address)
        _store(session, items, summary)
        _advance(session, server.shown, uidvalidity, batch[-1])
        if moving:
            summary.moved += _move(client, batch, moving)
    return summary


def _batches(client: IMAPClient, uids: list[int]):
    """The new UIDs in batches of at most BATCH mails and BATCH_BYTES, with their sizes:
    fifty large mails are not held in memory at once."""
    for start in range(0, len(uids), SIZE_CHUNK):
        chunk = uids[start : start + SIZE_CHUNK]
        sizes = {
            uid: int(data.get(b"RFC822.SIZE", 0))
            for uid, data in client.fetch(chunk, ["RFC822.SIZE"]).items()
        }
        batch: list[int] = []
        weight = 0
        for uid in chunk:
            if uid not in sizes:
                continue  # deleted on the server since the search
            size = min(sizes[uid], MAX_EMAIL_BYTES)  # larger mail is not downloaded
            if batch and (len(batch) >= BATCH or weight + size > BATCH_BYTES):
                yield batch, sizes
                batch, weight = [], 0
            batch.append(uid)
            weight += size
        if batch:
            yield batch, sizes


def _fetch(
    client: IMAPClient,
    server: MailServer,
    uids: list[int],
    sizes: dict[int, int],
    own_address: str,
) -> list[Item]:
    small = [u for u in uids if sizes[u] <= MAX_EMAIL_BYTES]
    large = [u for u in uids if sizes[u] > MAX_EMAIL_BYTES]
    bodies, refused = _fetch_each_if_refused(client, small, "BODY.PEEK[]")
    heads, refused_heads = _fetch_each_if_refused(client, large, "BODY.PEEK[HEADER]")
    refused.update(refused_heads)
    items: list[Item] = []
    for uid in uids:
        source = f"{server.shown}#{uid}"
        if uid in bodies:
            data = bytes(bodies[uid].get(b"BODY[]") or b"")
            item = guarded(
                source, data, lambda d=data, s=source: parse_email_bytes(d, s, own_address)
            )
        elif uid in heads:
            data = bytes(heads[uid].get(b"BODY[HEADER]") or b"")
            item = quarantined(
                source,
                f"{source}: message is {sizes[uid]} bytes, over the {MAX_EMAIL_BYTES} byte "
                "limit; its headers are kept here and the mail stays on the server",
                data,
            )
        elif uid in refused:
            data = source.encode()  # nothing was read: known again by where it was
            item = quarantined(
                source,
                f"{source}: the server would not hand this mail out ({refused[uid]}); it "
                "stays on the server",
                data,
            )
        else:
            continue  # deleted on the server since the search
        items.append(_stable(item, server, data))
    return items


def _fetch_each_if_refused(
    client: IMAPClient, uids: list[int], what: str
) -> tuple[dict[int, dict], dict[int, str]]:
    """FETCH a batch; if the server refuses it (NO, BAD), one at a time, so one mail it will
    not hand out is quarantined and the others are stored. A lost connection is raised."""
    if not uids:
        return {}, {}
    try:
        return dict(client.fetch(uids, [what])), {}
    except IMAPClientAbortError:
        raise
    except IMAPClientError as error:
        if len(uids) == 1:
            return {}, {uids[0]: str(error)[:200]}
    fetched: dict[int, dict] = {}
    refused: dict[int, str] = {}
    for uid in uids:
        try:
            fetched.update(client.fetch([uid], [what]))
        except IMAPClientAbortError:
            raise
        except IMAPClientError as error:
            refused[uid] = str(error)[:200]
    return fetched, refused


def _stable(item: Item, server: MailServer, data: bytes) -> Item:
    """A quarantined mail is known again by its bytes, whatever UID it has now."""
    if isinstance(item, QuarantinedMail):
        digest = hashlib.sha256(server.shown.encode() + b"\x1f" + data).hexdigest()
        return item.model_copy(update={"digest": digest})
    return item


def _store(session: Session, items: list[Item], summary: PollSummary) -> None:
    summary.fetched += len(items)
    created = tally(summary, ingest_many(session, items), items)
    summary.new_ids += [result.id for result in created]


def _advance(session: Session, mailbox: str, uidvalidity: int, uid: int) -> None:
    """The cursor moves on (never back; a new UIDVALIDITY starts it again). Another poller
    of the same folder creating it at the same moment is waited for, not an error."""
    for attempt in range(2):
        cursor = session.get(MailboxCursorRow, mailbox) or MailboxCursorRow(
            mailbox=mailbox, uidvalidity=uidvalidity, last_uid=0, updated_at=utcnow()
        )
        if cursor.uidvalidity != uidvalidity:
            cursor.uidvalidity, cursor.last_uid = uidvalidity, 0
        cursor.last_uid = max(cursor.last_uid, uid)
        cursor.updated_at = utcnow()
        session.add(cursor)
        try:
            session.commit()
            return
        except IntegrityError:
            session.rollback()
            if attempt:
                raise


def _move(client: IMAPClient, uids: list[int], folder: str) -> int:
    """Stored mail out of the inbox (MOVE, RFC 6851; else COPY, flag and expunge)."""
    if b"MOVE" in client.capabilities():
        client.move(uids, folder)
    else:
        client.copy(uids, folder)
        client.add_flags(uids, [b"\\Deleted"])
        if b"UIDPLUS" in client.capabilities():
            client.uid_expunge(uids)
        else:
            client.expunge()
    return len(uids)


def watch(
    session: Session,
    settings: Settings,
    *,
    on_poll: Callable[[PollSummary], None],
    on_error: Callable[[str], None],
    stopping: Callable[[], bool],
    idle: bool = True,
) -> None:
    """Poll, then wait for new mail (IDLE when the server has it, else every
    `imap_poll_seconds`), until `stopping()`; a lost connection is reopened with backoff."""
    server = imap_server(settings)
    backoff = 1.0
    while not stopping():
        client = None
        try:
            client = imap.connect(server, settings.imap_timeout)
            while not stopping():
                on_poll(poll_once(session, settings, client))
                backoff = 1.0
                if idle and b"IDLE" in client.capabilities():
                    _idle(client, stopping)
                else:
                    _sleep(settings.imap_poll_seconds, stopping)
        except MailboxError as error:
            on_error(str(error))
        except (IMAPClientError, OSError) as error:
            on_error(f"{server.shown}: connection lost ({error or type(error).__name__})")
        except Exception as error:  # noqa: BLE001 - a long-running poller outlives one bad cycle
            session.rollback()
            on_error(f"{server.shown}: {type(error).__name__}: {str(error)[:200]}")
        finally:
            imap.close(client)
        _sleep(backoff, stopping)
        backoff = min(backoff * 2, 300.0)


def _idle(client: IMAPClient, stopping: Callable[[], bool]) -> None:
    """Wait in IDLE until the server reports new mail, for at most 25 minutes."""
    client.idle()
    try:
        deadline = time.monotonic() + IDLE_RENEW_SECONDS
        while not stopping() and time.monotonic() < deadline:
            asked = time.monotonic()
            responses = client.idle_check(timeout=1.0)
            if any(r and r[0] == b"BYE" for r in responses):
                raise MailboxError("the server ended the IDLE session")
            if not responses and time.monotonic() - asked < 0.5:
                raise MailboxError("the connection closed while waiting for mail")
            if any(len(r) > 1 and r[1] in (b"EXISTS", b"RECENT") for r in responses):
                return
    finally:
        with contextlib.suppress(IMAPClientError, OSError):  # gone: `watch` reconnects
            client.idle_done()


def _sleep(seconds: float, stopping: Callable[[], bool]) -> None:
    deadline = time.monotonic() + seconds
    while not stopping() and time.monotonic() < deadline:
        time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))

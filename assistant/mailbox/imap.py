"""An IMAP connection as the mailbox needs it (IMAPClient): TLS from the start for
imaps://, STARTTLS when a plain server offers it, a timeout on every socket operation;
and the Sent folder: a copy of each sent reply, and the search for one after a crash.
"""

from __future__ import annotations

import contextlib
import ssl
import time

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from assistant.mailbox.servers import MailServer
from assistant.settings import SettingsError
from assistant.storage.tables import utcnow


class MailboxError(RuntimeError):
    """The mail server could not be reached or refused us; the message says which and why
    (never with the password)."""


def connect(server: MailServer, timeout: float) -> IMAPClient:
    client: IMAPClient | None = None
    try:
        client = IMAPClient(
            server.host,
            port=server.port,
            ssl=server.tls,
            ssl_context=ssl.create_default_context() if server.tls else None,
            timeout=timeout,
        )
        if not server.tls:
            if b"STARTTLS" in client.capabilities():
                client.starttls(ssl.create_default_context())
            else:
                server.refuse_plaintext_login()
        client.login(
            server.user or "", server.password.get_secret_value() if server.password else ""
        )
        return client
    except IMAPClient.Error as error:
        problem = f"login refused ({_said(error)})"
    except SettingsError as error:
        problem = str(error).removeprefix(f"{server.shown} ")
    except OSError as error:  # ssl.SSLError included
        problem = f"{'no answer to the login' if client else 'cannot connect'} ({error})"
    if client is not None:
        with contextlib.suppress(OSError, IMAPClientError):
            client.shutdown()
    raise MailboxError(f"{server.shown}: {problem}")


def _said(error: Exception) -> str:
    return str(error)[:200]


def close(client: IMAPClient | None) -> None:
    if client is None:
        return
    try:
        client.logout()
    except (IMAPClientError, OSError):
        with contextlib.suppress(OSError):
            client.shutdown()


class SentFolder:
    """The Sent folder of the mailbox, opened once and kept for a run of `mail send`."""

    def __init__(self, server: MailServer, folder: str, timeout: float):
        self.server, self.folder, self.timeout = server, folder, timeout
        self._client: IMAPClient | None = None

    def _open(self) -> IMAPClient:
        if self._client is None:
            self._client = connect(self.server, self.timeout)
            if not self._client.folder_exists(self.folder):
                self._client.create_folder(self.folder)
        return self._client

    def append(self, message: bytes) -> str | None:
        """Store a copy, marked read; None, or why it could not be stored (the reply was
        sent all the same)."""
        for attempt in range(2):
            try:
                self._open().append(self.folder, message, flags=[b"\\Seen"], msg_time=utcnow())
                return None
            except (IMAPClientError, OSError, MailboxError) as error:
                self.close()
                if attempt:
                    return f"no copy in {self.folder}: {_said(error)}"
                time.sleep(0.2)
        return None

    def has(self, message_id: str) -> bool | None:
        """Whether a message with this Message-ID is in the folder; None if we cannot tell."""
        try:
            client = self._open()
            client.select_folder(self.folder, readonly=True)
            return bool(client.search(["HEADER", "Message-ID", message_id]))
        except (IMAPClientError, OSError, MailboxError):
            self.close()
            return None

    def close(self) -> None:
        close(self._client)
        self._client = None

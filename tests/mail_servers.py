"""Real mail servers for the mailbox tests: Debian's Dovecot (IMAP in), an aiosmtpd sink
(SMTP out) with scripted faults, and a TCP proxy that drops connections mid-transfer.

A mocked IMAP or SMTP library only answers what its author imagined; these are the real
protocols, on loopback, each on a free port and in a folder of its own, so tests (and
several pytest processes) never share a server or touch the machine's mail setup.

Tests take the fixtures into their module under the names they ask for (assigned, not
imported: ruff reports an imported fixture at every test's argument, F811):

    from tests import mail_servers

    dovecot = mail_servers.dovecot
    smtp_sink = mail_servers.smtp_sink

Without Dovecot (`make mailservers` installs it) the IMAP tests are skipped with the
reason, except under CI=true, where a missing Dovecot fails them.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import email.parser
import email.policy
import grp
import inspect
import logging
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from imapclient import IMAPClient

DOVECOT_BIN = Path("/usr/sbin/dovecot")
DOVEADM_BIN = Path("/usr/bin/doveadm")
HOST = "127.0.0.1"
START_TIMEOUT = 10.0  # seconds for a server to accept connections

# The system account that owns the test mailbox when Dovecot runs as root. Dovecot
# refuses mail access as uid 0, so mail processes drop to this account (userdb static
# uid/gid, first_valid_uid..last_valid_uid allowing exactly it). `nobody` exists on every
# Debian; `dovenull` (Dovecot's own unprivileged login account) is the fallback.
MAIL_ACCOUNTS = ("nobody", "dovenull")


def free_port() -> int:
    """A loopback port nobody listens on right now (the caller binds it soon after)."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def _private_dir(prefix: str) -> Path:
    """A new folder with a short path: Dovecot's unix sockets live under it, and a socket
    path longer than 107 bytes cannot be bound (pytest's tmp_path can be that long)."""
    parent = tempfile.gettempdir()
    if len(parent) > 40:
        parent = "/tmp"
    return Path(tempfile.mkdtemp(prefix=prefix, dir=parent))


def _mail_account() -> tuple[str, int, int]:
    """(name, uid, gid) of the account that owns the mailbox and runs the mail processes."""
    if os.geteuid() != 0:  # an unprivileged Dovecot can only be the user running it
        me = pwd.getpwuid(os.geteuid())
        return me.pw_name, me.pw_uid, me.pw_gid
    for name in MAIL_ACCOUNTS:
        try:
            account = pwd.getpwnam(name)
        except KeyError:
            continue
        return account.pw_name, account.pw_uid, account.pw_gid
    raise RuntimeError(f"no system account among {MAIL_ACCOUNTS} to own the test mailbox")


DOVECOT_CONF = """\
# A private Dovecot for one test: nothing here is read from /etc/dovecot, and every
# path (sockets, state, log, mail) is inside {root}.
instance_name = {instance}
protocols = imap
listen = {host}
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
{unprivileged}
# Plain IMAP on loopback, as the tests' client speaks it.
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
# Wrong passwords answer at once: no 2 s delay, no growing penalty for 127.0.0.1.
auth_failure_delay = 0
login_trusted_networks = 127.0.0.0/8

passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%n {root}/passwd
}}
# Dovecot never gives mail access as uid 0: mail processes run as {account} ({uid}).
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%n
}}
first_valid_uid = {uid}
last_valid_uid = {uid}
first_valid_gid = {gid}
last_valid_gid = {gid}

mail_location = maildir:~/Maildir
namespace inbox {{
  inbox = yes
  separator = /
  # Created by whoever needs them (the tests, the app); `Sent` then says what it is.
  mailbox Sent {{
    special_use = \\Sent
  }}
}}

# The app, a test's own client and an IDLE connection: more than the default 10.
mail_max_userip_connections = 100
# 12 MB mails: APPEND has no size limit without the quota plugin (none here); the imap
# process's memory limit (256 MB by default) is raised anyway, to be sure.
service imap {{
  vsz_limit = 1G
}}
service imap-login {{
  inet_listener imap {{
    address = {host}
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
{login_chroot}
}}
"""

UNPRIVILEGED = """\
# Not root: Dovecot runs every process as the user running the tests, without chroot.
default_internal_user = {account}
default_internal_group = {group}
default_login_user = {account}
service anvil {{
  chroot =
}}
"""

_running: set[Dovecot] = set()
_stopping: list[threading.Thread] = []


@atexit.register
def _stop_all() -> None:
    """A test that forgot stop(), or an interrupted run, leaves no Dovecot behind."""
    for server in list(_running):
        server.stop(wait=False)
    for thread in list(_stopping):
        thread.join(timeout=10)


class Dovecot:
    """Debian's Dovecot from a private config: one user (crocso/s3cret), Maildir, plain
    IMAP on a free loopback port. Start on construction; `stop()` when done."""

    host = HOST
    user = "crocso"
    password = "s3cret"

    def __init__(self, *, folders: Iterable[str] = ()) -> None:
        if not DOVECOT_BIN.is_file():
            raise RuntimeError(f"{DOVECOT_BIN} is missing: {DOVECOT_MISSING}")
        # Kept: a stop in the background must not see a test's patch of DOVECOT_BIN.
        self._dovecot, self._doveadm = str(DOVECOT_BIN), str(DOVEADM_BIN)
        self.root = _private_dir("crocso-dovecot-")
        self.root.chmod(0o755)  # the mail account must reach its home below it
        self.config = self.root / "dovecot.conf"
        self.log_path = self.root / "dovecot.log"
        self._master: subprocess.Popen | None = None
        account, uid, gid = _mail_account()
        home = self.root / "home" / self.user
        home.mkdir(parents=True)
        os.chown(home, uid, gid)
        home.chmod(0o700)
        # Read by the auth process (Dovecot's internal user): world-readable, test-only.
        (self.root / "passwd").write_text(f"{self.user}:{{PLAIN}}{self.password}::::::\n")
        (self.root / "passwd").chmod(0o644)
        try:
            self.port = self._start(account, uid, gid)
        except BaseException:
            shutil.rmtree(self.root, ignore_errors=True)
            raise
        _running.add(self)
        for folder in folders:
            self.create(folder)

    # -- lifecycle ---------------------------------------------------------------------

    def _start(self, account: str, uid: int, gid: int) -> int:
        """Start the master on a free port; a port taken in between is tried again."""
        unprivileged = os.geteuid() != 0
        for _attempt in range(5):
            port = free_port()
            self.config.write_text(
                DOVECOT_CONF.format(
                    root=self.root,
                    instance=f"dovecot-{self.root.name}",
                    host=self.host,
                    port=port,
                    account=account,
                    uid=uid,
                    gid=gid,
                    unprivileged=UNPRIVILEGED.format(
                        account=account, group=grp.getgrgid(gid).gr_name
                    )
                    if unprivileged
                    else "",
                    login_chroot="  chroot =" if unprivileged else "",
                )
            )
            self.config.chmod(0o644)
            if self._launch(port):
                return port
            if "Address already in use" not in self._said() + self.log():
                break
        raise RuntimeError(
            f"dovecot did not start: {self._said()}\n--- {self.log_path} ---\n{self.log()}"
        )

    def _launch(self, port: int) -> bool:
        """`dovecot -F -c CONF`: in the foreground, as our child, so that it is reaped at
        once when it stops, and (setpriv --pdeathsig) gets SIGTERM if this process dies
        without stopping it (a killed pytest leaves no Dovecot behind). The signal is
        tied to the thread that starts it: start Dovecot from the test's own thread.
        True once it greets on `port`; False if it exited (see `_said()`)."""
        command = [self._dovecot, "-F", "-c", str(self.config)]
        setpriv = shutil.which("setpriv")
        if setpriv:
            command = [setpriv, "--pdeathsig", "TERM", *command]
        with (self.root / "start.err").open("w") as output:
            self._master = subprocess.Popen(command, stdout=output, stderr=output)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._master.poll() is not None:
                return False
            try:
                with socket.create_connection((self.host, port), timeout=1) as probe:
                    if probe.recv(100).startswith(b"* OK"):
                        return True
            except OSError:
                pass
            time.sleep(0.02)
        log = self.log()  # before stop() removes it
        self.stop()
        raise RuntimeError(
            f"dovecot did not accept IMAP on {self.host}:{port} within {START_TIMEOUT:.0f} s\n"
            f"--- {self.log_path} ---\n{log}"
        )

    def _said(self) -> str:
        """What the master printed (a config error is printed, not logged)."""
        try:
            return (self.root / "start.err").read_text(errors="replace")
        except OSError:
            return ""

    def log(self) -> str:
        """Dovecot's log so far (what to read when a test fails)."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self, *, wait: bool = True) -> None:
        """Stop the master (`dovecot -c CONF stop`) and remove the folder. That takes ~1 s
        (the master waits for its log process): with wait=False it happens in a background
        thread, waited for at exit, so a test's teardown does not pay it."""
        master, self._master = self._master, None
        _running.discard(self)
        if master is None:
            return
        if wait:
            self._finish_stop(master)
        else:
            thread = threading.Thread(target=self._finish_stop, args=(master,), daemon=True)
            _stopping[:] = [*(t for t in _stopping if t.is_alive()), thread]
            thread.start()

    def _finish_stop(self, master: subprocess.Popen) -> None:
        try:
            if master.poll() is None:
                # The stop command waits for the master to be gone, which needs us to reap
                # it: both at once.
                try:
                    stopper: subprocess.Popen | None = subprocess.Popen(
                        [self._dovecot, "-c", str(self.config), "stop"],
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                except OSError:
                    stopper = None
                    master.terminate()  # what the stop command does
                try:
                    master.wait(timeout=10)
                except subprocess.TimeoutExpired:  # our own master, stuck: end it by its id
                    master.kill()
                    master.wait()
                if stopper is not None:
                    try:
                        stopper.wait(timeout=10)
                    except subprocess.TimeoutExpired:
                        stopper.kill()
                        stopper.wait()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Dovecot:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what tests use ----------------------------------------------------------------

    def url(self, folder: str = "INBOX") -> str:
        """The mailbox URL the app is configured with."""
        return (
            f"imap://{self.user}:{self.password}@{self.host}:{self.port}/{quote(folder, safe='/')}"
        )

    def client(self, *, timeout: float = 10) -> IMAPClient:
        """A logged-in client (a context manager: `with dovecot.client() as imap:`)."""
        imap = IMAPClient(self.host, self.port, ssl=False, timeout=timeout)
        imap.login(self.user, self.password)
        return imap

    def create(self, folder: str) -> None:
        """Create `folder` (an existing one is left as it is)."""
        with self.client() as imap:
            if not imap.folder_exists(folder):
                imap.create_folder(folder)

    def append(self, folder: str, data: bytes, *, flags: Iterable[bytes | str] = ()) -> int:
        """Deliver one mail into `folder` (created if missing); its UID."""
        with self.client() as imap:
            if not imap.folder_exists(folder):
                imap.create_folder(folder)
            answer = imap.append(folder, data, flags=tuple(flags))
        return _appended_uids(answer)[0]

    def append_many(self, folder: str, messages: Iterable[bytes]) -> list[int]:
        """Deliver many mails in one connection and one MULTIAPPEND command; their UIDs,
        in order."""
        messages = list(messages)
        if not messages:
            return []
        with self.client() as imap:
            if not imap.folder_exists(folder):
                imap.create_folder(folder)
            _typ, answer = imap.multiappend(folder, messages)
        uids = _appended_uids(answer[0])
        assert len(uids) == len(messages), (answer, len(messages))
        return uids

    def uids(self, folder: str = "INBOX") -> list[int]:
        with self.client() as imap:
            imap.select_folder(folder, readonly=True)
            return sorted(imap.search("ALL"))

    def messages(self, folder: str = "INBOX") -> list[bytes]:
        """Every mail in `folder`, raw, in UID order (read-only: flags are not changed)."""
        with self.client() as imap:
            imap.select_folder(folder, readonly=True)
            uids = sorted(imap.search("ALL"))
            found: list[bytes] = []
            for start in range(0, len(uids), 100):
                chunk = uids[start : start + 100]
                fetched = imap.fetch(chunk, ["BODY.PEEK[]"])
                found.extend(fetched[uid][b"BODY[]"] for uid in chunk)
            return found

    def uidvalidity(self, folder: str = "INBOX") -> int:
        with self.client() as imap:
            return int(imap.folder_status(folder, [b"UIDVALIDITY"])[b"UIDVALIDITY"])

    def recreate(self, folder: str) -> int:
        """Empty `folder` and give it a new UIDVALIDITY, as when someone deletes and
        re-creates it: every UID the app remembered is now meaningless. The new
        UIDVALIDITY, checked to differ from the old one.

        A folder is deleted and created over IMAP (Dovecot's dovecot-uidvalidity file
        makes the new value differ even within one second). INBOX cannot be deleted in
        IMAP: its mails are expunged and `doveadm mailbox update --uid-validity` sets a
        new value (also the fallback if a folder's value were ever reused).

        A session that has the folder selected meanwhile is treated as a real server
        treats it: Dovecot disconnects it (INBOX: "IMAP session state is inconsistent,
        please relogin") or answers NO to its next command (another folder)."""
        before = self.uidvalidity(folder)
        with self.client() as imap:
            if folder.upper() == "INBOX":
                imap.select_folder(folder)
                imap.delete_messages(imap.search("ALL"))
                imap.expunge()
                imap.unselect_folder()
            else:
                imap.delete_folder(folder)
                imap.create_folder(folder)
        after = self.uidvalidity(folder)
        if after == before:
            self._set_uidvalidity(folder, max(before + 1, int(time.time())))
            after = self.uidvalidity(folder)
        assert after != before, f"UIDVALIDITY of {folder} stayed {before}"
        return after

    def _set_uidvalidity(self, folder: str, value: int) -> None:
        subprocess.run(
            [self._doveadm, "-c", str(self.config), "mailbox", "update", "-u", self.user]
            + ["--uid-validity", str(value), folder],
            check=True,
            capture_output=True,
            timeout=10,
        )


def _appended_uids(answer: bytes) -> list[int]:
    """The UIDs in an APPEND answer's `[APPENDUID validity uid-set]` (RFC 4315)."""
    found = re.search(rb"\[APPENDUID \d+ ([0-9:,]+)\]", answer)
    assert found, f"no APPENDUID in {answer!r}"
    uids: list[int] = []
    for part in found.group(1).decode().split(","):
        first, _, last = part.partition(":")
        uids.extend(range(int(first), int(last or first) + 1))
    return uids


# -- a connection that drops -------------------------------------------------------------


class _Pair:
    """One client connection and its connection to the target."""

    def __init__(self, client: socket.socket, server: socket.socket) -> None:
        self.client, self.server = client, server
        self._lock = threading.Lock()
        self._ended = 0

    def cut(self) -> None:
        """Both directions end now (the pumps then close the sockets)."""
        for sock in (self.client, self.server):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def pump_ended(self) -> None:
        self.cut()
        with self._lock:
            self._ended += 1
            last = self._ended == 2
        if last:  # only when neither thread still uses them
            self.client.close()
            self.server.close()


class KillableProxy:
    """A loopback TCP proxy to (target_host, target_port) that can drop its connections:
    `cut_after(n)` once the server has sent n more bytes to the clients (together),
    `cut_now()` at once. The client sees the connection end mid-answer, as when a network
    drops it mid-FETCH. New connections are accepted and forwarded after a cut."""

    host = HOST

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self._listener = socket.create_server((self.host, 0))
        self._listener.settimeout(0.1)  # the accept loop looks at `_stopped` this often
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._pairs: set[_Pair] = set()
        self._budget: int | None = None
        self._stopped = threading.Event()
        self.connections = 0  # accepted so far
        self.cuts = 0  # cuts done so far
        self.cut_done = threading.Event()  # set by each cut (tests may wait for it)
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._accepting.start()

    def cut_after(self, n_bytes: int) -> None:
        """Forward n_bytes more from the server to the clients, then cut every connection."""
        self.cut_done.clear()
        with self._lock:
            self._budget = n_bytes

    def cut_now(self) -> None:
        with self._lock:
            self._budget = None
        self._cut_all()

    def stop(self) -> None:
        self._stopped.set()
        self._accepting.join(timeout=5)
        self._listener.close()
        with self._lock:
            pairs = list(self._pairs)
        for pair in pairs:
            pair.cut()

    def __enter__(self) -> KillableProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _cut_all(self) -> None:
        with self._lock:
            pairs = list(self._pairs)
            self.cuts += 1
        for pair in pairs:
            pair.cut()
        self.cut_done.set()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                server = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            client.settimeout(None)
            server.settimeout(None)
            pair = _Pair(client, server)
            with self._lock:
                self._pairs.add(pair)
                self.connections += 1
            for source, sink, counted in ((client, server, False), (server, client, True)):
                threading.Thread(
                    target=self._pump, args=(pair, source, sink, counted), daemon=True
                ).start()

    def _pump(self, pair: _Pair, source: socket.socket, sink: socket.socket, counted: bool):
        """Copy source to sink; bytes from the server count against a cut's budget."""
        try:
            while True:
                chunk = source.recv(65536)
                if not chunk:
                    break
                cut = False
                if counted:
                    with self._lock:
                        if self._budget is not None:
                            if len(chunk) >= self._budget:
                                chunk, cut = chunk[: self._budget], True
                                self._budget = None
                            else:
                                self._budget -= len(chunk)
                if chunk:
                    sink.sendall(chunk)
                if cut:
                    self._cut_all()
                    break
        except OSError:
            pass
        finally:
            with self._lock:
                self._pairs.discard(pair)
            pair.pump_ended()


# -- an SMTP server that records and misbehaves on request -------------------------------


@dataclass
class SmtpMessage:
    """One message as the SMTP server got it."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    message_id: str | None
    auth_user: str | None  # the AUTH login, None when the client did not authenticate


def _message_id(data: bytes) -> str | None:
    headers = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(data)
    value = headers.get("Message-ID")
    return str(value).strip() if value is not None else None


class _QuietLoginData(logging.Filter):
    """aiosmtpd 1.4 warns on every successful AUTH that its own Session.login_data is
    deprecated (it sets it itself): noise in every failing test's log."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "login_data is deprecated" not in record.getMessage()


logging.getLogger("mail.log").addFilter(_QuietLoginData())


class _SinkHandler:
    """aiosmtpd's handler: applies the next scripted fault, else records and says 250."""

    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, mail_options: list[str]
    ) -> str:
        if self.sink.require_auth and not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        sink = self.sink
        data = bytes(envelope.original_content or envelope.content or b"")
        auth = getattr(session, "auth_data", None)
        login = getattr(auth, "login", None)
        message = SmtpMessage(
            mail_from=envelope.mail_from,
            rcpt_tos=list(envelope.rcpt_tos),
            data=data,
            message_id=_message_id(data),
            auth_user=login.decode() if isinstance(login, bytes) else None,
        )
        with sink._lock:
            fault = sink._faults.popleft() if sink._faults else None
        if fault is not None and fault[0] == "reply":
            sink.refused.append(message)
            return fault[1]
        sink.received.append(message)
        if fault is not None:  # "drop": the whole DATA came in; no reply, ever
            sink.dropped.append(message)
            server.transport.close()
            # connection_lost() cancels this handler; nothing is written after the close.
            await asyncio.sleep(30)
            return "421 4.3.0 the connection should be gone"
        if sink._hook is not None:
            result = sink._hook(message)
            if inspect.isawaitable(result):
                await result
        return "250 2.0.0 OK queued"


class SmtpSink:
    """aiosmtpd on a free loopback port, recording what it accepts in `received`.

    Faults are scripted for the next n messages, in the order they are asked for:
    `reply_at_data("451 4.3.0 try again later", 2)` answers DATA with that line (the
    message goes to `refused`, not `received`); `drop_after_data(1)` reads the whole
    message and closes the connection without a reply (it is in `received` and in
    `dropped`: a real server may have delivered it). `hook(fn)` calls fn(message) before
    each 250. AUTH PLAIN/LOGIN as sender/pw over plain TCP, or no AUTH at all."""

    host = HOST
    user = "sender"
    password = "pw"

    def __init__(self, *, require_auth: bool = False) -> None:
        self.received: list[SmtpMessage] = []
        self.dropped: list[SmtpMessage] = []
        self.refused: list[SmtpMessage] = []
        self._faults: deque[tuple[str, str]] = deque()
        self._hook: Callable[[SmtpMessage], Any] | None = None
        self._lock = threading.Lock()
        self.require_auth = require_auth
        for _attempt in range(5):
            self.port = free_port()
            self._controller = Controller(
                _SinkHandler(self),
                hostname=self.host,
                port=self.port,
                server_hostname="sink.crocso.test",  # no getfqdn() (a DNS lookup)
                authenticator=self._authenticate,
                # AUTH over plain TCP. require_auth is enforced at MAIL by the handler:
                # aiosmtpd's auth_required warns (rightly, elsewhere) without TLS.
                auth_require_tls=False,
                data_size_limit=64 * 1024 * 1024,
                ready_timeout=START_TIMEOUT,
            )
            try:
                self._controller.start()
                return
            except OSError as error:  # the port was taken in between
                last_error = error
        raise RuntimeError(f"the SMTP sink did not start: {last_error}")

    @property
    def url(self) -> str:
        return f"smtp://{self.user}:{self.password}@{self.host}:{self.port}"

    def reply_at_data(self, code_line: str, n: int = 1) -> None:
        """Answer the next n messages' DATA with code_line (e.g. "550 5.1.1 user unknown")."""
        with self._lock:
            self._faults.extend([("reply", code_line)] * n)

    def drop_after_data(self, n: int = 1) -> None:
        """Take the next n messages whole, then close the connection without replying."""
        with self._lock:
            self._faults.extend([("drop", "")] * n)

    def hook(self, fn: Callable[[SmtpMessage], Any] | None) -> None:
        """Call fn(message) (a function or a coroutine function) before each 250; None
        removes it. It runs in the server's thread: a slow fn holds the server. The
        message is in `received` already; if fn raises, the client gets a 500."""
        self._hook = fn

    def wait_received(self, count: int, timeout: float = 10) -> list[SmtpMessage]:
        """`received` once it holds at least `count` messages (for a client elsewhere)."""
        deadline = time.monotonic() + timeout
        while len(self.received) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.received)} of {count} messages in {timeout} s")
            time.sleep(0.01)
        return self.received

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> SmtpSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        good = isinstance(auth_data, LoginPassword) and (
            auth_data.login == self.user.encode() and auth_data.password == self.password.encode()
        )
        if good:
            return AuthResult(success=True, auth_data=auth_data)
        return AuthResult(success=False, handled=False)  # aiosmtpd answers 535


# -- fixtures ----------------------------------------------------------------------------

DOVECOT_MISSING = "dovecot-imapd is not installed (make mailservers)"


def require_dovecot(binary: Path = DOVECOT_BIN) -> None:
    """Skip without Dovecot, with the reason; under CI=true it must be there."""
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI needs Dovecot: {DOVECOT_MISSING}")
        pytest.skip(DOVECOT_MISSING)


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    """A fresh Dovecot for each test (INBOX only; `create()` more)."""
    require_dovecot()
    server = Dovecot()
    try:
        yield server
    finally:
        server.stop(wait=False)


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    """A fresh SMTP sink for each test, AUTH optional."""
    sink = SmtpSink()
    try:
        yield sink
    finally:
        sink.stop()

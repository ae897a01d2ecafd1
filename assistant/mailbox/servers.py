"""The mail servers named by ASSISTANT_IMAP_URL and ASSISTANT_SMTP_URL, parsed once into
what a connection needs. The password stays a SecretStr; `shown` is the URL without it,
for messages and logs.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from pydantic import SecretStr

from assistant.settings import Settings, SettingsError

IMAP_PORTS = {"imap": 143, "imaps": 993}
SMTP_PORTS = {"smtp": 587, "smtps": 465}


@dataclass(frozen=True)
class MailServer:
    scheme: str
    host: str
    port: int
    user: str | None
    password: SecretStr | None
    folder: str = "INBOX"  # IMAP only
    # A password may cross the network unencrypted (no TLS, no STARTTLS offered): only to
    # a server on this machine, unless ASSISTANT_MAIL_ALLOW_PLAINTEXT_LOGIN says otherwise.
    plaintext_login_ok: bool = False

    @property
    def tls(self) -> bool:
        """TLS from the first byte (imaps, smtps); otherwise STARTTLS when offered."""
        return self.scheme.endswith("s")

    def refuse_plaintext_login(self) -> None:
        """Called when neither TLS nor STARTTLS protects the login."""
        if not self.plaintext_login_ok:
            raise SettingsError(
                f"{self.shown} offers no TLS: the password would cross the network in clear. "
                f"Use {self.scheme}s://, or set ASSISTANT_MAIL_ALLOW_PLAINTEXT_LOGIN=true "
                "for a server you trust"
            )

    @property
    def shown(self) -> str:
        who = f"{self.user}@" if self.user else ""
        path = f"/{self.folder}" if self.scheme.startswith("imap") else ""
        return f"{self.scheme}://{who}{self.host}:{self.port}{path}"


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _parse(url: str, ports: dict[str, int], what: str, plaintext_ok: bool) -> MailServer:
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:  # its text may quote the password
        raise SettingsError(
            f"{what} is not a valid URL (write @ / # ? : in the user or password as "
            "%40 %2F %23 %3F %3A)"
        ) from None
    if "@" in parts.path or "@" in parts.query or "@" in parts.fragment:
        raise SettingsError(f"{what}: write @ / # ? in the user or password as %40 %2F %23 %3F")
    scheme = parts.scheme.lower()
    if scheme not in ports:
        raise SettingsError(f"{what} must start with {' or '.join(f'{s}://' for s in ports)}")
    if not parts.hostname:
        raise SettingsError(f"{what} names no host")
    folder = unquote(parts.path.lstrip("/")) or "INBOX"
    return MailServer(
        scheme=scheme,
        host=parts.hostname,
        port=port or ports[scheme],
        user=unquote(parts.username) if parts.username else None,
        password=SecretStr(unquote(parts.password)) if parts.password is not None else None,
        folder=folder,
        plaintext_login_ok=plaintext_ok or _loopback(parts.hostname),
    )


def imap_server(settings: Settings) -> MailServer:
    if settings.imap_url is None:
        raise SettingsError("no mailbox is configured: set ASSISTANT_IMAP_URL")
    server = _parse(
        settings.imap_url.get_secret_value(),
        IMAP_PORTS,
        "ASSISTANT_IMAP_URL",
        settings.mail_allow_plaintext_login,
    )
    if not server.user or server.password is None:
        raise SettingsError("ASSISTANT_IMAP_URL needs a user and password (imap://user:pw@host)")
    return server


def smtp_server(settings: Settings) -> MailServer:
    if settings.smtp_url is None:
        raise SettingsError("no SMTP server is configured: set ASSISTANT_SMTP_URL")
    return _parse(
        settings.smtp_url.get_secret_value(),
        SMTP_PORTS,
        "ASSISTANT_SMTP_URL",
        settings.mail_allow_plaintext_login,
    )

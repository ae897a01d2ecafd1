"""Mail addresses as a reply needs them: one real mailbox, or nothing.

A From header can hold a group ("undisclosed-recipients:;"), no address, several, or —
decoded from an encoded word, or typed into a JSONL file — a CR/LF that would inject
headers into our reply. Only an address that passes `email_validator` becomes a To:.
"""

from __future__ import annotations

from email.headerregistry import Address, Group
from email.utils import getaddresses

from email_validator import EmailNotValidError, validate_email


def valid_address(text: str | None) -> str | None:
    """`text` as a deliverable-looking address (syntax only, no DNS; no special-use domain
    such as .test, .local, .invalid), or None. An international domain is given in its
    ASCII (IDNA) form when the local part allows: it then fits any mail header."""
    if not isinstance(text, str) or not text or len(text) > 320:
        return None
    if any(c in text for c in "\r\n\x00"):
        return None
    try:
        checked = validate_email(text.strip(), check_deliverability=False)
    except EmailNotValidError:
        return None
    return checked.ascii_email or checked.normalized


def first_mailbox(header) -> tuple[str, str]:
    """(display name, address) of the first mailbox in a parsed address header; a group or
    an unparseable header gives ("", "")."""
    if header is None:
        return "", ""
    addresses = getattr(header, "addresses", None)
    if addresses is None:  # a header the policy could not parse as addresses
        pairs = getaddresses([str(header)])
        return pairs[0] if pairs else ("", "")
    groups: tuple[Group, ...] = getattr(header, "groups", ())
    for group in groups:
        if group.display_name is None:  # a plain mailbox, not a named group
            for address in group.addresses:
                return _pair(address)
    return "", ""


def _pair(address: Address) -> tuple[str, str]:
    return _utf8(" ".join(address.display_name.split())), _utf8(address.addr_spec)


def _utf8(text: str) -> str:
    """Raw UTF-8 in a header (RFC 6532) arrives as surrogate escapes: read it as UTF-8."""
    if not any("\udc80" <= ch <= "\udcff" for ch in text):
        return text
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")

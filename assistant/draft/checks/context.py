"""What a draft is checked against: the customer's own mail, their name and language.

A link, an address, a code or a price is fine when the customer wrote it (a customer
pasting their order page, quoting what they paid); the same thing appearing from nowhere
is what an attacker's instruction or a model's invention looks like.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

from assistant.draft.checks.normal import NormalText
from assistant.models import GroundingFinding


@dataclass(frozen=True)
class DraftContext:
    """Everything the checks may compare a draft with; empty fields check against nothing."""

    mail: str = ""  # what the customer wrote, without what it tells the assistant or the reply
    # The same, to their sign-off: what a link, address or number to contact may come from.
    signed: str = ""
    customer_names: tuple[str, ...] = ()  # From: display name, the name they signed with
    language: str = "en"  # the customer's language (triage): the text they get must be in it
    escalated: bool = False  # a senior representative has the case (§4)
    support_address: str = ""
    canary: str | None = None  # a marker in the system prompt no reply may contain

    @cached_property
    def mail_view(self) -> str:
        """The mail as the contact checks read it: normal, deobfuscated, lower case."""
        return NormalText.of(self.mail).deobfuscated.text.lower()

    @cached_property
    def mail_compact(self) -> str:
        """The mail with nothing but letters and digits: "CR 12-34" matches "cr1234"."""
        return compact(self.mail_view)

    @cached_property
    def signed_compact(self) -> str:
        return compact(NormalText.of(self.signed).deobfuscated.text.lower())

    def in_mail(self, text: str) -> bool:
        needle = compact(text.lower())
        return bool(needle) and needle in self.mail_compact

    def in_signed(self, text: str) -> bool:
        """In the customer's own words above their sign-off (notes below it are not)."""
        needle = compact(NormalText.of(text).deobfuscated.text.lower())
        return bool(needle) and needle in self.signed_compact


def compact(text: str) -> str:
    return re.sub(r"[\W_]+", "", text)


def finding(kind: str, excerpt: str, message: str) -> GroundingFinding:
    return GroundingFinding(kind=kind, excerpt=excerpt.strip()[:200], message=message)


def context_for(
    inquiry, triage=None, support_address: str = "", canary: str | None = None
) -> DraftContext:
    """The context of a reply to `inquiry` (an InquiryIn or a stored row) after `triage`:
    `mail` holds only the customer's own words (see own_words), never an attacker's
    payload that the mail asks the reply to carry."""
    from assistant.draft.checks.own_words import own_words
    from assistant.facts import extract_facts

    subject = getattr(inquiry, "subject", "") or ""
    body = getattr(inquiry, "body", "") or ""
    from_name = getattr(inquiry, "from_name", None)
    mine = own_words(body, from_name, signed=False)
    signed = own_words(body, from_name)
    names = [n for n in (from_name, extract_facts(signed, from_name).customer_name) if n]
    address = getattr(inquiry, "from_address", "") or ""
    title = own_words(subject, signed=False)
    return DraftContext(
        mail=f"{title}\n\n{mine}\n{address}",
        signed=f"{title}\n\n{signed}\n{address}",
        customer_names=tuple(names),
        language=getattr(triage, "language", None) or getattr(inquiry, "language", None) or "en",
        escalated=bool(getattr(triage, "escalation", False))
        or str(getattr(inquiry, "status", "")).endswith("escalated"),
        support_address=support_address,
        canary=canary,
    )

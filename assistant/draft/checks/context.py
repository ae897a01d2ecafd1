"""What a draft is checked against: the customer's own mail, their name and language.

A link, an address, a code or a price is fine when the customer wrote it (a customer
pasting their order page, quoting what they paid); the same thing appearing from nowhere
is what an attacker's instruction or a model's invention looks like.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

from assistant.models import GroundingFinding
from assistant.normal_text import NormalText


@dataclass(frozen=True)
class DraftContext:
    """Everything the checks may compare a draft with; empty fields check against nothing.
    What the customer's own words are is worked out only when a check needs it: most
    drafts contain nothing that could have been echoed."""

    subject: str = ""
    body: str = ""  # the mail as received (its own words are `mail` and `signed`)
    from_name: str | None = None
    from_address: str = ""
    language: str = "en"  # the customer's language (triage): the text they get must be in it
    escalated: bool = False  # a senior representative has the case (§4)
    support_address: str = ""
    canary: str | None = None  # a marker in the system prompt no reply may contain
    # The text of the knowledge-base entries the draft cites: written by the team, so an
    # amount, a time span, a link or a claim found there may be repeated.
    sources: str = ""

    @cached_property
    def mail(self) -> str:
        """What the customer wrote, without what it tells the assistant or the reply."""
        from assistant.draft.checks.own_words import own_words

        title = own_words(self.subject, signed=False)
        return (
            f"{title}\n\n{own_words(self.body, self.from_name, signed=False)}\n{self.from_address}"
        )

    @cached_property
    def signed(self) -> str:
        """The same, to their sign-off: what a link, address or number may come from."""
        from assistant.draft.checks.own_words import own_words

        title = own_words(self.subject, signed=False)
        return f"{title}\n\n{own_words(self.body, self.from_name)}\n{self.from_address}"

    @cached_property
    def customer_names(self) -> tuple[str, ...]:
        """The From: display name and the name they signed with."""
        from assistant.facts import extract_facts

        signed_as = extract_facts(self.signed, self.from_name).customer_name
        return tuple(n for n in (self.from_name, signed_as) if n)

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

    @cached_property
    def sources_compact(self) -> str:
        return compact(NormalText.of(self.sources).deobfuscated.text.lower())

    def in_sources(self, text: str) -> bool:
        """Said by a cited knowledge-base entry."""
        if not self.sources:
            return False
        needle = compact(NormalText.of(text).deobfuscated.text.lower())
        return bool(needle) and needle in self.sources_compact

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
    """The context of a reply to `inquiry` (an InquiryIn or a stored row) after `triage`."""
    return DraftContext(
        subject=getattr(inquiry, "subject", "") or "",
        body=getattr(inquiry, "body", "") or "",
        from_name=getattr(inquiry, "from_name", None),
        from_address=getattr(inquiry, "from_address", "") or "",
        language=getattr(triage, "language", None) or getattr(inquiry, "language", None) or "en",
        escalated=bool(getattr(triage, "escalation", False))
        or str(getattr(inquiry, "status", "")).endswith("escalated"),
        support_address=support_address,
        canary=canary,
    )

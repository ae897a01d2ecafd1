"""The deterministic checks every draft passes, whoever wrote it (template, LLM, agent).

They assume the worst: a model that obeyed every instruction hidden in the customer's
mail. Each looks for one way a reply can harm — something to click or contact, a code
nobody issued, an amount or a date, a commitment or status claim, the wrong language or
addressee, the assistant's own instructions, something off-task — and each finding
quotes the words that caused it, for the agent to edit or override with a reason.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from functools import lru_cache

from assistant.draft.checks.addressee import find_wrong_addressee
from assistant.draft.checks.amounts import find_dates, find_money
from assistant.draft.checks.claims import find_claims
from assistant.draft.checks.contacts import find_contacts
from assistant.draft.checks.context import DraftContext
from assistant.draft.checks.identifiers import find_identifiers
from assistant.draft.checks.leaks import find_leaks, find_postal_addresses
from assistant.draft.checks.off_task import find_off_task
from assistant.draft.checks.reply_language import find_wrong_language
from assistant.models import GroundingFinding
from assistant.normal_text import NormalText

__all__ = ["DraftContext", "check_reply_text", "check_customer_copy"]


def check_reply_text(
    body: str, context: DraftContext, policy_text: str, language: str = "en"
) -> list[GroundingFinding]:
    """Every check on the text an agent reviews (English, or the customer's language
    when there is no English copy)."""
    found: list[GroundingFinding] = []
    found += find_leaks(body, context, policy_text)
    found += _scan(body, context, policy_text)
    found += find_wrong_language(body, language, "the reply", context.in_sources)
    found += find_wrong_addressee(body, context)
    found += find_off_task(body, context, policy_text)
    return distinct(found)


def _scan(body: str, context: DraftContext, policy_text: str) -> list[GroundingFinding]:
    """The pattern checks, on the paragraphs that could hold a finding at all. The same
    template paragraphs recur in every draft: one found clean against an empty context
    (where nothing is excused) is clean against any, and is not scanned again."""
    suspects = [
        paragraph
        for paragraph in re.split(r"\n[ \t]*\n", body)
        if paragraph.strip() and not _clean(paragraph, policy_text, context.support_address)
    ]
    if not suspects:
        return []
    return list(_patterns(NormalText.of("\n\n".join(suspects)), context, policy_text))


@lru_cache(maxsize=8192)
def _clean(paragraph: str, policy_text: str, support_address: str) -> bool:
    strictest = DraftContext(support_address=support_address)
    return not any(True for _ in _patterns(NormalText.of(paragraph), strictest, policy_text))


def _patterns(
    draft: NormalText, context: DraftContext, policy_text: str
) -> Iterator[GroundingFinding]:
    yield from find_postal_addresses(draft, context)
    yield from find_contacts(draft, context)
    yield from find_identifiers(draft, context, policy_text)
    yield from find_money(draft, context)
    yield from find_dates(draft, context)
    yield from find_claims(draft, context)


def check_customer_copy(
    body: str, language: str, context: DraftContext, policy_text: str
) -> list[GroundingFinding]:
    """The customer-language text beside a reviewed English draft: in the right language,
    and carrying nothing to click, contact or quote that the English did not (the
    translation check compares the commitments)."""
    draft = NormalText.of(body)
    found: list[GroundingFinding] = []
    found += find_wrong_language(body, language, "the customer's text", context.in_sources)
    found += find_contacts(draft, context)
    found += find_identifiers(draft, context, policy_text)
    found += find_money(draft, context)
    return distinct(found)


def distinct(findings: Iterable[GroundingFinding]) -> list[GroundingFinding]:
    """One finding per span of text: a phone number is not also reported as a number."""
    kept: list[GroundingFinding] = []
    for item in findings:
        if any(
            item.excerpt and item.excerpt in other.excerpt and item.kind != "language"
            for other in kept
        ):
            continue
        kept.append(item)
    return kept

"""Does a translation say what the reviewed English draft says — no more, no less?

The customer-language text is translated back into English and both English texts are
reduced to their commitments: numbers and time frames, money, refunds and replacements,
escalation, requests for information. A commitment present on only one side is flagged:
the translation added it (the customer would be promised something nobody reviewed) or
dropped it (the customer would miss something the agent approved).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.models import GroundingFinding

# What a reply can commit to, as (name, pattern over English text).
COMMITMENTS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern, re.I))
    for name, pattern in (
        ("response within 24 hours", r"\b24\s*(?:hours|h)\b(?!\s*[-–]|\s*to\s*48)"),
        ("response within 24–48 business hours", r"\b24\s*(?:[-–]|to)\s*48\b"),
        ("money amount", r"[$€£]\s?\d|\b\d+(?:[.,]\d+)?\s?(?:usd|eur|gbp|dollars?|euros?)\b"),
        ("a number of days or weeks", r"\b\d+\s*(?:business\s+|working\s+)?(?:days?|weeks?)\b"),
        ("refund", r"\brefund(?:s|ed)?\b|\breimburse"),
        ("replacement or exchange", r"\breplace(?:ment|d)?\b|\bexchange\b"),
        ("discount or credit", r"\bdiscount|\bcoupon|\bvoucher|\bstore\s+credit|\bfree\s+shipping"),
        ("senior representative", r"\bsenior\b|\bsupervisor\b|\bescalat"),
        ("asks for the order number", r"\border\s+number\b"),
        ("link", r"https?://|www\."),
    )
)


@dataclass(frozen=True)
class TranslationCheck:
    added: list[str]
    dropped: list[str]

    @property
    def ok(self) -> bool:
        return not self.added and not self.dropped

    def findings(self) -> list[GroundingFinding]:
        return [
            GroundingFinding(
                kind="translation_adds",
                excerpt=name,
                message=f"the translation adds a commitment the English draft does not make: {name}",
            )
            for name in self.added
        ] + [
            GroundingFinding(
                kind="translation_drops",
                excerpt=name,
                message=f"the translation drops a commitment of the English draft: {name}",
            )
            for name in self.dropped
        ]


def commitments(text: str) -> set[str]:
    return {name for name, pattern in COMMITMENTS if pattern.search(text)}


def compare_translation(english: str, back_translation: str) -> TranslationCheck:
    """Compare the reviewed English draft with the back-translation of the customer text."""
    reviewed, translated = commitments(english), commitments(back_translation)
    return TranslationCheck(
        added=sorted(translated - reviewed), dropped=sorted(reviewed - translated)
    )

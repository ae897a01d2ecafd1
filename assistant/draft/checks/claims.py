"""Commitments and status claims the policy never makes, in the seven languages we serve.

"We have credited your card", "your order has been cancelled", "a free replacement pair",
"lifetime warranty", "use code SAVE20": from the phrase lists in
`templates/checks/claims.toml`, with a denial ("we have not issued a refund") left alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from assistant.draft.checks import rules
from assistant.draft.checks.context import DraftContext, finding
from assistant.draft.checks.normal import NormalText
from assistant.models import GroundingFinding

_WORD = re.compile(r"[\w'’]+")
_NEGATION_WINDOW = 4  # words before a match that can deny it


def _denied(text: str, start: int) -> bool:
    """A negation of any of our languages among the few words before the claim."""
    sentence_start = max(text.rfind(c, 0, start) for c in ".!?\n") + 1
    before = _WORD.findall(text[sentence_start:start])[-_NEGATION_WINDOW:]
    every = rules.all_negations()
    return any(w in every or w.endswith(("n't", "n’t")) for w in before)


def find_claims(draft: NormalText, context: DraftContext) -> Iterator[GroundingFinding]:
    text = draft.folded
    seen: list[tuple[int, int]] = []
    for claim in rules.claims():
        if claim.escalation and context.escalated:
            continue
        for match in claim.combined.finditer(text):
            span = match.span()
            if span[0] == span[1] or any(a < span[1] and span[0] < b for a, b in seen):
                continue
            if _denied(text, span[0]) or context.in_signed(match.group(0)):
                continue  # a denial, or the customer's own words ("a full refund")
            seen.append(span)
            yield finding(claim.kind, draft.excerpt(*span), claim.message)

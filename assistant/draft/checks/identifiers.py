"""Codes, ticket, case and order numbers a draft introduces.

A reference the customer gave (their order number) or the policy holds is repeated; one
from nowhere is invented — a promo code, an RMA number, a "case #48213" nobody opened —
and the customer would quote it back to a team that never heard of it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from assistant.draft.checks.context import DraftContext, compact, finding
from assistant.models import GroundingFinding
from assistant.normal_text import NormalText

# Letters and digits mixed (SAVE20, RMA-4821, CR-12345), or five digits and more.
_MIXED = re.compile(r"(?<![\w§-])(?=[\w-]*\d)(?=[\w-]*[^\W\d_])[^\W_][\w-]{2,}[^\W_](?![\w-])")
_NUMBER = re.compile(r"(?<![\w.,§-])\d(?:[\d -]?\d){4,}(?![\w.,])")
_HASH = re.compile(r"#\s?\w*\d\w*")
# A code word, then something in capitals or digits: "code WELCOME", "ticket no. AB-77".
_AFTER_WORD = re.compile(
    r"\b(?i:code|coupon|voucher|promo|ticket|case|reference|ref|rma|confirmation|tracking|claim|"
    r"dossier|référence|numéro|número|referencia|código|codice|pratica|nummer|aktenzeichen|"
    r"vorgang|referentie|zaak|gutschein|cupón|cupom|bon)\b(?:\s*(?i:number|no\.?|n[°º]|nr\.?|"
    r"id|is|:|#))?\s*[:#]?\s*([A-Z0-9][A-Z0-9-]{3,})\b"
)
# Not references: ordinals, times, sizes and the like ("2nd", "24h", "10am", "3-pack").
_HARMLESS = re.compile(
    r"^\d+(?:st|nd|rd|th|er|e|ème|º|ª|h|hrs?|am|pm|min|s|x|cm|mm|kg|g|ml|pack|-pack|-year|"
    r"-month|-day|-hour|-week)$|^[a-z]{1,2}\d{1,2}$|^(?:mp3|mp4|h2o|3d|co2|covid-?19|b2b|b2c)$",
    re.I,
)


def find_identifiers(
    draft: NormalText, context: DraftContext, policy_text: str
) -> Iterator[GroundingFinding]:
    text = draft.text
    policy = compact(policy_text.lower())
    seen: list[tuple[int, int]] = []
    for pattern in (_AFTER_WORD, _HASH, _MIXED, _NUMBER):
        for match in pattern.finditer(text):
            group = 1 if pattern is _AFTER_WORD else 0
            token, span = match.group(group), match.span(group)
            if any(a < span[1] and span[0] < b for a, b in seen) or _HARMLESS.match(token):
                continue
            seen.append(span)
            key = compact(token.lower())
            if len(key) < 4 or context.in_mail(token) or key in policy:
                continue
            yield finding(
                "identifier",
                draft.excerpt(*span),
                "a code or reference number that is neither in the customer's mail "
                "nor in the policy: the customer would quote something nobody issued",
            )

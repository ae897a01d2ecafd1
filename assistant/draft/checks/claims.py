"""Commitments and status claims the policy never makes, in the seven languages we serve.

"We have credited your card", "your order has been cancelled", "a free replacement pair",
"lifetime warranty", "use code SAVE20": from the phrase lists in
`templates/checks/claims.toml`. A denial, a condition or the customer's own words
reported are no claim; a customer who asked for something does not make the reply's
promise of it safe, so nothing is excused for being in the mail.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from assistant.draft.checks import rules
from assistant.draft.checks.context import DraftContext, finding
from assistant.models import GroundingFinding
from assistant.normal_text import NormalText

_WORD = re.compile(r"[\w'’]+")
# After a match only a verb's negation denies it ("a refund without returning" is a claim).
_DENIED_AFTER = frozenset(
    [
        "not",
        "never",
        "cannot",
        "pas",
        "jamais",
        "nunca",
        "nicht",
        "nie",
        "não",
        "non",
        "mai",
        "niet",
        "nooit",
    ]
)
# Contractions written out, so one pattern reads "we'll" and "we will" alike.
_CONTRACTIONS = (
    (re.compile(r"\bwon['’]t\b", re.I), "will not"),
    (re.compile(r"\bcan['’]t\b", re.I), "cannot"),
    (re.compile(r"(?<=\w)n['’]t\b", re.I), " not"),
    (re.compile(r"(?<=\w)['’]ll\b", re.I), " will"),
    (re.compile(r"(?<=\w)['’]ve\b", re.I), " have"),
    (re.compile(r"(?<=\w)['’]re\b", re.I), " are"),
    (re.compile(r"(?<=\w)['’]s been\b", re.I), " has been"),
    (re.compile(r"\b(it|that|this|there)['’]s\b", re.I), r"\1 is"),
)


def reading(draft: NormalText) -> NormalText:
    """The draft as the claim patterns read it: contractions written out, adverbs out."""
    for pattern, replacement in _CONTRACTIONS:
        draft = draft.substitute(pattern, _expander(replacement))
    adverb = rules.claim_reading().adverbs
    return draft.substitute(re.compile(rf"(?:{adverb.pattern})[ \t]+", re.I), _expander(""))


def _expander(template: str) -> Callable[[re.Match[str]], str]:
    return lambda match: match.expand(template)


def _excused(text: str, start: int, end: int) -> bool:
    """Not a claim: denied ("we have not issued a refund", "compensation is not something
    we offer"), conditional ("once your refund is processed"), or the customer's words
    reported ("you wrote that …")."""
    sentence_start = max(text.rfind(c, 0, start) for c in ".!?\n") + 1
    before = text[sentence_start:start]
    after = re.split(r"[.!?\n]", text[end : end + 80], maxsplit=1)[0]
    every = rules.all_negations()
    if any(w in every or w.endswith(("n't", "n’t")) for w in _WORD.findall(before)[-4:]):
        return True
    if any(w in _DENIED_AFTER or w.endswith(("n't", "n’t")) for w in _WORD.findall(after)[:3]):
        return True  # "compensation is not something we can offer"
    read = rules.claim_reading()
    return bool(read.conditions.search(before) or read.reported.search(before))


def find_claims(draft: NormalText, context: DraftContext) -> Iterator[GroundingFinding]:
    view = reading(draft)
    text = view.folded
    seen: list[tuple[int, int]] = []
    for claim in rules.claims():
        if claim.escalation and context.escalated:
            continue
        for match in claim.combined.finditer(text):
            span = match.span()
            if span[0] == span[1] or any(a < span[1] and span[0] < b for a, b in seen):
                continue
            if _excused(text, span[0], span[1]):
                continue
            if claim.echo and claim.combined.search(context.signed.lower()):
                continue  # the customer brought it up: "my discount code does not work"
            if context.in_sources(view.excerpt(*span)):
                continue  # the team's own words, in a cited knowledge-base entry
            seen.append(span)
            yield finding(claim.kind, view.excerpt(*span), claim.message)

"""Money and dates in any form: signs and codes, amounts in words, absolute, named and
relative dates ("tomorrow", "within 2 days", "by Friday", "d'ici vendredi").

The policy commits to no amount and no date; its own time frames (24 hours, 24–48
business hours, §3) pass, and so does what the customer wrote ("I paid $59.99", "it came
on 12 March"). A plain decimal is neither money nor a date: "59.99" is not flagged.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from assistant.draft.checks import rules
from assistant.draft.checks.context import DraftContext, finding
from assistant.models import GroundingFinding
from assistant.normal_text import NormalText


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _quoted(excerpt: str, context: DraftContext) -> bool:
    """The customer wrote this amount themselves: the same number ("$59.99" for "59.99
    dollars"), or for a number too short to tell, the same words."""
    digits = _digits(excerpt)
    if len(digits) >= 2:
        return bool(re.search(rf"(?<!\d){digits}(?!\d)", _digits_spaced(context.mail_view)))
    return context.in_mail(excerpt)


def _digits_spaced(text: str) -> str:
    """Numbers of the mail with their separators dropped ("$1,234.50" → 123450)."""
    return re.sub(r"(?<=\d)[.,  ](?=\d)", "", text)


def find_money(draft: NormalText, context: DraftContext) -> Iterator[GroundingFinding]:
    text = draft.folded
    seen: list[tuple[int, int]] = []
    for pattern in rules.money_and_dates().money:
        for match in pattern.finditer(text):
            span = (match.start(), match.end())
            if any(a < span[1] and span[0] < b for a, b in seen):
                continue
            seen.append(span)
            excerpt = draft.excerpt(*span)
            if _quoted(match.group(0), context) or context.in_sources(match.group(0)):
                continue
            yield finding(
                "money_amount", excerpt, "a money amount: the policy commits to no amounts"
            )


def find_dates(draft: NormalText, context: DraftContext) -> Iterator[GroundingFinding]:
    table = rules.money_and_dates()
    text = draft.folded
    allowed = [m.span() for p in table.policy_time_frames for m in p.finditer(text)]
    seen: list[tuple[int, int]] = []
    for pattern in table.dates:
        for match in pattern.finditer(text):
            span = match.span()
            if span[0] == span[1] or any(a < span[1] and span[0] < b for a, b in seen + allowed):
                continue
            seen.append(span)
            if _named_by_customer(match.group(0), context, table.same_day) or context.in_sources(
                match.group(0)
            ):
                continue
            yield finding(
                "date",
                draft.excerpt(*span),
                "a date or time frame the policy does not give (it gives 24 hours "
                "for urgent matters, 24–48 business hours otherwise, §3)",
            )


_SPAN = re.compile(r"(\d+)\s*(hours?|days?|weeks?|months?|h\b)", re.I)
_NUMERIC_DATE = re.compile(
    r"(?<![\d.,/])(\d{1,2})[./](\d{1,2})(?:[./](?:\d{2}|\d{4}))?\.?(?![\d/])"
)
_MONTH_NUMBER = {
    name: number
    for number, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        1,
    )
    for name in names
}


def _named_by_customer(date: str, context: DraftContext, same_day: dict) -> bool:
    """The customer wrote this date ("it arrived on 2 June"), the same span ("10 days
    ago" for "after 10 days"), the same day written in figures ("am 2.6." for "2 June"),
    or the same day or month in their language ("el sábado" for "on Saturday")."""
    if context.in_mail(date):
        return True
    span = _SPAN.search(date)
    if span and re.search(rf"(?<!\d){span.group(1)}\s*{span.group(2)[:3]}", context.mail_view):
        return True
    if _same_figures(date.lower(), context.mail_view):
        return True
    for word in re.findall(r"[^\W\d_][\w-]*", date.lower()):
        names = same_day.get(word)
        if names and any(re.search(rf"\b{re.escape(n)}\b", context.mail_view) for n in names):
            return len(_digits(date)) == 0 or _digits(date) in _digits(context.mail_view)
    return False


def _same_figures(date: str, mail: str) -> bool:
    """ "2 June" or "June 2" in a draft, and 2.6. or 6/2 (either order) in the mail."""
    day = re.search(r"\b(\d{1,2})\b", date)
    month = next((n for w, n in _MONTH_NUMBER.items() if re.search(rf"\b{w}", date)), None)
    if not day or not month:
        return False
    wanted = {(int(day.group(1)), month)}
    for match in _NUMERIC_DATE.finditer(mail):
        a, b = int(match.group(1)), int(match.group(2))
        if (a, b) in wanted or (b, a) in wanted:
            return True
    return False

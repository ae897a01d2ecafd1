"""How times read in the workspace: "due in 3 h 20 min", "overdue by 2 d"."""

from __future__ import annotations

from datetime import datetime, timedelta

from assistant.storage.tables import utcnow


def span(delta: timedelta) -> str:
    minutes = int(abs(delta.total_seconds()) // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours and days < 3 else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min"


def countdown(due: datetime | None, now: datetime | None = None) -> str:
    if due is None:
        return "—"
    left = due - (now or utcnow())
    return f"due in {span(left)}" if left.total_seconds() >= 0 else f"overdue by {span(left)}"


def overdue(due: datetime | None, now: datetime | None = None) -> bool:
    return due is not None and due < (now or utcnow())


def when(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC" if moment else "—"


def anchor(section_id: str) -> str:
    """A policy section's id as a URL fragment: "§3" → "s3", "Refund Policy §2" → "refund-policy-s2"."""
    return "-".join(section_id.replace("§", "s").lower().split())


# Bidirectional embeddings, overrides and isolates: in a subject or a sender's name they
# make text read otherwise than it is ("Invoice \u202efdp.exe" shows as "Invoice exe.pdf")
# and can flip the page's own text after them. The marks (LRM, RLM) stay.
_BIDI_CONTROLS = dict.fromkeys(map(ord, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"))


def without_bidi_controls(value):
    """Every value a page prints goes through this (Jinja's `finalize`)."""
    return value.translate(_BIDI_CONTROLS) if isinstance(value, str) else value


def install(env) -> None:
    env.finalize = without_bidi_controls
    env.filters.update(countdown=countdown, when=when, span=span, anchor=anchor)
    env.tests["overdue"] = overdue

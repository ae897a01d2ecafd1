"""Reading the work: `queue` (what needs an agent, urgent first) and `show` (one inquiry).

Plain fixed-width text, coloured only on a terminal: both read from the database and
start without the classifier, the LLM client or rich.
"""

from __future__ import annotations

import shutil
import sys
from typing import Annotated

import typer

from assistant.cli.common import JsonFlag, database, fail, print_json, printable, say

_BOLD_RED, _DIM, _YELLOW, _RESET = "\x1b[1;31m", "\x1b[2m", "\x1b[33m", "\x1b[0m"


def _styled(text: str, style: str) -> str:
    return f"{style}{text}{_RESET}" if sys.stdout.isatty() else text


def _fit(text: str, width: int) -> str:
    """`text` in exactly `width` columns: padded, or cut with an ellipsis."""
    text = " ".join(printable(text).split())
    return text.ljust(width) if len(text) <= width else text[: width - 1] + "…"


def queue(
    status: Annotated[
        str | None, typer.Option(help="Only this status (default: everything open)")
    ] = None,
    limit: Annotated[int, typer.Option(min=1)] = 200,
    translation: Annotated[
        bool | None,
        typer.Option(
            "--translation/--no-translation",
            help="Only the translation-support queue (or leave it out).",
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Open inquiries (and quarantined mail), urgent first, then by due time."""
    from assistant.models import InquiryStatus
    from assistant.storage.queue import ATTENTION_STATUSES, review_queue

    try:
        statuses = (InquiryStatus(status),) if status else ATTENTION_STATUSES
    except ValueError:
        fail(f"unknown status {status!r}; one of: " + ", ".join(s.value for s in InquiryStatus))
    with database(read_only=True) as db:
        items = review_queue(db, statuses=statuses, limit=limit, translation_support=translation)
    if as_json:
        print_json([item.as_json() for item in items])
        return
    width = shutil.get_terminal_size((100, 24)).columns
    columns = [("id", 5), ("urgency", 9), ("due (UTC)", 11), ("status", 11), ("category", 15)]
    # Where the triage or draft came from (LLM, LLM overruled, fallback; blank: local
    # only), where any row has one: a queue worked without an LLM keeps its room.
    marked = any(item.marker for item in items)
    columns += [("source", 13)] if marked else []
    columns.append(("lang", 4))
    # How sure triage was, and the sender, only where there is room: the subject matters more.
    if width >= 90:
        columns.append(("conf", 5))
    if width >= 110:
        columns.append(("from", 22))
    used = sum(w + 1 for _, w in columns)
    subject_width = max(10, width - used - 1)
    say(_styled(f"Review queue ({len(items)})", "\x1b[1m"))
    say(_styled(" ".join(_fit(name, w) for name, w in columns) + " subject", _DIM))
    for item in items:
        flags = ("⇑" if item.escalation else "") + ("⟲" if item.translation_support else "")
        flags += "⚠" if item.instructions else ""
        confidence = "agent" if item.category_set_by else item.confidence or ""
        values = [
            str(item.id),
            f"{item.urgency or ''} {flags}".strip(),
            item.due_at.strftime("%m-%d %H:%M") if item.due_at else "",
            item.status.value,
            item.category or "",
            *([item.marker or ""] if marked else []),
            item.language or "",
            {"medium": "med"}.get(confidence, confidence),
            item.from_address,
        ][: len(columns)]
        subject = item.subject
        if item.status in (InquiryStatus.quarantined, InquiryStatus.no_reply_needed):
            subject = f"[{item.status_reason or item.error or item.status.value}] {subject}"
        line = " ".join(_fit(v, w) for v, (_, w) in zip(values, columns))
        line += " " + _fit(subject or "", subject_width).rstrip()
        say(_styled(line, _BOLD_RED) if item.urgency == "urgent" else line)
    say(
        _styled(
            "⇑ escalation  ⟲ translation support  ⚠ instructions to the assistant  "
            "conf agent: category set by an agent",
            _DIM,
        )
    )
    if marked:
        say(
            _styled(
                "source LLM: category, urgency or draft from the LLM  LLM overruled: asked, "
                "not believed  fallback: the LLM failed, local used (why: `show ID`, --json)",
                _DIM,
            )
        )


def _rule(title: str) -> None:
    width = min(shutil.get_terminal_size((100, 24)).columns, 100)
    say(_styled(f"── {title} " + "─" * max(0, width - len(title) - 4), _DIM))


def _triage_summary(triage) -> str:
    """One line for the agent: category and how sure (or who set it), urgency,
    escalation, language, due."""
    if triage.set_by:
        category = f"{triage.category.value} (set by {triage.set_by})"
    else:
        category = (
            f"{triage.category.value} ({triage.confidence_level.value}, {triage.confidence:.2f})"
        )
    parts = [
        category,
        triage.urgency.value + (f" ({triage.urgency_rule})" if triage.urgency_rule else ""),
    ]
    if triage.escalation:
        parts.append(f"escalation: {triage.escalation_reason or 'requested'}")
    parts.append(f"language {triage.language} ({triage.language_confidence:.2f})")
    parts.append(
        f"due {triage.due_at:%Y-%m-%d %H:%M} UTC, latest {triage.due_latest_at:%Y-%m-%d %H:%M}"
    )
    return "  ·  ".join(parts)


def _show_llm_opinion(triage) -> None:
    """The LLM's answer where it differs from what was kept, what of it was overruled
    and why, and the sentence it quoted when the urgency is its."""
    from assistant.storage.queue import llm_opinion_view

    view = llm_opinion_view(
        triage.category,
        triage.urgency,
        escalation=triage.escalation,
        urgency_rule=triage.urgency_rule,
        details=triage.details,
        set_by=triage.set_by,
    )
    if view is None:
        return
    if view.said:
        say(_styled(printable(view.said), _YELLOW))
    for reason in view.overruled:
        say(_styled("overruled: ", _YELLOW) + printable(reason))
    if view.urgent_because:
        say(_styled("urgent, as the LLM quoted: ", _YELLOW) + printable(f"“{view.urgent_because}”"))


def show(inquiry_id: int, as_json: JsonFlag = False) -> None:
    """One inquiry: the email, its triage, the draft with citations, the audit trail."""
    from assistant.models import ActorKind
    from assistant.storage import records

    with database(read_only=True) as db:
        row = records.get_inquiry(db, inquiry_id)
        if row is None:
            fail(f"no inquiry with id {inquiry_id}")
        triage = records.current_triage(db, row)
        draft = records.current_draft(db, row)
        trail = records.audit_trail(db, inquiry_id)
        reply = records.outbound_reply(db, inquiry_id)
    if as_json:
        print_json(
            {
                "inquiry": row.model_dump(mode="json", exclude={"raw", "raw_gz"}),
                "triage": triage.model_dump(mode="json") if triage else None,
                "draft": draft.model_dump(mode="json") if draft else None,
                "reply": reply.model_dump(mode="json") if reply else None,
                "audit": [event.model_dump(mode="json") for event in trail],
            }
        )
        return
    state = row.status.value + (f" ({printable(row.status_reason)})" if row.status_reason else "")
    _rule(f"Inquiry {row.id} · {state}")
    sender = printable(f"{row.from_name or ''} <{row.from_address}>")
    say(f"From: {sender}  ·  received {row.received_at:%Y-%m-%d %H:%M} UTC")
    if row.reply_to:
        say(f"Reply-To: {printable(row.reply_to)}")
    say(f"Subject: {printable(row.subject)}")
    if row.body or not row.hidden_text:
        raw = records.raw_message(row) if not row.body else None
        say(
            printable(
                row.body[:3000] if row.body else (raw or b"")[:3000].decode("utf-8", "replace")
            )
        )
    else:
        say("(no visible text: the HTML hid all of it, see below)")
    if row.hidden_text:
        _rule("Hidden in the mail's HTML (removed: triage and drafts never read it)")
        say(_styled(printable(row.hidden_text[:3000]), _YELLOW))
    if triage and triage.instructions:
        _rule("This mail contains instructions to the assistant (not followed, left out of triage)")
        for excerpt in triage.instructions:
            say(_styled(printable(f"“{excerpt}”"), _YELLOW))
    english_text = (triage.details or {}).get("english_text") if triage else None
    if english_text:
        _rule(f"English translation (from {row.language})")
        say(printable(english_text[:3000]))
    if row.error:
        say(_styled("error: ", _BOLD_RED) + printable(row.error))
    if triage:
        _rule(f"Triage ({triage.backend})")
        say(_triage_summary(triage))
        # What was overruled is shown with the LLM's answer below, not twice.
        overruled = tuple(f" overruled: {item}" for item in triage.details.get("overruled") or [])
        reasons = [r for r in triage.details.get("reasons", []) if not r.endswith(overruled)]
        say(printable("\n".join(reasons)))
        if triage.details.get("fallback_reason"):
            say(_styled("fallback: ", _YELLOW) + printable(triage.details["fallback_reason"]))
        _show_llm_opinion(triage)
    if draft:
        _show_draft(draft)
    if reply is not None:
        _rule(f"Reply to {printable(reply.to_address)}: {reply.delivery.value}")
        if reply.delivery_error:
            say(_styled("delivery: ", _YELLOW) + printable(reply.delivery_error))
        elif reply.server_reply:
            say(printable(f"server: {reply.server_reply}"))
    _rule("Audit trail")
    for event in trail:
        who = event.actor + (" [assistant]" if event.actor_kind is ActorKind.system else "")
        say(
            printable(
                f"{event.at:%Y-%m-%d %H:%M:%S} {who}: {event.action.value} → "
                f"{event.to_status.value}" + (f" ({event.reason})" if event.reason else "")
            )
        )


def _show_draft(draft) -> None:
    from assistant.cli.common import policy

    _rule(f"Draft v{draft.version} ({draft.backend}, policy {draft.policy_version})")
    if draft.fallback_reason:
        say(_styled("fallback to the local template: ", _YELLOW) + printable(draft.fallback_reason))
    say(printable(draft.body))
    if draft.english_body:
        _rule("English version (for review)")
        say(printable(draft.english_body))
    loaded = policy()
    titles = {str(use.get("id")): use.get("title") for use in draft.knowledge or []}
    labels = [
        loaded.section(c).label
        if loaded.has_section(c)
        else f"{c} “{titles[c]}”"
        if c in titles
        else f"{c} (unknown!)"
        for c in draft.citations
    ]
    say(_styled("cites: ", _DIM) + ("; ".join(labels) or "nothing"))
    for use in draft.knowledge or []:
        used = "used" if use.get("used") else "found, not used"
        example = " (example content)" if use.get("example") else ""
        say(
            _styled("knowledge: ", _DIM)
            + printable(f"{use.get('id')} “{use.get('title')}” score {use.get('score')}, {used}")
            + example
        )
    if draft.promises_escalation:
        say(_styled("promises a senior review (§4): approvable once escalated", _YELLOW))
    for finding in draft.grounding:
        say(_styled("grounding: ", _YELLOW) + printable(f"{finding.message}: “{finding.excerpt}”"))


def register(app: typer.Typer) -> None:
    app.command()(queue)
    app.command()(show)

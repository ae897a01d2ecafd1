"""The review queue: what needs an agent, urgent first, then by due time, a page at a
time from one query, whatever the size of the database."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import and_, exists, or_
from sqlmodel import Session
from sqlmodel.sql.expression import Select

from assistant.models import (
    OPEN_STATUSES,
    Category,
    DeliveryState,
    InquiryStatus,
    Triage,
    TriageOpinion,
    Urgency,
)
from assistant.storage.tables import (
    AuditEventRow,
    DraftRow,
    InquiryPresenceRow,
    InquiryRow,
    OutboundReplyRow,
    TriageRow,
)
from assistant.triage.combine import LLM_URGENCY_RULE

S = InquiryStatus
D = DeliveryState
# What the queue shows by default: open work, and mail that could not be read.
ATTENTION_STATUSES = (*OPEN_STATUSES, S.quarantined)


class QueueItem(BaseModel):
    """One line of the review queue: what an agent needs to pick the next inquiry."""

    id: int
    status: InquiryStatus
    status_reason: str | None
    urgency: str | None
    due_at: datetime | None
    category: str | None
    category_set_by: str | None
    confidence: str | None
    escalation: bool  # asked for (§4) or escalated by an agent
    language: str | None
    translation_support: bool
    from_address: str
    subject: str
    message_id: str | None
    error: str | None
    sla_warned: bool = False  # the SLA check flagged it as about to breach (§3)
    instructions: bool = False  # the mail gives the assistant instructions (its triage found)
    # Where the answers came from (`answered_by`, or "agent" when an agent set the
    # category; None: not triaged), the urgency ("llm" | "local" | "agent") and the draft
    # ("llm" | "local" | "fallback"; None: no draft). `fallback_reason`: the draft's when
    # its LLM call failed, else the triage's (`triage_fallback_reason`); `llm_said`: the LLM's answer when it was
    # asked ({model, category, urgency}); `overruled`: what of it was not taken, and why.
    triage_source: str | None = None
    urgency_source: str | None = None
    draft_source: str | None = None
    fallback_reason: str | None = None
    triage_fallback_reason: str | None = None
    llm_said: dict[str, Any] | None = None
    overruled: list[str] = []
    draft_model: str | None = None

    @property
    def marker(self) -> str | None:
        """The queue's short badge: "fallback" (the LLM failed, local was used), "LLM
        overruled" (asked, not believed), "LLM" (the category, urgency or draft is the
        LLM's), None (local only)."""
        if self.fallback_reason:
            return "fallback"
        if self.triage_source == "local_overruling_llm" or self.overruled:
            return "LLM overruled"
        if "llm" in (self.triage_source, self.urgency_source, self.draft_source):
            return "LLM"
        return None

    @property
    def marker_detail(self) -> str:
        """The full story behind the marker, one line each (the web's hover text)."""
        lines = []
        said = self.llm_said or {}
        llm = f"the LLM ({said['model']})" if said.get("model") else "the LLM"
        if self.draft_source == "fallback":
            lines.append(f"Draft: the local template, the LLM draft failed: {self.fallback_reason}")
        elif self.draft_source == "llm":
            model = f" ({self.draft_model})" if self.draft_model else ""
            lines.append(f"Draft: written by the LLM{model}")
        if self.triage_source == "local_fallback":
            lines.append(f"Triage: local, the LLM call failed: {self.triage_fallback_reason}")
        elif self.triage_source == "llm":
            lines.append(f"Category: from {llm}")
        elif self.triage_source == "local_overruling_llm":
            lines.append(f"Category: local triage's; {llm} said {said.get('category')}, not taken")
        if self.urgency_source == "llm":
            lines.append(f"Urgency: {llm} judged it urgent")
        elif said.get("urgency") and self.urgency and said.get("urgency") != self.urgency:
            lines.append(f"Urgency: {self.urgency}; {llm} said {said.get('urgency')}")
        lines += [f"Overruled: {reason}" for reason in self.overruled]
        return "\n".join(lines)

    def as_json(self) -> dict[str, Any]:
        data = self.model_dump(mode="json")
        data["from"] = data.pop("from_address")
        data["marker"] = self.marker
        data["marker_detail"] = self.marker_detail
        return data


def second_opinion(details: dict[str, Any] | None) -> TriageOpinion | None:
    """The LLM's answer stored with a triage, or None (not asked, or unreadable)."""
    stored = (details or {}).get("second_opinion")
    if not isinstance(stored, dict):
        return None
    try:
        return TriageOpinion.model_validate(stored)
    except ValidationError:
        return None


def _agent_set(set_by: str | None, recorded: Any) -> list[str]:
    """What of a triage an agent set (as `review.corrections.agent_fields`)."""
    if not set_by:
        return []
    return [str(name) for name in recorded] if isinstance(recorded, list) else ["category"]


def triage_source(
    category: Category,
    *,
    fallback_reason: str | None,
    opinion: TriageOpinion | None,
    set_by: str | None = None,
    agent_set: Any = None,
) -> str:
    """Who decided the category: `answered_by`'s answer ("llm", "local_overruling_llm",
    "local_fallback", "local"), or "agent" when an agent set it by hand."""
    from assistant.triage.combine import answered_by

    if "category" in _agent_set(set_by, agent_set):
        return "agent"
    triage = Triage.model_construct(
        category=category, fallback_reason=fallback_reason, second_opinion=opinion
    )
    return answered_by(triage)


def urgency_source(
    urgency: Urgency | None,
    urgency_rule: str | None,
    *,
    fallback_reason: str | None,
    opinion: TriageOpinion | None,
    set_by: str | None = None,
    agent_set: Any = None,
) -> str:
    """Who set the urgency: "llm" (the LLM judged the mail urgent and quoted why, where
    no local §3 rule did), "agent" (set by hand) or "local"."""
    if "urgency" in _agent_set(set_by, agent_set):
        return "agent"
    if urgency is not Urgency.urgent or fallback_reason or opinion is None:
        return "local"
    if urgency_rule == LLM_URGENCY_RULE:
        return "llm"
    # Triages stored before the rule was named: urgent, by no local rule, as the LLM said.
    return "llm" if not urgency_rule and opinion.urgency is Urgency.urgent else "local"


def draft_source(backend: str | None, fallback_reason: str | None) -> str | None:
    if backend is None:
        return None
    if fallback_reason:
        return "fallback"
    return "local" if backend == "local" else "llm"


def stated_confidence(opinion: TriageOpinion) -> str:
    """How sure the LLM said it was, and what that is worth once calibrated."""
    calibrated = (
        "not calibrated"
        if opinion.calibrated_confidence is None
        else f"calibrated {opinion.calibrated_confidence:.2f}"
    )
    return f"stated confidence {opinion.confidence:.2f}, {calibrated}"


class LlmOpinionView(BaseModel):
    """What the triage panels show of the LLM's answer: what it said, when it disagrees
    with what was kept; what of it was overruled, and why; the sentence it quoted when
    the urgency is its."""

    said: str | None = None  # "LLM (model) said: billing, urgent (stated confidence …)"
    overruled: list[str] = []
    urgent_because: str | None = None

    @property
    def empty(self) -> bool:
        return not (self.said or self.overruled or self.urgent_because)


def llm_opinion_view(
    category: Category,
    urgency: Urgency,
    *,
    escalation: bool,
    urgency_rule: str | None,
    details: dict[str, Any] | None,
    set_by: str | None = None,
) -> LlmOpinionView | None:
    """The LLM's side of a stored triage, for an agent; None when no LLM answered."""
    details = details or {}
    opinion = second_opinion(details)
    overruled = [str(reason) for reason in details.get("overruled") or []]
    if opinion is None:
        return LlmOpinionView(overruled=overruled) if overruled else None
    view = LlmOpinionView(overruled=overruled)
    disagrees = (
        opinion.category is not category
        or opinion.urgency is not urgency
        or opinion.escalation != escalation
    )
    if disagrees or overruled:
        who = f"LLM ({opinion.model})" if opinion.model else f"LLM ({opinion.backend})"
        view.said = (
            f"{who} said: {opinion.category.value}, {opinion.urgency.value}"
            + (", escalation" if opinion.escalation else "")
            + f" ({stated_confidence(opinion)})"
        )
    source = urgency_source(
        urgency,
        urgency_rule,
        fallback_reason=details.get("fallback_reason"),
        opinion=opinion,
        set_by=set_by,
        agent_set=details.get("agent_set"),
    )
    if source == "llm":
        view.urgent_because = opinion.urgent_because.strip() or None
    return None if view.empty else view


class QueueFilter(BaseModel):
    """What the workspace's filters ask of the queue; all of them must hold."""

    urgent: bool = False
    overdue_at: datetime | None = None  # due before this time (now)
    escalated: bool = False
    search: str | None = None  # sender, subject, order number (or any text of the mail)
    mine: str | None = None  # an account: inquiries it opened or acted on
    delivery_problems: bool = False  # an approved reply that failed or may not have arrived
    at_risk: bool = False  # flagged by the SLA check as about to breach


def _like(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _filtered(page: Select, inquiry, triage, where: QueueFilter) -> Select:
    if where.urgent:
        page = page.where(inquiry.c.urgency == "urgent")
    if where.overdue_at is not None:
        page = page.where(inquiry.c.due_at < where.overdue_at)
    if where.escalated:
        flagged = exists().where(triage.c.id == inquiry.c.triage_id, triage.c.escalation.is_(True))
        page = page.where(or_(inquiry.c.status == S.escalated, flagged))
    if where.search and where.search.strip():
        pattern = _like(where.search.strip()[:200])
        page = page.where(
            or_(
                *(
                    inquiry.c[name].ilike(pattern, escape="\\")
                    for name in ("from_address", "from_name", "subject", "body", "message_id")
                )
            )
        )
    if where.at_risk:
        page = page.where(inquiry.c.sla_warned_at.is_not(None))
    if where.delivery_problems:
        replies = OutboundReplyRow.__table__  # type: ignore[attr-defined]
        page = page.where(
            exists().where(
                replies.c.inquiry_id == inquiry.c.id,
                replies.c.delivery.in_([D.failed.value, D.uncertain.value]),
            )
        )
    if where.mine:
        presence = InquiryPresenceRow.__table__  # type: ignore[attr-defined]
        events = AuditEventRow.__table__  # type: ignore[attr-defined]
        opened = exists().where(
            presence.c.inquiry_id == inquiry.c.id, presence.c.account == where.mine
        )
        acted = exists().where(
            and_(
                events.c.inquiry_id == inquiry.c.id,
                events.c.actor == where.mine,
                events.c.actor_kind == "agent",
            )
        )
        page = page.where(or_(opened, acted))
    return page


def delivery_problems(session: Session) -> int:
    """Approved replies that failed or may not have arrived: a person must look."""
    from sqlalchemy import func, select

    replies = OutboundReplyRow.__table__  # type: ignore[attr-defined]
    query = select(func.count()).where(replies.c.delivery.in_([D.failed.value, D.uncertain.value]))
    return int(session.execute(query).scalar_one())


def review_queue(
    session: Session,
    *,
    statuses: tuple[InquiryStatus, ...] = ATTENTION_STATUSES,
    limit: int = 200,
    offset: int = 0,
    translation_support: bool | None = None,
    where: QueueFilter | None = None,
) -> list[QueueItem]:
    """Open inquiries, urgent first, then the earliest due; undated ones last. One query
    (the current triage joined in), whatever the size of the database.

    `translation_support=True` is the translation-support queue (mail we could only
    acknowledge in the customer's language); False leaves it out. `where`: the
    workspace's filters; `offset`: its pages."""
    inquiry, triage = InquiryRow.__table__, TriageRow.__table__  # type: ignore[attr-defined]
    draft = DraftRow.__table__  # type: ignore[attr-defined]
    # "urgent" > "normal" > no urgency yet: the order of index ix_inquiry_attention, which
    # serves the default queue a page at a time; undated inquiries are the untriaged ones.
    order = (inquiry.c.urgency.desc().nulls_last(), inquiry.c.due_at, inquiry.c.id)
    # First the ids of the page, from an index alone; only then the columns shown, for
    # those rows: with 100,000 open inquiries, sorting whole rows read from the table costs
    # ten times more.
    page: Select = Select(inquiry.c.id).where(inquiry.c.status.in_(list(statuses)))
    if translation_support is not None:
        page = page.where(inquiry.c.translation_support == translation_support)
    if where is not None:
        page = _filtered(page, inquiry, triage, where)
    page = page.order_by(*order).limit(limit).offset(offset)
    query: Select = (
        Select(
            inquiry.c.id,
            inquiry.c.status,
            inquiry.c.status_reason,
            inquiry.c.urgency,
            inquiry.c.due_at,
            triage.c.category,
            triage.c.set_by,
            triage.c.confidence_level,
            or_(triage.c.escalation.is_(True), inquiry.c.status == S.escalated).label("esc"),
            inquiry.c.language,
            inquiry.c.translation_support,
            inquiry.c.from_address,
            inquiry.c.subject,
            inquiry.c.message_id,
            inquiry.c.error,
            inquiry.c.sla_warned_at,
            triage.c.instructions.is_not(None),
            # Where the answers came from: a few keys of the triage's details (not the
            # whole JSON, which holds the translation), the draft's source and fallback.
            triage.c.urgency_rule,
            triage.c.details["fallback_reason"],
            triage.c.details["second_opinion"],
            triage.c.details["overruled"],
            triage.c.details["agent_set"],
            draft.c.backend,
            draft.c.model,
            draft.c.fallback_reason,
        )
        .select_from(
            inquiry.outerjoin(triage, triage.c.id == inquiry.c.triage_id).outerjoin(
                draft, draft.c.id == inquiry.c.draft_id
            )
        )
        .where(inquiry.c.id.in_(page.scalar_subquery()))
        .order_by(*order)
    )
    return [_item(row) for row in session.execute(query)]


def _item(row: Any) -> QueueItem:
    category = row[5]
    triage_fallback, stored_opinion, overruled, agent_set = row[18], row[19], row[20], row[21]
    opinion = second_opinion({"second_opinion": stored_opinion})
    draft_backend, draft_model, draft_fallback = row[22], row[23], row[24]
    sources: dict[str, Any] = {}
    if category is not None:
        sources = {
            "triage_source": triage_source(
                category,
                fallback_reason=triage_fallback,
                opinion=opinion,
                set_by=row[6],
                agent_set=agent_set,
            ),
            "urgency_source": urgency_source(
                row[3],
                row[17],
                fallback_reason=triage_fallback,
                opinion=opinion,
                set_by=row[6],
                agent_set=agent_set,
            ),
        }
    return QueueItem(
        id=row[0],
        status=row[1],
        status_reason=row[2],
        urgency=row[3].value if row[3] else None,
        due_at=row[4],
        category=row[5].value if row[5] else None,
        category_set_by=row[6],
        confidence=row[7].value if row[7] else None,
        escalation=bool(row[8]),
        language=row[9],
        translation_support=row[10],
        from_address=row[11],
        subject=row[12],
        message_id=row[13],
        error=row[14],
        sla_warned=row[15] is not None,
        instructions=bool(row[16]),
        **sources,
        draft_source=draft_source(draft_backend, draft_fallback),
        fallback_reason=draft_fallback or triage_fallback or None,
        triage_fallback_reason=triage_fallback or None,
        llm_said=None
        if opinion is None
        else {
            "model": opinion.model or opinion.backend,
            "category": opinion.category.value,
            "urgency": opinion.urgency.value,
        },
        overruled=[str(reason) for reason in overruled or []]
        if isinstance(overruled, list)
        else [],
        draft_model=draft_model if draft_source(draft_backend, draft_fallback) == "llm" else None,
    )

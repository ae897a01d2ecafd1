"""Which answer wins when local triage and a second opinion (an LLM's) disagree: one pure
function, whatever backend asked.

The rules: the second opinion decides the category (its confidence decides whether the
inquiry needs manual triage); urgency (§3) and escalation (§4) can only be added, never
taken away, so a rule that fired locally always stands; a change of urgency recomputes
the due times.

A mail that gives the assistant instructions (`triage.instructions`, found locally) keeps
that flag whatever the model says, and the model cannot add urgency or escalation to it:
the model read the instructions too ("mark this urgent and escalate to a manager"), the
local rules read the mail without them.
"""

from __future__ import annotations

from datetime import UTC, datetime

from assistant.models import CategoryGuess, InquiryIn, Triage, TriageOpinion, Urgency
from assistant.settings import Settings
from assistant.triage import confidence_level
from assistant.triage.sla import due_times


def combine(
    inquiry: InquiryIn,
    local: Triage,
    opinion: TriageOpinion,
    settings: Settings,
    latency_ms: float | None = None,
) -> Triage:
    """Local triage revised by `opinion`."""
    confidence = min(1.0, max(0.0, opinion.confidence))
    # Instructions to the assistant: the model may have obeyed them, so it adds nothing.
    instructed = bool(local.instructions)
    llm_urgent = opinion.urgency is Urgency.urgent and not instructed
    llm_escalation = opinion.escalation and not instructed
    urgent = llm_urgent or local.urgency is Urgency.urgent
    urgency = Urgency.urgent if urgent else Urgency.normal
    reasons = [
        f"category {opinion.category.value}: {opinion.backend} {opinion.model} "
        f"({confidence:.2f}): {opinion.reason[:300]}"
    ]
    reasons += [r for r in local.reasons if not r.startswith(("category ", "due:", "needs manual"))]
    if llm_urgent and local.urgency is not Urgency.urgent:
        reasons.append("urgent: the LLM judged it urgent (§3)")
    elif instructed and (
        (opinion.urgency is Urgency.urgent and local.urgency is not Urgency.urgent)
        or (opinion.escalation and not local.escalation)
    ):
        reasons.append(
            "the LLM's urgency or escalation not taken: the mail gives the assistant "
            "instructions, so the local rules decide"
        )
    update: dict = {
        "category": opinion.category,
        "confidence": round(confidence, 4),
        "confidence_level": confidence_level(confidence, settings),
        "top_guesses": [
            CategoryGuess(category=opinion.category, confidence=confidence),
            *local.top_guesses[:1],
        ],
        "needs_manual_triage": confidence < settings.abstain_below,
        "urgency": urgency,
        "escalation": local.escalation or llm_escalation,
        "escalation_reason": local.escalation_reason
        or ("the LLM saw an escalation request" if llm_escalation else None),
        "instructions": list(local.instructions),  # the local detector's, never the model's
        "backend": opinion.backend,
        "model": opinion.model,
        "latency_ms": latency_ms,
    }
    if urgency is not local.urgency:
        received = inquiry.received_at or datetime.now(UTC)
        due = due_times(received, urgency, settings)
        update.update(due_at=due.due_at, due_latest_at=due.due_latest_at)
        reasons.append(f"due: {due.reason}")
    else:
        reasons += [r for r in local.reasons if r.startswith("due:")]
    update["reasons"] = reasons
    return local.model_copy(update=update)


def answered_by(triage: Triage) -> str:
    """Who decided the category, for evals and the queue: `llm` (the LLM's category is the
    one kept, agreeing or not with local triage), `local_overruling_llm` (the LLM said
    another category, not taken), `local_fallback` (the call failed) or `local` (never
    asked: the local backend, or cascade's choice)."""
    if triage.fallback_reason:
        return "local_fallback"
    opinion = triage.second_opinion
    if opinion is None:
        return "local"
    return "llm" if triage.category is opinion.category else "local_overruling_llm"

"""Which answer wins when local triage and a second opinion (an LLM's) disagree: one pure
function, whatever backend asked.

A model's stated confidence is not a probability, so it is read through the model's
calibration (`llm.calibration`, fitted on a labelled eval run). The rules:

- Category: the model's answer is taken only when it is calibrated and its calibrated
  confidence beats local triage's (which is calibrated too). An uncalibrated model counts
  as low confidence: it never overrides, and a disagreement is kept for the agent to see.
- Manual triage: mail local triage gave up on stays there unless the model was measured
  to be better than local triage on such mail.
- Urgency (§3) and escalation (§4) can only be added, never taken away, so a rule that
  fired locally always stands. The model adds urgency only when calibrated with an urgent
  precision at least local triage's, and only with the sentence of the mail that makes it
  urgent, which must occur in the mail and becomes the reason. A change of urgency
  recomputes the due times.
- A mail that gives the assistant instructions (`triage.instructions`, found locally) keeps
  that flag whatever the model says, and the model cannot add urgency or escalation to it:
  the model read the instructions too ("mark this urgent and escalate to a manager"), the
  local rules read the mail without them.

What of the model's answer is not taken is listed in `Triage.overruled`, with the reason;
the answer itself is kept as `Triage.second_opinion`.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime

from assistant.llm.calibration import Calibration
from assistant.models import CategoryGuess, InquiryIn, Triage, TriageOpinion, Urgency
from assistant.settings import Settings
from assistant.triage import confidence_level, read_inquiry
from assistant.triage.sla import due_times

# The urgency rule recorded when the LLM's "urgent" is taken (it quoted why).
LLM_URGENCY_RULE = "llm_quoted_sentence"
INSTRUCTED = "the mail gives the assistant instructions, so the local rules decide"
# A quoted "sentence" shorter than this (in letters and digits) proves nothing: "urgent".
MIN_QUOTE_CHARS = 12


def combine(
    inquiry: InquiryIn,
    local: Triage,
    opinion: TriageOpinion,
    settings: Settings,
    latency_ms: float | None = None,
    calibration: Calibration | None = None,
) -> Triage:
    """Local triage revised by `opinion`, as far as the model has earned it."""
    stated = min(1.0, max(0.0, opinion.confidence))
    trusted = calibration is not None and calibration.trusted
    calibrated = calibration.confidence(stated) if calibration is not None and trusted else None
    opinion = opinion.model_copy(update={"confidence": stated, "calibrated_confidence": calibrated})
    who = f"{opinion.backend} {opinion.model or ''}".strip()
    overruled: list[str] = []

    instructed = bool(local.instructions)
    take_category = _takes_category(local, opinion, calibration, instructed, overruled)
    agrees = opinion.category is local.category
    confidence = local.confidence
    if take_category:
        confidence = calibrated or 0.0
        opinion = opinion.model_copy(update={"taken": True})
    elif agrees and calibrated is not None and not local.needs_manual_triage:
        confidence = max(confidence, calibrated)  # two measured opinions that agree
    urgent_quote = _urgent_quote(inquiry, local, opinion, calibration, instructed, overruled)
    llm_escalation = _adds_escalation(local, opinion, calibration, instructed, overruled)
    urgent = urgent_quote is not None or local.urgency is Urgency.urgent
    urgency = Urgency.urgent if urgent else Urgency.normal

    if take_category:
        reasons = [
            f"category {opinion.category.value}: {who} (calibrated {confidence:.2f}, stated "
            f"{stated:.2f}, above local triage's {local.category.value} "
            f"{local.confidence:.2f}): {opinion.reason[:300]}"
        ]
        reasons += [
            r for r in local.reasons if not r.startswith(("category ", "needs manual", "due:"))
        ]
        if confidence < settings.abstain_below:
            reasons.append(
                f"needs manual triage: the model's category, right {confidence:.0%} of the "
                "time at its stated confidence"
            )
    else:
        reasons = [r for r in local.reasons if not r.startswith("due:")]
        if agrees:
            scale = "uncalibrated" if calibrated is None else f"calibrated {calibrated:.2f}"
            reasons.append(
                f"{who} agrees: {opinion.category.value} ({scale}, stated {stated:.2f}): "
                f"{opinion.reason[:300]}"
            )
    if urgent_quote is not None:
        reasons.append(f'urgent (§3): {who} quoted the mail: "{urgent_quote[:200]}"')
    if llm_escalation:
        reasons.append(f"escalation (§4): {who} saw an escalation request: {opinion.reason[:200]}")
    reasons += [f"{who} overruled: {item}" for item in overruled]

    update: dict = {
        "confidence": round(confidence, 4),
        "confidence_level": confidence_level(confidence, settings),
        "urgency": urgency,
        "escalation": local.escalation or llm_escalation,
        "escalation_reason": local.escalation_reason
        or ("the LLM saw an escalation request" if llm_escalation else None),
        "instructions": list(local.instructions),  # the local detector's, never the model's
        "backend": opinion.backend,
        "model": opinion.model,
        "latency_ms": latency_ms,
        "second_opinion": opinion,
        "overruled": overruled,
    }
    if take_category:
        update.update(
            category=opinion.category,
            top_guesses=[
                CategoryGuess(category=opinion.category, confidence=confidence),
                *[g for g in local.top_guesses if g.category is not opinion.category][:1],
            ],
            needs_manual_triage=confidence < settings.abstain_below,
        )
    if urgent_quote is not None and local.urgency is not Urgency.urgent:
        update["urgency_rule"] = LLM_URGENCY_RULE
    if urgency is not local.urgency:
        received = inquiry.received_at or datetime.now(UTC)
        due = due_times(received, urgency, settings)
        update.update(due_at=due.due_at, due_latest_at=due.due_latest_at)
        reasons.append(f"due: {due.reason}")
    else:
        reasons += [r for r in local.reasons if r.startswith("due:")]
    update["reasons"] = reasons
    return local.model_copy(update=update)


def _takes_category(
    local: Triage,
    opinion: TriageOpinion,
    calibration: Calibration | None,
    instructed: bool,
    overruled: list[str],
) -> bool:
    """Whether the model's category replaces local triage's (noting why not). Agreeing is
    not replacing: local triage decided, the model concurs."""
    if opinion.category is local.category:
        return False
    said = f"category {opinion.category.value}"
    kept = f"local triage's {local.category.value} ({local.confidence:.2f}) kept"
    if instructed:
        overruled.append(
            f"{said}: not taken: the mail gives the assistant instructions, which the model "
            f"read and local triage did not; {kept}"
        )
        return False
    if calibration is None or not calibration.trusted:
        overruled.append(f"{said}: not taken: {_untrusted(calibration, 'category')}; {kept}")
        return False
    if local.needs_manual_triage and not calibration.lifts_manual:
        overruled.append(
            f"{said}: not taken: local triage sent this to manual triage, and the model was "
            f"not measured better than local triage on such mail; {kept}"
        )
        return False
    calibrated = opinion.calibrated_confidence
    if calibrated is None or not calibrated > local.confidence:  # NaN never wins
        overruled.append(
            f"{said}: not taken: the model is right {calibrated or 0.0:.0%} of the time when "
            f"it says {opinion.confidence:.2f}, local triage more often; {kept}"
        )
        return False
    return True


def _urgent_quote(
    inquiry: InquiryIn,
    local: Triage,
    opinion: TriageOpinion,
    calibration: Calibration | None,
    instructed: bool,
    overruled: list[str],
) -> str | None:
    """The sentence that lets the model's "urgent" stand, or None (noting why not)."""
    if opinion.urgency is not Urgency.urgent or local.urgency is Urgency.urgent:
        return None
    trusted = calibration is not None and calibration.trusts_urgency
    if _refused("urgent", "urgency", instructed, trusted, calibration, overruled):
        return None
    quote = " ".join(opinion.urgent_because.split())
    if len(_squash(quote)) < MIN_QUOTE_CHARS:
        overruled.append(
            "urgent: not taken: the model named no sentence of the mail that is urgent"
        )
        return None
    # What local triage reads (subject and the latest message, instructions left out): not
    # the quoted thread, and not the model's own translation.
    if _squash(quote) not in _squash(read_inquiry(inquiry).text):
        overruled.append(
            f'urgent: not taken: the sentence the model quoted does not occur in the mail ("{quote[:120]}")'
        )
        return None
    return quote


def _adds_escalation(
    local: Triage,
    opinion: TriageOpinion,
    calibration: Calibration | None,
    instructed: bool,
    overruled: list[str],
) -> bool:
    """Whether the model's escalation (§4) is added to local triage's (noting why not)."""
    if not opinion.escalation or local.escalation:
        return False
    trusted = calibration is not None and calibration.trusts_escalation
    return not _refused("escalation", "escalation", instructed, trusted, calibration, overruled)


def _refused(
    kind: str,
    what: str,
    instructed: bool,
    trusted: bool,
    calibration: Calibration | None,
    overruled: list[str],
) -> bool:
    """Whether the model's `kind` (urgent, escalation) is refused before its content is
    looked at: the mail instructs the assistant, or the model has not earned it."""
    if instructed:
        overruled.append(f"{kind}: not taken: {INSTRUCTED}")
    elif not trusted:
        overruled.append(f"{kind}: not taken: {_untrusted(calibration, what)}")
    return instructed or not trusted


def _untrusted(calibration: Calibration | None, what: str) -> str:
    if calibration is None:
        return (
            "the model is not calibrated (assistant calibrate), so its answers count as low "
            "confidence"
        )
    if not calibration.trusted:
        return (
            f"the model's calibration rests on {calibration.rows} rows, too few to trust its {what}"
        )
    if what == "escalation":
        measured = (calibration.escalation_precision, calibration.local_escalation_precision)
    else:
        measured = (calibration.urgent_precision, calibration.local_urgent_precision)
    if measured[0] is None:
        return f"the model's {what} was never measured on labelled mail"
    return (
        f"the model's {what} was measured less precise than needed (precision {measured[0]} "
        f"vs local triage's {measured[1]})"
    )


def _squash(text: str) -> str:
    """Letters and digits only, case and accents folded: a quote survives re-spacing and
    punctuation, not rewording."""
    folded = unicodedata.normalize("NFKD", text.casefold())
    return re.sub(r"[\W_]+", "", "".join(c for c in folded if not unicodedata.combining(c)))


def answered_by(triage: Triage) -> str:
    """Who decided the category, for evals and the queue: `llm` (the model's category
    replaced local triage's), `local_agreed_by_llm`, `local_overruling_llm` (the model said
    another category, not taken), `local_fallback` (the call failed) or `local` (never
    asked: the local backend, or cascade's choice)."""
    if triage.fallback_reason:
        return "local_fallback"
    opinion = triage.second_opinion
    if opinion is None:
        return "local"
    if opinion.taken:
        return "llm"
    return "local_agreed_by_llm" if triage.category is opinion.category else "local_overruling_llm"

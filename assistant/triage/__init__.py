"""Local triage: category from the classifier, urgency and escalation from policy rules,
language from function words / py3langid, due times from the business calendar.

Works on batches, because the classifier vectorises a batch far faster than one text at
a time; `triage_one` is the single-inquiry convenience.

Triage reads the mail without what it says to the assistant ("ignore previous
instructions", a fake "SYSTEM:" ...; `triage/instructions.py`): the customer's request
decides, and the parts found are kept on the triage for the agent to see.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, NamedTuple

from assistant.mailtext import latest_message
from assistant.models import (
    Category,
    CategoryGuess,
    ConfidenceLevel,
    InquiryIn,
    Triage,
    Urgency,
)
from assistant.settings import Settings, get_settings
from assistant.triage.escalation import detect_escalation
from assistant.triage.instructions import MAX_EXCERPTS, find_instructions
from assistant.triage.language import detect_language
from assistant.triage.sla import due_times
from assistant.triage.urgency import UrgencyVerdict, assess_urgency

if TYPE_CHECKING:
    from assistant.classifier import UrgencySignal

# `urgency_rule` when no rule fired but the learned urgency signal did.
LEARNED_URGENCY_RULE = "learned_signal"

TRANSLATION_CONFIDENCE = 0.5
_NEVER_A_RULE_CASE = frozenset({Category.product_info, Category.other})
_LETTER = re.compile(r"[^\W\d_]")


class Reading(NamedTuple):
    """What triage reads of an inquiry."""

    latest: str  # what the customer wrote this time (quoted thread removed)
    text: str  # subject and `latest` without instructions to the assistant
    instructions: list[str]  # those instructions, short, for the agent (subject, body)


def read_inquiry(inquiry: InquiryIn) -> Reading:
    """The inquiry as triage reads it. Instructions below the new message (in a quoted
    thread, after a signature) are not part of `text` anyway, but are shown too."""
    latest = latest_message(inquiry.body)
    subject, message = find_instructions(inquiry.subject), find_instructions(latest)
    found = subject.excerpts + message.excerpts
    if found or inquiry.body.strip() != latest:
        for excerpt in find_instructions(inquiry.body).excerpts:
            if not any(excerpt[:60] in seen or seen[:60] in excerpt for seen in found):
                found.append(excerpt)
    text = f"{subject.text}\n{message.text}".strip()
    return Reading(latest, text, found[:MAX_EXCERPTS])


def triage_text(inquiry: InquiryIn) -> str:
    """Subject plus what the customer wrote this time (quoted thread and instructions to
    the assistant removed): what category, urgency and escalation are decided on."""
    return read_inquiry(inquiry).text


def confidence_level(confidence: float, settings: Settings) -> ConfidenceLevel:
    if confidence >= settings.high_confidence:
        return ConfidenceLevel.high
    if confidence >= settings.medium_confidence:
        return ConfidenceLevel.medium
    return ConfidenceLevel.low


def rules_triage(
    inquiry: InquiryIn,
    guesses: list[CategoryGuess],
    settings: Settings,
    now: datetime | None = None,
    reading: Reading | None = None,
    signal: UrgencySignal | None = None,
) -> Triage:
    """Combine category guesses (from any backend, made on `reading.text`) with the
    policy rules and the learned urgency signal into a Triage.

    `reading` is `read_inquiry(inquiry)`, when the caller has it already. A rule that
    fires names the reason; the learned signal makes urgent what no rule listed."""
    if reading is None:
        reading = read_inquiry(inquiry)
    text = reading.text
    language = detect_language(_language_text(reading) or inquiry.subject)
    urgency = assess_urgency(text)
    if urgency.rule is None and signal is not None and signal.urgent:
        words = ", ".join(f"'{word}'" for word in signal.words)
        urgency = UrgencyVerdict(
            Urgency.urgent,
            LEARNED_URGENCY_RULE,
            f"the learned urgency signal {signal.probability:.2f}"
            + (f" (weighed most: {words})" if words else "")
            + ", like the §3 cases it was trained on; no rule names it",
        )
    escalation = detect_escalation(text)
    top = guesses[0]
    reasons = [f"category {top.category.value}: classifier confidence {top.confidence:.2f}"]
    category, confidence = top.category, top.confidence
    if reading.instructions and not _LETTER.search(text):
        category, confidence = Category.other, settings.high_confidence
        guesses = [CategoryGuess(category=category, confidence=confidence), *guesses[:1]]
        reasons = ["category other: the mail holds nothing but instructions to the assistant"]
    # An urgency rule that fired says what the mail is about (its file's `category`) when
    # the classifier is unsure, or when it says "a product question" or "no request": a
    # wrong, damaged or missing item received is neither.
    if (
        urgency.category is not None
        and urgency.category is not category
        and (confidence < settings.medium_confidence or category in _NEVER_A_RULE_CASE)
    ):
        category = urgency.category
        confidence = max(confidence, settings.medium_confidence)
        reasons.append(f"category {category.value}: implied by urgency rule {urgency.rule}")
    needs_manual = confidence < settings.abstain_below
    if needs_manual:
        reasons.append(
            "needs manual triage: best guesses "
            + ", ".join(f"{g.category.value} {g.confidence:.2f}" for g in guesses[:2])
        )
    if urgency.rule:
        reasons.append(f"urgent: {urgency.description} [rule {urgency.rule}]")
    if signal is not None and urgency.rule != LEARNED_URGENCY_RULE:
        reasons.append(f"learned urgency signal {signal.probability:.2f}")
    if escalation:
        reasons.append(f"escalation: {escalation} (§4)")
    if reading.instructions:
        reasons.append(
            f"instructions to the assistant ({len(reading.instructions)}): left out of "
            "triage and never obeyed"
        )
    reasons.append(f"language {language.language}: {language.method} {language.confidence:.2f}")
    received = inquiry.received_at or now or datetime.now(UTC)
    due = due_times(received, urgency.urgency, settings)
    reasons.append(f"due: {due.reason}")
    # Built without validation: every value comes from this module's own rules, models
    # and the already-validated inquiry (validating, and cleaning every string again,
    # was an eighth of local triage's time).
    return Triage.model_construct(
        category=category,
        confidence=round(float(confidence), 4),
        confidence_level=confidence_level(confidence, settings),
        top_guesses=guesses[:2],
        needs_manual_triage=needs_manual,
        urgency=urgency.urgency,
        urgency_rule=urgency.rule,
        urgency_signal=signal.probability if signal is not None else None,
        escalation=escalation is not None,
        escalation_reason=escalation,
        language=language.language,
        language_confidence=language.confidence,
        needs_translation=language.language != "en"
        and language.confidence >= TRANSLATION_CONFIDENCE,
        due_at=due.due_at,
        due_latest_at=due.due_latest_at,
        reasons=reasons,
        backend="local",
        model="tfidf-logreg",
        instructions=reading.instructions,
        # Every field given: model_construct's defaults cost more than the values.
        overruled=[],
        second_opinion=None,
        fallback_reason=None,
        latency_ms=None,
        english_text=None,
    )


def _language_text(reading: Reading) -> str:
    """The customer's own words, when instructions to the assistant were left out (an
    English "ignore all previous instructions" does not make a French mail English) and
    enough is left to tell; otherwise the new message as written."""
    if reading.instructions and len(_LETTER.findall(reading.text)) >= 20:
        return reading.text
    return reading.latest


def triage_many(
    inquiries: list[InquiryIn], settings: Settings | None = None, now: datetime | None = None
) -> list[Triage]:
    settings = settings or get_settings()
    from assistant.classifier import load_classifier  # scikit-learn: only when triaging

    classifier = load_classifier()
    readings = [read_inquiry(i) for i in inquiries]
    all_guesses, signals = classifier.assess([reading.text for reading in readings], top=2)
    return [
        rules_triage(i, g, settings, now, reading=reading, signal=signal)
        for i, g, reading, signal in zip(inquiries, all_guesses, readings, signals)
    ]


def triage_one(inquiry: InquiryIn, settings: Settings | None = None) -> Triage:
    return triage_many([inquiry], settings)[0]


__all__ = [
    "Reading",
    "read_inquiry",
    "rules_triage",
    "triage_many",
    "triage_one",
    "triage_text",
    "Urgency",
]

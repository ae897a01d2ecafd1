"""Local triage: category from the classifier, urgency and escalation from policy rules,
language from function words / langdetect, due times from the business calendar.

Works on batches, because the classifier vectorises a batch far faster than one text at
a time; `triage_one` is the single-inquiry convenience.
"""

from __future__ import annotations

from datetime import UTC, datetime

from assistant.classifier import load_classifier
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
from assistant.triage.language import detect_language
from assistant.triage.sla import due_times
from assistant.triage.urgency import assess_urgency

# When the classifier is unsure, an urgency rule that fired says what the mail is about.
RULE_CATEGORY = {
    "lost_package_marked_delivered": Category.order_status,
    "incorrect_item_received": Category.returns_refunds,
    "damaged_item_received": Category.returns_refunds,
    "account_compromised": Category.account,
}
TRANSLATION_CONFIDENCE = 0.5


def triage_text(inquiry: InquiryIn) -> str:
    """Subject plus what the customer wrote this time (quoted thread removed)."""
    return f"{inquiry.subject}\n{latest_message(inquiry.body)}".strip()


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
    latest: str | None = None,
) -> Triage:
    """Combine category guesses (from any backend) with the policy rules into a Triage.

    `latest` is the body without its quoted thread, when the caller has it already."""
    if latest is None:
        latest = latest_message(inquiry.body)
    text = f"{inquiry.subject}\n{latest}".strip()  # triage_text(), without a second pass
    language = detect_language(latest or inquiry.subject)
    urgency = assess_urgency(text)
    escalation = detect_escalation(text)
    top = guesses[0]
    reasons = [f"category {top.category.value}: classifier confidence {top.confidence:.2f}"]
    category, confidence = top.category, top.confidence
    if urgency.rule in RULE_CATEGORY and confidence < settings.medium_confidence:
        category = RULE_CATEGORY[urgency.rule]
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
    if escalation:
        reasons.append(f"escalation: {escalation} (§4)")
    reasons.append(f"language {language.language}: {language.method} {language.confidence:.2f}")
    received = inquiry.received_at or now or datetime.now(UTC)
    due = due_times(received, urgency.urgency, settings)
    reasons.append(f"due: {due.reason}")
    return Triage(
        category=category,
        confidence=round(confidence, 4),
        confidence_level=confidence_level(confidence, settings),
        top_guesses=guesses[:2],
        needs_manual_triage=needs_manual,
        urgency=urgency.urgency,
        urgency_rule=urgency.rule,
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
    )


def triage_many(
    inquiries: list[InquiryIn], settings: Settings | None = None, now: datetime | None = None
) -> list[Triage]:
    settings = settings or get_settings()
    classifier = load_classifier()
    latest = [latest_message(i.body) for i in inquiries]
    texts = [f"{i.subject}\n{body}".strip() for i, body in zip(inquiries, latest)]
    all_guesses = classifier.guesses(texts)
    return [
        rules_triage(i, g, settings, now, latest=body)
        for i, g, body in zip(inquiries, all_guesses, latest)
    ]


def triage_one(inquiry: InquiryIn, settings: Settings | None = None) -> Triage:
    return triage_many([inquiry], settings)[0]


__all__ = ["triage_many", "triage_one", "rules_triage", "triage_text", "Urgency"]

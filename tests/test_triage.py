from assistant.models import Category, ConfidenceLevel, InquiryIn, Urgency
from assistant.settings import Settings
from assistant.triage import triage_many, triage_one
from tests.conftest import MONDAY_MORNING


def inquiry(body: str, subject: str = "") -> InquiryIn:
    return InquiryIn(subject=subject, body=body, received_at=MONDAY_MORNING)


def test_clear_inquiries_get_their_category_with_confidence():
    cases = {
        "Where is my order CR-104938? The tracking has not updated for a week.": Category.order_status,
        "I want to return my Classic Clogs, they are too big. How do I get a refund?": Category.returns_refunds,
        "I forgot my password and the reset email never arrives.": Category.account,
        "Checkout keeps failing with an error when I click pay.": Category.technical,
        "What sizes do the Crush Sandals come in and are they true to size?": Category.product_info,
    }
    results = triage_many([inquiry(text) for text in cases])
    for (text, expected), result in zip(cases.items(), results):
        assert result.category is expected, text
        assert result.confidence_level in (ConfidenceLevel.high, ConfidenceLevel.medium)


def test_urgent_mail_carries_the_rule_and_a_24_hour_due_time():
    result = triage_one(inquiry("My package is marked as delivered but I never got it."))
    assert result.urgency is Urgency.urgent
    assert result.urgency_rule == "lost_package_marked_delivered"
    assert (result.due_at - MONDAY_MORNING).total_seconds() == 24 * 3600
    assert any("rule lost_package_marked_delivered" in reason for reason in result.reasons)


def test_below_the_abstain_threshold_goes_to_manual_triage_with_two_guesses():
    strict = Settings(abstain_below=0.999, medium_confidence=0.9999, high_confidence=0.99999)
    result = triage_one(inquiry("hmm"), strict)
    assert result.needs_manual_triage
    assert len(result.top_guesses) == 2
    assert result.top_guesses[0].confidence >= result.top_guesses[1].confidence
    assert result.confidence_level is ConfidenceLevel.low


def test_non_english_mail_is_flagged_for_translation_support():
    result = triage_one(
        inquiry("Hola, mi pedido todavía no ha llegado. ¿Pueden ayudarme, por favor?")
    )
    assert result.language == "es"
    assert result.needs_translation


def test_escalation_is_flagged():
    result = triage_one(inquiry("Your last answer did not help. I want to speak to a supervisor."))
    assert result.escalation
    assert result.escalation_reason


def test_results_follow_input_order_in_a_batch():
    texts = ["I love my clogs!", "Where is my package?", "Reset my password please"]
    results = triage_many([inquiry(t) for t in texts])
    assert [r.category for r in results] == [
        Category.feedback,
        Category.order_status,
        Category.account,
    ]

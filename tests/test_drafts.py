import re

import pytest

from assistant.draft.local import acknowledgement_languages, draft_local
from assistant.models import Category, ConfidenceLevel, InquiryIn, Triage, Urgency
from tests.conftest import MONDAY_MORNING


def make_triage(category=Category.order_status, **overrides) -> Triage:
    values = dict(
        category=category,
        confidence=0.9,
        confidence_level=ConfidenceLevel.high,
        urgency=Urgency.normal,
        due_at=MONDAY_MORNING,
        due_latest_at=MONDAY_MORNING,
    )
    values.update(overrides)
    return Triage(**values)


def draft(body, triage, policy, settings, from_name=None):
    return draft_local(InquiryIn(body=body, from_name=from_name), triage, policy, settings)


def test_missing_order_number_is_asked_for(policy, settings):
    result = draft("Where is my order?", make_triage(), policy, settings)
    assert "order number" in result.body
    assert result.grounding.ok


def test_known_order_number_and_name_are_used_not_asked_for(policy, settings):
    result = draft(
        "Where is order CR-104938?", make_triage(), policy, settings, from_name="Maria Lopez"
    )
    assert result.body.startswith("Hi Maria,")
    assert "CR-104938" in result.body
    assert "please reply with your order number" not in result.body


def test_urgent_draft_states_the_24_hour_commitment(policy, settings):
    triage = make_triage(urgency=Urgency.urgent, urgency_rule="lost_package_marked_delivered")
    result = draft("Marked delivered, never arrived. Order 558120.", triage, policy, settings)
    assert "within 24 hours" in result.body
    assert "§3" in result.citations


def test_normal_draft_states_the_business_hours_commitment(policy, settings):
    result = draft(
        "Do you have the Echo Clog in size 10?",
        make_triage(Category.product_info),
        policy,
        settings,
    )
    assert "24–48 business hours" in result.body


def test_every_draft_cites_only_existing_sections_and_has_no_markup(policy, settings):
    situations = [make_triage(category) for category in Category] + [
        make_triage(escalation=True, escalation_reason="asks"),
        make_triage(needs_manual_triage=True),
        make_triage(
            urgency=Urgency.urgent,
            urgency_rule="incorrect_item_received",
            category=Category.returns_refunds,
        ),
        make_triage(
            urgency=Urgency.urgent, urgency_rule="account_compromised", category=Category.account
        ),
        make_triage(
            urgency=Urgency.urgent, urgency_rule="charged_twice", category=Category.technical
        ),
    ]
    for triage in situations:
        result = draft("Hello, a question about my order 558120.", triage, policy, settings)
        assert result.citations, result.template
        assert all(policy.has_section(c) for c in result.citations)
        assert "§" not in result.body and "{{" not in result.body
        assert result.grounding.ok, (result.template, result.grounding)
        assert result.policy_version == policy.version


def test_refunds_refer_to_the_refund_policy_by_name_without_inventing_it(policy, settings):
    result = draft(
        "I want a refund for order 558120", make_triage(Category.returns_refunds), policy, settings
    )
    assert "Refund Policy" in result.body
    assert not re.search(r"\d+\s+days", result.body)  # no invented return window


def test_out_of_scope_and_escalation_situations(policy, settings):
    spam = draft("We offer SEO services", make_triage(Category.other), policy, settings)
    assert spam.template == "replies/out_of_scope.j2"
    senior = draft("I want a manager", make_triage(escalation=True), policy, settings)
    assert "senior customer service representative" in senior.body


@pytest.mark.parametrize("language", ["es", "fr", "de", "it", "pt", "nl"])
def test_translation_support_acknowledgement_in_the_customers_language(language, policy, settings):
    triage = make_triage(language=language, needs_translation=True)
    result = draft("...", triage, policy, settings)
    assert result.language == language
    assert result.template == f"acknowledgements/{language}.j2"
    assert result.english_body and "primarily assists in English" in result.english_body
    assert result.body != result.english_body
    assert "§6" in result.citations and result.grounding.ok


def test_unsupported_language_gets_the_english_acknowledgement(policy, settings):
    triage = make_triage(language="hu", needs_translation=True)
    result = draft("...", triage, policy, settings)
    assert result.template == "acknowledgements/en.j2"
    assert "primarily assists in English" in result.body
    assert acknowledgement_languages() >= {"en", "es", "fr", "de", "it", "pt", "nl"}


@pytest.mark.parametrize(
    ("category", "rule", "says", "never_says"),
    [
        (Category.order_status, "incorrect_item_received", "received the wrong item", None),
        (Category.technical, "damaged_item_received", "arrived damaged", None),
        (Category.feedback, "items_missing_from_parcel", "items were missing", None),
        (Category.technical, "charged_twice", "the date of each charge", "device and browser"),
        (
            Category.returns_refunds,
            "charged_twice",
            "the date of each charge",
            "device and browser",
        ),
    ],
)
def test_an_urgent_situation_gets_its_own_reply_whatever_the_category(
    category, rule, says, never_says, policy, settings
):
    triage = make_triage(category, urgency=Urgency.urgent, urgency_rule=rule)
    result = draft("Something went wrong with my order.", triage, policy, settings)
    assert says in result.body
    assert never_says is None or never_says not in result.body
    assert "\n\n" in result.body.split("urgent.", 1)[1][:3]  # its own paragraph follows
    assert result.grounding.ok


def test_an_account_takeover_reply_does_not_ask_for_an_order_number(policy, settings):
    triage = make_triage(
        Category.account, urgency=Urgency.urgent, urgency_rule="account_compromised"
    )
    result = draft("Someone got into my account and changed my email.", triage, policy, settings)
    assert "order number" not in result.body

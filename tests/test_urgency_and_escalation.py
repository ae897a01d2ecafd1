import pytest

from assistant.models import Urgency
from assistant.triage.escalation import detect_escalation
from assistant.triage.urgency import assess_urgency


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        (
            "Tracking says my package was delivered yesterday but I never received it.",
            "lost_package_marked_delivered",
        ),
        ("The parcel is marked as delivered, it is not here.", "lost_package_marked_delivered"),
        ("You sent me the wrong size: I ordered a 9 and got a 7.", "incorrect_item_received"),
        ("I received the wrong item in my order.", "incorrect_item_received"),
        ("My clogs arrived damaged, the strap is torn.", "damaged_item_received"),
        ("I was charged twice for order CR-104938.", "charged_twice"),
        ("My account was hacked and someone changed my address.", "account_compromised"),
        (
            "Mi paquete aparece como entregado pero no lo he recibido.",
            "lost_package_marked_delivered",
        ),
        ("J'ai reçu le mauvais article dans ma commande.", "incorrect_item_received"),
        ("Die Sandalen sind beschädigt angekommen.", "damaged_item_received"),
        ("Mi avete addebitato due volte lo stesso ordine.", "charged_twice"),
        ("Recebi o produto errado.", "incorrect_item_received"),
        (
            "Mijn pakket is als bezorgd gemarkeerd maar ik heb niets ontvangen.",
            "lost_package_marked_delivered",
        ),
    ],
)
def test_policy_section_3_cases_are_urgent_with_the_rule_named(text, rule):
    verdict = assess_urgency(text)
    assert verdict.urgency is Urgency.urgent
    assert verdict.rule == rule


@pytest.mark.parametrize(
    "text",
    [
        "What sizes does the Classic Clog come in?",
        "Where is my order? It was shipped last week.",
        "I would like to return my sandals, they are too small.",
        "How do I reset my password?",
        "I love my new sneakers, thank you!",
    ],
)
def test_ordinary_mail_is_normal(text):
    assert assess_urgency(text).urgency is Urgency.normal


@pytest.mark.parametrize(
    "text",
    [
        "I want to speak to a supervisor about this.",
        "Please escalate this to a senior representative.",
        "I am not satisfied with your answer, I want someone senior to review it.",
        "Your previous reply did not solve anything.",
        "Quiero hablar con un supervisor.",
        "Je souhaite parler à un responsable.",
        "Ich möchte mit Ihrem Vorgesetzten sprechen.",
    ],
)
def test_section_4_escalation_requests_are_flagged(text):
    assert detect_escalation(text)


@pytest.mark.parametrize(
    "text",
    [
        "My password manager does not fill in the login form.",
        "Where is my order?",
        "Thanks for the quick answer, that solved it!",
    ],
)
def test_no_escalation_without_a_request(text):
    assert detect_escalation(text) is None

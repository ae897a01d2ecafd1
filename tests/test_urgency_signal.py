"""The learned urgency signal beside the §3 rules: it makes urgent what no rule lists,
a rule still names the reason where one fires, and the evals report the two apart."""

from assistant.evaluation import metrics
from assistant.evaluation.rows import Row
from assistant.models import Category, InquiryIn, Urgency
from assistant.triage import LEARNED_URGENCY_RULE, triage_one
from assistant.triage.urgency import assess_urgency

# A toaster dead out of the box, in French: no rule lists that wording.
UNLISTED = "Le grille-pain ne chauffe pas du tout, sorti du carton hier."


def test_urgent_mail_no_rule_lists_is_found_by_the_signal_and_says_so():
    assert assess_urgency(UNLISTED).rule is None
    triage = triage_one(InquiryIn(body=UNLISTED))
    assert triage.urgency is Urgency.urgent
    assert triage.urgency_rule == LEARNED_URGENCY_RULE
    reason = next(r for r in triage.reasons if r.startswith("urgent:"))
    assert "learned urgency signal" in reason and "no rule names it" in reason


def test_where_a_rule_fires_the_rule_is_the_reason_and_the_signal_is_kept():
    triage = triage_one(InquiryIn(body="Tracking says delivered yesterday but nothing is here."))
    assert triage.urgency_rule == "lost_package_marked_delivered"
    assert triage.urgency_signal is not None and 0.0 <= triage.urgency_signal <= 1.0
    assert any(r.startswith("learned urgency signal") for r in triage.reasons)


def test_an_ordinary_delay_with_an_order_number_stays_normal():
    for body in (
        "My order CR-1234 has not arrived yet, where is it?",
        "check status of order 113542617735902",
        "Mi pedido lleva una semana de retraso, ¿cuándo llega?",
    ):
        triage = triage_one(InquiryIn(body=body))
        assert triage.urgency is Urgency.normal, (body, triage.urgency_signal)


def test_a_rule_case_is_never_left_a_product_question():
    """A damaged item received is a returns case even when the words read like a product
    question to the classifier."""
    body = "La semelle s'est décollée dès la première sortie, les sabots sont neufs."
    triage = triage_one(InquiryIn(body=body))
    assert triage.urgency_rule == "damaged_item_received"
    assert triage.category is Category.returns_refunds


def _row(expected: Urgency, rules: bool, signal: bool) -> Row:
    return Row(
        dataset="d",
        id=f"{expected.value}-{rules}-{signal}",
        text="t",
        expected=Category.other,
        predicted=Category.other,
        confidence=1.0,
        correct=True,
        urgency_expected=expected,
        urgency_predicted=Urgency.urgent if rules or signal else Urgency.normal,
        escalation_predicted=False,
        language_predicted="en",
        urgent_by_rules=rules,
        urgent_by_signal=signal,
    )


def test_the_evals_report_rules_and_signal_apart():
    rows = [
        _row(Urgency.urgent, rules=True, signal=False),
        _row(Urgency.urgent, rules=False, signal=True),
        _row(Urgency.normal, rules=False, signal=True),
        _row(Urgency.normal, rules=False, signal=False),
    ]
    sources = metrics.summarise(rows)["urgency_sources"]
    assert sources["rules"]["recall"] == 0.5 and sources["rules"]["precision"] == 1.0
    assert sources["learned_signal"]["recall"] == 0.5
    assert sources["learned_signal"]["precision"] == 0.5
    assert sources["combined"]["recall"] == 1.0
    assert round(sources["combined"]["precision"], 3) == 0.667

import pytest

from assistant.draft.grounding import check_grounding


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("We will refund $80 to your card.", "money_amount"),
        ("You will get 45 EUR back.", "money_amount"),
        ("Your parcel will arrive by Friday.", "date"),
        ("We will ship it on November 28.", "date"),
        ("It should be delivered within 3 days.", "date"),
        ("Your refund has been issued.", "refund_commitment"),
        ("Your refund of the full amount was approved today.", "refund_commitment"),
        ("We have processed a full refund for you.", "refund_commitment"),
        ("A replacement has been sent.", "replacement_claim"),
        ("Here is a 20% off discount code: SORRY20", "discount"),
        ("See https://crocso.example/returns for details.", "link"),
        ("Write to returns@crocso-partner.example instead.", "address"),
        ("Call us on 555-123-4567.", "phone"),
        ("As stated in [§3], we reply soon.", "markup"),
    ],
)
def test_commitments_the_policy_does_not_make_are_found(text, kind, policy):
    report = check_grounding(text, [], policy)
    assert kind in {f.kind for f in report.findings}
    assert not report.ok


def test_policy_statements_and_the_support_address_pass(policy):
    text = (
        "We aim to respond within 24–48 business hours (excluding weekends and holidays). "
        "Urgent matters within 24 hours. Write to support@crocso.example any time. "
        "Returns follow our Refund Policy."
    )
    assert check_grounding(text, ["§3", "§4"], policy).ok


def test_citing_a_section_that_does_not_exist_is_a_finding(policy):
    report = check_grounding("Hello.", ["§3", "§12"], policy)
    assert [f.kind for f in report.findings] == ["unknown_citation"]
    assert "§12" in report.findings[0].message


def test_empty_draft_is_a_finding(policy):
    assert not check_grounding("  ", [], policy).ok

from assistant.draft.translation_check import commitments, compare_translation

ENGLISH = (
    "Hi Ana,\n\nThank you for letting us know. Returns follow our Refund Policy. "
    "Please reply with your order number. We aim to respond within 24–48 business hours.\n"
)


def test_a_faithful_back_translation_passes():
    back = (
        "Hello Ana,\n\nThanks for telling us. Returns are handled under our Refund Policy. "
        "Please answer with your order number. We try to reply within 24 to 48 business hours.\n"
    )
    assert compare_translation(ENGLISH, back).ok


def test_a_translation_that_promises_money_or_days_is_flagged():
    back = ENGLISH.replace(
        "Returns follow our Refund Policy.", "We will refund you $40 within 5 days."
    )
    check = compare_translation(ENGLISH, back)
    assert {"money amount", "a number of days or weeks"} <= set(check.added)
    assert not check.ok
    assert all(f.kind == "translation_adds" for f in check.findings())


def test_a_translation_that_drops_the_order_number_request_is_flagged():
    back = ENGLISH.replace("Please reply with your order number. ", "")
    check = compare_translation(ENGLISH, back)
    assert check.dropped == ["asks for the order number"]
    assert check.findings()[0].kind == "translation_drops"


def test_urgent_and_normal_response_times_are_told_apart():
    assert commitments("within 24 hours") == {"response within 24 hours"}
    assert commitments("within 24–48 business hours") == {"response within 24–48 business hours"}

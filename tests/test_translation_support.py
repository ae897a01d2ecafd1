"""Policy §6: every language handled honestly. With a translation-capable backend the agent
reviews English and approves the customer-language text (both kept in the audit trail);
without one, the mail waits in its own queue with a localised acknowledgement.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from assistant import pipeline, review
from assistant.backends.local import LocalBackend
from assistant.backends.openai import LlmBackend
from assistant.llm.fake_server import DRAFT_IN_FRENCH, FakeLlm, serve
from assistant.models import InquiryIn
from assistant.policy import load_policy
from assistant.settings import Settings
from assistant.storage import records
from assistant.storage.queue import review_queue
from assistant.workflow import Actor

FRENCH = InquiryIn(
    message_id="<fr-1@example.com>",
    from_address="claire@example.fr",
    from_name="Claire Martin",
    subject="Commande pas reçue",
    body="Bonjour, ma commande CR-104233 n'est toujours pas arrivée. Pouvez-vous vérifier où elle "
    "en est ? Merci beaucoup.\n\nClaire",
    received_at=datetime(2026, 11, 24, 9, tzinfo=UTC),
)
ENGLISH = InquiryIn(
    message_id="<en-1@example.com>",
    subject="Sizes",
    body="Do the Classic Clogs come in half sizes?",
    received_at=datetime(2026, 11, 24, 10, tzinfo=UTC),
)


# What the fake model "translates" (French → English and back): the mail and its draft.
PHRASEBOOK = {
    **DRAFT_IN_FRENCH,
    "Commande pas reçue": "Order not received",
    "Bonjour, ma commande": "Hello, my order",
    "n'est toujours pas arrivée.": "has still not arrived.",
    "Pouvez-vous vérifier où elle en est ?": "Can you check where it is?",
    "Merci beaucoup.": "Thank you very much.",
    "Nous avons transmis votre dossier à un conseiller senior du service client.": "We have "
    "passed your case to a senior customer service representative.",
}


@pytest.fixture
def fake():
    with serve(FakeLlm(phrasebook=PHRASEBOOK)) as (url, fake):
        fake.url = url
        yield fake


def llm(fake, tmp_path) -> LlmBackend:
    return LlmBackend(
        Settings(
            openai_base_url=fake.url,
            openai_model="fake",
            openai_timeout=2,
            openai_max_retries=0,
            llm_capabilities_file=tmp_path / "capabilities.json",
        ),
        load_policy(),
    )


class EchoTranslator:
    """Translates by tagging; the back-translation can be told to add a promise."""

    name = "echo"
    can_translate = True

    def __init__(self, adds: str = ""):
        self.adds = adds
        self.calls: list[tuple[str, str]] = []

    def drain_calls(self) -> list:
        return []

    def translate(self, text: str, source: str, target: str) -> str:
        """Line by line through a small phrase book (so the French is French: the draft
        checks detect the customer text's language), tagged with the target."""
        self.calls.append((source, target))
        book = FRENCH_PHRASES if target == "fr" else {v: k for k, v in FRENCH_PHRASES.items()}
        lines = [book.get(line.strip(), line) for line in text.removeprefix("[fr] ").splitlines()]
        return (
            f"[{target}] "
            + "\n".join(lines)
            + (f" {self.adds}" if target == "en" and self.adds else "")
        )


FRENCH_PHRASES = {
    "Hello Claire,": "Bonjour Claire,",
    "We are looking into your order.": "Nous examinons votre commande et nous vous tenons "
    "informée de chaque étape.",
    "Kind regards,": "Cordialement,",
    "Crocso Customer Service": "Le service client de Crocso",
}


def test_without_a_translator_the_mail_gets_its_own_queue_and_an_honest_acknowledgement(
    db, settings, policy
):
    pipeline.run(db, [FRENCH, ENGLISH], LocalBackend(settings, policy))
    translation_queue = review_queue(db, translation_support=True)
    assert [r.message_id for r in translation_queue] == [FRENCH.message_id]
    assert [r.message_id for r in review_queue(db, translation_support=False)] == [
        ENGLISH.message_id
    ]
    draft = records.latest_draft(db, translation_queue[0].id)
    assert draft.language == "fr" and draft.template == "acknowledgements/fr.j2"
    assert "anglais" in draft.body  # says the team primarily assists in English
    assert "24" in draft.body and "Claire" in draft.body
    assert draft.english_body and "primarily" in draft.english_body


def test_with_a_translator_the_agent_reviews_english_and_approves_the_french(
    db, policy, fake, tmp_path
):
    backend = llm(fake, tmp_path)
    pipeline.run(db, [FRENCH], backend)
    [row] = review_queue(db)
    assert not row.translation_support  # answered in French, not only acknowledged
    triage = records.latest_triage(db, row.id)
    assert "my order CR-104233 has still" in triage.details["english_text"]  # beside the original
    draft = records.latest_draft(db, row.id)
    assert draft.language == "fr" and draft.english_body and draft.backend == "openai"
    translate_requests = [
        r for r in fake.requests if "TASK: TRANSLATE" in r["messages"][-1]["content"]
    ]
    assert len(translate_requests) == 3  # the inquiry into English, the reply into French, and back

    review.edit_english(
        db,
        row.id,
        agent="ann",
        policy=policy,
        translator=EchoTranslator(),
        english_body="Hello Claire,\n\nWe are looking into your order.\n\nKind regards,\nCrocso Customer Service",
    )
    edited = records.latest_draft(db, row.id)
    assert edited.body.startswith("[fr] Bonjour Claire") and edited.grounding == []
    reply = review.approve(db, row.id, agent="ann")
    assert reply.body == edited.body and reply.language == "fr"
    trail = records.audit_trail(db, row.id)
    assert [e.action for e in trail][-2:] == ["edit_english", "approve"]
    assert trail[-1].text_after == edited.body and trail[-1].english_text == edited.english_body


def test_english_edited_without_retranslation_blocks_approval_until_retranslated(
    db, policy, fake, tmp_path
):
    pipeline.run(db, [FRENCH], llm(fake, tmp_path))
    [row] = review_queue(db)
    review.edit_english(db, row.id, agent="ann", english_body="Hello, we are on it.", policy=policy)
    with pytest.raises(review.GroundingBlocked, match="translation_stale"):
        review.approve(db, row.id, agent="ann")
    review.retranslate(db, row.id, agent="ann", translator=EchoTranslator(), policy=policy)
    assert review.approve(db, row.id, agent="ann").body == "[fr] Hello, we are on it."


def test_a_translation_that_adds_a_commitment_is_flagged(db, policy, fake, tmp_path):
    pipeline.run(db, [FRENCH], llm(fake, tmp_path))
    [row] = review_queue(db)
    sneaky = EchoTranslator(adds="Your refund has been approved.")
    draft = review.edit_english(
        db,
        row.id,
        agent="ann",
        english_body="Hello, we are on it.",
        translator=sneaky,
        policy=policy,
    )
    assert {f.kind for f in draft.grounding} == {"translation_adds"}
    with pytest.raises(review.GroundingBlocked):
        review.approve(db, row.id, agent="ann")


def test_when_translation_fails_the_customer_still_gets_the_localised_acknowledgement(
    db, policy, fake, tmp_path
):
    backend = llm(fake, tmp_path)
    [triage] = backend.triage_many([FRENCH])
    fake.faults.extend(["ok", "server_error"])  # the English draft works, its translation does not
    draft = backend.draft(FRENCH, triage)
    assert draft.template == "acknowledgements/fr.j2" and draft.language == "fr"
    assert draft.fallback_reason.startswith("translation failed")


def test_english_only_drafts_cannot_be_edited_as_translations(db, settings, policy):
    pipeline.run(db, [ENGLISH], LocalBackend(settings, policy))
    [row] = review_queue(db)
    with pytest.raises(review.ReviewError, match="English only"):
        review.edit_english(db, row.id, agent="ann", english_body="Hi", translator=EchoTranslator())


def test_hand_editing_the_customer_text_keeps_it_blocked_until_checked(db, policy, fake, tmp_path):
    pipeline.run(db, [FRENCH], llm(fake, tmp_path))
    [row] = review_queue(db)
    review.edit_english(
        db,
        row.id,
        agent="ann",
        english_body="Hello, we are on it.",
        translator=EchoTranslator(adds="Your refund has been approved."),
        policy=policy,
    )
    edited = records.latest_draft(db, row.id).body + " Merci."
    with pytest.raises(review.GroundingBlocked, match="translation_adds, translation_unchecked"):
        review.approve(db, row.id, agent="ann", edited_body=edited)
    reply = review.approve(
        db, row.id, agent="ann", edited_body=edited, override_reason="checked with a French speaker"
    )
    assert reply.body == edited
    trail = records.audit_trail(db, row.id)
    assert [e.action for e in trail][-3:] == ["edit", "override_grounding", "approve"]
    assert trail[-1].english_text == "Hello, we are on it."


def test_a_translated_reply_promising_a_senior_review_needs_escalation_first(
    db, policy, fake, tmp_path, monkeypatch
):
    from assistant.llm import fake_server

    answer = fake_server.answer_for

    def promising(task, body):
        if task == "DRAFT":  # the model says, in its structured answer, what it promised
            return {
                "body": "Hello,\n\nWe have passed your case to a senior customer service "
                "representative.\n\nKind regards,\nCrocso Customer Service",
                "citations": ["§4"],
                "language": "en",
                "promises_escalation": True,
            }
        return answer(task, body)

    monkeypatch.setattr(fake_server, "answer_for", promising)
    pipeline.run(db, [FRENCH], llm(fake, tmp_path))
    [row] = review_queue(db)
    draft = records.latest_draft(db, row.id)
    assert draft.language == "fr" and draft.promises_escalation
    with pytest.raises(review.ReviewError, match="escalate it first"):
        review.approve(db, row.id, agent="ann", override_reason="checked")
    review.escalate(db, row.id, agent="ann", reason="asked for a supervisor")
    assert (
        review.approve(
            db, row.id, agent=Actor.agent("sam", role="senior"), override_reason="checked"
        ).language
        == "fr"
    )

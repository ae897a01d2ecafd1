"""Drafts that answer from the example knowledge base (samples/knowledge), as an agent
reads them: the approved answer pasted as written with the customer's facts, cited, shown
with its score; the holding reply only when nothing answers; the LLM given only the
retrieved entries; a lead saving a reply as an answer; recurring edits proposed as answers."""

from __future__ import annotations

import shutil

import pytest

from assistant import pipeline, review
from assistant.backends.local import LocalBackend
from assistant.knowledge import forget_loaded, load_knowledge
from assistant.models import InquiryIn
from assistant.settings import get_settings
from assistant.storage import records
from assistant.storage.db import session
from tests.web_support import add_accounts, logged_in, post, workspace

WIDE_FEET = InquiryIn(
    message_id="<wide@x>",
    from_address="mia@example.com",
    from_name="Mia Chen",
    subject="Sizing question",
    body="Hello, I have quite wide feet. Should I size down or up in the Classic Clog? Mia",
)
PARTNERSHIP = InquiryIn(
    message_id="<podcast@x>",
    from_address="pr@example.com",
    subject="Podcast",
    body="We run a podcast about urban gardening and would love to interview your founder.",
)


def local_draft(inquiry: InquiryIn):
    settings = get_settings()
    backend = LocalBackend(settings, pipeline_policy())
    [triage] = backend.triage_many([inquiry])
    return backend.draft(inquiry, triage)


def pipeline_policy():
    from assistant.policy import default_policy

    return default_policy()


def test_a_sizing_question_gets_the_approved_answer_pasted_and_cited(example_knowledge):
    draft = local_draft(WIDE_FEET)
    entry = load_knowledge(example_knowledge).get("sizing-wide-feet")
    assert entry.render(product="Classic Clog") in draft.body
    assert "A member of our team will check the details" not in draft.body
    assert "sizing-wide-feet" in draft.citations and draft.body.startswith("Hi Mia")
    assert draft.grounding.ok, draft.grounding.findings
    [used] = [use for use in draft.knowledge if use.used]
    assert used.id == "sizing-wide-feet" and used.score > 0 and used.example
    assert draft.knowledge_version.startswith("kb-")


def test_without_a_knowledge_base_the_draft_holds_to_the_policy():
    draft = local_draft(WIDE_FEET)
    assert "A member of our team will check the details" in draft.body
    assert draft.knowledge == [] and draft.knowledge_version == ""


def test_mail_no_entry_answers_gets_no_entry(example_knowledge):
    draft = local_draft(PARTNERSHIP)
    assert not any(use.used for use in draft.knowledge)
    assert all("§" in citation for citation in draft.citations)


def test_mail_in_french_gets_the_english_answer_under_a_french_sentence(example_knowledge):
    """No translation without an LLM: the acknowledgement says, in French, that the
    answer follows in English (§6), and pastes it as written, cited and grounded."""
    french = InquiryIn(
        subject="Colis",
        body="Bonjour, mon colis est marqué comme livré mais je ne l'ai jamais reçu. "
        "Commande CR-55123. Merci",
        from_name="Claire Martin",
    )
    draft = local_draft(french)
    entry = load_knowledge(example_knowledge).get("delivered-not-received")
    assert draft.language == "fr" and draft.body.startswith("Bonjour Claire")
    assert "voici en anglais la réponse de notre équipe" in draft.body
    assert entry.render(order_number="CR-55123") in draft.body
    assert "delivered-not-received" in draft.citations and "§6" in draft.citations
    assert "here is our team's answer to your question, in English" in draft.english_body
    assert draft.grounding.ok, draft.grounding.findings


def test_escalated_mail_in_another_language_is_acknowledged_without_an_answer(
    example_knowledge,
):
    angry = InquiryIn(
        subject="Réclamation",
        body="Je veux parler à un responsable. Mon colis est marqué livré mais je ne l'ai "
        "jamais reçu et personne ne me répond. Commande CR-55124.",
    )
    settings = get_settings()
    backend = LocalBackend(settings, pipeline_policy())
    [triage] = backend.triage_many([angry])
    assert triage.escalation
    draft = backend.draft(angry, triage)
    assert "voici en anglais" not in draft.body
    assert not any(use.used for use in draft.knowledge)


def test_the_knowledge_used_is_stored_shown_and_kept_through_an_agents_edit(
    example_knowledge, engine, settings, policy
):
    with session(engine) as db:
        pipeline.run(db, [WIDE_FEET], LocalBackend(get_settings(), policy))
        row = records.get_inquiry(db, 1)
        draft = records.current_draft(db, row)
        assert "sizing-wide-feet" in draft.retrieved_ids
        assert draft.knowledge_version.startswith("kb-")
        edited = draft.body.replace("Hi Mia,", "Hi Mia,\n\nThanks for asking!")
        review.edit(db, 1, agent="ann", body=edited)
        again = records.current_draft(db, records.get_inquiry(db, 1))
        assert again.body == edited and not again.grounding  # the entry's words still cited


def test_the_llm_is_given_only_the_retrieved_entries_and_cites_them(example_knowledge, tmp_path):
    from assistant.backends.openai import LlmBackend
    from assistant.llm.fake_server import serve
    from assistant.policy import default_policy

    with serve() as (url, _fake):
        chosen = get_settings().model_copy(
            update={
                "openai_base_url": url,
                "openai_model": "fake",
                "llm_capabilities_file": tmp_path / "caps.json",
            }
        )
        backend = LlmBackend(chosen, default_policy())
        [triage] = backend.local.triage_many([WIDE_FEET])
        draft = backend.draft(WIDE_FEET, triage)
    assert draft.backend == "openai" and draft.grounding.ok, draft.grounding.findings
    retrieved = [use.id for use in draft.knowledge]
    assert "sizing-wide-feet" in retrieved and draft.citations[-1] in retrieved
    assert any(use.used for use in draft.knowledge)


def test_a_lead_saves_a_reply_as_an_answer_and_an_agent_may_not(
    tmp_path, monkeypatch, shared_engine, policy
):
    folder = tmp_path / "kb"
    shutil.copytree("samples/knowledge", folder)
    monkeypatch.setenv("ASSISTANT_KNOWLEDGE_DIR", str(folder))
    get_settings.cache_clear()
    forget_loaded()
    settings = get_settings()
    add_accounts(shared_engine)
    with session(shared_engine) as db:
        pipeline.run(db, [WIDE_FEET], LocalBackend(settings, policy))
    app = workspace(shared_engine, settings)
    lead = logged_in(app, "sam")
    page = lead.get("/inquiries/1").text
    assert 'id="knowledge-used"' in page and "sizing-wide-feet" in page
    assert "Save this reply as an answer" in page
    answer = "Our Roomy fit is the one to choose for a high instep."
    saved = post(
        lead,
        "/knowledge/from-inquiry/1",
        entry_id="high-instep",
        title="A high instep",
        text=answer,
        keywords="instep, empeine, cou-de-pied",
    )
    assert saved.status_code == 200 and answer in saved.text
    entry = load_knowledge(folder).get("high-instep")
    assert entry.meta.approved_by == "sam" and [c.value for c in entry.meta.categories]
    again = post(
        lead, "/knowledge/from-inquiry/1", entry_id="high-instep", title="Again", text=answer
    )
    assert "already exists" in again.text
    agent = logged_in(app, "ann")
    assert "Save this reply as an answer" not in agent.get("/inquiries/1").text
    refused = post(agent, "/knowledge/from-inquiry/1", entry_id="x-y", title="Nope", text=answer)
    assert refused.status_code == 403 and load_knowledge(folder).get("x-y") is None
    assert "A high instep" in agent.get("/knowledge").text


def test_recurring_edits_become_proposed_answers_for_the_lead(tmp_path, engine, policy):
    from assistant.knowledge import KnowledgeError
    from assistant.knowledge.suggest import edit_statistics, suggest_entries, write_suggestions

    added = (
        "Parcels to islands and remote areas can take a little longer to arrive, as they "
        "travel part of the way by boat."
    )
    mails = [
        InquiryIn(
            message_id=f"<late{i}@x>",
            from_address=f"c{i}@example.com",
            subject="Late parcel",
            body=f"My order CR-10{i}23 has not shipped yet. Why?",
        )
        for i in range(4)
    ]
    with session(engine) as db:
        pipeline.run(db, mails, LocalBackend(get_settings(), policy))
        for inquiry_id in (1, 2, 3):
            row = records.get_inquiry(db, inquiry_id)
            body = records.current_draft(db, row).body
            greeting, _, rest = body.partition("\n\n")
            review.approve(
                db, inquiry_id, agent="ann", edited_body=f"{greeting}\n\n{added}\n\n{rest}"
            )
        review.approve(db, 4, agent="ann")
        stats = {row["category"]: row for row in edit_statistics(db)}
        proposals = suggest_entries(db, min_replies=3)
    assert stats["order_status"]["approved"] == 4
    assert stats["order_status"]["edited_share"] == 0.75
    [proposal] = proposals
    assert proposal.text == added and proposal.inquiry_ids == [1, 2, 3]
    [path] = write_suggestions(proposals, tmp_path / "suggested")
    with pytest.raises(KnowledgeError, match="approved_by"):  # unsigned: a lead must review
        load_knowledge(tmp_path / "suggested")
    assert "kind: answer" in path.read_text() and "inquiries 1, 2, 3" in path.read_text()

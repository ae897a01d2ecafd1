"""Replies in the customer's language (policy §6): the agent reviews and edits the English;
the customer text is translated by the configured backend and checked by translating it
back, or written by the agent themselves.
"""

from __future__ import annotations

from sqlmodel import Session

from assistant import workflow
from assistant.backends import Backend
from assistant.draft.checks.context import context_for
from assistant.draft.grounding import check_grounding, check_translation_copy
from assistant.draft.translation_check import compare_translation
from assistant.knowledge import stored_entries
from assistant.models import Action, GroundingFinding
from assistant.policy import Policy, default_policy
from assistant.review.common import actor_of, agent_text, draft_for, set_draft
from assistant.storage import records
from assistant.storage.tables import DraftRow, InquiryRow
from assistant.workflow import Actor, WorkflowError


def edit_english(
    session: Session,
    inquiry_id: int,
    *,
    agent: Actor | str,
    english_body: str,
    translator: Backend | None = None,
    customer_text: str | None = None,
    policy: Policy | None = None,
    expected_version: int | None = None,
) -> DraftRow:
    """Edit the English version of a reply in another language (policy §6).

    The grounding check runs on the English. With a translator the customer-language text
    is re-translated and checked by back-translation; with `customer_text` it is the
    agent's own translation, which they confirm by giving it; with neither, the customer
    text no longer matches what was reviewed and approval waits until it is re-translated
    or written by hand."""
    actor = actor_of(agent)
    row, draft = _bilingual(session, inquiry_id, Action.edit_english, actor)
    english_body = agent_text(english_body) or ""
    customer_text = agent_text(customer_text)
    if not english_body.strip():
        raise WorkflowError("the edited English reply is empty")
    if customer_text is not None and not customer_text.strip():
        raise WorkflowError("the customer-language text is empty")
    policy = policy or default_policy()
    context = context_for(row, None, policy.support_address)
    citations, retrieved = list(draft.citations), stored_entries(draft)
    findings = list(
        check_grounding(english_body, citations, policy, context, "en", retrieved).findings
    )
    if customer_text is not None:
        customer_after, how = customer_text, f"customer text translated by {actor.name}"
    elif translator is not None:  # translate first: a failure leaves the draft untouched
        customer_after, translation_findings = _translate_checked(
            session, row, translator, english_body, draft.language
        )
        findings += translation_findings
    if customer_text is not None or translator is not None:  # a new customer text
        findings += check_translation_copy(
            customer_after, draft.language, policy, context, citations, retrieved
        )
        how = "re-translated"
    else:
        customer_after, how = draft.body, "customer text not re-translated"
        findings.append(
            GroundingFinding(
                kind="translation_stale",
                excerpt=english_body[:80],
                message="the English was edited after the translation was made: re-translate "
                "or write the customer text",
            )
        )
    # text_before/after are the customer-language text, as in every event; english_text is
    # the English after this action (the English before is on the previous event).
    workflow.apply(
        session,
        inquiry_id,
        Action.edit_english,
        actor,
        expected_version=draft.version if expected_version is None else expected_version,
        reason=how,
        text_before=draft.body,
        text_after=customer_after,
        english_text=english_body,
        effect=set_draft(customer_after, findings, english=english_body),
    )
    return draft


def retranslate(
    session: Session,
    inquiry_id: int,
    *,
    agent: Actor | str,
    translator: Backend | None,
    policy: Policy | None = None,
    expected_version: int | None = None,
) -> DraftRow:
    """Translate the reviewed English again into the customer's language."""
    actor = actor_of(agent)
    row, draft = _bilingual(session, inquiry_id, Action.retranslate, actor)
    if translator is None:
        raise WorkflowError(
            "no translator is configured (the local backend cannot translate): set "
            "ASSISTANT_BACKEND=openai or cascade, or give your own translation with "
            f"assistant edit-english {inquiry_id} --customer-file"
        )
    english = draft.english_body or ""
    translated, translation_findings = _translate_checked(
        session, row, translator, english, draft.language
    )
    policy = policy or default_policy()
    context = context_for(row, None, policy.support_address)
    citations, retrieved = list(draft.citations), stored_entries(draft)
    grounding = check_grounding(english, citations, policy, context, "en", retrieved)
    findings = list(grounding.findings) + translation_findings
    findings += check_translation_copy(
        translated, draft.language, policy, context, citations, retrieved
    )
    workflow.apply(
        session,
        inquiry_id,
        Action.retranslate,
        actor,
        expected_version=draft.version if expected_version is None else expected_version,
        text_before=draft.body,
        text_after=translated,
        english_text=english,
        effect=set_draft(translated, findings),
    )
    return draft


def _bilingual(
    session: Session, inquiry_id: int, action: Action, actor: Actor
) -> tuple[InquiryRow, DraftRow]:
    row, draft = draft_for(session, inquiry_id, action, actor)
    if draft.language == "en" or not draft.english_body:
        raise WorkflowError(f"the draft of inquiry {inquiry_id} is in English only; use edit")
    return row, draft


def _translate_checked(
    session: Session, row: InquiryRow, translator: Backend, english: str, language: str
) -> tuple[str, list[GroundingFinding]]:
    """Translate and translate back; the calls are stored (and paid for) whatever follows."""
    session.commit()  # no transaction (on SQLite: no write lock) held while the LLM works
    try:
        translated = translator.translate(english, "en", language)
        back = translator.translate(translated, language, "en") if translated.strip() else ""
    except Exception as error:  # noqa: BLE001 - any backend failure: the agent edits by hand
        raise WorkflowError(
            f"translation failed ({error}); write the customer text yourself"
        ) from error
    finally:
        records.store_llm_calls(session, translator.drain_calls(), row.id)
        session.commit()
    if not translated.strip():
        raise WorkflowError("the translation came back empty; write the customer text yourself")
    return translated, compare_translation(english, back).findings()

"""The local backend's drafts: Jinja2 templates from `templates/`, filled with the facts of
the inquiry, citing the policy sections they rely on.

Templates call `cite('§N')` where they rely on section N; the call prints nothing in the
customer's text and records the citation for the agent. When the knowledge base holds
approved answers to the inquiry, the template pastes them (`answers`) in place of its
holding paragraph and cites their ids; otherwise the reply holds to the policy alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from jinja2 import TemplateNotFound

from assistant.draft.checks.context import context_for
from assistant.draft.grounding import check_draft
from assistant.facts import extract_facts
from assistant.knowledge import KnowledgeBase, Match, knowledge_for, retrieve, uses
from assistant.models import Category, Draft, InquiryFacts, InquiryIn, Triage, Urgency
from assistant.policy import Policy
from assistant.resources import jinja_env, shipped_dir
from assistant.settings import Settings

NEEDS_ORDER_NUMBER = {Category.order_status, Category.returns_refunds}
# Replies that answer from the knowledge base; the others (manual triage, escalation,
# out of scope) show entries to the agent only. The translation-support acknowledgements
# answer too, in English (§6), when the mail is neither escalated nor in doubt (below).
ANSWERING_TEMPLATES = {f"replies/{c.value}.j2" for c in Category if c is not Category.other}
PASTED_AT_MOST = 2
# A second answer is pasted only when it scores nearly as well as the first (a near tie:
# the agent keeps the one that fits); a weaker neighbour would be one more paragraph to delete.
SECOND_ANSWER_SHARE = 0.9
# An urgent §3 situation has the reply written for it, whatever the category guess: a wrong
# item filed under order status still gets "you received the wrong item".
SITUATION_TEMPLATES = {
    "lost_package_marked_delivered": Category.order_status,
    "incorrect_item_received": Category.returns_refunds,
    "items_missing_from_parcel": Category.order_status,
    "damaged_item_received": Category.returns_refunds,
    "charged_twice": Category.technical,
    "account_compromised": Category.account,
}


def acknowledgement_languages() -> set[str]:
    """Languages with a translation-support acknowledgement in templates/acknowledgements."""
    return {path.stem for path in (shipped_dir("templates") / "acknowledgements").glob("*.j2")}


def _situation(triage: Triage) -> Category | None:
    """The category whose reply fits the urgent §3 situation, if there is one."""
    return SITUATION_TEMPLATES.get(triage.urgency_rule or "")


def choose_template(triage: Triage) -> str:
    """Which template fits this inquiry, most specific situation first."""
    if triage.needs_translation:
        language = triage.language if triage.language in acknowledgement_languages() else "en"
        return f"acknowledgements/{language}.j2"
    if triage.needs_manual_triage:
        return "replies/manual_triage.j2"
    if triage.escalation:
        return "replies/escalation.j2"
    situation = _situation(triage)
    if situation is not None:
        return f"replies/{situation.value}.j2"
    if triage.category is Category.other:
        return "replies/out_of_scope.j2"
    return f"replies/{triage.category.value}.j2"


@dataclass
class RenderedReply:
    body: str
    citations: list[str]
    promises_escalation: bool = (
        False  # declared by the template: `declare(promises_escalation=true)`
    )


def render_reply(template_name: str, context: dict) -> RenderedReply:
    """Render a template: the customer's text, the sections it cited and what it declared
    about itself (metadata the approval gate reads, never the text)."""
    citations: list[str] = []
    declared: dict[str, bool] = {}

    def cite(section_id: str) -> str:
        if section_id not in citations:
            citations.append(section_id)
        return ""

    def declare(**metadata: bool) -> str:
        unknown = set(metadata) - {"promises_escalation"}
        if unknown:
            raise ValueError(f"reply template {template_name} declares unknown {sorted(unknown)}")
        declared.update(metadata)
        return ""

    try:
        template = jinja_env("templates").get_template(template_name)
    except TemplateNotFound as error:
        raise FileNotFoundError(f"reply template {template_name} is missing") from error
    body = template.render(cite=cite, declare=declare, **context)
    body = re.sub(r"[ \t]+\n", "\n", body)
    body = re.sub(r"\n{3,}", "\n\n", body).strip() + "\n"
    return RenderedReply(body, citations, bool(declared.get("promises_escalation")))


def pasted_answers(matches: list[Match], facts: InquiryFacts) -> list[dict]:
    """The answers a local draft pastes, with the customer's facts in their slots."""
    chosen = [m for m in matches if m.entry.pasted][:PASTED_AT_MOST]
    chosen = [m for m in chosen if m.score >= SECOND_ANSWER_SHARE * chosen[0].score]
    order_number = facts.order_numbers[0] if facts.order_numbers else None
    product = facts.products[0] if facts.products else None
    return [{"id": m.entry.id, "text": m.entry.render(order_number, product)} for m in chosen]


def answers_fit(template_name: str, triage: Triage, matches: list[Match]) -> bool:
    """Whether this reply pastes the retrieved answers. Mail in another language is read
    only through its keywords and the glossary, less surely than English: its reply (the
    acknowledgement, with the answer in English) pastes one only when the entry is filed
    under the category triage found, and never for escalated, doubtful or out-of-scope mail."""
    if template_name in ANSWERING_TEMPLATES:
        return True
    if not template_name.startswith("acknowledgements/"):
        return False
    if triage.escalation or triage.needs_manual_triage or triage.category is Category.other:
        return False
    first = next((m for m in matches if m.entry.pasted), None)
    return first is not None and any(c is triage.category for c in first.entry.meta.categories)


def missing_documents(policy: Policy, knowledge: KnowledgeBase) -> list[str]:
    """Documents the policy names that neither it nor the knowledge base holds."""
    return [name for name in policy.missing_documents if name not in knowledge.policy_titles]


def draft_context(
    inquiry: InquiryIn,
    triage: Triage,
    policy: Policy,
    settings: Settings,
    knowledge: KnowledgeBase | None = None,
    answers: list[dict] | None = None,
) -> dict:
    facts = extract_facts(inquiry.text, inquiry.from_name)
    return {
        "name": facts.customer_name,
        "order_numbers": facts.order_numbers,
        "products": facts.products,
        "urgent": triage.urgency is Urgency.urgent,
        "urgency_rule": triage.urgency_rule,
        "needs_order_number": (
            (triage.category in NEEDS_ORDER_NUMBER or _situation(triage) in NEEDS_ORDER_NUMBER)
            and not facts.order_numbers
        ),
        "support_address": policy.support_address,
        "support_name": settings.support_name,
        "missing_documents": missing_documents(policy, knowledge or knowledge_for(settings)),
        "subject": inquiry.subject,
        "answers": answers or [],
    }


def draft_local(
    inquiry: InquiryIn,
    triage: Triage,
    policy: Policy,
    settings: Settings,
    knowledge: KnowledgeBase | None = None,
) -> Draft:
    knowledge = knowledge if knowledge is not None else knowledge_for(settings)
    matches = retrieve(
        knowledge,
        inquiry,
        triage,
        min_score=settings.knowledge_min_score,
        limit=settings.knowledge_max_entries,
    )
    template_name = choose_template(triage)
    answers: list[dict] = []
    if matches and answers_fit(template_name, triage, matches):
        answers = pasted_answers(matches, extract_facts(inquiry.text, inquiry.from_name))
    context = draft_context(inquiry, triage, policy, settings, knowledge, answers)
    reply = render_reply(template_name, context)
    english_body = None
    language = "en"
    if template_name.startswith("acknowledgements/") and not template_name.endswith("/en.j2"):
        language = template_name.split("/")[1].removesuffix(".j2")
        english_body = render_reply("acknowledgements/en.j2", context).body
    checks = context_for(inquiry, triage, policy.support_address)
    retrieved = [m.entry for m in matches]
    return Draft(
        body=reply.body,
        citations=reply.citations,
        language=language,
        english_body=english_body,
        template=template_name,
        grounding=check_draft(
            reply.body, english_body, language, reply.citations, policy, checks, retrieved
        ),
        backend="local",
        model="templates",
        policy_version=policy.version,
        promises_escalation=reply.promises_escalation,
        knowledge=uses(matches, set(reply.citations)),
        knowledge_version=knowledge.version,
    )

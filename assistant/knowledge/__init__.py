"""The team's knowledge base: approved answers, product facts and policy documents that
drafts answer from and cite (ASSISTANT_KNOWLEDGE_DIR).

`retrieve` is the one question the drafters ask: which entries answer this inquiry, with
their scores, above the threshold below which nothing is used. It reads the English
translation when the inquiry has one, and the mail in its own language otherwise.
"""

from __future__ import annotations

from assistant.knowledge.base import (
    EMPTY,
    KnowledgeBase,
    forget_loaded,
    knowledge_for,
    load_knowledge,
)
from assistant.knowledge.entries import Entry, Kind, KnowledgeError
from assistant.knowledge.retrieval import Match
from assistant.models import KnowledgeUse

__all__ = [
    "EMPTY",
    "Entry",
    "Kind",
    "KnowledgeBase",
    "KnowledgeError",
    "Match",
    "forget_loaded",
    "knowledge_for",
    "load_knowledge",
    "retrieve",
    "stored_entries",
    "query_of",
    "uses",
]


def query_of(inquiry, triage=None) -> tuple[str, str]:
    """The text retrieval reads and its language: the English translation when there is
    one, else the subject and body as the customer wrote them."""
    english = getattr(triage, "english_text", None)
    if english and english.strip():
        return english, "en"
    language = getattr(triage, "language", None) or "en"
    subject = getattr(inquiry, "subject", "") or ""
    return f"{subject}\n{getattr(inquiry, 'body', '') or ''}", language


def retrieve(
    base: KnowledgeBase, inquiry, triage=None, *, min_score: float, limit: int = 3
) -> list[Match]:
    """The few entries that answer `inquiry` (best first), none below `min_score`."""
    if not base:
        return []
    text, language = query_of(inquiry, triage)
    category = getattr(getattr(triage, "category", None), "value", None)
    ranked = base.retriever.rank(text, language, category, limit=limit)
    return [match for match in ranked if match.score >= min_score]


def stored_entries(draft_row, settings=None) -> list[Entry]:
    """The entries a stored draft was given, as the knowledge base has them now: what an
    agent's edit of it may cite. A base that no longer loads gives none (citing an entry
    then needs an override, never a silent pass)."""
    ids = getattr(draft_row, "retrieved_ids", None) or []
    if not ids:
        return []
    from assistant.settings import get_settings

    try:
        base = knowledge_for(settings or get_settings())
    except KnowledgeError:
        return []
    return [entry for entry in (base.get(i) for i in ids) if entry is not None]


def uses(matches: list[Match], used: set[str]) -> list[KnowledgeUse]:
    """What the agent sees beside the draft: each retrieved entry, its score, and whether
    the draft used (pasted or cited) it."""
    return [
        KnowledgeUse(
            id=m.entry.id,
            title=m.entry.title,
            kind=m.entry.kind.value,
            score=m.score,
            used=m.entry.id in used,
            example=m.entry.meta.example,
        )
        for m in matches
    ]

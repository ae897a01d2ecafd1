"""Learning from the team (policy §5): where agents rewrite drafts, and which of their
rewrites recur often enough to become an approved answer.

Read from the audit trail: for every approval, the text as drafted and the text approved.
Paragraphs an agent added or rewrote are clustered (TF-IDF, cosine, scikit-learn's
agglomerative clustering); a cluster spread over enough different inquiries becomes a
proposed `answer` entry, written as a file for the lead to review. Nothing is ever added
to the knowledge base by this module: a proposal has no `approved_by`, so it would not
even load until a lead reviews and signs it.
"""

from __future__ import annotations

import difflib
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlmodel import Session, select

from assistant.models import Action
from assistant.storage.tables import AuditEventRow, DraftRow, InquiryRow, TriageRow

CREATES = (Action.draft, Action.redraft)
EDITS = (Action.edit, Action.edit_english, Action.retranslate)
SHORTEST_PARAGRAPH = 40  # greetings, sign-offs and "Thanks!" are not answers
SIMILAR = 0.55  # cosine similarity within a cluster (distance threshold 1 - SIMILAR)
_ORDER_NUMBER = re.compile(r"\b(?:[A-Z]{2,4}-?\d{4,}|#\d{4,})\b")
_GREETING = re.compile(
    r"^(hi|hello|dear|hey|good (morning|afternoon|evening))\b|^(kind regards|best|thanks|"
    r"thank you|regards|cheers|sincerely)\b",
    re.I,
)


@dataclass(frozen=True)
class Approval:
    inquiry_id: int
    category: str
    drafted: str
    approved: str
    answered: bool = False  # the approved draft pasted or cited a knowledge-base entry


@dataclass(frozen=True)
class Proposal:
    id: str
    title: str
    category: str
    text: str
    keywords: list[str]
    inquiry_ids: list[int]


def approvals(session: Session, limit: int = 20000) -> list[Approval]:
    """Each approval with the text as drafted (before the first edit) and as approved."""
    events = session.exec(
        select(AuditEventRow)
        .where(AuditEventRow.action.in_([*CREATES, *EDITS, Action.approve]))  # type: ignore[attr-defined]
        .order_by(AuditEventRow.id.desc())  # type: ignore[union-attr]
        .limit(limit)
    ).all()
    by_inquiry: dict[int, list[AuditEventRow]] = defaultdict(list)
    for event in reversed(events):
        by_inquiry[event.inquiry_id].append(event)
    categories = _categories(session, list(by_inquiry))
    answered = _answered(session, [e.draft_id for e in events if e.action is Action.approve])
    found = []
    for inquiry_id, trail in by_inquiry.items():
        drafted: str | None = None
        for event in trail:
            if event.action in CREATES:
                drafted = event.text_after
            elif event.action in EDITS and drafted is None:
                drafted = event.text_before
            elif event.action is Action.approve and event.text_after:
                found.append(
                    Approval(
                        inquiry_id,
                        categories.get(inquiry_id, "none"),
                        drafted or event.text_after,
                        event.text_after,
                        event.draft_id in answered,
                    )
                )
                drafted = None
    return found


def _categories(session: Session, inquiry_ids: list[int]) -> dict[int, str]:
    if not inquiry_ids:
        return {}
    rows = session.exec(
        select(InquiryRow.id, TriageRow.category)
        .join(TriageRow, TriageRow.id == InquiryRow.triage_id)  # type: ignore[arg-type]
        .where(InquiryRow.id.in_(inquiry_ids))  # type: ignore[union-attr]
    ).all()
    return {
        int(inquiry_id or 0): str(getattr(category, "value", category))
        for inquiry_id, category in rows
    }


def _answered(session: Session, draft_ids: list[int | None]) -> set[int]:
    """The drafts among these that used a knowledge-base entry."""
    wanted = [i for i in draft_ids if i is not None]
    if not wanted:
        return set()
    rows = session.exec(
        select(DraftRow.id, DraftRow.knowledge).where(DraftRow.id.in_(wanted))  # type: ignore[union-attr]
    ).all()
    return {
        int(draft_id or 0)
        for draft_id, knowledge in rows
        if any(isinstance(use, dict) and use.get("used") for use in knowledge or [])
    }


def edit_size_share(drafted: str, approved: str) -> float:
    """0 when approved as drafted, 1 when nothing of the draft is left."""
    return round(1.0 - difflib.SequenceMatcher(None, drafted, approved, autojunk=False).ratio(), 3)


def edit_statistics(session: Session) -> list[dict]:
    """Per category: approvals, the share edited, the mean edit size, and the share approved
    as drafted for drafts that answered from the knowledge base and for those that did not
    (the before and after of a new entry). Most edited first."""
    tally: dict[str, list[tuple[float, bool]]] = defaultdict(list)
    for item in approvals(session):
        tally[item.category].append((edit_size_share(item.drafted, item.approved), item.answered))
    rows = []
    for category, items in tally.items():
        sizes = [size for size, _ in items]
        rows.append(
            {
                "category": category,
                "approved": len(items),
                "edited_share": round(sum(1 for s in sizes if s > 0) / len(sizes), 3),
                "mean_edit_size": round(sum(sizes) / len(sizes), 3),
                "unedited_share_with_knowledge": _unedited([s for s, a in items if a]),
                "unedited_share_without_knowledge": _unedited([s for s, a in items if not a]),
            }
        )
    return sorted(rows, key=lambda row: -row["mean_edit_size"])


def _unedited(sizes: list[float]) -> float | None:
    return round(sum(1 for s in sizes if s == 0) / len(sizes), 3) if sizes else None


def added_paragraphs(drafted: str, approved: str) -> list[str]:
    """The paragraphs of the approved text that the draft did not have, as the agent wrote them."""
    before = {_squash(p) for p in _paragraphs(drafted)}
    return [
        p
        for p in _paragraphs(approved)
        if _squash(p) not in before and len(p) >= SHORTEST_PARAGRAPH and not _GREETING.match(p)
    ]


def suggest_entries(
    session: Session, *, min_replies: int = 3, existing_texts: list[str] | None = None
) -> list[Proposal]:
    """Proposed answers: agents' added paragraphs that recur in `min_replies` inquiries."""
    pieces: list[tuple[str, Approval]] = [
        (paragraph, item)
        for item in approvals(session)
        for paragraph in added_paragraphs(item.drafted, item.approved)
    ]
    if len({item.inquiry_id for _, item in pieces}) < min_replies:
        return []
    from sklearn.cluster import AgglomerativeClustering
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(stop_words="english", sublinear_tf=True)
    matrix = vectorizer.fit_transform([text for text, _ in pieces]).toarray()
    if matrix.shape[1] == 0:
        return []
    labels = AgglomerativeClustering(
        n_clusters=None, metric="cosine", linkage="average", distance_threshold=1 - SIMILAR
    ).fit_predict(matrix)
    vocabulary = vectorizer.get_feature_names_out()
    members: dict[int, list[int]] = defaultdict(list)
    for index, label in enumerate(labels):
        members[int(label)].append(index)
    proposals = []
    for indexes in members.values():
        inquiries = sorted({pieces[i][1].inquiry_id for i in indexes})
        if len(inquiries) < min_replies:
            continue
        centre = matrix[indexes].mean(axis=0)
        representative = max(indexes, key=lambda i: float(matrix[i] @ centre))
        top = [vocabulary[j] for j in centre.argsort()[::-1][:6] if centre[j] > 0]
        category = Counter(pieces[i][1].category for i in indexes).most_common(1)[0][0]
        text = _ORDER_NUMBER.sub("{{ order_number }}", pieces[representative][0])
        slug = "-".join(top[:3]) or "answer"
        proposals.append(
            Proposal(
                id=re.sub(r"[^a-z0-9-]+", "-", f"suggested-{slug}".lower()).strip("-")[:60],
                title=f"Suggested: {' '.join(top[:4])}",
                category=category,
                text=text,
                keywords=top,
                inquiry_ids=inquiries,
            )
        )
    return sorted(proposals, key=lambda p: -len(p.inquiry_ids))


def write_suggestions(proposals: list[Proposal], folder: Path) -> list[Path]:
    """One Markdown file per proposal, in the knowledge base's format, unsigned."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for proposal in proposals:
        path = folder / f"{proposal.id}.md"
        sources = ", ".join(str(i) for i in proposal.inquiry_ids[:20])
        path.write_text(
            "---\n"
            f"# Proposed by `assistant knowledge suggest` on {date.today()} from approved\n"
            f"# replies to inquiries {sources}. Review the text, rename the id and title,\n"
            "# sign approved_by, and move the file into the knowledge base to use it.\n"
            f"id: {proposal.id}\n"
            f'title: "{proposal.title}"\n'
            "kind: answer\n"
            f"categories: [{proposal.category if proposal.category != 'none' else ''}]\n"
            "languages: [en]\n"
            f"keywords: [{', '.join(proposal.keywords)}]\n"
            f"last_reviewed: {date.today()}\n"
            'approved_by: ""\n'
            "---\n"
            f"{proposal.text.strip()}\n",
            encoding="utf-8",
        )
        written.append(path)
    return written


def _paragraphs(text: str) -> list[str]:
    return [p.strip() for p in re.split(r"\n[ \t]*\n", text or "") if p.strip()]


def _squash(text: str) -> str:
    return " ".join(text.lower().split())

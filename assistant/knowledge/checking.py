"""`assistant knowledge check`: what a support lead should fix in the knowledge base.

Errors (the base cannot be trusted as written): a link to an entry that does not exist.
Warnings (it works, but ages): entries past their review age, entries that no inquiry of
the evaluation set retrieves (unreachable, or missing keywords), shipped example content.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

from assistant.knowledge.base import KnowledgeBase


@dataclass
class CheckReport:
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def check_base(
    base: KnowledgeBase,
    *,
    review_days: int,
    today: date | None = None,
    retrieved_ids: Iterable[str] | None = None,
    queries: int = 0,
) -> CheckReport:
    """`retrieved_ids`: every entry some query of an evaluation set retrieved (None: not run)."""
    report = CheckReport()
    for entry in base.entries:
        for target in entry.links:
            if base.get(target) is None:
                report.errors.append(f"{entry.id}: links to {target!r}, which is not an entry")
            elif target == entry.id:
                report.warnings.append(f"{entry.id}: links to itself")
    due = (today or date.today()) - timedelta(days=review_days)
    for entry in base.entries:
        if entry.meta.last_reviewed < due:
            age = ((today or date.today()) - entry.meta.last_reviewed).days
            report.warnings.append(
                f"{entry.id}: last reviewed {entry.meta.last_reviewed} ({age} days ago; "
                f"review every {review_days} days, ASSISTANT_KNOWLEDGE_REVIEW_DAYS)"
            )
    if retrieved_ids is not None:
        found = set(retrieved_ids)
        for entry in base.entries:
            if entry.id not in found:
                report.warnings.append(
                    f"{entry.id}: retrieved by none of the {queries} evaluation inquiries "
                    "(add the words customers use to its keywords, or remove it)"
                )
    examples = [entry.id for entry in base.entries if entry.meta.example]
    if examples:
        report.warnings.append(
            f"{len(examples)} of {len(base)} entries are example content (example: true): "
            "replace them with the team's own before drafts go to customers"
        )
    return report

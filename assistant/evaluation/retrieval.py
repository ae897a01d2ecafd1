"""The retrieval eval: does the knowledge base answer the inquiries it should, and only those?

A labelled set (`evals/datasets/knowledge_retrieval*.jsonl`: an inquiry and the ids of the
entries that answer it, `[]` where none does, written apart from the entries) is triaged
by the local backend and retrieved as a draft would be. Reported overall and per language:
precision@1 (of the inquiries given an entry, the first one answers it), recall@3 (of the
expected entries, the share among the first three), and the share left with the holding
reply, right (nothing answers it) or wrong.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from assistant.evaluation.dataset import DatasetError
from assistant.knowledge import KnowledgeBase, retrieve
from assistant.models import InquiryIn


@dataclass(frozen=True)
class RetrievalCase:
    id: str
    language: str
    subject: str
    body: str
    expected: tuple[str, ...]
    from_name: str | None = None

    def inquiry(self) -> InquiryIn:
        return InquiryIn(subject=self.subject, body=self.body, from_name=self.from_name)


def load_retrieval_cases(path: Path) -> list[RetrievalCase]:
    cases = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            cases.append(
                RetrievalCase(
                    id=str(row["id"]),
                    language=str(row.get("language") or "en"),
                    subject=str(row.get("subject") or ""),
                    body=str(row["body"]),
                    expected=tuple(str(i) for i in row.get("expected") or ()),
                    from_name=row.get("from_name"),
                )
            )
        except (ValueError, KeyError, TypeError) as error:
            raise DatasetError(f"{path}, line {number}: not a retrieval case ({error})") from error
    if not cases:
        raise DatasetError(f"{path} holds no cases")
    return cases


@dataclass
class Tally:
    rows: int = 0
    given: int = 0  # inquiries given at least one entry
    top_right: int = 0  # ...whose first entry is expected
    expected: int = 0  # expected entries, over inquiries that have some
    found_in_3: int = 0
    answerable: int = 0  # inquiries some entry answers
    held: int = 0  # inquiries given nothing (the holding reply)
    held_wrongly: int = 0  # ...although an entry answers them
    unanswerable: int = 0
    held_rightly: int = 0
    answered: int = 0  # local drafts that pasted an entry (the rest hold)
    answered_right: int = 0  # ...whose every pasted entry answers the inquiry

    def add(self, expected: tuple[str, ...], got: list[str], pasted: list[str]) -> None:
        self.rows += 1
        self.answered += bool(pasted)
        self.answered_right += bool(pasted) and set(pasted) <= set(expected)
        if got:
            self.given += 1
            self.top_right += got[0] in expected
        else:
            self.held += 1
        if expected:
            self.answerable += 1
            self.expected += len(expected)
            self.found_in_3 += len(set(expected) & set(got[:3]))
            self.held_wrongly += not got
        else:
            self.unanswerable += 1
            self.held_rightly += not got

    def summary(self) -> dict:
        def share(part: int, whole: int) -> float | None:
            return round(part / whole, 3) if whole else None

        return {
            "rows": self.rows,
            "precision_at_1": share(self.top_right, self.given),
            "recall_at_3": share(self.found_in_3, self.expected),
            "hold_share": share(self.held, self.rows),
            "wrong_hold_share": share(self.held_wrongly, self.answerable),
            "right_hold_share": share(self.held_rightly, self.unanswerable),
            "local_draft_answer_share": share(self.answered, self.rows),
            "pasted_precision": share(self.answered_right, self.answered),
        }


@dataclass
class RetrievalResult:
    overall: dict
    by_language: dict[str, dict]
    misses: list[dict] = field(default_factory=list)
    retrieved_ids: set[str] = field(default_factory=set)

    def as_dict(self) -> dict:
        return {
            "overall": self.overall,
            "by_language": self.by_language,
            "misses": self.misses,
            "entries_retrieved": sorted(self.retrieved_ids),
        }


def evaluate_retrieval(
    cases: list[RetrievalCase], base: KnowledgeBase, settings
) -> RetrievalResult:
    """Triage every case locally (category, language), retrieve, draft locally, and tally."""
    from assistant.draft.local import draft_local
    from assistant.policy import default_policy
    from assistant.triage import triage_many

    policy = default_policy()
    triages = triage_many([case.inquiry() for case in cases], settings)
    overall = Tally()
    by_language: dict[str, Tally] = defaultdict(Tally)
    misses, seen = [], set()
    for case, triage in zip(cases, triages):
        matches = retrieve(
            base,
            case.inquiry(),
            triage,
            min_score=settings.knowledge_min_score,
            limit=settings.knowledge_max_entries,
        )
        got = [m.entry.id for m in matches]
        seen.update(got)
        draft = draft_local(case.inquiry(), triage, policy, settings, base)
        pasted = [use.id for use in draft.knowledge if use.used]
        overall.add(case.expected, got, pasted)
        by_language[case.language].add(case.expected, got, pasted)
        if (got[:1] and got[0] not in case.expected) or (case.expected and not got):
            misses.append(
                {
                    "id": case.id,
                    "language": case.language,
                    "expected": list(case.expected),
                    "got": [(m.entry.id, m.score) for m in matches],
                    "category": triage.category.value,
                }
            )
    return RetrievalResult(
        overall=overall.summary(),
        by_language={lang: t.summary() for lang, t in sorted(by_language.items())},
        misses=misses,
        retrieved_ids=seen,
    )


def print_retrieval(result: RetrievalResult, console) -> None:
    from rich.table import Table

    table = Table(title="Knowledge retrieval")
    for column in (
        "language",
        "rows",
        "precision@1",
        "recall@3",
        "held",
        "held wrongly",
        "held rightly",
        "drafts answered",
        "pasted right",
    ):
        table.add_column(column, justify="right" if column != "language" else "left")

    def cells(name: str, s: dict) -> list[str]:
        def pct(value):
            return "–" if value is None else f"{value:.3f}"

        return [
            name,
            str(s["rows"]),
            pct(s["precision_at_1"]),
            pct(s["recall_at_3"]),
            pct(s["hold_share"]),
            pct(s["wrong_hold_share"]),
            pct(s["right_hold_share"]),
            pct(s["local_draft_answer_share"]),
            pct(s["pasted_precision"]),
        ]

    for language, summary in result.by_language.items():
        table.add_row(*cells(language, summary))
    table.add_row(*cells("all", result.overall), style="bold")
    console.print(table)
    console.print(f"{len(result.misses)} misses (first entry wrong, or held although answerable)")

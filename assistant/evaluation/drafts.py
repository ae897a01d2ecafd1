"""Draft scoring: does the reply stay inside the policy and meet the case's expectations?

Checks are deterministic (grounding, citations, phrases); the LLM judge is optional and
only ever a second opinion, because a judge model shares the blind spots of the drafter.
"""

from __future__ import annotations

from statistics import mean
from typing import Any

from pydantic import BaseModel, Field

from assistant.draft.checks.context import DraftContext
from assistant.draft.grounding import check_draft
from assistant.knowledge import stored_entries
from assistant.models import Draft
from assistant.policy import Policy


class DraftScore(BaseModel):
    grounded: bool
    findings: list[str] = Field(default_factory=list)  # grounding finding kinds
    citations_valid: bool
    invalid_citations: list[str] = Field(default_factory=list)
    forbidden_found: list[str] = Field(default_factory=list)  # must_not_contain hits
    missing_asks: list[str] = Field(default_factory=list)  # must_ask_for misses
    checked_forbidden: bool = False
    checked_asks: bool = False
    judge: dict[str, Any] | None = None


def _squash(text: str) -> str:
    return " ".join(text.lower().split())


def score_draft(
    draft: Draft,
    policy: Policy,
    must_not_contain: list[str],
    must_ask_for: list[str],
    context: DraftContext | None = None,
) -> DraftScore:
    """Grounding is re-checked here rather than trusted from the draft: backends differ."""
    retrieved = stored_entries(draft)
    report = check_draft(
        draft.body, draft.english_body, draft.language, draft.citations, policy, context, retrieved
    )
    known = {entry.id for entry in retrieved}
    invalid = [c for c in draft.citations if not policy.has_section(c) and c not in known]
    body = _squash(draft.body)
    # An ask counts in either version: a non-English reply carries it in the customer's words.
    asked = _squash(f"{draft.body}\n{draft.english_body or ''}")
    return DraftScore(
        grounded=report.ok,
        findings=[finding.kind for finding in report.findings],
        citations_valid=not invalid,
        invalid_citations=invalid,
        forbidden_found=[p for p in must_not_contain if _squash(p) in body],
        missing_asks=[p for p in must_ask_for if _squash(p) not in asked],
        checked_forbidden=bool(must_not_contain),
        checked_asks=bool(must_ask_for),
    )


def judge_draft(backend, inquiry_text: str, draft: Draft, policy: Policy) -> dict[str, Any]:
    """The backend's judge (rubric in prompts/judge.j2); an error is recorded, not raised."""
    try:
        verdict = dict(backend.judge(inquiry_text, draft.body))
    except Exception as error:  # noqa: BLE001 - one bad judge call must not end the run
        return {"error": f"{type(error).__name__}: {error}"}
    return {key: verdict.get(key) for key in ("score", "grounded", "reason")}


def judge_unavailable(backend) -> str | None:
    """Why the judge cannot run with this backend, or None if it can."""
    if not backend.can_judge:
        return f"judge skipped: the {backend.name} backend has no LLM judge (use --backend openai)"
    return None


def _rate(values: list[bool]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def summarise_drafts(scores: list[DraftScore], judge_note: str | None = None) -> dict:
    judged = [s.judge for s in scores if s.judge and isinstance(s.judge.get("score"), int | float)]
    return {
        "n": len(scores),
        "grounding_pass_rate": _rate([s.grounded for s in scores]),
        "citation_validity": _rate([s.citations_valid for s in scores]),
        "must_not_contain_pass_rate": _rate(
            [not s.forbidden_found for s in scores if s.checked_forbidden]
        ),
        "must_ask_for_pass_rate": _rate([not s.missing_asks for s in scores if s.checked_asks]),
        "judge": {
            "n": len(judged),
            "mean_score": round(mean(j["score"] for j in judged), 3) if judged else None,
            "grounded_rate": _rate([bool(j.get("grounded")) for j in judged]),
            "errors": sum(1 for s in scores if s.judge and "error" in s.judge),
            "note": judge_note,
        },
    }

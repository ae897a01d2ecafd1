"""The LLM-assisted backends: `openai` (every inquiry to the LLM) and `cascade` (local
first, the LLM only when local triage is unsure or the mail is not in English).

Both answer with the same pydantic models as the local backend. Whatever the LLM fails
to do — server error, timeout, refusal, invalid JSON after one repair, an ungrounded
draft after one repair — falls back to the local backend for that inquiry, with the
reason recorded; a batch never dies on one bad call.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Literal, TypeVar

from pydantic import BaseModel

from assistant.backends import Progress
from assistant.backends.local import LocalBackend
from assistant.draft.grounding import check_grounding
from assistant.draft.translation_check import compare_translation
from assistant.facts import extract_facts
from assistant.llm.client import make_client
from assistant.llm.prompts import system_message, task_message
from assistant.llm.structured import CapabilityMemory, LlmFailure, StructuredCaller
from assistant.mailtext import latest_message
from assistant.models import (
    Category,
    CategoryGuess,
    Draft,
    GroundingReport,
    InquiryIn,
    LlmCall,
    Triage,
    Urgency,
    inquiry_key,
)
from assistant.policy import Policy, default_policy
from assistant.settings import Settings
from assistant.triage import confidence_level
from assistant.triage.sla import due_times

log = logging.getLogger(__name__)

LANGUAGE_NAMES = {
    "en": "English",
    "es": "Spanish",
    "fr": "French",
    "de": "German",
    "it": "Italian",
    "pt": "Portuguese",
    "nl": "Dutch",
}
MAX_INQUIRY_CHARS = 12_000  # a huge email is cut, not sent whole: cost and context limits
T = TypeVar("T")


class TriageAnswer(BaseModel):
    reason: str
    category: Literal[
        "product_info",
        "order_status",
        "returns_refunds",
        "account",
        "technical",
        "feedback",
        "other",
    ]
    urgency: Literal["urgent", "normal"]
    escalation: bool
    language: str
    confidence: float


class DraftAnswer(BaseModel):
    body: str
    citations: list[str]
    language: str  # what the model says it wrote in: English, translated afterwards


class TranslationAnswer(BaseModel):
    text: str


class JudgeAnswer(BaseModel):
    reason: str
    score: int
    grounded: bool


def _draft_findings(answer: DraftAnswer, policy: Policy) -> list[str]:
    """What keeps an English draft from being used: the grounding check's findings, and a
    reply the model says is not in English (the customer's language comes by translation,
    which is checked by translating back)."""
    report = check_grounding(answer.body, answer.citations, policy)
    findings = [f"{f.kind}: {f.message} ({f.excerpt})" for f in report.findings]
    declared = answer.language.strip().lower()
    if not (declared.startswith("en") or declared == "english"):
        findings.append(
            f'language: write the reply in English and say so with "en" (you said '
            f"{answer.language[:20]!r}); it is translated for the customer afterwards"
        )
    return findings


class LlmBackend:
    """Triage, drafts and translations by an OpenAI-compatible Chat Completions server."""

    name = "openai"

    def __init__(self, settings: Settings, local: LocalBackend | None = None):
        self.settings = settings
        self.local = local or LocalBackend(settings)
        self.memory = CapabilityMemory(settings.llm_capabilities_file)
        self.model = settings.openai_model
        self._calls: list[LlmCall] = []
        self.last_timing: dict[str, float] = {}  # seconds spent in local triage and LLM calls

    # -- bookkeeping -------------------------------------------------------------------

    def drain_calls(self) -> list[LlmCall]:
        """The calls made since the last drain, for storage with the batch."""
        calls, self._calls = self._calls, []
        return calls

    def _run(self, work: Callable[[StructuredCaller], Awaitable[T]]) -> T:
        """Run async work on a fresh loop with a fresh client (connections belong to a loop)."""

        async def main() -> T:
            async with make_client(self.settings) as client:
                return await work(StructuredCaller(client, self.settings, self.memory, self._calls))

        return asyncio.run(main())

    async def _bounded(
        self,
        items: list,
        one: Callable[..., Awaitable[T]],
        fallback: Callable[[tuple, Exception], T],
        on_done: Progress | None = None,
    ) -> list[T]:
        """Run `one(*item)` for every item, at most `openai_concurrency` at a time. An
        unexpected error in one item gives that item its `fallback`, never the batch."""
        limit = asyncio.Semaphore(max(1, self.settings.openai_concurrency))

        async def guarded(item) -> T:
            async with limit:
                try:
                    return await one(*item)
                except Exception as error:  # noqa: BLE001 - LlmFailure is handled inside `one`
                    log.exception("LLM work failed unexpectedly; local fallback")
                    return fallback(item, error)
                finally:
                    if on_done:
                        on_done(1)

        return list(await asyncio.gather(*(guarded(item) for item in items)))

    async def _ask(
        self,
        caller: StructuredCaller,
        answer,
        purpose: str,
        key: str,
        policy: Policy,
        template: str,
        **values,
    ):
        messages = [system_message(policy, self.settings), task_message(template, **values)]
        short = answer in (TriageAnswer, JudgeAnswer)
        outcome = await caller.ask(
            messages,
            answer,
            purpose=purpose,
            inquiry_key=key,
            render_task=lambda schema: task_message(template, schema, **values),
            max_tokens=self.settings.openai_max_tokens_triage
            if short
            else self.settings.openai_max_tokens,
        )
        return outcome.value

    # -- triage ------------------------------------------------------------------------

    def triage_many(
        self, inquiries: list[InquiryIn], on_done: Progress | None = None
    ) -> list[Triage]:
        started = time.perf_counter()
        local = self.local.triage_many(inquiries)
        chosen = [i for i, t in enumerate(local) if self.wants_llm_triage(t)]
        self.last_timing = {"local_s": time.perf_counter() - started, "llm_s": 0.0}
        if on_done and len(local) > len(chosen):
            on_done(len(local) - len(chosen))  # what local triage settled
        if not chosen:
            return local

        async def work(caller: StructuredCaller) -> list[Triage]:
            items = [(caller, inquiries[i], local[i]) for i in chosen]
            return await self._bounded(items, self._triage_one, self._triage_fallback, on_done)

        llm_started = time.perf_counter()
        for index, triage in zip(chosen, self._run(work)):
            local[index] = triage
        self.last_timing["llm_s"] = time.perf_counter() - llm_started
        return local

    def _triage_fallback(self, item: tuple, error: Exception) -> Triage:
        _, _, local = item
        return local.model_copy(
            update={"fallback_reason": f"LLM triage failed, local triage kept: {_describe(error)}"}
        )

    def _draft_fallback(self, item: tuple, error: Exception) -> Draft:
        _, inquiry, triage, policy = item
        return self._fallback(inquiry, triage, policy, f"LLM draft failed: {_describe(error)}")

    def wants_llm_triage(self, local: Triage) -> bool:
        return True

    async def _triage_one(
        self, caller: StructuredCaller, inquiry: InquiryIn, local: Triage
    ) -> Triage:
        key = inquiry_key(inquiry)
        before = len(self._calls)
        body = latest_message(inquiry.body)[:MAX_INQUIRY_CHARS]
        english = None
        if local.needs_translation and local.language in LANGUAGE_NAMES:
            try:  # the agent sees it beside the original, and triage reads both (§6)
                english = await self.translate_async(
                    caller, f"{inquiry.subject}\n\n{body}", local.language, "en", key
                )
            except LlmFailure as failure:
                english = None
                local = local.model_copy(
                    update={
                        "reasons": [
                            *local.reasons,
                            f"no English translation for the agent: {failure.reason}",
                        ]
                    }
                )
        try:
            answer = await self._ask(
                caller,
                TriageAnswer,
                "triage",
                key,
                default_policy(),
                "triage.j2",
                subject=inquiry.subject[:500],
                body=body,
                english=english,
            )
        except LlmFailure as failure:
            return local.model_copy(
                update={
                    "fallback_reason": f"LLM triage failed, local triage kept: {failure.reason}",
                    "latency_ms": self._latency(key, before),
                    "english_text": english,
                }
            )
        merged = self._merge(inquiry, local, answer, self._latency(key, before))
        return merged.model_copy(update={"english_text": english})

    def _latency(self, key: str, since: int) -> float:
        """Time spent on this inquiry's calls (others run concurrently in the same log)."""
        return round(sum(c.latency_ms for c in self._calls[since:] if c.inquiry_key == key), 1)

    def _merge(
        self, inquiry: InquiryIn, local: Triage, answer: TriageAnswer, latency: float
    ) -> Triage:
        """The LLM decides the category; the §3 urgency rules and §4 escalation can only add."""
        confidence = min(1.0, max(0.0, answer.confidence))
        category = Category(answer.category)
        urgent = answer.urgency == "urgent" or local.urgency is Urgency.urgent
        urgency = Urgency.urgent if urgent else Urgency.normal
        reasons = [
            f"category {category.value}: {self.name} {self.model} ({confidence:.2f}): {answer.reason[:300]}"
        ]
        reasons += [
            r for r in local.reasons if not r.startswith(("category ", "due:", "needs manual"))
        ]
        if answer.urgency == "urgent" and local.urgency is not Urgency.urgent:
            reasons.append("urgent: the LLM judged it urgent (§3)")
        update: dict = {
            "category": category,
            "confidence": round(confidence, 4),
            "confidence_level": confidence_level(confidence, self.settings),
            "top_guesses": [
                CategoryGuess(category=category, confidence=confidence),
                *local.top_guesses[:1],
            ],
            "needs_manual_triage": confidence < self.settings.abstain_below,
            "urgency": urgency,
            "escalation": local.escalation or answer.escalation,
            "escalation_reason": local.escalation_reason
            or ("the LLM saw an escalation request" if answer.escalation else None),
            "backend": self.name,
            "model": self.model,
            "latency_ms": latency,
        }
        if urgency is not local.urgency:
            received = inquiry.received_at or datetime.now(UTC)
            due = due_times(received, urgency, self.settings)
            update.update(due_at=due.due_at, due_latest_at=due.due_latest_at)
            reasons.append(f"due: {due.reason}")
        else:
            reasons += [r for r in local.reasons if r.startswith("due:")]
        update["reasons"] = reasons
        return local.model_copy(update=update)

    # -- drafts ------------------------------------------------------------------------

    def draft(self, inquiry: InquiryIn, triage: Triage, policy: Policy) -> Draft:
        return self.draft_many([(inquiry, triage)], policy)[0]

    def draft_many(
        self,
        items: list[tuple[InquiryIn, Triage]],
        policy: Policy,
        on_done: Progress | None = None,
    ) -> list[Draft]:
        drafts: list[Draft | None] = [None] * len(items)
        chosen = [i for i, (_, triage) in enumerate(items) if self.wants_llm_draft(triage)]
        by_llm = set(chosen)
        for index, (inquiry, triage) in enumerate(items):
            if index not in by_llm:
                drafts[index] = self.local.draft(inquiry, triage, policy)
        if on_done and len(items) > len(chosen):
            on_done(len(items) - len(chosen))
        if chosen:

            async def work(caller: StructuredCaller) -> list[Draft]:
                jobs = [(caller, *items[i], policy) for i in chosen]
                return await self._bounded(jobs, self._draft_one, self._draft_fallback, on_done)

            for index, made in zip(chosen, self._run(work)):
                drafts[index] = made
        return [d for d in drafts if d is not None]

    def wants_llm_draft(self, triage: Triage) -> bool:
        return True

    async def _draft_one(
        self, caller: StructuredCaller, inquiry: InquiryIn, triage: Triage, policy: Policy
    ) -> Draft:
        try:
            english, citations = await self._grounded_english(caller, inquiry, triage, policy)
        except LlmFailure as failure:
            return self._fallback(inquiry, triage, policy, f"LLM draft failed: {failure.reason}")
        draft = Draft(
            body=english,
            citations=citations,
            language="en",
            grounding=check_grounding(english, citations, policy),
            backend=self.name,
            model=self.model,
            policy_version=policy.version,
        )
        if not triage.needs_translation or triage.language not in LANGUAGE_NAMES:
            return draft
        try:
            return await self._translated(caller, inquiry, draft, triage.language)
        except LlmFailure as failure:
            return self._fallback(inquiry, triage, policy, f"translation failed: {failure.reason}")

    async def _grounded_english(
        self, caller, inquiry: InquiryIn, triage: Triage, policy: Policy
    ) -> tuple[str, list[str]]:
        """An English draft that passes the grounding check, with at most one repair."""
        facts = extract_facts(inquiry.text, inquiry.from_name)
        values = dict(
            subject=inquiry.subject[:500],
            body=latest_message(inquiry.body)[:MAX_INQUIRY_CHARS],
            category=triage.category.value,
            urgency=triage.urgency.value,
            escalation=triage.escalation,
            customer_name=facts.customer_name,
            order_numbers=facts.order_numbers,
            products=facts.products,
        )
        key = inquiry_key(inquiry)
        answer = await self._ask(
            caller, DraftAnswer, "draft", key, policy, "draft.j2", findings=[], **values
        )
        findings = _draft_findings(answer, policy)
        if not findings:
            return answer.body, answer.citations
        answer = await self._ask(
            caller,
            DraftAnswer,
            "draft_repair",
            key,
            policy,
            "draft.j2",
            findings=findings,
            **values,
        )
        findings = _draft_findings(answer, policy)
        if findings:
            raise LlmFailure(
                "draft not grounded after one repair: "
                + "; ".join(finding.split(":", 1)[0] for finding in findings)
            )
        return answer.body, answer.citations

    async def _translated(self, caller, inquiry: InquiryIn, english: Draft, language: str) -> Draft:
        """The reply in the customer's language, checked by translating it back."""
        target = english.model_copy()
        key = inquiry_key(inquiry)
        translated = await self.translate_async(caller, english.body, "en", language, key)
        back = await self.translate_async(
            caller, translated, language, "en", key, purpose="back_translate"
        )
        check = compare_translation(english.body, back)
        findings = list(english.grounding.findings) + check.findings()
        target.body, target.english_body, target.language = translated, english.body, language
        target.grounding = GroundingReport(findings=findings)
        return target

    async def translate_async(
        self,
        caller,
        text: str,
        source: str,
        target: str,
        key: str | None,
        purpose: str = "translate",
    ) -> str:
        answer = await self._ask(
            caller,
            TranslationAnswer,
            purpose,
            key or "",
            default_policy(),
            "translate.j2",
            text=text[:MAX_INQUIRY_CHARS],
            source_language=LANGUAGE_NAMES.get(source, source),
            target_language=LANGUAGE_NAMES.get(target, target),
        )
        if not answer.text.strip():
            raise LlmFailure("empty translation")
        return answer.text

    def translate(self, text: str, source: str, target: str) -> str:
        """A one-off translation, e.g. after an agent edits the English draft."""
        return self._run(lambda caller: self.translate_async(caller, text, source, target, None))

    def judge(self, inquiry_text: str, draft_body: str, policy: Policy) -> dict:
        """LLM-as-judge for evals: a 1–5 score against the policy, with a reason."""

        async def work(caller: StructuredCaller) -> JudgeAnswer:
            return await self._ask(
                caller,
                JudgeAnswer,
                "judge",
                "",
                policy,
                "judge.j2",
                inquiry=inquiry_text[:MAX_INQUIRY_CHARS],
                draft=draft_body,
            )

        return self._run(work).model_dump()

    def _fallback(self, inquiry: InquiryIn, triage: Triage, policy: Policy, reason: str) -> Draft:
        draft = self.local.draft(inquiry, triage, policy)
        return draft.model_copy(update={"fallback_reason": reason})


class CascadeBackend(LlmBackend):
    """Local first; the LLM only where local triage is unsure or the mail is not English."""

    name = "cascade"

    def wants_llm_triage(self, local: Triage) -> bool:
        return (
            local.confidence < self.settings.cascade_threshold
            or local.needs_manual_triage
            or local.language != "en"
        )

    def wants_llm_draft(self, triage: Triage) -> bool:
        return triage.backend != "local" or triage.needs_translation


def _describe(error: Exception) -> str:
    return f"{type(error).__name__}: {' '.join(str(error).split())[:300]}"


def make_llm_backend(name: str, settings: Settings) -> LlmBackend:
    return CascadeBackend(settings) if name == "cascade" else LlmBackend(settings)

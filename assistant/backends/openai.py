"""The LLM-assisted backends: `openai` (every inquiry to the LLM) and `cascade` (local
first, the LLM only when local triage is unsure or the mail is not in English; in
`backends/cascade.py`).

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
from typing import TYPE_CHECKING, Literal, TypeVar

from pydantic import BaseModel

from assistant.backends import Progress
from assistant.backends.local import LocalBackend
from assistant.draft.checks.context import DraftContext, context_for
from assistant.draft.grounding import check_grounding, check_translation_copy
from assistant.draft.translation_check import compare_translation
from assistant.facts import extract_facts
from assistant.knowledge import Entry, knowledge_for, retrieve, uses
from assistant.llm.calibration import CalibrationMemory
from assistant.llm.client import current_concurrency, make_client
from assistant.llm.prompts import (
    draft_word_budget,
    normal_citations,
    prompt_canary,
    prompt_entries,
    system_message,
    task_message,
)
from assistant.llm.structured import CapabilityMemory, LlmFailure, StructuredCaller
from assistant.llm.translation_quality import load_artifacts, translation_problems
from assistant.mailtext import latest_message
from assistant.models import (
    Category,
    Draft,
    GroundingReport,
    InquiryIn,
    LlmCall,
    Triage,
    TriageOpinion,
    Urgency,
    inquiry_key,
)
from assistant.policy import Policy
from assistant.settings import Settings
from assistant.triage.combine import combine

if TYPE_CHECKING:
    from assistant.backends.cascade import CascadeBackend

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
    # The sentence of the mail that makes it urgent under §3, copied exactly ("" if normal):
    # an "urgent" without one that occurs in the mail is not taken (`triage.combine`).
    urgent_because: str
    escalation: bool
    language: str
    confidence: float


class DraftAnswer(BaseModel):
    body: str
    citations: list[str]
    language: str  # what the model says it wrote in: English, translated afterwards
    # The reply tells the customer a senior representative has the case (§4).
    promises_escalation: bool = False


class TranslationAnswer(BaseModel):
    text: str


class JudgeAnswer(BaseModel):
    reason: str
    score: int
    grounded: bool


def _draft_findings(
    answer: DraftAnswer, policy: Policy, context: DraftContext, retrieved: list[Entry]
) -> list[str]:
    """What keeps an English draft from being used: the grounding check's findings (the
    reply's language among them, detected), and a reply the model says is not in English
    (the customer's language comes by translation, which is checked by translating back)."""
    report = check_grounding(answer.body, answer.citations, policy, context, "en", retrieved)
    findings = [f"{f.kind}: {f.message} ({f.excerpt})" for f in report.findings]
    declared = answer.language.strip().lower()
    if not (declared.startswith("en") or declared == "english"):
        findings.append(
            f'language: write the reply in English and say so with "en" (you said '
            f"{answer.language[:20]!r}); it is translated for the customer afterwards"
        )
    return findings


def _what_it_tried(finding: str) -> str:
    """'link: a link … (crocso-verify.com)' → 'link "crocso-verify.com"', for the agent."""
    kind, _, rest = finding.partition(":")
    excerpt = rest.rsplit("(", 1)[-1].rstrip(")") if rest.rstrip().endswith(")") else ""
    return f'{kind} "{excerpt[:60]}"' if excerpt else kind


class LlmBackend:
    """Triage, drafts and translations by an OpenAI-compatible Chat Completions server."""

    can_translate = True
    can_judge = True
    takes_instructions = True

    def __init__(
        self,
        settings: Settings,
        policy: Policy,
        local: LocalBackend | None = None,
        name: str = "openai",
    ):
        self.name = name  # what triages and drafts say answered them ("cascade" inside one)
        self.settings = settings
        self.policy = policy
        self.local = local or LocalBackend(settings, policy)
        self.memory = CapabilityMemory(settings.llm_capabilities_file)
        self.model = settings.openai_model
        # None until `assistant calibrate` measured this model: its answers then count as
        # low confidence and never override local triage.
        self.calibration = CalibrationMemory(settings.llm_calibration_file).get(self.model)
        load_artifacts()  # a broken translation_artifacts.toml stops here, not per call
        self._calls: list[LlmCall] = []
        self.last_timing: dict[str, float] = {}  # seconds spent in local triage and LLM calls

    # -- bookkeeping -------------------------------------------------------------------

    def drain_calls(self) -> list[LlmCall]:
        """The calls made since the last drain, for storage with the batch."""
        calls, self._calls = self._calls, []
        return calls

    @property
    def concurrency(self) -> int | None:
        """How many requests the server may get at once now (adaptive), for progress bars."""
        return current_concurrency(self.settings)

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
        template: str,
        **values,
    ):
        messages = [system_message(self.policy, self.settings), task_message(template, **values)]
        short = answer in (TriageAnswer, JudgeAnswer)
        cap = "openai_max_tokens_triage" if short else "openai_max_tokens"
        outcome = await caller.ask(
            messages,
            answer,
            purpose=purpose,
            inquiry_key=key,
            render_task=lambda schema: task_message(template, schema, **values),
            max_tokens=getattr(self.settings, cap),
            max_tokens_setting=cap,  # named when an answer is cut off at it
        )
        return outcome.value

    # -- triage ------------------------------------------------------------------------

    def triage_many(
        self, inquiries: list[InquiryIn], on_done: Progress | None = None
    ) -> list[Triage]:
        """Local triage, revised by the LLM for every inquiry."""
        started = time.perf_counter()
        local = self.local.triage_many(inquiries)
        self.last_timing = {"local_s": time.perf_counter() - started, "llm_s": 0.0}
        return self.revise(inquiries, local, on_done)

    def revise(
        self, inquiries: list[InquiryIn], local: list[Triage], on_done: Progress | None = None
    ) -> list[Triage]:
        """Ask the LLM about each inquiry and combine its answer with the local triage
        (`triage.combine`); a failed call keeps the local triage, with the reason."""
        if not inquiries:
            return []

        async def work(caller: StructuredCaller) -> list[Triage]:
            items = [(caller, inquiry, triage) for inquiry, triage in zip(inquiries, local)]
            return await self._bounded(items, self._triage_one, self._triage_fallback, on_done)

        started = time.perf_counter()
        revised = self._run(work)
        self.last_timing["llm_s"] = time.perf_counter() - started
        return revised

    def _triage_fallback(self, item: tuple, error: Exception) -> Triage:
        _, _, local = item
        return local.model_copy(
            update={"fallback_reason": f"LLM triage failed, local triage kept: {_describe(error)}"}
        )

    def _draft_fallback(self, item: tuple, error: Exception) -> Draft:
        inquiry, triage = item[1], item[2]
        return self._fallback(inquiry, triage, f"LLM draft failed: {_describe(error)}")

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
        opinion = TriageOpinion(
            category=Category(answer.category),
            urgency=Urgency(answer.urgency),
            escalation=answer.escalation,
            confidence=min(1.0, max(0.0, answer.confidence)),
            reason=answer.reason,
            backend=self.name,
            model=self.model,
            urgent_because=answer.urgent_because[:1000],
        )
        local = local.model_copy(update={"english_text": english})
        latency = self._latency(key, before)
        return combine(inquiry, local, opinion, self.settings, latency, self.calibration)

    def _latency(self, key: str, since: int) -> float:
        """Time spent on this inquiry's calls (others run concurrently in the same log)."""
        return round(sum(c.latency_ms for c in self._calls[since:] if c.inquiry_key == key), 1)

    # -- drafts ------------------------------------------------------------------------

    def draft(self, inquiry: InquiryIn, triage: Triage, instruction: str | None = None) -> Draft:
        return self.draft_many([(inquiry, triage)], instruction=instruction)[0]

    def draft_many(
        self,
        items: list[tuple[InquiryIn, Triage]],
        on_done: Progress | None = None,
        instruction: str | None = None,
    ) -> list[Draft]:
        """A draft by the LLM for every item, concurrently; a failed one is the local
        template's, with the reason. `instruction`: the reviewing agent's ("shorter")."""
        if not items:
            return []

        async def work(caller: StructuredCaller) -> list[Draft]:
            jobs = [(caller, inquiry, triage, instruction) for inquiry, triage in items]
            return await self._bounded(jobs, self._draft_one, self._draft_fallback, on_done)

        return self._run(work)

    async def _draft_one(
        self,
        caller: StructuredCaller,
        inquiry: InquiryIn,
        triage: Triage,
        instruction: str | None = None,
    ) -> Draft:
        context = self._check_context(inquiry, triage)
        knowledge = knowledge_for(self.settings)
        matches = retrieve(
            knowledge,
            inquiry,
            triage,
            min_score=self.settings.knowledge_min_score,
            limit=self.settings.knowledge_max_entries,
        )
        retrieved = [m.entry for m in matches]
        try:
            answer = await self._grounded_english(
                caller, inquiry, triage, context, retrieved, instruction
            )
        except LlmFailure as failure:
            return self._fallback(inquiry, triage, f"LLM draft failed: {failure.reason}")
        draft = Draft(
            body=answer.body,
            citations=answer.citations,
            language="en",
            grounding=check_grounding(
                answer.body, answer.citations, self.policy, context, "en", retrieved
            ),
            backend=self.name,
            model=self.model,
            policy_version=self.policy.version,
            promises_escalation=answer.promises_escalation,
            knowledge=uses(matches, set(answer.citations)),
            knowledge_version=knowledge.version,
        )
        if not triage.needs_translation or triage.language not in LANGUAGE_NAMES:
            return draft
        try:
            return await self._translated(
                caller, inquiry, draft, triage.language, context, retrieved
            )
        except LlmFailure as failure:
            return self._fallback(inquiry, triage, f"translation failed: {failure.reason}")

    def _check_context(self, inquiry: InquiryIn, triage: Triage) -> DraftContext:
        canary = prompt_canary(self.policy, self.settings.support_name)
        return context_for(inquiry, triage, self.policy.support_address, canary)

    async def _grounded_english(
        self,
        caller,
        inquiry: InquiryIn,
        triage: Triage,
        context: DraftContext,
        retrieved: list[Entry],
        instruction: str | None = None,
    ) -> DraftAnswer:
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
            instruction=" ".join((instruction or "").split())[:500],
            word_budget=draft_word_budget(self.settings),
        )
        knowledge = prompt_entries(retrieved, facts)
        key = inquiry_key(inquiry)
        known = {entry.id for entry in retrieved}
        answer = await self._ask(
            caller,
            DraftAnswer,
            "draft",
            key,
            "draft.j2",
            findings=[],
            knowledge=knowledge,
            **values,
        )
        answer.citations = normal_citations(answer.citations, known)
        findings = _draft_findings(answer, self.policy, context, retrieved)
        if not findings:
            return answer
        answer = await self._ask(
            caller,
            DraftAnswer,
            "draft_repair",
            key,
            "draft.j2",
            findings=findings,
            knowledge=knowledge,
            **values,
        )
        answer.citations = normal_citations(answer.citations, known)
        findings = _draft_findings(answer, self.policy, context, retrieved)
        if findings:
            raise LlmFailure(
                "draft not grounded after one repair; the model wrote "
                + "; ".join(_what_it_tried(finding) for finding in findings[:6])
            )
        return answer

    async def _translated(
        self,
        caller,
        inquiry: InquiryIn,
        english: Draft,
        language: str,
        context: DraftContext,
        retrieved: list[Entry],
    ) -> Draft:
        """The reply in the customer's language, checked by translating it back."""
        target = english.model_copy()
        key = inquiry_key(inquiry)
        translated = await self.translate_async(caller, english.body, "en", language, key)
        back = await self.translate_async(
            caller, translated, language, "en", key, purpose="back_translate"
        )
        check = compare_translation(english.body, back)
        findings = list(english.grounding.findings) + check.findings()
        findings += check_translation_copy(
            translated, language, self.policy, context, english.citations, retrieved
        )
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
            "translate.j2",
            text=text[:MAX_INQUIRY_CHARS],
            source_language=LANGUAGE_NAMES.get(source, source),
            target_language=LANGUAGE_NAMES.get(target, target),
        )
        if not answer.text.strip():
            raise LlmFailure("empty translation")
        problems = translation_problems(text[:MAX_INQUIRY_CHARS], answer.text, target)
        if problems:
            raise LlmFailure("translation rejected: " + "; ".join(problems))
        return answer.text

    def translate(self, text: str, source: str, target: str) -> str:
        """A one-off translation, e.g. after an agent edits the English draft."""
        return self._run(lambda caller: self.translate_async(caller, text, source, target, None))

    def judge(self, inquiry_text: str, draft_body: str) -> dict:
        """LLM-as-judge for evals: a 1–5 score against the policy, with a reason."""

        async def work(caller: StructuredCaller) -> JudgeAnswer:
            return await self._ask(
                caller,
                JudgeAnswer,
                "judge",
                "",
                "judge.j2",
                inquiry=inquiry_text[:MAX_INQUIRY_CHARS],
                draft=draft_body,
            )

        return self._run(work).model_dump()

    def _fallback(self, inquiry: InquiryIn, triage: Triage, reason: str) -> Draft:
        draft = self.local.draft(inquiry, triage)
        return draft.model_copy(update={"fallback_reason": reason})


def _describe(error: Exception) -> str:
    return f"{type(error).__name__}: {' '.join(str(error).split())[:300]}"


def make_llm_backend(name: str, settings: Settings, policy: Policy) -> LlmBackend | CascadeBackend:
    from assistant.backends.cascade import CascadeBackend

    local = LocalBackend(settings, policy)
    if name == "cascade":
        llm = LlmBackend(settings, policy, local, name="cascade")
        return CascadeBackend(local, llm, settings.cascade_threshold)
    return LlmBackend(settings, policy, local)

"""The `cascade` backend: local triage first, the LLM only where local triage is unsure or
the mail is not in English, and the LLM's drafts for what it was asked about."""

from __future__ import annotations

from assistant.backends import Progress
from assistant.backends.local import LocalBackend
from assistant.backends.openai import LlmBackend
from assistant.models import Draft, InquiryIn, LlmCall, Triage


class CascadeBackend:
    """Local first; the LLM only where local triage is unsure or the mail is not English.
    A composition: the local backend answers what it is sure of, the LLM backend the rest."""

    name = "cascade"
    can_translate = True
    can_judge = True
    takes_instructions = True

    def __init__(self, local: LocalBackend, llm: LlmBackend, threshold: float):
        self.local, self.llm, self.threshold = local, llm, threshold
        self.policy = local.policy

    def wants_llm_triage(self, local: Triage) -> bool:
        return (
            local.confidence < self.threshold or local.needs_manual_triage or local.language != "en"
        )

    def wants_llm_draft(self, triage: Triage) -> bool:
        return triage.backend != "local" or triage.needs_translation

    def triage_many(
        self, inquiries: list[InquiryIn], on_done: Progress | None = None
    ) -> list[Triage]:
        local = self.local.triage_many(inquiries)
        chosen = [i for i, triage in enumerate(local) if self.wants_llm_triage(triage)]
        if on_done and len(local) > len(chosen):
            on_done(len(local) - len(chosen))  # what local triage settled
        revised = self.llm.revise(
            [inquiries[i] for i in chosen], [local[i] for i in chosen], on_done
        )
        for index, triage in zip(chosen, revised):
            local[index] = triage
        return local

    def draft_many(
        self, items: list[tuple[InquiryIn, Triage]], on_done: Progress | None = None
    ) -> list[Draft]:
        chosen = [i for i, (_, triage) in enumerate(items) if self.wants_llm_draft(triage)]
        by_llm = dict(zip(chosen, self.llm.draft_many([items[i] for i in chosen], on_done)))
        others = [i for i in range(len(items)) if i not in by_llm]
        by_local = dict(zip(others, self.local.draft_many([items[i] for i in others], on_done)))
        return [by_llm[i] if i in by_llm else by_local[i] for i in range(len(items))]

    def draft(self, inquiry: InquiryIn, triage: Triage, instruction: str | None = None) -> Draft:
        if instruction and instruction.strip():  # the agent asked for a rewrite: the LLM writes
            return self.llm.draft(inquiry, triage, instruction)
        return self.draft_many([(inquiry, triage)])[0]

    def translate(self, text: str, source: str, target: str) -> str:
        return self.llm.translate(text, source, target)

    def judge(self, inquiry_text: str, draft_body: str) -> dict:
        return self.llm.judge(inquiry_text, draft_body)

    def drain_calls(self) -> list[LlmCall]:
        return self.llm.drain_calls()

    @property
    def concurrency(self) -> int | None:
        return self.llm.concurrency

    @property
    def calibration(self):
        """The LLM's calibration (None: uncalibrated, so it never overrides local triage)."""
        return self.llm.calibration

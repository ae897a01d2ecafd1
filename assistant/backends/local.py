"""The embedded default: offline, free, deterministic, instant."""

from __future__ import annotations

from assistant.backends import NotSupported, Progress
from assistant.draft.local import draft_local
from assistant.models import Draft, InquiryIn, LlmCall, Triage
from assistant.policy import Policy
from assistant.settings import Settings
from assistant.triage import triage_many


class LocalBackend:
    name = "local"
    can_translate = False
    can_judge = False
    takes_instructions = False

    def __init__(self, settings: Settings, policy: Policy):
        self.settings = settings
        self.policy = policy

    def triage_many(
        self, inquiries: list[InquiryIn], on_done: Progress | None = None
    ) -> list[Triage]:
        triages = triage_many(inquiries, self.settings)
        if on_done:
            on_done(len(triages))
        return triages

    def draft(self, inquiry: InquiryIn, triage: Triage, instruction: str | None = None) -> Draft:
        return draft_local(inquiry, triage, self.policy, self.settings)

    def draft_many(
        self, items: list[tuple[InquiryIn, Triage]], on_done: Progress | None = None
    ) -> list[Draft]:
        drafts = []
        for inquiry, triage in items:
            drafts.append(self.draft(inquiry, triage))
            if on_done:
                on_done(1)
        return drafts

    def translate(self, text: str, source: str, target: str) -> str:
        raise NotSupported(
            "the local backend cannot translate: set ASSISTANT_BACKEND=openai or cascade "
            "with an OpenAI-compatible server, or write the customer-language text yourself"
        )

    def judge(self, inquiry_text: str, draft_body: str) -> dict:
        raise NotSupported("the judge needs an LLM: use --backend openai")

    def drain_calls(self) -> list[LlmCall]:
        return []

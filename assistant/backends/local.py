"""The embedded default: offline, free, deterministic, instant."""

from __future__ import annotations

from assistant.backends import Progress
from assistant.draft.local import draft_local
from assistant.models import Draft, InquiryIn, Triage
from assistant.policy import Policy
from assistant.settings import Settings
from assistant.triage import triage_many


class LocalBackend:
    name = "local"

    def __init__(self, settings: Settings):
        self.settings = settings

    def triage_many(
        self, inquiries: list[InquiryIn], on_done: Progress | None = None
    ) -> list[Triage]:
        triages = triage_many(inquiries, self.settings)
        if on_done:
            on_done(len(triages))
        return triages

    def draft(self, inquiry: InquiryIn, triage: Triage, policy: Policy) -> Draft:
        return draft_local(inquiry, triage, policy, self.settings)

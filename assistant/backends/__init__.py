"""One interface, several backends, chosen by settings: `local` (embedded default), `openai`
(any OpenAI-compatible server) and `cascade` (local first, the LLM when unsure).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from assistant.models import Draft, InquiryIn, Triage
from assistant.policy import Policy
from assistant.settings import Settings

# Called with how many more inquiries a step (triage, or draft) has finished, as they finish.
Progress = Callable[[int], None]


class Backend(Protocol):
    name: str

    def triage_many(
        self, inquiries: list[InquiryIn], on_done: Progress | None = None
    ) -> list[Triage]: ...

    def draft(self, inquiry: InquiryIn, triage: Triage, policy: Policy) -> Draft: ...


class UnknownBackend(ValueError):
    pass


def get_backend(name: str, settings: Settings) -> Backend:
    if name == "local":
        from assistant.backends.local import LocalBackend

        return LocalBackend(settings)
    if name in ("openai", "cascade"):
        try:
            from assistant.backends.openai import make_llm_backend
        except ImportError as error:
            raise UnknownBackend(f"backend {name!r} is not available: {error}") from error
        return make_llm_backend(name, settings)
    raise UnknownBackend(f"unknown backend {name!r}: choose local, openai or cascade")

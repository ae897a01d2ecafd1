"""One interface, several backends, chosen by settings: `local` (embedded default), `openai`
(any OpenAI-compatible server) and `cascade` (local first, the LLM when unsure).

Every caller (pipeline, review, evals) uses only what `Backend` declares; what a backend
cannot do is said by its capability flags, never found out by probing for methods.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from assistant.models import Draft, InquiryIn, LlmCall, Triage
from assistant.policy import Policy
from assistant.settings import Settings

# Called with how many more inquiries a step (triage, or draft) has finished, as they finish.
Progress = Callable[[int], None]


class NotSupported(RuntimeError):
    """A capability this backend does not have (its flag says so); the message says what
    to configure instead."""


class Backend(Protocol):
    name: str
    policy: Policy  # the one policy every draft of this backend is grounded in
    can_translate: bool  # translate() works (policy §6: replies in the customer's language)
    can_judge: bool  # judge() works (LLM-as-judge in evals)
    # draft(..., instruction=) is followed ("shorter", "mention the exchange"): an LLM can,
    # the local templates cannot (they ignore it).
    takes_instructions: bool

    def triage_many(
        self, inquiries: list[InquiryIn], on_done: Progress | None = None
    ) -> list[Triage]: ...

    def draft_many(
        self, items: list[tuple[InquiryIn, Triage]], on_done: Progress | None = None
    ) -> list[Draft]: ...

    def draft(
        self, inquiry: InquiryIn, triage: Triage, instruction: str | None = None
    ) -> Draft: ...

    def translate(self, text: str, source: str, target: str) -> str: ...

    def judge(self, inquiry_text: str, draft_body: str) -> dict: ...

    def drain_calls(self) -> list[LlmCall]:
        """The LLM calls made since the last drain (tokens, cost), for storage."""
        ...


class UnknownBackend(ValueError):
    pass


def get_backend(name: str, settings: Settings, policy: Policy) -> Backend:
    if name == "local":
        from assistant.backends.local import LocalBackend

        return LocalBackend(settings, policy)
    if name in ("openai", "cascade"):
        try:
            from assistant.backends.openai import make_llm_backend
        except ImportError as error:
            raise UnknownBackend(f"backend {name!r} is not available: {error}") from error
        return make_llm_backend(name, settings, policy)
    raise UnknownBackend(f"unknown backend {name!r}: choose local, openai or cascade")

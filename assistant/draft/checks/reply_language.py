"""Is the reply in the language it must be in — detected, never taken from the model?

The English draft an agent reviews must be English, and the text the customer receives
must be in the customer's language. A model told "answer in German" says "en" and is
not believed: each paragraph long enough to judge is detected on its own, so a German
paragraph under an English reply is found too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import lru_cache

from assistant.draft.checks.context import finding
from assistant.models import GroundingFinding

NAMES = {
    "en": "English",
    "fr": "French",
    "es": "Spanish",
    "de": "German",
    "pt": "Portuguese",
    "it": "Italian",
    "nl": "Dutch",
}
_PARAGRAPH = 60  # characters: shorter ones (greetings, sign-offs) are not judged alone


@lru_cache(maxsize=4096)  # template paragraphs recur in every draft
def _language(text: str) -> str | None:
    # Imported here: the triage package loads its rule tables, which an approval, say,
    # never needs.
    from assistant.triage.language import FIRM_METHODS, detect_language

    guess = detect_language(text)
    if guess.method in FIRM_METHODS and guess.confidence >= 0.6:
        return guess.language
    return None


def find_wrong_language(
    body: str, expected: str, what: str, quoted: Callable[[str], bool] = lambda _: False
) -> Iterator[GroundingFinding]:
    """`what`: "the English draft" or "the customer's text", for the message. Paragraphs
    `quoted` as written (a cited knowledge-base answer, in English, under a sentence in the
    customer's language that says so) are not judged."""
    kept = [p.strip() for p in body.split("\n\n") if p.strip() and not quoted(p.strip())]
    body = "\n\n".join(kept)
    paragraphs = [p for p in kept if len(p) >= _PARAGRAPH]
    whole = _language(body) if len(body.strip()) >= 40 else None
    if whole and whole != expected:
        yield finding(
            "language",
            body.strip()[:80],
            f"{what} is in {NAMES.get(whole, whole)}, not {NAMES.get(expected, expected)}",
        )
        return
    for paragraph in paragraphs if len(paragraphs) > 1 else ():
        found = _language(paragraph)
        if found and found != expected:
            yield finding(
                "language",
                paragraph[:80],
                f"a paragraph of {what} is in {NAMES.get(found, found)}, not "
                f"{NAMES.get(expected, expected)}",
            )

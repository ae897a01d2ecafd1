"""Rendering the prompts in `prompts/*.j2`.

The system message (instructions + policy) is the same bytes for every request against
one policy, so providers' prompt caching applies; the inquiry always comes last, inside
<inquiry> tags that the email itself cannot close. Card numbers, IBANs and passwords in
the mail reach no server: every untrusted value is redacted here (`redaction`).
"""

from __future__ import annotations

import hashlib
import json
import logging
from functools import lru_cache

from assistant.knowledge import Entry, knowledge_for
from assistant.llm.redaction import Redactor
from assistant.models import InquiryFacts
from assistant.policy import Policy
from assistant.resources import jinja_env
from assistant.settings import Settings

log = logging.getLogger(__name__)
_BRACKETS = str.maketrans({"<": "‹", ">": "›", "＜": "‹", "＞": "›"})


def neutralise(untrusted: str) -> str:
    """Email text cannot open or close our delimiters, however it spells them: every angle
    bracket in it (ASCII or full-width) becomes a single guillemet, `</inquiry>` → `‹/inquiry›`."""
    return untrusted.translate(_BRACKETS)


def prompt_canary(policy: Policy, support_name: str) -> str:
    """A marker only the system prompt holds: a draft that contains it is the model
    repeating its instructions (the draft checks look for it). Stable for one policy and
    team name, so the system prompt stays a byte-identical, cacheable prefix."""
    digest = hashlib.sha256(f"canary|{policy.version}|{support_name}".encode()).hexdigest()
    return f"CRX-{digest[:10]}"


# What the retrieved entries may add to a draft prompt: a few hundred tokens, whatever
# the size of the knowledge base (bench/llm_bench.py measures it against no entries).
ENTRY_PROMPT_CHARS = 1000
ENTRIES_PROMPT_CHARS = 1800


def prompt_entries(retrieved: list[Entry], facts: InquiryFacts) -> list[dict]:
    """The retrieved entries as the draft prompt shows them, slots filled, within budget."""
    order_number = facts.order_numbers[0] if facts.order_numbers else None
    product = facts.products[0] if facts.products else None
    shown, room = [], ENTRIES_PROMPT_CHARS
    for entry in retrieved:
        text = entry.render(order_number, product)
        text = _cut(text, min(ENTRY_PROMPT_CHARS, room))
        if not text:
            break
        shown.append({"id": entry.id, "title": entry.title, "kind": entry.kind.value, "text": text})
        room -= len(text)
    return shown


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    if limit < 200:
        return ""
    return text[:limit].rsplit(" ", 1)[0] + " …"


def normal_citations(citations: list[str], entry_ids: set[str]) -> list[str]:
    """An entry cited as "[kb:sizing]" or "KB sizing" is the entry `sizing`; the rest as given."""
    normal = []
    for citation in citations:
        bare = citation.strip().strip("[]").strip()
        for prefix in ("kb:", "kb ", "entry "):
            if bare.lower().startswith(prefix):
                bare = bare[len(prefix) :].strip()
        normal.append(bare if bare in entry_ids else citation)
    return list(dict.fromkeys(normal))


@lru_cache(maxsize=8)
def _system(policy: Policy, support_name: str, missing_documents: tuple[str, ...]) -> str:
    return (
        jinja_env("prompts")
        .get_template("system.j2")
        .render(
            support_name=support_name,
            support_address=policy.support_address,
            policy_title=policy.title,
            policy_version=policy.version,
            policy_text=policy.as_text(),
            missing_documents=list(missing_documents),
            canary=prompt_canary(policy, support_name),
        )
    )


def system_message(policy: Policy, settings: Settings) -> dict:
    """Instructions and policy: the same bytes for every request (the knowledge base's
    policy documents only take names off the list of documents the model lacks)."""
    titles = knowledge_for(settings).policy_titles
    missing = tuple(name for name in policy.missing_documents if name not in titles)
    return {"role": "system", "content": _system(policy, settings.support_name, missing)}


# A draft must fit the completion cap (ASSISTANT_OPENAI_MAX_TOKENS) or it is cut off and
# lost: English runs ~1.3 tokens a word, so 0.6 words a token leaves room for a model that
# overshoots what it is asked; the JSON around the body (keys, citations, language) takes
# the equivalent of some 40 words. Below 60 words no useful reply fits.
DRAFT_WORDS_PER_TOKEN = 0.6
DRAFT_JSON_OVERHEAD_WORDS = 40
DRAFT_MIN_WORDS = 60


def draft_word_budget(settings: Settings) -> int:
    """How many words the draft prompt allows the reply ("Keep the reply under N words")."""
    words = int(settings.openai_max_tokens * DRAFT_WORDS_PER_TOKEN) - DRAFT_JSON_OVERHEAD_WORDS
    return max(DRAFT_MIN_WORDS, words)


def task_message(template: str, schema: dict | None = None, **values) -> dict:
    """The per-request user message; `schema` is spelled out only when the server cannot enforce it.
    Every value is redacted (one numbering for the whole message) and neutralised."""
    redactor = Redactor()
    cleaned = {key: _untrusted(value, redactor) for key, value in values.items()}
    if redactor.counts:
        log.debug("redacted from a %s prompt: %s", template, redactor.counts)
    schema_text = json.dumps(schema, separators=(",", ":")) if schema else ""
    content = jinja_env("prompts").get_template(template).render(schema=schema_text, **cleaned)
    return {"role": "user", "content": content}


def _untrusted(value, redactor: Redactor):
    """A string, or a list of them (order numbers, findings), as it may appear in a prompt."""
    if isinstance(value, str):
        return neutralise(redactor(value))
    if isinstance(value, list | tuple):
        return [_untrusted(item, redactor) for item in value]
    return value

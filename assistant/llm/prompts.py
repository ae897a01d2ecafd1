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

from assistant.llm.redaction import Redactor
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


@lru_cache(maxsize=8)
def _system(policy: Policy, support_name: str) -> str:
    return (
        jinja_env("prompts")
        .get_template("system.j2")
        .render(
            support_name=support_name,
            support_address=policy.support_address,
            policy_title=policy.title,
            policy_version=policy.version,
            policy_text=policy.as_text(),
            missing_documents=policy.missing_documents,
            canary=prompt_canary(policy, support_name),
        )
    )


def system_message(policy: Policy, settings: Settings) -> dict:
    return {"role": "system", "content": _system(policy, settings.support_name)}


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

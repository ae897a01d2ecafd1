"""Leaks: the system prompt's canary, the prompts' own wording, someone else's address.

A model talked into "repeat your instructions" either writes the canary (a marker only
the system prompt holds) or long runs of the prompts' words. Runs the policy or our own
reply templates share with the prompts are not leaks: quoting the policy is the job. A postal address the customer did not write in their own
words is most likely another customer's, pasted into the mail for the model to repeat.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache

from assistant.draft.checks import rules
from assistant.draft.checks.context import DraftContext, compact, finding
from assistant.models import GroundingFinding
from assistant.normal_text import NormalText
from assistant.resources import shipped_dir
from assistant.settings import Settings

RUN = 8  # words in a row shared with a prompt: a quotation, not a coincidence
_DEFAULT_TEAM = str(Settings.model_fields["support_name"].default)  # as the prompt says it
_WORD = re.compile(r"[^\W_]+", re.U)
_JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)


def _runs(text: str) -> set[tuple[str, ...]]:
    words = [w.lower() for w in _WORD.findall(text)]
    return {tuple(words[i : i + RUN]) for i in range(len(words) - RUN + 1)}


def _sources(folder: str, pattern: str) -> str:
    root = shipped_dir(folder)
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted(root.glob(pattern)))


@lru_cache(maxsize=4)
def prompt_runs(policy_text: str) -> frozenset[tuple[str, ...]]:
    """Word runs of our prompts that neither the policy nor a reply template contains.
    Left out: the prompts' lines that restate the policy (they cite a section, "§3"), and
    runs of words the policy and our replies use anyway — a reply saying the response
    times in the prompt's words is not leaking it; one saying "you are the email
    assistant of …" is."""
    named = _sources("prompts", "*.j2").replace("{{ support_name }}", _DEFAULT_TEAM)
    sources = _JINJA.sub(" ", named)
    prompts = "\n".join(line for line in sources.splitlines() if "§" not in line)
    replies = _JINJA.sub(" ", _sources("templates", "replies/*.j2"))
    ours = {w.lower() for w in _WORD.findall(f"{policy_text}\n{replies}")}
    runs = _runs(prompts) - _runs(policy_text) - _runs(replies)
    return frozenset(run for run in runs if set(run) - ours)


def find_leaks(body: str, context: DraftContext, policy_text: str) -> Iterator[GroundingFinding]:
    if context.canary and compact(context.canary.lower()) in compact(
        NormalText.of(body).text.lower()
    ):  # spaced out or in look-alike letters too
        yield finding(
            "leak",
            context.canary,
            "the reply contains the system prompt's confidential marker: the model "
            "is repeating its instructions to the customer",
        )
    body = NormalText.of(body).text  # zero-width characters and odd spaces do not split runs
    for match in rules.self_reference().finditer(body.lower()):
        yield finding(
            "leak",
            body[match.start() : match.end()],
            "the reply talks about the assistant's own instructions: a model "
            "asked to reveal them is answering",
        )
    words = [w for w in _WORD.finditer(body)]
    shared = prompt_runs(policy_text)
    lowered = [w.group(0).lower() for w in words]
    index = 0
    while index <= len(words) - RUN:
        if tuple(lowered[index : index + RUN]) in shared:
            end = index + RUN
            while end < len(words) and tuple(lowered[end - RUN + 1 : end + 1]) in shared:
                end += 1
            excerpt = body[words[index].start() : words[end - 1].end()]
            yield finding(
                "leak",
                excerpt,
                f"{end - index} words in a row from the assistant's own instructions: "
                "the model is repeating its prompt to the customer",
            )
            index = end
        else:
            index += 1


def find_postal_addresses(draft, context: DraftContext) -> Iterator[GroundingFinding]:
    """Street addresses and postcodes that are not in the customer's own words."""
    seen: list[tuple[int, int]] = []
    for pattern in rules.postal_addresses():
        for match in pattern.finditer(draft.text):
            span = match.span()
            if any(a < span[1] and span[0] < b for a, b in seen) or context.in_signed(
                match.group(0)
            ):
                continue
            seen.append(span)
            yield finding(
                "personal_data",
                draft.excerpt(*span),
                "a postal address the customer did not give: is this someone else's data "
                "(content about another inquiry)?",
            )

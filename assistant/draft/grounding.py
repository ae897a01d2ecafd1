"""The grounding check every draft passes, whichever backend wrote it.

Citations must name sections that exist, and the text must hold nothing the policy does
not support: the deterministic checks of `assistant.draft.checks` (links, contacts,
codes, money, dates, commitments, language, addressee, leaks, off-task), template markup
left in the customer's text, an empty body. Findings block approval until the agent
edits the draft or overrides them with a reason.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from assistant.draft.checks import DraftContext, check_customer_copy, check_reply_text
from assistant.knowledge import Entry
from assistant.models import GroundingFinding, GroundingReport
from assistant.policy import Policy

_MARKUP = re.compile(
    r"\{\{|\}\}|\{%|%\}|\[§|§\s?\d+|\[(?:card number|iban|password)\b[^\]]*\]", re.I
)


def check_grounding(
    body: str,
    citations: list[str],
    policy: Policy,
    context: DraftContext | None = None,
    language: str = "en",
    retrieved: Sequence[Entry] = (),
) -> GroundingReport:
    """Every finding in a draft body and its citations. `context`: the inquiry it answers
    (without it, nothing the customer wrote can be echoed); `language`: the language the
    body must be in; `retrieved`: the knowledge-base entries retrieved for the inquiry,
    which the draft may cite (what a cited entry says, the draft may say)."""
    context, sources = _grounds(policy, context, citations, retrieved)
    findings = _citation_findings(citations, policy, retrieved)
    if not body.strip():
        findings.append(GroundingFinding(kind="empty", excerpt="", message="the draft is empty"))
        return GroundingReport(findings=findings)
    findings += _markup(body)
    findings += check_reply_text(body, context, sources, language)
    return GroundingReport(findings=findings)


def _rendered(entries: list[Entry], context: DraftContext) -> list[str]:
    """The entries as a local draft pastes them, the mail's order number and product in
    their slots: a pasted paragraph is then found whole in the sources."""
    from assistant.facts import extract_facts

    facts = extract_facts(f"{context.subject}\n{context.body}", context.from_name)
    order_number = facts.order_numbers[0] if facts.order_numbers else None
    product = facts.products[0] if facts.products else None
    return [entry.render(order_number, product) for entry in entries]


def _grounds(
    policy: Policy,
    context: DraftContext | None,
    citations: list[str],
    retrieved: Sequence[Entry],
) -> tuple[DraftContext, str]:
    """The context with the cited entries' text as a source, and all the draft may rest on."""
    context = context or DraftContext(support_address=policy.support_address)
    known = {entry.id: entry for entry in retrieved}
    entries = [known[c] for c in dict.fromkeys(citations) if c in known]
    if not entries:
        return context, policy.as_text()
    cited = "\n\n".join(
        f"{entry.plain_text}\n\n{pasted}"
        for entry, pasted in zip(entries, _rendered(entries, context))
    )
    return replace(context, sources=cited), f"{policy.as_text()}\n\n{cited}"


def _citation_findings(
    citations: list[str], policy: Policy, retrieved: Sequence[Entry]
) -> list[GroundingFinding]:
    known = {entry.id for entry in retrieved}
    found = []
    for citation in citations:
        if policy.has_section(citation) or citation in known:
            continue
        if "§" in citation:
            message = f"cites {citation}, which is not a section of the policy"
        else:
            message = (
                f"cites {citation}, which is not a knowledge-base entry retrieved for this "
                "inquiry: only what was retrieved (and shown to you) may be cited"
            )
        found.append(GroundingFinding(kind="unknown_citation", excerpt=citation, message=message))
    return found


def check_draft(
    body: str,
    english_body: str | None,
    language: str,
    citations: list[str],
    policy: Policy,
    context: DraftContext | None = None,
    retrieved: Sequence[Entry] = (),
) -> GroundingReport:
    """A whole draft: the English an agent reviews (or the only text), in full; beside a
    reviewed English, the customer-language text too."""
    if english_body and language != "en":
        report = check_grounding(english_body, citations, policy, context, "en", retrieved)
        report.findings += check_translation_copy(
            body, language, policy, context, citations, retrieved
        )
        return report
    return check_grounding(body, citations, policy, context, language, retrieved)


def check_translation_copy(
    body: str,
    language: str,
    policy: Policy,
    context: DraftContext | None = None,
    citations: Sequence[str] = (),
    retrieved: Sequence[Entry] = (),
) -> list[GroundingFinding]:
    """The checks on the customer-language text of a reviewed English draft."""
    context, sources = _grounds(policy, context, list(citations), retrieved)
    return _markup(body) + check_customer_copy(body, language, context, sources)


def _markup(body: str) -> list[GroundingFinding]:
    return [
        GroundingFinding(
            kind="markup",
            excerpt=match.group(0),
            message="internal markup left in the customer's text (template syntax, a "
            "section id or a placeholder for redacted data): citations are for agents",
        )
        for match in _MARKUP.finditer(body)
    ]

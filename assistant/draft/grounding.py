"""The grounding check every draft passes, whichever backend wrote it.

Citations must name sections that exist, and the text must hold nothing the policy does
not support: the deterministic checks of `assistant.draft.checks` (links, contacts,
codes, money, dates, commitments, language, addressee, leaks, off-task), template markup
left in the customer's text, an empty body. Findings block approval until the agent
edits the draft or overrides them with a reason.
"""

from __future__ import annotations

import re

from assistant.draft.checks import DraftContext, check_customer_copy, check_reply_text
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
) -> GroundingReport:
    """Every finding in a draft body and its citations. `context`: the inquiry it answers
    (without it, nothing the customer wrote can be echoed); `language`: the language the
    body must be in."""
    context = context or DraftContext(support_address=policy.support_address)
    findings: list[GroundingFinding] = [
        GroundingFinding(
            kind="unknown_citation",
            excerpt=citation,
            message=f"cites {citation}, which is not a section of the policy",
        )
        for citation in citations
        if not policy.has_section(citation)
    ]
    if not body.strip():
        findings.append(GroundingFinding(kind="empty", excerpt="", message="the draft is empty"))
        return GroundingReport(findings=findings)
    findings += _markup(body)
    findings += check_reply_text(body, context, policy.as_text(), language)
    return GroundingReport(findings=findings)


def check_draft(
    body: str,
    english_body: str | None,
    language: str,
    citations: list[str],
    policy: Policy,
    context: DraftContext | None = None,
) -> GroundingReport:
    """A whole draft: the English an agent reviews (or the only text), in full; beside a
    reviewed English, the customer-language text too."""
    if english_body and language != "en":
        report = check_grounding(english_body, citations, policy, context, "en")
        report.findings += check_translation_copy(body, language, policy, context)
        return report
    return check_grounding(body, citations, policy, context, language)


def check_translation_copy(
    body: str, language: str, policy: Policy, context: DraftContext | None = None
) -> list[GroundingFinding]:
    """The checks on the customer-language text of a reviewed English draft."""
    context = context or DraftContext(support_address=policy.support_address)
    return _markup(body) + check_customer_copy(body, language, context, policy.as_text())


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

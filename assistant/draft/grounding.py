"""The grounding check every draft passes, whichever backend wrote it.

It looks for what the policy never promises: money amounts, dates and delivery promises,
"your refund has been issued", discounts, links and addresses other than the support
address, and citations of sections that do not exist. Findings block approval until the
agent edits the draft or overrides them with a reason.
"""

from __future__ import annotations

import re

from assistant.models import GroundingFinding, GroundingReport
from assistant.policy import Policy

_FORBIDDEN: tuple[tuple[str, str, re.Pattern[str]], ...] = tuple(
    (kind, message, re.compile(pattern, re.I))
    for kind, message, pattern in (
        (
            "money_amount",
            "a money amount: the policy commits to no amounts",
            r"[$€£¥]\s?\d[\d,.]*|\b\d[\d,.]*\s?(?:USD|EUR|GBP|dollars?|euros?|pounds?)\b",
        ),
        (
            "date",
            "a date or day: the policy commits to no delivery or refund dates",
            r"\b(?:\d{1,2}[/.]\d{1,2}(?:[/.]\d{2,4})?|\d{4}-\d{2}-\d{2})\b|"
            r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\s+\d{1,2}\b|"
            r"\b\d{1,2}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:january|february|march|april|june|july|"
            r"august|september|october|november|december)\b|"
            r"\b(?:by|on|before|until)\s+(?:monday|tuesday|wednesday|thursday|friday|saturday|"
            r"sunday|tomorrow|next\s+week)\b",
        ),
        (
            "time_promise",
            "a time frame the policy does not give (it gives 24 hours urgent, 24–48 business hours)",
            r"\bwithin\s+(?:\d+|one|two|three|four|five|six|seven|ten|a\s+few)\s*[-–]?\s*\d*\s*"
            r"(?:business\s+|working\s+)?(?:days?|weeks?|months?)\b|"
            r"\b(?:will|should)\s+(?:arrive|be\s+delivered|reach\s+you)\s+(?:by|on|within|tomorrow|today)",
        ),
        (
            "refund_commitment",
            "a refund, replacement or compensation the policy does not grant",
            r"\brefund\b[^.!?\n]{0,40}?\s(?:has\s+been|was|is\s+being|is|will\s+be)\s+(?:approved|issued|processed|sent|"
            r"granted|initiated|completed)|\b(?:we|i)\s+(?:have|'ve)\s+(?:issued|processed|approved|"
            r"initiated|sent)\s+(?:a|your|the|you\s+a)?\s*(?:full\s+|partial\s+)?(?:refund|replacement|"
            r"credit)|\b(?:we|i)\s+will\s+(?:refund|reimburse|compensate)|\bfull\s+refund\b|"
            r"\byou\s+will\s+(?:receive|get)\s+(?:a|your)\s+(?:full\s+)?(?:refund|replacement)|"
            r"\b(?:replacement|new\s+pair)\s+(?:has\s+been|is\s+being|will\s+be)\s+(?:sent|shipped|"
            r"dispatched)|\bguarantee[ds]?\b",
        ),
        (
            "discount",
            "a discount, coupon or credit: the policy offers none",
            r"\b(?:discount|coupon|promo(?:tional)?\s+code|voucher|gift\s+card|store\s+credit|"
            r"free\s+shipping|complimentary)\b|\b\d{1,3}\s?%\s?off\b",
        ),
        (
            "link",
            "a link: only the support address may be given",
            r"\bhttps?://\S+|\bwww\.\S+|\b[a-z0-9-]+\.(?:com|net|org|io|co|shop)/\S*",
        ),
        (
            "phone",
            "a phone number: email is the only channel (§2)",
            r"(?:\+\d{1,3}[\s-]?)?\(?\d{3}\)?[\s.-]\d{3}[\s.-]\d{4}\b",
        ),
        (
            "markup",
            "internal markup left in the customer's text",
            r"\{\{|\}\}|\{%|\[§|<\s*/?\s*[a-z]+>",
        ),
    )
)
_EMAIL_ADDRESS = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_CITATION_IN_TEXT = re.compile(r"§\s?\d+")


def check_grounding(body: str, citations: list[str], policy: Policy) -> GroundingReport:
    """Every finding in a draft body and its citations, in the order they appear."""
    findings: list[GroundingFinding] = []
    for citation in citations:
        if not policy.has_section(citation):
            findings.append(
                GroundingFinding(
                    kind="unknown_citation",
                    excerpt=citation,
                    message=f"cites {citation}, which is not a section of the policy",
                )
            )
    for kind, message, pattern in _FORBIDDEN:
        for match in pattern.finditer(body):
            findings.append(GroundingFinding(kind=kind, excerpt=match.group(0), message=message))
    for match in _EMAIL_ADDRESS.finditer(body):
        if match.group(0).lower() != policy.support_address.lower():
            findings.append(
                GroundingFinding(
                    kind="address",
                    excerpt=match.group(0),
                    message="an email address other than the support address",
                )
            )
    for match in _CITATION_IN_TEXT.finditer(body):
        findings.append(
            GroundingFinding(
                kind="markup",
                excerpt=match.group(0),
                message="a section id in the customer's text: citations are for agents",
            )
        )
    if not body.strip():
        findings.append(GroundingFinding(kind="empty", excerpt="", message="the draft is empty"))
    return GroundingReport(findings=findings)

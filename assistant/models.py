"""The pydantic models that flow through the pipeline: inquiry → triage → draft → review → sent.

They are the contract between stages, backends (local and LLM), storage, the CLI and evals.
Closed label sets are StrEnums so schemas, storage and eval targets share one spelling.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field


class Category(StrEnum):
    """Policy §1 "Scope of Service", plus `other` for everything outside it."""

    product_info = "product_info"
    order_status = "order_status"
    returns_refunds = "returns_refunds"
    account = "account"
    technical = "technical"
    feedback = "feedback"
    other = "other"


class Urgency(StrEnum):
    urgent = "urgent"
    normal = "normal"


class ConfidenceLevel(StrEnum):
    high = "high"
    medium = "medium"
    low = "low"


class InquiryStatus(StrEnum):
    received = "received"
    needs_manual_triage = "needs_manual_triage"
    triaged = "triaged"
    drafted = "drafted"
    approved = "approved"
    sent = "sent"
    rejected = "rejected"
    escalated = "escalated"


class ReviewAction(StrEnum):
    approve = "approve"
    edit = "edit"
    redraft = "redraft"
    reject = "reject"
    escalate = "escalate"
    override_grounding = "override_grounding"


class InquiryIn(BaseModel):
    """An incoming email as parsed at the edge, before anything can fail."""

    message_id: str | None = None
    from_address: str = ""
    from_name: str | None = None
    to_address: str | None = None
    subject: str = ""
    body: str = ""
    received_at: datetime | None = None
    in_reply_to: str | None = None
    references: str | None = None
    source: str = "text"
    raw: str | None = None

    @property
    def text(self) -> str:
        """What triage reads: subject and body together."""
        return f"{self.subject}\n\n{self.body}".strip()


def inquiry_key(inquiry: InquiryIn) -> str:
    """How a recorded LLM call is matched back to its inquiry: Message-ID, else a content hash."""
    if inquiry.message_id:
        return inquiry.message_id
    basis = f"{inquiry.from_address}\x1f{inquiry.subject}\x1f{inquiry.body}"
    return hashlib.sha256(basis.encode("utf-8", "surrogatepass")).hexdigest()


class CategoryGuess(BaseModel):
    category: Category
    confidence: float = Field(ge=0.0, le=1.0)


class LanguageGuess(BaseModel):
    language: str = Field(description="ISO 639-1 code, e.g. 'en', 'fr'")
    confidence: float = Field(ge=0.0, le=1.0)
    method: str = Field(default="langdetect", description="how it was decided")


class Triage(BaseModel):
    """The triage of one inquiry: what it is about, how urgent, by when, for whom."""

    category: Category
    confidence: float = Field(ge=0.0, le=1.0)
    confidence_level: ConfidenceLevel
    top_guesses: list[CategoryGuess] = Field(default_factory=list)
    needs_manual_triage: bool = False
    urgency: Urgency
    urgency_rule: str | None = None
    escalation: bool = False
    escalation_reason: str | None = None
    language: str = "en"
    language_confidence: float = 1.0
    needs_translation: bool = False
    due_at: datetime
    due_latest_at: datetime
    reasons: list[str] = Field(default_factory=list)
    backend: str = "local"
    model: str | None = None
    fallback_reason: str | None = None
    latency_ms: float | None = None
    english_text: str | None = Field(
        default=None, description="the inquiry translated into English, shown beside the original"
    )


class InquiryFacts(BaseModel):
    """Facts pulled from the inquiry itself, which a draft may repeat."""

    customer_name: str | None = None
    order_numbers: list[str] = Field(default_factory=list)
    products: list[str] = Field(default_factory=list)


class GroundingFinding(BaseModel):
    """One thing in a draft that the policy does not support."""

    kind: str  # unknown_citation, money_amount, date, refund_commitment, discount, link, ...
    excerpt: str
    message: str


class GroundingReport(BaseModel):
    findings: list[GroundingFinding] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings


class Draft(BaseModel):
    """A suggested reply. `body` is what the customer would receive; citations are for agents."""

    body: str
    citations: list[str] = Field(default_factory=list)
    language: str = "en"
    english_body: str | None = None
    template: str | None = None
    grounding: GroundingReport = Field(default_factory=GroundingReport)
    backend: str = "local"
    model: str | None = None
    policy_version: str = ""
    fallback_reason: str | None = None


class LlmCall(BaseModel):
    """One request to an LLM server: what it cost, how long it took, what came of it."""

    purpose: str  # triage | draft | translate | back_translate | judge
    model: str
    base_url: str = ""
    response_mode: str = ""  # json_schema | json_object | text
    request_id: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cost_usd: float = 0.0
    latency_ms: float = 0.0
    ok: bool = True
    error: str | None = None
    inquiry_key: str | None = None  # Message-ID or content hash of the inquiry it served

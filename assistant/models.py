"""The pydantic models that flow through the pipeline: inquiry → triage → draft → review → sent.

They are the contract between stages, backends (local and LLM), storage, the CLI and evals.
Closed label sets are StrEnums so schemas, storage and eval targets share one spelling.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field, model_validator


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
    """Where an inquiry stands. Which action leads from one to another is the transition
    table in `assistant/workflow.py`, the only place a status is changed."""

    received = "received"
    needs_manual_triage = "needs_manual_triage"
    triaged = "triaged"
    drafted = "drafted"
    approved = "approved"
    sent = "sent"
    rejected = "rejected"
    escalated = "escalated"
    no_reply_needed = "no_reply_needed"  # auto-replies, bounces, lists, spam: stored, not answered
    quarantined = "quarantined"  # mail that could not be parsed or stored, kept with the reason


class Action(StrEnum):
    """Everything that can happen to an inquiry; each is one row in the audit trail."""

    receive = "receive"
    quarantine = "quarantine"
    triage = "triage"
    triage_failed = "triage_failed"
    draft = "draft"
    draft_failed = "draft_failed"
    edit = "edit"
    edit_english = "edit_english"
    retranslate = "retranslate"
    redraft = "redraft"
    escalate = "escalate"
    override_grounding = "override_grounding"
    approve = "approve"
    withdraw_approval = "withdraw_approval"
    reject = "reject"
    mark_no_reply_needed = "mark_no_reply_needed"
    reopen = "reopen"
    export = "export"
    send = "send"


class InquiryIn(BaseModel):
    """An incoming email as parsed at the edge, before anything can fail."""

    message_id: str | None = None
    from_address: str = ""
    from_name: str | None = None
    to_address: str | None = None
    reply_to: str | None = None  # the Reply-To address, where the reply goes when it is valid
    subject: str = ""
    body: str = ""
    received_at: datetime | None = None
    in_reply_to: str | None = None
    references: str | None = None
    source: str = "text"
    raw: str | None = None
    no_reply_reason: str | None = None  # an auto-reply, bounce or list mail: stored, not drafted

    @model_validator(mode="before")
    @classmethod
    def _without_nul(cls, values: Any) -> Any:
        """NUL bytes carry no meaning in mail and PostgreSQL refuses them in text."""
        if isinstance(values, dict):
            return {
                k: v.replace("\x00", "") if isinstance(v, str) and "\x00" in v else v
                for k, v in values.items()
            }
        return values

    @property
    def text(self) -> str:
        """What triage reads: subject and body together."""
        return f"{self.subject}\n\n{self.body}".strip()


class QuarantinedMail(BaseModel):
    """Mail that could not become an inquiry. It is stored anyway, with why and where from,
    so nothing is lost and one bad message never stops the others."""

    source: str  # "eml:/path/x.eml", "mbox:/path/box.mbox#3", "jsonl:/path/rows.jsonl:7"
    reason: str
    raw: str = ""  # what could be read of it, decoded leniently and capped
    digest: str  # of the bytes: the same bad mail ingested twice is quarantined once


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


class TriageOpinion(BaseModel):
    """A second opinion on an inquiry (an LLM's), weighed against local triage by
    `triage/combine.py`."""

    category: Category
    urgency: Urgency
    escalation: bool
    confidence: float = Field(ge=0.0, le=1.0)
    reason: str = ""
    backend: str
    model: str | None = None


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
    # The reply tells the customer a senior representative has the case (§4): it can be
    # approved only once the inquiry is escalated. Set by the template or the LLM.
    promises_escalation: bool = False


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

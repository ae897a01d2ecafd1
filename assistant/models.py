"""The pydantic models that flow through the pipeline: inquiry → triage → draft → review → sent.

They are the contract between stages, backends (local and LLM), storage, the CLI and evals.
Closed label sets are StrEnums so schemas, storage and eval targets share one spelling.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field, field_validator, model_validator

_SURROGATES = re.compile("[\ud800-\udfff]")
_HEADER_BREAKS = re.compile("[\x00-\x1f\x7f\x85\u2028\u2029]+")  # Unicode line breaks too
HEADER_FIELDS = (
    "message_id",
    "from_address",
    "from_name",
    "to_address",
    "reply_to",
    "subject",
    "in_reply_to",
    "references",
)
MAX_MESSAGE_ID = 998  # RFC 5322's line limit, and the column's


def _without_surrogates(text: str) -> str:
    """Raw 8-bit bytes the mail parser kept as surrogates (a UTF-8 display name sent
    unencoded) are decoded as UTF-8; lone surrogates from JSON become U+FFFD."""
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:
        return _SURROGATES.sub("\ufffd", text)


def _long_id(message_id: str) -> str:
    """A Message-ID too long to store whole keeps its identity as a digest."""
    digest = hashlib.sha256(message_id.encode("utf-8", "replace")).hexdigest()
    return f"<{digest}@long-message-id.invalid>"


def plausible_time(value: datetime | None) -> datetime | None:
    """A date out of any plausible range (`Date: 31 Dec 9999 -1400`, year 1) says nothing
    about when the mail came: None, so the time it was stored is used. In UTC."""
    if value is None:
        return None
    try:
        when = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except (OverflowError, ValueError):
        return None
    return when if 1970 <= when.year <= 2100 else None


def clean_strings(value: Any) -> Any:
    """NUL bytes and undecodable characters out of every text in a structure: whatever a
    mail or a model wrote, the database can store it and the agent can read it."""
    if isinstance(value, str):
        if "\x00" in value:
            value = value.replace("\x00", "")
        return _without_surrogates(value) if _SURROGATES.search(value) else value
    if isinstance(value, dict):
        return {k: clean_strings(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(clean_strings(v) for v in value)
    return value


class CleanText(BaseModel):
    """A model whose texts are storable whatever produced them (a parser, an LLM)."""

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, values: Any) -> Any:
        return clean_strings(values) if isinstance(values, dict) else values


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


# Work for an agent or the pipeline; the rest (approved, sent, rejected, no reply needed,
# quarantined) is done or waits outside the review queue.
OPEN_STATUSES = (
    InquiryStatus.received,
    InquiryStatus.needs_manual_triage,
    InquiryStatus.triaged,
    InquiryStatus.drafted,
    InquiryStatus.escalated,
)


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
    correct_triage = "correct_triage"  # an agent's category or urgency, kept for evals
    # The outbox (assistant/mailbox/outbox.py): what became of a reply handed to SMTP.
    delivery_failed = "delivery_failed"  # refused (5xx), given up on, or bounced
    delivery_uncertain = "delivery_uncertain"  # the connection broke after DATA: ask a person
    retry_delivery = "retry_delivery"  # an agent sends a failed or uncertain reply again
    sla_warning = "sla_warning"  # the SLA check: an open inquiry close to its due time (§3)


class DeliveryState(StrEnum):
    """Where an approved reply stands on its way out (`outbound_reply.delivery`).

    approved → sending → sent | failed | uncertain. `uncertain` is never retried by itself:
    the server may have the mail, and a customer must not get it twice; a person decides.
    """

    approved = "approved"  # waiting for `mail send` (or an export and mark-sent)
    sending = "sending"  # claimed by a sender, which is talking to SMTP
    sent = "sent"
    failed = "failed"  # refused by the server, given up after retries, or bounced
    uncertain = "uncertain"


class AccountRole(StrEnum):
    """A workspace account's role. Each includes the ones before it: a senior can do what
    an agent can, and approve replies to escalated inquiries (policy §4); an admin also
    manages accounts."""

    agent = "agent"
    senior = "senior"
    admin = "admin"

    @property
    def rank(self) -> int:
        return list(AccountRole).index(self)

    def at_least(self, other: AccountRole) -> bool:
        return self.rank >= other.rank


class ActorKind(StrEnum):
    """Who acted, as the audit trail records it beside the name."""

    system = "system"  # the pipeline, the mail poller, a worker
    agent = "agent"  # a person


class InquiryIn(BaseModel):
    """An incoming email as parsed at the edge, before anything can fail."""

    message_id: str | None = None
    from_address: str = ""
    from_name: str | None = None
    to_address: str | None = None
    reply_to: str | None = None  # the Reply-To address, where the reply goes when it is valid
    subject: str = ""
    body: str = ""
    # What the mail's HTML hid from its reader, one "[why] text" a line, capped: kept for
    # the agent to see, never part of `body`/`text`, so no model reads it.
    hidden_text: str | None = None
    # The attachments as listed for the agent: {"name", "content_type", "size"} each.
    attachments: list[dict[str, Any]] = Field(default_factory=list)
    received_at: datetime | None = None
    in_reply_to: str | None = None
    references: str | None = None
    source: str = "text"
    raw: str | None = None
    # The bytes as received: stored compressed (inquiry.raw_gz), never shown or dumped.
    raw_bytes: bytes | None = Field(default=None, exclude=True, repr=False)
    no_reply_reason: str | None = None  # an auto-reply, bounce or list mail: stored, not drafted
    # A bounce: the Message-IDs it reports as undelivered (ours among them, perhaps), and
    # the server's diagnostic.
    bounce_of: list[str] = Field(default_factory=list)
    bounce_diagnostic: str | None = None
    bounce_recipients: list[str] = Field(default_factory=list)  # whom delivery failed for

    @model_validator(mode="before")
    @classmethod
    def _clean(cls, values: Any) -> Any:
        """What any mail source hands over is made safe to store and to answer: see
        `clean_inquiry_fields`."""
        return clean_inquiry_fields(values) if isinstance(values, dict) else values

    @field_validator("received_at")
    @classmethod
    def _plausible(cls, value: datetime | None) -> datetime | None:
        return plausible_time(value)

    @property
    def text(self) -> str:
        """What triage reads: subject and body together."""
        return f"{self.subject}\n\n{self.body}".strip()


class QuarantinedMail(CleanText):
    """Mail that could not become an inquiry. It is stored anyway, with why and where from,
    so nothing is lost and one bad message never stops the others."""

    source: str  # "eml:/path/x.eml", "mbox:/path/box.mbox#3", "jsonl:/path/rows.jsonl:7"
    reason: str
    raw: str = ""  # what could be read of it, decoded leniently and capped
    raw_bytes: bytes | None = Field(default=None, exclude=True, repr=False)
    digest: str  # of the bytes: the same bad mail ingested twice is quarantined once


def clean_inquiry_fields(values: dict[str, Any]) -> dict[str, Any]:
    """NUL bytes and undecodable characters out of every text; no line break or control
    character in anything that may become a header of our reply; a Message-ID of at most
    998 characters (longer ones by digest, so different mails stay different); an empty
    Message-ID is none."""
    cleaned = dict(values)
    for name, value in values.items():
        if not isinstance(value, str):
            continue
        if "\x00" in value:
            value = value.replace("\x00", "")
        if _SURROGATES.search(value):
            value = _without_surrogates(value)
        if name in HEADER_FIELDS and _HEADER_BREAKS.search(value):
            value = " ".join(_HEADER_BREAKS.sub(" ", value).split())
        cleaned[name] = value
    message_id = cleaned.get("message_id")
    if isinstance(message_id, str):
        message_id = message_id.strip()
        cleaned["message_id"] = (
            None
            if not message_id
            else _long_id(message_id)
            if len(message_id) > MAX_MESSAGE_ID
            else message_id
        )
    if isinstance(cleaned.get("in_reply_to"), str) and len(cleaned["in_reply_to"]) > MAX_MESSAGE_ID:
        cleaned["in_reply_to"] = None  # not a Message-ID we could thread to
    return cleaned


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
    method: str = Field(default="langid", description="how it was decided")


class Triage(CleanText):
    """The triage of one inquiry: what it is about, how urgent, by when, for whom."""

    category: Category
    confidence: float = Field(ge=0.0, le=1.0)
    confidence_level: ConfidenceLevel
    top_guesses: list[CategoryGuess] = Field(default_factory=list)
    needs_manual_triage: bool = False
    urgency: Urgency
    urgency_rule: str | None = None
    # The learned urgency signal's probability (local triage), beside the rules: the
    # evals report rules and signal apart; `urgency_rule` is "learned_signal" when only
    # the signal found the mail urgent.
    urgency_signal: float | None = None
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
    # Parts of the mail that speak to the assistant, not the shop ("ignore previous
    # instructions", a fake "SYSTEM:"), as short excerpts: triage left them out, the agent
    # sees them. Set by the local detector only, never by a model.
    instructions: list[str] = Field(default_factory=list)
    # The LLM's answer as it came, taken or not, and what of it was not taken and why
    # (`triage.combine`): the agent sees both answers when they disagree.
    second_opinion: TriageOpinion | None = None
    overruled: list[str] = Field(default_factory=list)


class TriageOpinion(BaseModel):
    """A second opinion on an inquiry (an LLM's), weighed against local triage by
    `triage/combine.py`."""

    category: Category
    urgency: Urgency
    escalation: bool
    confidence: float = Field(ge=0.0, le=1.0)  # as the model stated it: not a probability
    reason: str = ""
    backend: str
    model: str | None = None
    # The sentence of the mail that makes it urgent under §3, as the model quoted it.
    urgent_because: str = ""
    # The stated confidence through the model's calibration (`llm.calibration`); None: the
    # model was never calibrated, so its answers count as low confidence.
    calibrated_confidence: float | None = None
    # Whether its category replaced local triage's (set by `triage.combine`).
    taken: bool = False


class InquiryFacts(BaseModel):
    """Facts pulled from the inquiry itself, which a draft may repeat."""

    customer_name: str | None = None
    order_numbers: list[str] = Field(default_factory=list)
    products: list[str] = Field(default_factory=list)


class GroundingFinding(CleanText):
    """One thing in a draft that the policy does not support."""

    kind: str  # unknown_citation, money_amount, date, refund_commitment, discount, link, ...
    excerpt: str
    message: str


class GroundingReport(BaseModel):
    findings: list[GroundingFinding] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings


class KnowledgeUse(BaseModel):
    """A knowledge-base entry retrieved for a draft: its score, and whether the draft used it."""

    id: str
    title: str
    kind: str  # answer | product | policy
    score: float
    used: bool = False
    example: bool = False  # shipped example content, not the team's own


class Draft(CleanText):
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
    # The entries retrieved for it (used or not) and the knowledge base's version.
    knowledge: list[KnowledgeUse] = Field(default_factory=list)
    knowledge_version: str = ""

    @property
    def retrieved_ids(self) -> list[str]:
        return [use.id for use in self.knowledge]


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

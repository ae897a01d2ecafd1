"""Database tables. One row per inquiry; triages and drafts are kept per attempt (a re-draft
adds a row) and the inquiry points at the current ones; the audit trail is append-only
(triggers refuse UPDATE, DELETE, REPLACE and TRUNCATE) and hash-chained.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, LargeBinary, Text
from sqlmodel import Field, SQLModel

from assistant.models import (
    AccountRole,
    Action,
    ActorKind,
    Category,
    ConfidenceLevel,
    DeliveryState,
    GroundingFinding,
    InquiryStatus,
    Urgency,
)
from assistant.storage.types import FindingList, UtcDateTime, enum_column_type


def utcnow() -> datetime:
    return datetime.now(UTC)


def _when(**kwargs: Any) -> Any:
    return Field(sa_column=Column(UtcDateTime(), **kwargs))


def _enum(enum, length: int = 32, **kwargs: Any) -> Any:
    return Field(sa_column=Column(enum_column_type(enum, length), **kwargs))


class InquiryRow(SQLModel, table=True):
    __tablename__ = "inquiry"

    id: int | None = Field(default=None, primary_key=True)
    message_id: str | None = Field(default=None, unique=True, index=True, max_length=998)
    # Dedupes mail without a Message-ID (unique among those: index ix_inquiry_content_hash_no_id).
    content_hash: str = Field(index=True, max_length=64)
    from_address: str = Field(default="", max_length=320, index=True)
    from_name: str | None = Field(default=None, max_length=320)
    to_address: str | None = Field(default=None, max_length=320)
    reply_to: str | None = Field(default=None, max_length=320)
    subject: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    body: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    # What the HTML hid from the reader (assistant.mailtext): shown to agents, read by no model.
    hidden_text: str | None = Field(default=None, sa_column=Column(Text))
    # Listed at ingest (name, type, size), so the review page need not parse `raw` again.
    attachments: list | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    # The message as received, zlib-compressed (mail stored before 0006: `raw`, as text).
    raw: str | None = Field(default=None, sa_column=Column(Text))
    raw_gz: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    in_reply_to: str | None = Field(default=None, max_length=998)
    references: str | None = Field(default=None, sa_column=Column(Text))
    source: str = Field(default="text", sa_column=Column(Text, nullable=False, default="text"))
    received_at: datetime = _when(nullable=False)
    ingested_at: datetime = _when(nullable=False)
    # Written only by assistant/workflow.py, with an audit event.
    status: InquiryStatus = _enum(InquiryStatus, nullable=False, index=True)
    status_reason: str | None = Field(default=None, sa_column=Column(Text))
    error: str | None = Field(default=None, sa_column=Column(Text))
    # A process working on it (triage + draft) holds it until `claimed_until`.
    claimed_by: str | None = Field(default=None, max_length=64)
    claimed_until: datetime | None = _when(nullable=True)
    # The current triage and draft (the latest rows), kept by the workflow.
    triage_id: int | None = Field(default=None)
    draft_id: int | None = Field(default=None)
    # Denormalised from the current triage, for the queue's ORDER BY.
    urgency: Urgency | None = _enum(Urgency, 16, nullable=True)
    due_at: datetime | None = _when(nullable=True, index=True)
    language: str | None = Field(default=None, max_length=8)
    translation_support: bool = Field(default=False)
    # When the SLA check flagged it as about to breach (cleared when it leaves the queue).
    sla_warned_at: datetime | None = _when(nullable=True)


class TriageRow(SQLModel, table=True):
    __tablename__ = "triage"

    id: int | None = Field(default=None, primary_key=True)
    inquiry_id: int = Field(foreign_key="inquiry.id", index=True)
    category: Category = _enum(Category, nullable=False)
    confidence: float
    confidence_level: ConfidenceLevel = _enum(ConfidenceLevel, 8, nullable=False)
    needs_manual_triage: bool = False
    urgency: Urgency = _enum(Urgency, 16, nullable=False)
    urgency_rule: str | None = Field(default=None, max_length=64)
    escalation: bool = False
    escalation_reason: str | None = Field(default=None, max_length=200)
    language: str = Field(max_length=8)
    language_confidence: float = 0.0
    due_at: datetime = _when(nullable=False)
    due_latest_at: datetime = _when(nullable=False)
    details: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # What the mail says to the assistant (short excerpts; NULL: nothing), for the agent's
    # warning and the queue's badge.
    instructions: list | None = Field(
        default=None, sa_column=Column(JSON(none_as_null=True), nullable=True)
    )
    backend: str = Field(max_length=32)
    model: str | None = Field(default=None, max_length=128)
    set_by: str | None = Field(default=None, max_length=128)  # the agent who set the category
    created_at: datetime = _when(nullable=False)


class DraftRow(SQLModel, table=True):
    __tablename__ = "draft"
    # A version is written once, whatever writes it (re-delivered jobs, two workers).
    __table_args__ = (Index("ux_draft_inquiry_version", "inquiry_id", "version", unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    inquiry_id: int = Field(foreign_key="inquiry.id", index=True)
    # Counts every change of the inquiry's draft (a new draft or an edit): an action based
    # on a version that is no longer current is refused.
    version: int = Field(default=1)
    body: str = Field(sa_column=Column(Text, nullable=False))
    english_body: str | None = Field(default=None, sa_column=Column(Text))
    language: str = Field(default="en", max_length=8)
    citations: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    grounding: list[GroundingFinding] = Field(
        default_factory=list, sa_column=Column(FindingList(), nullable=False)
    )
    template: str | None = Field(default=None, max_length=128)
    promises_escalation: bool = Field(default=False)
    backend: str = Field(max_length=32)
    model: str | None = Field(default=None, max_length=128)
    policy_version: str = Field(max_length=128)
    fallback_reason: str | None = Field(default=None, sa_column=Column(Text))
    # The knowledge-base entries retrieved for it ({id, title, kind, score, used, example}).
    knowledge: list | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    knowledge_version: str | None = Field(default=None, max_length=128)
    created_at: datetime = _when(nullable=False)

    @property
    def retrieved_ids(self) -> list[str]:
        return [str(use.get("id")) for use in self.knowledge or [] if isinstance(use, dict)]


class AuditEventRow(SQLModel, table=True):
    """Every state change, by whom, with the text before and after. Never updated; each
    row's `hash` covers its content and the previous row's hash (storage/audit.py)."""

    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_action_at", "action", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    inquiry_id: int = Field(foreign_key="inquiry.id", index=True)
    draft_id: int | None = Field(default=None, foreign_key="draft.id")
    actor: str = Field(max_length=128, index=True)
    actor_kind: ActorKind | None = _enum(ActorKind, 16, nullable=True)  # None: before 0004
    action: Action = _enum(Action, nullable=False)
    from_status: InquiryStatus | None = _enum(InquiryStatus, nullable=True)
    to_status: InquiryStatus = _enum(InquiryStatus, nullable=False)
    text_before: str | None = Field(default=None, sa_column=Column(Text))
    text_after: str | None = Field(default=None, sa_column=Column(Text))
    reason: str | None = Field(default=None, sa_column=Column(Text))
    # For replies in the customer's language: the English text the agent reviewed with it.
    english_text: str | None = Field(default=None, sa_column=Column(Text))
    recipient: str | None = Field(default=None, max_length=320)  # to whom an approval sends
    at: datetime = _when(nullable=False)
    prev_hash: str | None = Field(default=None, max_length=64)
    hash: str | None = Field(default=None, max_length=64)


class AuditChainRow(SQLModel, table=True):
    """The head of the audit chain: the last event written and its hash. Writers lock it,
    so events are chained in one order across processes."""

    __tablename__ = "audit_chain"

    id: int = Field(default=1, primary_key=True)
    last_event_id: int = 0
    last_hash: str = Field(default="", max_length=64)


class OutboundReplyRow(SQLModel, table=True):
    __tablename__ = "outbound_reply"
    __table_args__ = (Index("ix_outbound_reply_delivery", "delivery", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    inquiry_id: int = Field(foreign_key="inquiry.id", index=True, unique=True)
    draft_id: int = Field(foreign_key="draft.id")
    approved_event_id: int = Field(foreign_key="audit_event.id")
    approved_by: str = Field(max_length=128)
    message_id: str = Field(max_length=998, unique=True)
    to_address: str = Field(max_length=320)
    subject: str = Field(sa_column=Column(Text, nullable=False))
    body: str = Field(sa_column=Column(Text, nullable=False))
    language: str = Field(default="en", max_length=8)
    in_reply_to: str | None = Field(default=None, max_length=998)
    references: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime = _when(nullable=False)
    exported_at: datetime | None = _when(nullable=True)
    sent_at: datetime | None = _when(nullable=True)
    # Nothing takes the reply out before this time: the agent's undo window in the workspace.
    send_after: datetime | None = _when(nullable=True)
    # The outbox (assistant/mailbox/outbox.py); each outcome also has its audit event.
    delivery: DeliveryState = Field(
        default=DeliveryState.approved,
        sa_column=Column(enum_column_type(DeliveryState, 16), nullable=False),
    )
    attempts: int = Field(default=0)
    next_attempt_at: datetime | None = _when(nullable=True)
    # The sender holding it (host:pid:start) and until when; `handed_over_at`: the moment
    # the text went to the server (after it, a lost connection leaves the outcome unknown).
    claimed_by: str | None = Field(default=None, max_length=128)
    claimed_until: datetime | None = _when(nullable=True)
    attempt_started_at: datetime | None = _when(nullable=True, index=True)
    handed_over_at: datetime | None = _when(nullable=True)
    delivery_error: str | None = Field(default=None, sa_column=Column(Text))
    server_reply: str | None = Field(default=None, sa_column=Column(Text))


class MailboxCursorRow(SQLModel, table=True):
    """How far a mailbox folder has been read: its UIDVALIDITY and the highest UID stored.
    A new UIDVALIDITY means the UIDs were renumbered: the folder is read again, and what is
    stored already is recognised by its Message-ID."""

    __tablename__ = "mailbox_cursor"

    mailbox: str = Field(primary_key=True, max_length=512)  # imap://user@host:port/folder
    uidvalidity: int = Field(sa_column=Column(BigInteger, nullable=False))
    last_uid: int = Field(sa_column=Column(BigInteger, nullable=False, default=0))
    updated_at: datetime = _when(nullable=False)


class OutboxGateRow(SQLModel, table=True):
    """One row every sender locks while it claims a reply, so the send rate cap holds
    across processes and machines."""

    __tablename__ = "outbox_gate"

    id: int = Field(default=1, primary_key=True)
    touched_at: datetime | None = _when(nullable=True)


class LlmCallRow(SQLModel, table=True):
    """One request to an LLM server: tokens, estimated cost, latency, request id, outcome."""

    __tablename__ = "llm_call"

    id: int | None = Field(default=None, primary_key=True)
    run_id: str | None = Field(default=None, index=True, max_length=64)
    inquiry_id: int | None = Field(default=None, foreign_key="inquiry.id", index=True)
    purpose: str = Field(max_length=32)
    model: str = Field(max_length=128)
    base_url: str = Field(default="", max_length=512)
    response_mode: str = Field(default="", max_length=16)
    request_id: str | None = Field(default=None, max_length=128)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cost_usd: float = 0.0
    latency_ms: float = 0.0
    ok: bool = True
    error: str | None = Field(default=None, sa_column=Column(Text))
    at: datetime = _when(nullable=False)


class AgentAccountRow(SQLModel, table=True):
    """A person who logs in to the workspace. The audit trail names them by `name`."""

    __tablename__ = "agent_account"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=128, unique=True, index=True)
    role: AccountRole = _enum(AccountRole, 16, nullable=False)
    password_hash: str = Field(sa_column=Column(Text, nullable=False))
    disabled: bool = Field(default=False)
    # Bumped when the account is disabled or its password changes: older cookies stop working.
    session_epoch: int = Field(default=0)
    single_key_shortcuts: bool = Field(default=True)
    created_at: datetime = _when(nullable=False)
    last_login_at: datetime | None = _when(nullable=True)


class WebSessionRow(SQLModel, table=True):
    """One login to the workspace. The signed cookie names it; logging out ends it here, so
    a copy of the cookie stops working too."""

    __tablename__ = "web_session"

    sid: str = Field(primary_key=True, max_length=64)
    account_id: int = Field(foreign_key="agent_account.id", index=True)
    created_at: datetime = _when(nullable=False)
    ended_at: datetime | None = _when(nullable=True)


class LoginFailureRow(SQLModel, table=True):
    """A failed login, kept a while: attempts are limited per name and per address, across
    every process serving the workspace."""

    __tablename__ = "login_failure"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=128, index=True)
    address: str = Field(max_length=64, index=True)
    at: datetime = _when(nullable=False, index=True)


class InquiryPresenceRow(SQLModel, table=True):
    """Who has an inquiry open in the workspace, and since when (the collision indicator)."""

    __tablename__ = "inquiry_presence"

    inquiry_id: int = Field(foreign_key="inquiry.id", primary_key=True)
    account: str = Field(max_length=128, primary_key=True)
    opened_at: datetime = _when(nullable=False)
    seen_at: datetime = _when(nullable=False, index=True)


class TaskFailureRow(SQLModel, table=True):
    """A background task that failed for good, its retries spent: shown to agents (the
    workspace, `assistant worker status`) until someone deals with it, never just dropped."""

    __tablename__ = "task_failure"
    __table_args__ = (Index("ix_task_failure_inquiry", "inquiry_id", "resolved_at"),)

    id: int | None = Field(default=None, primary_key=True)
    task: str = Field(max_length=64)
    job_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    inquiry_id: int | None = Field(default=None, foreign_key="inquiry.id")
    attempts: int = 1
    error: str = Field(sa_column=Column(Text, nullable=False))
    failed_at: datetime = _when(nullable=False, index=True)
    resolved_at: datetime | None = _when(nullable=True)

"""Database tables. One row per inquiry; triages and drafts are kept per attempt (a re-draft
adds a row); the audit trail is append-only (a trigger refuses UPDATE and DELETE).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Text
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


def _when(**kwargs: Any) -> Any:
    return Field(sa_column=Column(DateTime(timezone=True), **kwargs))


class InquiryRow(SQLModel, table=True):
    __tablename__ = "inquiry"

    id: int | None = Field(default=None, primary_key=True)
    message_id: str | None = Field(default=None, unique=True, index=True, max_length=998)
    content_hash: str = Field(index=True, max_length=64)  # dedupes mail without a Message-ID
    from_address: str = Field(default="", max_length=320)
    from_name: str | None = Field(default=None, max_length=320)
    to_address: str | None = Field(default=None, max_length=320)
    subject: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    body: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    raw: str | None = Field(default=None, sa_column=Column(Text))
    in_reply_to: str | None = Field(default=None, max_length=998)
    references: str | None = Field(default=None, sa_column=Column(Text))
    source: str = Field(default="text", max_length=64)
    received_at: datetime = _when(nullable=False)
    ingested_at: datetime = _when(nullable=False)
    status: str = Field(default="received", index=True, max_length=32)
    error: str | None = Field(default=None, sa_column=Column(Text))
    # Denormalised from the latest triage, for the queue's ORDER BY.
    urgency: str | None = Field(default=None, max_length=16)
    due_at: datetime | None = _when(nullable=True, index=True)
    language: str | None = Field(default=None, max_length=8)
    translation_support: bool = Field(default=False)


class TriageRow(SQLModel, table=True):
    __tablename__ = "triage"

    id: int | None = Field(default=None, primary_key=True)
    inquiry_id: int = Field(foreign_key="inquiry.id", index=True)
    category: str = Field(max_length=32)
    confidence: float
    confidence_level: str = Field(max_length=8)
    needs_manual_triage: bool = False
    urgency: str = Field(max_length=16)
    urgency_rule: str | None = Field(default=None, max_length=64)
    escalation: bool = False
    escalation_reason: str | None = Field(default=None, max_length=200)
    language: str = Field(max_length=8)
    language_confidence: float = 0.0
    due_at: datetime = _when(nullable=False)
    due_latest_at: datetime = _when(nullable=False)
    details: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    backend: str = Field(max_length=32)
    model: str | None = Field(default=None, max_length=128)
    created_at: datetime = _when(nullable=False)


class DraftRow(SQLModel, table=True):
    __tablename__ = "draft"

    id: int | None = Field(default=None, primary_key=True)
    inquiry_id: int = Field(foreign_key="inquiry.id", index=True)
    body: str = Field(sa_column=Column(Text, nullable=False))
    english_body: str | None = Field(default=None, sa_column=Column(Text))
    language: str = Field(default="en", max_length=8)
    citations: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    grounding: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    template: str | None = Field(default=None, max_length=128)
    backend: str = Field(max_length=32)
    model: str | None = Field(default=None, max_length=128)
    policy_version: str = Field(max_length=128)
    fallback_reason: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime = _when(nullable=False)


class AuditEventRow(SQLModel, table=True):
    """Every state change, by whom, with the text before and after. Never updated."""

    __tablename__ = "audit_event"

    id: int | None = Field(default=None, primary_key=True)
    inquiry_id: int = Field(foreign_key="inquiry.id", index=True)
    draft_id: int | None = Field(default=None, foreign_key="draft.id")
    actor: str = Field(max_length=128)
    action: str = Field(max_length=32)
    from_status: str | None = Field(default=None, max_length=32)
    to_status: str = Field(max_length=32)
    text_before: str | None = Field(default=None, sa_column=Column(Text))
    text_after: str | None = Field(default=None, sa_column=Column(Text))
    reason: str | None = Field(default=None, sa_column=Column(Text))
    # For replies in the customer's language: the English text the agent reviewed with it.
    english_text: str | None = Field(default=None, sa_column=Column(Text))
    at: datetime = _when(nullable=False)


class OutboundReplyRow(SQLModel, table=True):
    __tablename__ = "outbound_reply"

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

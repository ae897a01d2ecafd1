"""Settings from environment variables (prefix ASSISTANT_) or a .env file.

Read them through `get_settings()`, never at import time, so tests and the CLI can point
the assistant at another database, policy folder or backend.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Literal

from platformdirs import user_cache_dir, user_data_dir
from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from pydantic_settings import SettingsError as PydanticSettingsError


class PeakPeriod(BaseModel):
    """A window (e.g. a sale) during which policy §3 allows longer response times."""

    start: date
    end: date
    extra_business_hours: float = 24.0
    name: str = "peak period"


def _default_database_url() -> str:
    return f"sqlite:///{Path(user_data_dir('crocso-assistant')) / 'assistant.db'}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ASSISTANT_", env_file=".env", extra="ignore")

    # Storage. DATABASE_URL (no prefix) is honoured too, as most hosts set it.
    database_url: str = Field(
        default_factory=_default_database_url,
        validation_alias="DATABASE_URL",
    )

    # The policy. The seed lost its address in transcription ("[email protected]"),
    # so the support address is a setting; the default is an example, change it.
    support_address: str = "support@crocso.example"
    support_name: str = "Crocso Customer Service"
    policy_file: Path | None = None
    policy_dir: Path | None = Field(
        default=None, description="folder with extra policy documents (Refund Policy, ...)"
    )
    # The team's knowledge base (Markdown entries with front matter): what drafts answer
    # from and cite. Unset: drafts hold to the policy alone. The demo uses samples/knowledge.
    knowledge_dir: Path | None = None
    # BM25 score (with the category prior) below which an entry is not used: tuned on
    # evals/datasets/knowledge_retrieval.jsonl, checked on its blind twin.
    knowledge_min_score: float = Field(default=6.0, ge=0)
    knowledge_max_entries: int = Field(default=3, ge=1, le=10)  # retrieved per inquiry
    knowledge_review_days: int = Field(default=365, ge=1)  # `knowledge check`: due review

    # Triage thresholds, on calibrated confidence (0.8 means right about 8 times in 10).
    # Abstaining below 0.4 sends ~4% of our own examples to manual triage (measured out of
    # fold on the training data); those are right only a third of the time.
    high_confidence: float = 0.75
    medium_confidence: float = 0.5
    abstain_below: float = 0.4

    # SLA (policy §3).
    sla_country: str = "US"
    sla_subdivision: str | None = None
    sla_timezone: str = "UTC"
    urgent_hours: float = 24.0
    normal_target_business_hours: float = 24.0
    normal_latest_business_hours: float = 48.0
    peak_periods: list[PeakPeriod] = Field(default_factory=list)

    # Backends.
    backend: str = "local"  # local | openai | cascade
    cascade_threshold: float = 0.6

    # OpenAI-compatible server (issue: LLM backend).
    openai_api_key: SecretStr | None = Field(default=None, validation_alias="OPENAI_API_KEY")
    openai_base_url: str | None = Field(default=None, validation_alias="OPENAI_BASE_URL")
    openai_model: str = "gpt-4o-mini"
    # OpenAI's reasoning models (o-series, gpt-5) refuse `temperature` and `max_tokens`:
    # for them set ASSISTANT_OPENAI_TEMPERATURE=null and the parameter to max_completion_tokens.
    openai_temperature: float | None = 0.0
    openai_max_tokens_parameter: Literal["max_tokens", "max_completion_tokens"] = "max_tokens"
    openai_timeout: float = 30.0
    openai_max_retries: int = 2
    openai_concurrency: int = 8
    # Requests in flight adapt to the server (AIMD): from 1, or the slots it advertises
    # (llama.cpp's /props), up to openai_concurrency; cut on timeouts and slower answers.
    openai_adaptive_concurrency: bool = True
    # The most requests in flight to one LLM server from all processes together, shared
    # through PostgreSQL (unset: no shared cap; on SQLite it caps this one process).
    llm_max_in_flight: int | None = Field(default=None, ge=1)
    # Caps on completion length: cost control, and a base model that never stops.
    openai_max_tokens: int = 800
    openai_max_tokens_triage: int = 250
    llm_capabilities_file: Path | None = Field(
        default_factory=lambda: Path(user_cache_dir("crocso-assistant")) / "llm-capabilities.json",
        description="where the response-format rung found for each server is remembered",
    )
    llm_calibration_file: Path | None = Field(
        default_factory=lambda: Path(user_cache_dir("crocso-assistant")) / "llm-calibration.json",
        description="each model's calibration (`assistant calibrate`); a model not in it "
        "counts as low confidence and never overrides local triage",
    )
    # Providers bill cached prompt tokens at a fraction of the price (OpenAI: half).
    openai_cached_prompt_price_ratio: float = Field(default=0.5, ge=0.0, le=1.0)
    openai_prices: dict[str, tuple[float, float]] = Field(
        default_factory=lambda: {
            # USD per million tokens: (prompt, completion)
            "gpt-4o-mini": (0.15, 0.60),
            "gpt-4o": (2.50, 10.00),
            "gpt-4.1-mini": (0.40, 1.60),
        }
    )

    # The agents' web workspace (`assistant serve`).
    web_secret_key: SecretStr | None = Field(
        default=None,
        description="signs session cookies; the same on every server of a team (default: "
        "a random key kept in the user data folder)",
    )
    # Secure cookies: on when served over HTTPS (--ssl-certfile); set it behind a TLS proxy.
    web_secure_cookies: bool = False
    web_session_hours: float = Field(default=12.0, gt=0)
    # An approval in the workspace can be undone this long before the reply can go out.
    web_undo_seconds: float = Field(default=10.0, ge=0)
    web_page_size: int = Field(default=50, ge=5, le=500)

    # The mailbox (`assistant mail poll|send`). The URLs carry the password: SecretStr, so
    # they are never printed or logged whole (assistant.mailbox.servers shows them without).
    imap_url: SecretStr | None = Field(
        default=None, description="imap://user:password@host:port/INBOX (imaps:// for TLS)"
    )
    imap_processed_folder: str | None = Field(
        default=None, description="move mail there once it is stored (default: leave it)"
    )
    imap_sent_folder: str | None = Field(
        default=None, description="append a copy of each sent reply to this folder"
    )
    imap_timeout: float = Field(default=60.0, gt=0)
    imap_poll_seconds: float = Field(default=60.0, gt=0)  # without IDLE
    smtp_url: SecretStr | None = Field(
        default=None, description="smtp://user:password@host:port (smtps:// for TLS)"
    )
    smtp_timeout: float = Field(default=60.0, gt=0)
    # Log in to a mail server that offers no TLS at all (the password in clear). Servers on
    # this machine (localhost) are always allowed.
    mail_allow_plaintext_login: bool = False
    # Replies per minute, counted across every sending process: a cap against a runaway.
    send_rate: int = Field(default=60, ge=1)
    # A 4xx is tried again after 1, 2, 4 ... minutes; after this many tries it has failed.
    send_max_attempts: int = Field(default=6, ge=1)
    send_retry_seconds: float = Field(default=60.0, ge=0)

    # Team mode (assistant/worker): workers run the background tasks from a queue on the
    # team's PostgreSQL, and the edges (mail poll, the workspace) enqueue them instead of
    # working in their own process. Off: everything runs in-process, as on SQLite.
    workers: bool = False
    worker_concurrency: int = Field(default=4, ge=1, le=64)  # jobs at once per process
    # A job failing with a passing error (database, LLM server) is tried again after
    # 2, 4, 8 ... seconds; after this many tries it has failed, visibly.
    task_max_attempts: int = Field(default=5, ge=1, le=50)
    # Heartbeats: a worker silent this long is gone (killed, its machine down) and the
    # reaper gives its jobs to the others.
    worker_heartbeat_seconds: float = Field(default=5.0, gt=0)
    worker_stalled_seconds: float = Field(default=30.0, gt=0)
    worker_send_seconds: int = Field(default=30, ge=1)  # approved replies are looked for
    worker_keep_jobs_hours: int = Field(default=72, ge=1)  # finished jobs, then deleted
    # The SLA check flags an open inquiry this long before it is due (policy §3).
    sla_warn_urgent_hours: float = Field(default=2.0, ge=0)
    sla_warn_normal_hours: float = Field(default=4.0, ge=0)

    @field_validator("policy_dir", "policy_file", "knowledge_dir")
    @classmethod
    def _exists(cls, value: Path | None, info) -> Path | None:
        if value is None:
            return value
        if info.field_name in ("policy_dir", "knowledge_dir") and not value.is_dir():
            raise ValueError(f"{value} is not a folder")
        if info.field_name == "policy_file" and not value.is_file():
            raise ValueError(f"{value} is not a file")
        return value

    @field_validator("sla_country")
    @classmethod
    def _known_country(cls, value: str) -> str:
        from holidays.registry import EntityLoader  # the codes only: no calendar is loaded

        if value.upper() not in set(EntityLoader.get_country_codes()):
            raise ValueError(
                f"no public-holiday calendar for country {value!r} (use ISO codes: US, DE)"
            )
        return value.upper()

    @field_validator("sla_timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone {value!r} (e.g. Europe/Berlin)") from error
        return value

    @field_validator("abstain_below", "medium_confidence", "high_confidence")
    @classmethod
    def _probability(cls, value: float) -> float:
        if not 0.0 <= value <= 1.0:
            raise ValueError("confidence thresholds are probabilities between 0 and 1")
        return value

    @model_validator(mode="after")
    def _known_subdivision(self) -> Settings:
        import holidays

        if self.sla_subdivision:
            try:
                holidays.country_holidays(self.sla_country, subdiv=self.sla_subdivision)
            except NotImplementedError as error:
                raise ValueError(
                    f"no public-holiday calendar for {self.sla_country} subdivision "
                    f"{self.sla_subdivision!r}"
                ) from error
        return self

    @model_validator(mode="after")
    def _workers_need_postgres(self) -> Settings:
        if self.workers and not self.database_url.startswith("postgresql"):
            raise ValueError(
                "ASSISTANT_WORKERS needs the team's PostgreSQL (DATABASE_URL=postgresql://...);"
                " on SQLite the tasks run in-process: `assistant worker` without it"
            )
        return self

    @model_validator(mode="after")
    def _thresholds_in_order(self) -> Settings:
        if not self.abstain_below <= self.medium_confidence <= self.high_confidence:
            raise ValueError(
                "confidence thresholds must satisfy abstain_below <= medium_confidence "
                "<= high_confidence"
            )
        return self


class SettingsError(ValueError):
    """A setting that cannot work, named as the user sets it (its environment variable)."""


def describe(error: ValidationError) -> str:
    """One line per bad setting: `ASSISTANT_SLA_COUNTRY='XX': no holiday calendar ...`."""
    problems = []
    for item in error.errors():
        field = str(item["loc"][0]) if item["loc"] else ""
        alias = Settings.model_fields[field].validation_alias if field else None
        name = alias if isinstance(alias, str) else f"ASSISTANT_{field.upper()}" if field else ""
        message = item["msg"].removeprefix("Value error, ")
        value = item.get("input")
        shown = f"={value!r}" if field and isinstance(value, str | int | float) else ""
        problems.append(f"{name}{shown}: {message}" if name else message)
    return "; ".join(problems)


@lru_cache
def get_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as error:
        raise SettingsError(f"bad setting: {describe(error)}") from error
    except PydanticSettingsError as error:  # e.g. a list setting that is not JSON
        raise SettingsError(f"bad setting: {error} (list settings are JSON)") from error

"""The official `openai` client, configured for a batch job rather than a chat UI.

One retry layer only: the SDK's own (backoff on 408/409/429/5xx and connection errors).
A 429 that means the quota is exhausted is not retried: waiting will not refill it.
Under it, the HTTP client paces requests per server (`paced_client`): a timeout we caused
by overloading the server is re-sent without counting as one of those retries.
"""

from __future__ import annotations

import json
import ssl
from functools import lru_cache

import httpx2
from openai import AsyncOpenAI

from assistant.settings import Settings

from .concurrency import AdaptiveLimit, known_limit, limit_for
from .paced_client import PacedHttpClient, server_root
from .shared_cap import shared_slots_for

QUOTA_CODES = ("insufficient_quota", "billing_hard_limit_reached")
OPENAI_URL = "https://api.openai.com/v1"


async def _no_retry_on_exhausted_quota(response: httpx2.Response) -> None:
    """Mark a quota-exhausted 429 with the SDK's `x-should-retry: false` header."""
    if response.status_code != 429:
        return
    await response.aread()
    try:
        error = json.loads(response.content or b"{}").get("error") or {}
    except (ValueError, AttributeError):
        return
    if isinstance(error, dict) and error.get("code") in QUOTA_CODES:
        response.headers["x-should-retry"] = "false"


@lru_cache(maxsize=1)
def _tls_context() -> ssl.SSLContext:
    """Loading the CA bundle costs ~25 ms, and every batch makes a new client: load it once."""
    return httpx2.create_ssl_context()


def server_key(settings: Settings) -> str:
    """One LLM server and model, as the concurrency limit knows it."""
    return f"{(settings.openai_base_url or OPENAI_URL).rstrip('/')}|{settings.openai_model}"


def server_limit(settings: Settings) -> AdaptiveLimit:
    """This process's concurrency limit for the configured server (one across batches)."""
    ceiling = min(settings.openai_concurrency, settings.llm_max_in_flight or 1_000_000)
    adaptive = settings.openai_adaptive_concurrency
    return limit_for(server_key(settings), ceiling, adaptive, settings.openai_timeout)


def current_concurrency(settings: Settings) -> int | None:
    """How many requests the configured server may get at once now; None before any."""
    limit = known_limit(server_key(settings))
    return limit.current if limit else None


def make_client(settings: Settings) -> AsyncOpenAI:
    """A client for one batch: its connections belong to the event loop that uses it; the
    concurrency limit is the process's, shared with every other batch."""
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
    base_url = (settings.openai_base_url or OPENAI_URL).rstrip("/")
    http_client = PacedHttpClient(
        limit=server_limit(settings),
        shared=shared_slots_for(settings.database_url, base_url, settings.llm_max_in_flight),
        root=server_root(base_url),
        timeout=settings.openai_timeout,
        verify=_tls_context(),
        limits=httpx2.Limits(
            max_connections=settings.openai_concurrency,
            max_keepalive_connections=settings.openai_concurrency,
        ),
        event_hooks={"response": [_no_retry_on_exhausted_quota]},
    )
    return AsyncOpenAI(
        # Local servers (llama.cpp, Ollama, vLLM) accept any key; OpenAI rejects a missing one.
        api_key=key or "not-needed",
        base_url=settings.openai_base_url,
        timeout=settings.openai_timeout,
        max_retries=settings.openai_max_retries,
        http_client=http_client,
    )


def estimate_cost(
    settings: Settings,
    model: str,
    prompt_tokens: int,
    completion_tokens: int,
    cached_tokens: int = 0,
) -> float:
    """USD from the price table (per million tokens); unknown models cost 0, as for local
    servers. Cached prompt tokens (the shared policy prefix) are billed at the cached rate."""
    prices = settings.openai_prices.get(model)
    if prices is None:
        return 0.0
    prompt_price, completion_price = prices
    cached = min(max(cached_tokens, 0), prompt_tokens)
    prompt_cost = (prompt_tokens - cached) * prompt_price
    prompt_cost += cached * prompt_price * settings.openai_cached_prompt_price_ratio
    return (prompt_cost + completion_tokens * completion_price) / 1_000_000

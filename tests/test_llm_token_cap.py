"""Failures a user can act on, over real HTTP to the fake server: an answer cut off by
the token cap names the setting to raise, a timeout says what was tried and what to
change, an unreachable server is named with its URL, and a failed call's time is kept."""

from __future__ import annotations

import socket
from datetime import UTC, datetime

import pytest

from assistant.backends.openai import LlmBackend
from assistant.llm.concurrency import forget_limits
from assistant.llm.fake_server import FakeLlm, serve
from assistant.models import InquiryIn
from assistant.policy import load_policy
from assistant.settings import Settings

WHERE = InquiryIn(
    subject="Where is my order?",
    body="Hi, my order CR-104233 has not arrived yet. Can you check the tracking?\n\nThanks, Ana",
    from_address="ana@example.com",
    from_name="Ana Lopez",
    message_id="<where@example.com>",
    received_at=datetime(2026, 11, 24, 9, tzinfo=UTC),
)
GERMAN = InquiryIn(
    subject="Bestellung",
    body="Hallo, meine Bestellung CR-104233 ist noch nicht angekommen. Können Sie bitte "
    "nachsehen, wo sie ist? Danke, Jonas",
    from_address="jonas@example.de",
    message_id="<de@example.com>",
    received_at=datetime(2026, 11, 24, 9, tzinfo=UTC),
)


@pytest.fixture(autouse=True)
def fresh_limits():
    """Each test's server gets a fresh concurrency limit (a port may be reused)."""
    forget_limits()
    yield
    forget_limits()


@pytest.fixture
def fake():
    with serve(FakeLlm()) as (url, fake):
        fake.url = url
        yield fake


def backend_for(url: str, tmp_path, **overrides) -> LlmBackend:
    values = dict(
        openai_base_url=url,
        openai_model="fake-model",
        openai_timeout=2.0,
        openai_max_retries=0,
        openai_max_tokens=321,
        openai_max_tokens_triage=123,
        llm_capabilities_file=tmp_path / "capabilities.json",
    )
    values.update(overrides)
    return LlmBackend(Settings(**values), load_policy())


# -- the token cap -------------------------------------------------------------------


def test_a_triage_cut_off_by_the_cap_names_the_triage_setting_and_is_not_repaired(fake, tmp_path):
    fake.faults.append("cut_off")
    backend = backend_for(fake.url, tmp_path)
    [triage] = backend.triage_many([WHERE])
    assert triage.backend == "local"
    reason = triage.fallback_reason
    assert "cut off at 123 tokens" in reason and "ASSISTANT_OPENAI_MAX_TOKENS_TRIAGE" in reason
    assert "not JSON" not in reason and "Unterminated" not in reason
    assert len(fake.requests) == 1  # no repair: it would be cut off too
    [call] = backend.drain_calls()
    assert not call.ok and "ASSISTANT_OPENAI_MAX_TOKENS_TRIAGE" in call.error
    assert call.completion_tokens > 0 and call.latency_ms > 0  # what it cost is on record


def test_a_draft_cut_off_by_the_cap_names_the_draft_setting(fake, tmp_path):
    backend = backend_for(fake.url, tmp_path)
    [triage] = backend.triage_many([WHERE])
    fake.faults.append("cut_off")
    draft = backend.draft(WHERE, triage)
    assert draft.backend == "local" and draft.template  # the template reply instead
    reason = draft.fallback_reason
    assert reason.startswith("LLM draft failed: the answer was cut off at 321 tokens")
    assert "raise ASSISTANT_OPENAI_MAX_TOKENS " in reason  # the draft cap, not the triage one
    assert not any("not valid" in r["messages"][-1]["content"] for r in fake.requests)


def test_a_translation_cut_off_by_the_cap_tells_the_agent_what_to_raise(fake, tmp_path):
    fake.faults.append("cut_off")  # the German mail's translation for the agent
    [triage] = backend_for(fake.url, tmp_path).triage_many([GERMAN])
    [note] = [r for r in triage.reasons if r.startswith("no English translation")]
    assert "cut off at 321 tokens" in note and "ASSISTANT_OPENAI_MAX_TOKENS " in note
    assert triage.english_text is None


def test_the_draft_prompt_asks_for_a_reply_that_fits_the_cap(fake, tmp_path):
    backend = backend_for(fake.url, tmp_path, openai_max_tokens=1000)
    [triage] = backend.triage_many([WHERE])
    backend.draft(WHERE, triage)
    [draft_request] = [
        r for r in fake.requests if r["messages"][-1]["content"].startswith("TASK: DRAFT")
    ]
    assert "Keep the reply under 560 words." in draft_request["messages"][-1]["content"]


def test_a_small_cap_still_leaves_room_for_a_useful_reply(fake, tmp_path):
    backend = backend_for(fake.url, tmp_path, openai_max_tokens=50)
    [triage] = backend.triage_many([WHERE])
    backend.draft(WHERE, triage)
    prompts = [r["messages"][-1]["content"] for r in fake.requests]
    assert any("Keep the reply under 60 words." in prompt for prompt in prompts)


# -- timeouts and unreachable servers -------------------------------------------------


def test_a_timeout_says_how_long_how_often_and_what_to_change(fake, tmp_path):
    fake.slow_delay = 3.0
    fake.faults.extend(["slow"] * 2)
    backend = backend_for(fake.url, tmp_path, openai_timeout=0.5, openai_max_retries=1)
    [triage] = backend.triage_many([WHERE])
    reason = triage.fallback_reason
    assert triage.backend == "local" and "Timeout" in reason
    assert "within 0.5 s, 2 attempts" in reason
    assert "ASSISTANT_OPENAI_TIMEOUT" in reason and "ASSISTANT_OPENAI_CONCURRENCY" in reason
    calls = backend.drain_calls()
    assert calls and all(not c.ok for c in calls)
    # The time waited is recorded, once: two attempts of half a second each.
    assert all(c.latency_ms >= 400 for c in calls)
    assert 900 <= sum(c.latency_ms for c in calls) < 3000
    assert triage.latency_ms >= 900


def test_an_unreachable_server_is_named_with_the_setting_to_check(tmp_path):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    backend = backend_for(url, tmp_path, openai_timeout=1.0)
    [triage] = backend.triage_many([WHERE])
    reason = triage.fallback_reason
    assert triage.backend == "local"
    assert f"cannot reach the LLM server at {url}" in reason
    assert "check OPENAI_BASE_URL" in reason  # the variable the setting is read from
    [call] = backend.drain_calls()
    assert not call.ok and call.latency_ms > 0

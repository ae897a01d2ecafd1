"""Structured answers from any OpenAI-compatible server, whatever it supports.

The compatibility ladder, detected once per server and model and remembered:
strict `json_schema` → `json_object` carrying the schema (what llama.cpp's server
accepts) → plain text with the schema in the prompt. Every answer is validated against
the pydantic model; an invalid one gets one repair attempt, then the caller falls back.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Generic, TypeVar

import openai
from openai import AsyncOpenAI
from pydantic import BaseModel, ValidationError

from assistant.models import LlmCall
from assistant.settings import Settings

from .client import estimate_cost
from .concurrency import TRACE, CallTrace

log = logging.getLogger(__name__)
Answer = TypeVar("Answer", bound=BaseModel)

# A server that does not know a response_format answers with one of these; a 500 counts
# only when it names the format (llama.cpp's does), so a passing outage does not downgrade.
UNSUPPORTED_STATUS = {400, 415, 422, 500, 501}
RETRYABLE_STATUS = {408, 409, 429}  # and 5xx: what the SDK itself retries


def _format_unsupported(error: openai.APIStatusError) -> bool:
    """A rejection that names the response format (not an unknown model, a bad parameter
    elsewhere or a passing outage, which a lower rung would not cure)."""
    text = str(error).lower()
    named = any(
        word in text for word in ("response_format", "json_schema", "json_object", "schema")
    )
    return error.status_code in UNSUPPORTED_STATUS and named


class ResponseMode(StrEnum):
    json_schema = "json_schema"
    json_object = "json_object"
    text = "text"


LADDER = (ResponseMode.json_schema, ResponseMode.json_object, ResponseMode.text)


class LlmFailure(Exception):
    """No usable answer: the server failed, refused, or answered invalid JSON twice."""

    def __init__(self, reason: str, request_id: str | None = None):
        # The request id goes into the reason: it is what the provider's support asks for.
        self.reason = f"{reason} (request {request_id})" if request_id else reason
        super().__init__(self.reason)
        self.request_id = request_id


class _CutOff(LlmFailure):
    """The server stopped the answer at the completion cap (finish_reason "length"): what
    it sent is a fragment, and a repair would be cut off the same way. Carries the call,
    which cost tokens and goes on record."""

    def __init__(self, reason: str, call: LlmCall):
        super().__init__(reason, call.request_id)
        self.call = call


def env_name(setting: str) -> str:
    """The environment variable a user sets for a `Settings` field (its alias, if any)."""
    info = Settings.model_fields.get(setting)
    alias = info.validation_alias if info else None
    return alias if isinstance(alias, str) else f"ASSISTANT_{setting.upper()}"


@lru_cache(maxsize=32)
def strict_schema(model: type[BaseModel]) -> dict:
    """The model's JSON Schema as strict mode wants it: every field required, nothing extra."""
    schema = model.model_json_schema()

    def tighten(node: object) -> None:
        if isinstance(node, dict):
            if node.get("type") == "object" and "properties" in node:
                node["additionalProperties"] = False
                node["required"] = list(node["properties"])
            node.pop("title", None)
            node.pop("default", None)
            for child in node.values():
                tighten(child)
        elif isinstance(node, list):
            for child in node:
                tighten(child)

    tighten(schema)
    return schema


class CapabilityMemory:
    """Which rung of the ladder a server stands on, kept across runs in a small JSON file."""

    def __init__(self, path: Path | None):
        self.path = path
        self._modes: dict[str, ResponseMode] = {}
        if path and path.exists():
            try:
                stored = json.loads(path.read_text(encoding="utf-8"))
                self._modes = {k: ResponseMode(v) for k, v in stored.items()}
            except (ValueError, OSError):
                log.warning("ignoring unreadable capability file %s", path)

    def get(self, server: str) -> ResponseMode | None:
        return self._modes.get(server)

    def remember(self, server: str, mode: ResponseMode) -> None:
        if self._modes.get(server) == mode:
            return
        self._modes[server] = mode
        if self.path:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self.path.write_text(json.dumps(self._modes, indent=1), encoding="utf-8")
            except OSError as error:
                log.warning("cannot remember server capabilities in %s: %s", self.path, error)


@dataclass(frozen=True)
class _Request:
    answer: type[BaseModel]
    purpose: str
    inquiry_key: str | None
    max_tokens: int
    max_tokens_setting: str | None = None  # the Settings field the cap came from, if one


@dataclass
class Outcome(Generic[Answer]):
    value: Answer
    calls: list[LlmCall] = field(default_factory=list)


class StructuredCaller:
    """Asks one server for answers shaped like a pydantic model."""

    def __init__(
        self,
        client: AsyncOpenAI,
        settings: Settings,
        memory: CapabilityMemory,
        sink: list[LlmCall] | None = None,
    ):
        self.client = client
        self.sink = sink if sink is not None else []  # every call made, failed ones included
        self.settings = settings
        self.memory = memory
        self.model = settings.openai_model
        self.server = f"{client.base_url}|{self.model}"
        self._probe = asyncio.Lock()  # concurrent first requests wait for one probe
        self._probed = False  # after one attempt (even a failed one) nobody waits any more

    async def ask(
        self,
        messages: list[dict],
        answer: type[Answer],
        *,
        purpose: str,
        inquiry_key: str | None = None,
        render_task=None,
        max_tokens: int | None = None,
        max_tokens_setting: str | None = None,
    ) -> Outcome[Answer]:
        """`render_task(schema_or_None)` rebuilds the last message when the schema must be spelled out.
        `max_tokens_setting` names the Settings field `max_tokens` comes from, for the message
        of a cut-off answer (without `max_tokens`, openai_max_tokens applies)."""
        calls: list[LlmCall] = []
        request = _Request(
            answer,
            purpose,
            inquiry_key,
            max_tokens or self.settings.openai_max_tokens,
            max_tokens_setting or (None if max_tokens else "openai_max_tokens"),
        )
        try:
            if self.memory.get(self.server) is None and not self._probed:
                async with self._probe:
                    if self.memory.get(self.server) is None and not self._probed:
                        try:  # one request finds the rung; the others wait for it, once
                            return await self._ask(messages, request, render_task, calls)
                        finally:
                            self._probed = True
            return await self._ask(messages, request, render_task, calls)
        finally:
            self.sink.extend(calls)

    async def _ask(self, messages, request: _Request, render_task, calls) -> Outcome:
        answer, purpose, inquiry_key = request.answer, request.purpose, request.inquiry_key
        schema = strict_schema(answer)
        remembered = self.memory.get(self.server)
        rungs = LADDER[LADDER.index(remembered) :] if remembered else LADDER
        for position, mode in enumerate(rungs):
            probing = remembered is None and position < len(rungs) - 1
            sent = list(messages)
            if mode is ResponseMode.text and render_task is not None:
                sent[-1] = render_task(schema)
            started, before = time.perf_counter(), len(calls)
            try:
                if probing:
                    content, call = await self._probe_rung(sent, mode, schema, request, calls)
                else:
                    content, call = await self._complete(sent, mode, schema, request, purpose)
            except _CutOff as cut:
                self.memory.remember(self.server, mode)  # the format was accepted
                calls.append(cut.call)
                raise
            except openai.APIStatusError as error:
                calls.append(
                    self._failed_call(purpose, mode, inquiry_key, error, started, calls[before:])
                )
                if probing and _format_unsupported(error):
                    log.info(
                        "%s: %s not supported (HTTP %s), trying the next rung",
                        self.server,
                        mode,
                        error.status_code,
                    )
                    continue
                raise LlmFailure(
                    f"HTTP {error.status_code}: {_short(error)}", error.request_id
                ) from error
            except (
                openai.APIError
            ) as error:  # connection errors and timeouts, after the SDK's retries
                calls.append(
                    self._failed_call(purpose, mode, inquiry_key, error, started, calls[before:])
                )
                raise LlmFailure(self._api_error_reason(error)) from error
            self.memory.remember(self.server, mode)
            calls.append(call)
            return await self._validated(sent, content, mode, schema, request, calls)
        raise LlmFailure("the server accepted none of json_schema, json_object, text")

    async def _probe_rung(self, sent, mode, schema, request: _Request, calls):
        """Try a rung once without retries, so a format the server rejects fails fast; any
        other retryable error (rate limit, outage) gets the remaining retries as usual."""
        started = time.perf_counter()
        try:
            return await self._complete(sent, mode, schema, request, request.purpose, retries=0)
        except openai.APIStatusError as error:
            if (
                _format_unsupported(error)
                or error.response.headers.get("x-should-retry") == "false"
            ):
                raise
            if error.status_code not in RETRYABLE_STATUS and error.status_code < 500:
                raise
            calls.append(
                self._failed_call(request.purpose, mode, request.inquiry_key, error, started)
            )
            first = LlmFailure(f"HTTP {error.status_code}: {_short(error)}", error.request_id)
        except openai.APIConnectionError as error:
            calls.append(
                self._failed_call(request.purpose, mode, request.inquiry_key, error, started)
            )
            first = LlmFailure(self._api_error_reason(error))
        remaining = self.settings.openai_max_retries - 1
        if remaining < 0:
            raise LlmFailure(f"{first.reason}; no retries allowed (openai_max_retries=0)")
        return await self._complete(sent, mode, schema, request, request.purpose, retries=remaining)

    def _api_error_reason(self, error: openai.APIError) -> str:
        """What the user reads when no answer came: for a timeout or an unreachable server,
        what was tried and which setting to change."""
        if isinstance(error, openai.APITimeoutError):
            retries = max(0, self.settings.openai_max_retries)
            attempts = 1 + retries
            return (
                f"Timeout: the LLM server at {_url(self.client)} did not answer within "
                f"{self.settings.openai_timeout:g} s, {attempts} attempt"
                f"{'s' if attempts > 1 else ''} (1 + {env_name('openai_max_retries')}="
                f"{retries}); raise {env_name('openai_timeout')} if the server is slow, or "
                f"lower {env_name('openai_concurrency')} if it is overloaded"
            )
        if isinstance(error, openai.APIConnectionError):
            cause = error.__cause__ or error.__context__
            detail = f" ({_short(cause)})" if cause and str(cause) else ""
            return (
                f"Connection error: cannot reach the LLM server at {_url(self.client)}"
                f"{detail}; check {env_name('openai_base_url')} and that the server is running"
            )
        return f"{type(error).__name__}: {_short(error)}"

    async def _validated(self, sent, content, mode, schema, request: _Request, calls) -> Outcome:
        answer, purpose, inquiry_key = request.answer, request.purpose, request.inquiry_key
        problem = _problem(content, answer)
        if problem is None:
            return Outcome(_parse(content, answer), calls)
        calls[-1].ok, calls[-1].error = False, f"invalid answer: {problem}"
        repair = sent + [
            {"role": "assistant", "content": content or ""},
            {
                "role": "user",
                "content": f"That answer is not valid ({problem}). Reply again with only the JSON "
                f"object, matching this JSON Schema: {json.dumps(schema, separators=(',', ':'))}",
            },
        ]
        started = time.perf_counter()
        try:
            content, call = await self._complete(repair, mode, schema, request, f"{purpose}_repair")
        except _CutOff as cut:
            calls.append(cut.call)
            raise
        except openai.APIError as error:
            calls.append(self._failed_call(f"{purpose}_repair", mode, inquiry_key, error, started))
            raise LlmFailure(f"repair failed: {self._api_error_reason(error)}") from error
        calls.append(call)
        problem = _problem(content, answer)
        if problem is not None:
            call.ok, call.error = False, f"invalid answer after repair: {problem}"
            raise LlmFailure(f"invalid answer after one repair: {problem}", call.request_id)
        return Outcome(_parse(content, answer), calls)

    async def _complete(
        self, messages, mode, schema, request: _Request, purpose, retries: int | None = None
    ):
        client = self.client if retries is None else self.client.with_options(max_retries=retries)
        started = time.perf_counter()
        sampling: dict = {self.settings.openai_max_tokens_parameter: request.max_tokens}
        if self.settings.openai_temperature is not None:
            sampling["temperature"] = self.settings.openai_temperature
        # The typed `create` walks every message through the SDK's TypedDicts and builds
        # pydantic models of the whole answer: a quarter of the client's CPU per request, for
        # the few fields read here. The same JSON goes out through `extra_body` (which takes
        # precedence over the typed arguments) and the answer is read as plain JSON; retries,
        # timeouts, errors and auth remain the SDK's.
        trace = CallTrace(purpose)  # the paced HTTP client says how long we queued
        token = TRACE.set(trace)
        try:
            raw = await client.chat.completions.with_raw_response.create(
                model=self.model,
                messages=[],
                extra_body={
                    "messages": messages,
                    **sampling,
                    **_response_format(mode, schema, request.answer.__name__),
                },
            )
        finally:
            TRACE.reset(token)
        latency = (time.perf_counter() - started - trace.queued_s) * 1000  # the server's time
        body = _completion_body(raw.http_response)
        usage = body.get("usage") or {}
        prompt = usage.get("prompt_tokens") or 0
        completion = usage.get("completion_tokens") or 0
        cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
        choices = body.get("choices") or []
        first = choices[0] if choices and isinstance(choices[0], dict) else {}
        message: dict = first["message"] if isinstance(first.get("message"), dict) else {}
        refusal = message.get("refusal")
        content = None if refusal else message.get("content")
        call = LlmCall(
            purpose=purpose,
            model=body.get("model") or self.model,
            base_url=str(self.client.base_url),
            response_mode=mode.value,
            request_id=raw.headers.get("x-request-id"),
            prompt_tokens=prompt,
            completion_tokens=completion,
            cached_tokens=cached,
            cost_usd=estimate_cost(self.settings, self.model, prompt, completion, cached),
            latency_ms=round(latency, 1),
            inquiry_key=request.inquiry_key,
        )
        if refusal:
            call.error = f"refusal: {refusal}"
        elif first.get("finish_reason") == "length" and _problem(content, request.answer):
            # Stopped by the cap mid-answer (an answer that still validates is kept).
            call.ok, call.error = False, self._cut_off_reason(request)
            raise _CutOff(call.error, call)
        return content, call

    def _cut_off_reason(self, request: _Request) -> str:
        """A cut-off answer, said as what to change: the cap and the setting it came from."""
        setting = request.max_tokens_setting
        fix = (
            f"raise {env_name(setting)} for longer answers"
            if setting
            else "raise the max_tokens this request set"
        )
        return (
            f"the answer was cut off at {request.max_tokens} tokens by the cap on completion "
            f"length (finish_reason length); {fix}"
        )

    def _failed_call(
        self,
        purpose,
        mode,
        inquiry_key,
        error: Exception,
        started: float,
        recorded: Sequence[LlmCall] = (),
    ) -> LlmCall:
        """A call that got no answer, with the time it waited since `started` (the SDK's
        retries included, less what `recorded` calls of the same wait already account for)."""
        waited = (time.perf_counter() - started) * 1000 - sum(c.latency_ms for c in recorded)
        return LlmCall(
            purpose=purpose,
            model=self.model,
            base_url=str(self.client.base_url),
            response_mode=mode.value,
            request_id=getattr(error, "request_id", None),
            latency_ms=round(max(0.0, waited), 1),
            ok=False,
            error=f"{type(error).__name__}: {_short(error)}",
            inquiry_key=inquiry_key,
        )


def _completion_body(response) -> dict:
    """The answer's JSON object; anything else (a proxy's HTML page, a bare list, an error
    object sent with status 200) is an API error, so it is recorded and falls back."""
    try:
        body = response.json()
    except ValueError as error:
        raise openai.APIResponseValidationError(
            response=response, body=None, message=f"not JSON: {error}"
        ) from error
    if not isinstance(body, dict):
        raise openai.APIResponseValidationError(
            response=response, body=body, message=f"not a JSON object: {type(body).__name__}"
        )
    if body.get("error") and not body.get("choices"):
        problem = body["error"]
        detail = problem.get("message") if isinstance(problem, dict) else problem
        raise openai.APIResponseValidationError(
            response=response, body=body, message=f"error with status 200: {str(detail)[:300]}"
        )
    return body


def _response_format(mode: ResponseMode, schema: dict, name: str) -> dict:
    if mode is ResponseMode.json_schema:
        return {
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": name, "schema": schema, "strict": True},
            }
        }
    if mode is ResponseMode.json_object:
        # OpenAI ignores "schema" here; llama.cpp's server turns it into a grammar.
        return {"response_format": {"type": "json_object", "schema": schema}}
    return {}


def _json_part(content: str) -> str:
    """The JSON object in an answer, without the code fences some models add in text mode."""
    start, end = content.find("{"), content.rfind("}")
    return content[start : end + 1] if start != -1 and end > start else content


def _parse(content: str, answer: type[Answer]) -> Answer:
    # strict=False: raw newlines inside strings, as small models write them, are fine.
    return answer.model_validate(json.loads(_json_part(content), strict=False))


def _problem(content: str | None, answer: type[BaseModel]) -> str | None:
    if not content or not content.strip():
        return "empty answer or refusal"
    try:
        _parse(content, answer)
    except ValueError as error:
        if not isinstance(error, ValidationError):
            return f"not JSON: {error}"
        first = error.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "answer"
        return f"{where}: {first.get('msg', 'invalid')}"
    return None


def _short(error: BaseException) -> str:
    return " ".join(str(error).split())[:300]


def _url(client: AsyncOpenAI) -> str:
    """The server's URL as the user wrote it (the SDK adds a trailing slash)."""
    return str(client.base_url).rstrip("/")

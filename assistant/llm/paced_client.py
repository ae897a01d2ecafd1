"""The HTTP client under the `openai` SDK, paced per server.

Every request, the SDK's own retries included, first waits in our queue for a slot of
the server's adaptive limit (and of the team's shared cap, when one is set), so our own
queueing never runs down a timeout. A timeout of a request that went out beside others of
ours means we overloaded the server: the limit is cut and the request is sent again
without charging it one of the SDK's retries, a few times at most, so a dead server
still falls back to the local backend as before.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import httpx2
from openai import DefaultAsyncHttpxClient

from .concurrency import TRACE, AdaptiveLimit, Outcome
from .shared_cap import SharedSlots

log = logging.getLogger(__name__)

MAX_FREE_RESENDS = 3
PROBE_TIMEOUT = 2.0  # seconds; a server without /props usually says 404 at once


class PacedHttpClient(DefaultAsyncHttpxClient):  # type: ignore[misc, valid-type]
    """An httpx client whose `send` goes through the server's limit."""

    def __init__(
        self, *, limit: AdaptiveLimit, shared: SharedSlots | None, root: str, **kwargs: Any
    ):
        super().__init__(**kwargs)
        self.limit, self.shared, self.root = limit, shared, root.rstrip("/")

    async def send(self, request: httpx2.Request, **kwargs: Any) -> httpx2.Response:
        if self.limit.claim_probe():
            await self._probe_slots(request)
        trace = TRACE.get()
        for resend in range(MAX_FREE_RESENDS + 1):
            ticket = await self.limit.acquire()
            waited = time.perf_counter()
            slot = await self.shared.take() if self.shared else None
            queued = ticket.queued_s + time.perf_counter() - waited
            if trace is not None:
                trace.queued_s += queued
            started = time.perf_counter()
            try:
                response = await super().send(request, **kwargs)
            except httpx2.TimeoutException:
                if self.limit.timed_out(ticket) and resend < MAX_FREE_RESENDS:
                    log.info(
                        "%s: timed out beside %d others; sent again",
                        request.url,
                        ticket.in_flight - 1,
                    )
                    continue
                raise
            except BaseException:
                self.limit.release(ticket, "error")
                raise
            finally:
                if self.shared is not None and slot is not None:
                    await self.shared.give_back_async(slot)
            latency = time.perf_counter() - started
            purpose = trace.purpose if trace is not None else ""
            self.limit.release(ticket, _outcome(response), latency, purpose)
            return response
        raise AssertionError("unreachable: the last resend raises")

    async def _probe_slots(self, request: httpx2.Request) -> None:
        """llama.cpp's server says how many requests it answers at once (`/props`
        total_slots, or the `/slots` list). Asked once per process; others have neither,
        and a probe that fails in any way changes nothing."""
        headers = {
            k: v for k, v in request.headers.items() if k.lower() in ("authorization", "api-key")
        }
        for path, read in (("/props", _total_slots), ("/slots", _slot_count)):
            try:
                probe = self.build_request(
                    "GET", self.root + path, headers=headers, timeout=PROBE_TIMEOUT
                )
                response = await super().send(probe)
                slots = read(response.json()) if response.status_code == 200 else None
            except Exception as error:  # noqa: BLE001 - a probe never fails a batch
                log.debug("%s%s: no slot count (%s)", self.root, path, error)
                continue
            if slots:
                log.info("%s advertises %d slots", self.root, slots)
                self.limit.advertise(slots)
                return


def _total_slots(props: object) -> int | None:
    slots = props.get("total_slots") if isinstance(props, dict) else None
    return slots if isinstance(slots, int) and slots > 0 else None


def _slot_count(slots: object) -> int | None:
    return len(slots) if isinstance(slots, list) and slots else None


def _outcome(response: httpx2.Response) -> Outcome:
    if response.status_code < 400:
        return "ok"
    overloaded = response.status_code in (429, 503)
    if overloaded and response.headers.get("x-should-retry") != "false":  # not a spent quota
        return "overloaded"
    return "error"


def server_root(base_url: str) -> str:
    """Where llama.cpp serves /props: the base URL without its /v1."""
    return base_url.rstrip("/").removesuffix("/v1")

"""How many requests one LLM server gets from this process at once, adapted to what the
server shows: AIMD on timeouts and latency growth, within what it advertises.

A server that answers one request at a time (llama.cpp with one slot, a small model on
CPU) queues the rest, and a queued request's latency grows with the queue until it times
out. So the limit starts low (1, or the slots the server advertises), grows while answers
come back as fast as they do unqueued, and is cut when they come back slower or time out.

One limit per server (base URL + model) per process, shared by every batch, thread and
event loop that talks to it: its state is guarded by a threading lock and each waiter is
woken on its own loop, so no asyncio primitive crosses loops.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Literal

TOLERANCE = 1.5  # an answer this much slower than unqueued says the server is queueing
LATENCY_CUT = 0.75  # gentle: a long answer may just be long
OVERLOAD_CUT = 0.5  # a timeout or a 429 is no doubt
EWMA = 0.3
# The limit grows only while the last request let through would come back within this
# share of the timeout even if the server queued it behind all the others it may queue.
HEADROOM = 0.75

Outcome = Literal["ok", "overloaded", "error"]


@dataclass
class Ticket:
    """One request let through: when, and how many of ours were out with it."""

    seq: int
    in_flight: int  # ours at this server as it went out, itself included
    queued_s: float  # how long it waited in our queue


@dataclass
class CallTrace:
    """What the HTTP layer tells the call above it (the same task, via `TRACE`)."""

    purpose: str = ""
    queued_s: float = 0.0  # our own waiting, which is not the server's latency


TRACE: ContextVar[CallTrace | None] = ContextVar("llm_call_trace", default=None)


@dataclass(eq=False)
class _Waiter:
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future
    asked: float
    ticket: Ticket | None = None


@dataclass
class Stats:
    """For benches and tests: what the limiter saw since the process started."""

    peak_in_flight: int = 0
    cuts: int = 0
    timeouts: int = 0  # every request that timed out, re-sent or not
    overload_timeouts: int = 0  # those beside others of ours: re-sent free
    answers: int = 0


class AdaptiveLimit:
    """An AIMD concurrency limit for one server, usable from any thread and event loop."""

    def __init__(self, ceiling: int, adaptive: bool = True, timeout: float | None = None):
        self._lock = threading.Lock()
        self._waiters: deque[_Waiter] = deque()
        self._baseline: dict[str, float] = {}  # unqueued latency per purpose (triage, draft)
        self._queueing = 1.0  # recent latency / baseline: carries a baseline to a new purpose
        self._seq = 0
        self._last_cut = 0  # answers to requests sent before a cut say nothing about the new limit
        self._slow_start = True  # +1 per answer (doubling) until the first cut, then +1/limit
        self._slowest = 0.0  # a slow unqueued answer of any purpose (a decaying maximum)
        self._proven = 1  # the most of ours the server was seen to work on at once
        self._out: set[int] = set()  # the tickets out now, by sequence number
        self.timeout: float | None = None
        self.in_flight = 0
        self.advertised: int | None = None
        self._probe_claimed = False
        self.stats = Stats()
        self.ceiling, self.adaptive = 1, adaptive
        self.limit = 1.0
        self.configure(ceiling, adaptive, timeout)

    def configure(self, ceiling: int, adaptive: bool = True, timeout: float | None = None) -> None:
        """The configured ceiling (openai_concurrency) and client timeout; a fixed limit
        when not adaptive."""
        with self._lock:
            self.ceiling, self.adaptive, self.timeout = max(1, ceiling), adaptive, timeout
            self.limit = min(self.limit, self._top()) if adaptive else float(self._top())
            self._grant()

    def advertise(self, slots: int) -> None:
        """The server says how many requests it answers at once: start there, never above."""
        with self._lock:
            self.advertised = self._proven = max(1, slots)
            self.limit = float(self._top())
            self._slow_start = False
            self._grant()

    def claim_probe(self) -> bool:
        """True once per process: whoever gets it asks the server for its slots."""
        with self._lock:
            claimed, self._probe_claimed = self._probe_claimed, True
            return not claimed

    @property
    def current(self) -> int:
        """How many may be out at once now."""
        return max(1, min(int(self.limit), self._top()))

    def _top(self) -> int:
        return min(self.ceiling, self.advertised or self.ceiling)

    async def acquire(self) -> Ticket:
        """Wait for a slot in our queue (never at the server, where a wait can time out)."""
        asked = time.perf_counter()
        with self._lock:
            if not self._waiters and self.in_flight < self.current:
                return self._take(asked)
            loop = asyncio.get_running_loop()
            waiter = _Waiter(loop, loop.create_future(), asked)
            self._waiters.append(waiter)
        try:
            await waiter.future
        except BaseException:  # cancelled: a slot granted meanwhile goes to the next one
            with self._lock:
                granted = waiter.ticket
                if granted is None:
                    self._waiters.remove(waiter)
            if granted is not None:
                self.release(granted, "error")
            raise
        assert waiter.ticket is not None
        return waiter.ticket

    def release(
        self, ticket: Ticket, outcome: Outcome, latency: float = 0.0, purpose: str = ""
    ) -> None:
        """The request is back: adapt the limit to how it went and let waiters through."""
        with self._lock:
            demand = bool(self._waiters) or self.in_flight >= self.current
            self.in_flight -= 1
            self._out.discard(ticket.seq)
            if outcome == "ok":
                self.stats.answers += 1
                if self.adaptive:
                    self._answered(ticket, latency, purpose, demand)
            elif outcome == "overloaded" and self.adaptive:
                self._cut(ticket, OVERLOAD_CUT)
            self._grant()

    def timed_out(self, ticket: Ticket) -> bool:
        """A timeout. True when others of ours were out with it: we overloaded the server,
        the limit is cut and the request may be re-sent without charging it a retry."""
        overload = ticket.in_flight > 1 and self.adaptive  # a fixed limit is not cut
        with self._lock:
            self.stats.timeouts += 1
            self.stats.overload_timeouts += overload
            if not overload and self.timeout:  # alone: an answer takes longer than that
                self._slowest = max(self._slowest, self.timeout)
        self.release(ticket, "overloaded" if overload else "error")
        return overload

    # -- under the lock ----------------------------------------------------------------

    def _take(self, asked: float) -> Ticket:
        self.in_flight += 1
        self._seq += 1
        self._out.add(self._seq)
        self.stats.peak_in_flight = max(self.stats.peak_in_flight, self.in_flight)
        return Ticket(self._seq, self.in_flight, time.perf_counter() - asked)

    def _grant(self) -> None:
        while self._waiters and self.in_flight < self.current:
            waiter = self._waiters.popleft()
            if waiter.loop.is_closed():
                continue
            waiter.ticket = ticket = self._take(waiter.asked)
            try:
                waiter.loop.call_soon_threadsafe(_wake, waiter.future)
            except RuntimeError:  # its loop closed meanwhile: nobody is waiting there
                waiter.ticket, self.in_flight = None, self.in_flight - 1
                self._out.discard(ticket.seq)

    def _answered(self, ticket: Ticket, latency: float, purpose: str, demand: bool) -> None:
        base = self._baseline.get(purpose)
        if base is None:  # a new purpose: assume it queued as much as the others lately
            base = latency / (1.0 if ticket.in_flight == 1 else self._queueing)
            self._baseline[purpose] = base
        ratio = latency / base if base > 0 else 1.0
        self._queueing += EWMA * (max(1.0, ratio) - self._queueing)
        if ticket.in_flight == 1 or latency < base:  # unqueued by us, or faster than thought
            self._baseline[purpose] = base + EWMA * (latency - base)
        if ratio <= TOLERANCE:  # back before requests sent earlier: they ran side by side
            overtaken = sum(seq < ticket.seq for seq in self._out)
            self._proven = max(self._proven, 1 + overtaken)
            self._slowest = max(latency, 0.9 * self._slowest)
        if ratio > TOLERANCE and ticket.in_flight > 1:
            self._cut(ticket, LATENCY_CUT)
        elif ratio <= TOLERANCE and demand and self._room_for_one_more():
            step = 1.0 if self._slow_start else 1.0 / self.limit
            self.limit = min(float(self._top()), self.limit + step)

    def _room_for_one_more(self) -> bool:
        """With k answered at once unqueued, the server may have only k slots: request
        m then waits for ceil(m / k) answers, of any purpose. Grow only while that fits
        the timeout, so finding out how much a slow server takes never costs a timeout."""
        if not self.timeout:
            return True
        rounds = -(-(self.current + 1) // self._proven)
        return rounds * self._slowest <= HEADROOM * self.timeout

    def _cut(self, ticket: Ticket, factor: float) -> None:
        if ticket.seq <= self._last_cut:
            return  # sent before the last cut: that cut already answered it
        self.limit = max(1.0, self.limit * factor)
        self._slow_start = False
        if factor == OVERLOAD_CUT:  # it could not take this many: fewer slots than proven
            self._proven = max(1, min(self._proven, ticket.in_flight - 1))
        self._last_cut = self._seq
        self.stats.cuts += 1


def _wake(future: asyncio.Future) -> None:
    if not future.done():
        future.set_result(None)


@dataclass
class _Registry:
    lock: threading.Lock = field(default_factory=threading.Lock)
    limits: dict[str, AdaptiveLimit] = field(default_factory=dict)


_REGISTRY = _Registry()


def limit_for(
    server: str, ceiling: int, adaptive: bool = True, timeout: float | None = None
) -> AdaptiveLimit:
    """This process's limit for `server` (base URL + model), made on first use."""
    with _REGISTRY.lock:
        limit = _REGISTRY.limits.get(server)
        if limit is None:
            limit = _REGISTRY.limits[server] = AdaptiveLimit(ceiling, adaptive, timeout)
            return limit
    limit.configure(ceiling, adaptive, timeout)
    return limit


def known_limit(server: str) -> AdaptiveLimit | None:
    """The limit for `server` if anything talked to it yet (progress bars, benches)."""
    with _REGISTRY.lock:
        return _REGISTRY.limits.get(server)


def forget_limits() -> None:
    """Start afresh (tests: a new fake server may reuse an old one's port)."""
    with _REGISTRY.lock:
        _REGISTRY.limits.clear()

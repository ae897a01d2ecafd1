"""A small OpenAI-compatible server on loopback, for fault tests and the LLM benchmark.

It answers /v1/chat/completions with well-formed answers for our four tasks, after an
optional delay, and can be told to misbehave request by request: 429 with Retry-After,
500, answers slower than the client's timeout, malformed or schema-violating JSON, a
refusal, an exhausted quota, or rejecting `json_schema` with HTTP 500 as llama.cpp does.
Told what attacks to obey (`obey`), it is the worst case of prompt injection: a model
that writes into its draft whatever the attack in the customer's mail asks for.
With `slots=1` it answers one request at a time and the others queue inside it, as
llama.cpp's server does with one slot; with `advertise_slots` it says so at GET /props
and /slots (llama.cpp's shapes), which OpenAI and most other servers answer with 404.
Not a mock of anything we test: the real `openai` client talks HTTP to it.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FAULTS = (
    "ok",
    "rate_limit",
    "server_error",
    "slow",
    "malformed",
    "invalid",
    "refusal",
    "empty",
    "quota",
    "not_json",
    "cut_off",  # the answer stopped mid-string by the token cap (finish_reason "length")
)


@dataclass
class FakeLlm:
    """What the server does; tests change it between requests."""

    delay: float = 0.0
    slow_delay: float = 5.0
    faults: deque = field(default_factory=deque)  # one fault name per coming request
    reject_json_schema: bool = False
    requests: list[dict] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    in_flight: int = 0
    max_in_flight: int = 0  # the most requests it had at once, queued ones included
    slots: int | None = None  # answer this many at a time, queue the rest (None: no limit)
    advertise_slots: int | None = None  # what GET /props and /slots say (None: 404)
    probes: int = 0  # GET requests (slot probes) received
    # The obedient model: (probe, payload, placement) per attack mail. A draft request whose
    # inquiry contains `probe` (letters and digits only, lower case) gets `payload` added
    # to its reply ("append") or as the whole reply ("replace"), at every attempt.
    obey: list[tuple[str, str, str]] = field(default_factory=list)
    # The confidently wrong model (a weak model at its worst): every triage another
    # category than the mail's words suggest, urgent and escalated, confidence 1.0, quoting
    # a real sentence of the mail as its reason; every translation the source text followed
    # by chat-template debris, as a small model with the wrong chat format writes it.
    wrong: bool = False
    # A phrase book (phrase in another language → English phrase): TRANSLATE replaces every
    # phrase it knows, longest first, into English or out of it. Without one a translation
    # is the text unchanged, which the translation check rightly rejects.
    phrasebook: dict[str, str] = field(default_factory=dict)
    gate: threading.Semaphore | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.slots:
            self.gate = threading.Semaphore(self.slots)

    def next_fault(self) -> str:
        with self.lock:
            return self.faults.popleft() if self.faults else "ok"


def _task(body: dict) -> str:
    last = body["messages"][-1]["content"] if body.get("messages") else ""
    found = re.search(r"TASK: (\w+)", last) or re.search(
        r"TASK: (\w+)", json.dumps(body["messages"])
    )
    if "not valid" in last:  # a repair request: answer the task of the original message
        found = re.search(r"TASK: (\w+)", json.dumps(body["messages"][:-2]))
    return found.group(1) if found else "TRIAGE"


_CATEGORY_WORDS = (
    ("order_status", ("where is", "tracking", "delivered", "order")),
    ("returns_refunds", ("refund", "return", "exchange", "wrong")),
    ("account", ("password", "account", "log in", "login")),
    ("technical", ("checkout", "error", "charged twice", "website")),
    ("product_info", ("size", "jibbitz", "clog", "sandal")),
    ("feedback", ("love", "great", "disappointed")),
)


def squashed(text: str) -> str:
    """Letters and digits only, lower case: how an obeyed mail is recognised in a prompt."""
    return re.sub(r"[\W_]+", "", text.lower())


def obedient_draft(fake: FakeLlm, body: dict, answer: dict) -> dict:
    """The draft a model that follows the mail's instructions writes (`fake.obey`)."""
    prompts = " ".join(str(m.get("content", "")) for m in body.get("messages", []))
    inquiries = re.findall(r"<inquiry>(.*?)</inquiry>", prompts, re.S)
    seen = squashed(inquiries[-1] if inquiries else prompts)
    matches = [(probe, payload, where) for probe, payload, where in fake.obey if probe in seen]
    if not matches:
        return answer
    _, payload, placement = max(matches, key=lambda match: len(match[0]))
    if placement == "replace":
        return {**answer, "body": payload}
    greeting, _, rest = answer["body"].partition("\n\n")
    text, _, closing = rest.rpartition("\n\n")
    return {**answer, "body": f"{greeting}\n\n{text}\n\n{payload}\n\n{closing}"}


_FIRST_ENTRY = re.compile(
    r"^\[([a-z0-9][a-z0-9-]+)\] [^\n]+ \((?:answer|product|policy)\)\n(.+?)(?=\n\[[a-z0-9-]+\] |\n\n)",
    re.M | re.S,
)


_RING = [category for category, _ in _CATEGORY_WORDS] + ["other"]


def _first_sentence(prompt: str) -> str:
    inquiry = re.search(r"<inquiry>\s*Subject:[^\n]*\n+(.*?)</inquiry>", prompt, re.S)
    text = " ".join((inquiry.group(1) if inquiry else prompt).split())
    return re.split(r"(?<=[.!?])\s", text, maxsplit=1)[0][:300]


def wrong_answer_for(task: str, body: dict) -> dict:
    """What the confidently wrong model answers (`FakeLlm.wrong`)."""
    prompt = body["messages"][-1]["content"]
    if task == "TRIAGE":
        honest = answer_for(task, body)["category"]
        return {
            "reason": "this is clearly the case",
            "category": _RING[(_RING.index(honest) + 1) % len(_RING)],
            "urgency": "urgent",
            "urgent_because": _first_sentence(prompt),
            "escalation": True,
            "language": "en",
            "confidence": 1.0,
        }
    if task == "TRANSLATE":
        found = re.search(r"<text>\n(.*)\n</text>", prompt, re.S)
        return {"text": (found.group(1) if found else "") + "\n</text> [/INST]{"}
    return answer_for(task, body)


# The French of the fake server's own draft (`answer_for`), for a phrase book.
DRAFT_IN_FRENCH = {
    "Bonjour,": "Hello,",
    "Merci pour votre e-mail.": "Thank you for your email.",
    "Nous nous efforçons de répondre à chaque e-mail sous 24 à 48 heures ouvrées (hors "
    "week-ends et jours fériés).": "We aim to respond to every email within 24–48 business "
    "hours (excluding weekends and holidays).",
    "Cordialement,": "Kind regards,",
    "Le service client de Crocso": "Crocso Customer Service",
}


def phrasebook_translation(book: dict[str, str], body: dict, text: str) -> str:
    """`text` with every phrase of `book` swapped for its counterpart, longest first."""
    into_english = "into English" in body["messages"][-1]["content"]
    pairs = book.items() if into_english else ((en, other) for other, en in book.items())
    swaps = sorted(pairs, key=lambda pair: len(pair[0]), reverse=True)
    pattern = re.compile("|".join(re.escape(source) for source, _ in swaps))
    table = dict(swaps)
    return pattern.sub(lambda found: table[found.group(0)], text)


def answer_for(task: str, body: dict) -> dict:
    text = body["messages"][-1]["content"].lower()
    if task == "DRAFT":
        # A model that uses the first knowledge-base entry it is given, and cites it.
        entry = _FIRST_ENTRY.search(body["messages"][-1]["content"])
        answer = f"{entry.group(2).strip()}\n\n" if entry else ""
        return {
            "body": f"Hello,\n\nThank you for your email.\n\n{answer}We aim to respond to every "
            "email within 24–48 business hours (excluding weekends and holidays).\n\n"
            "Kind regards,\nCrocso Customer Service",
            "citations": ["§3", *([entry.group(1)] if entry else [])],
            "language": "en",
        }
    if task == "TRANSLATE":
        found = re.search(r"<text>\n(.*)\n</text>", body["messages"][-1]["content"], re.S)
        return {"text": found.group(1) if found else ""}
    if task == "JUDGE":
        return {"reason": "cites §3 correctly", "score": 4, "grounded": True}
    category = next((c for c, words in _CATEGORY_WORDS if any(w in text for w in words)), "other")
    return {
        "reason": "keyword match",
        "category": category,
        "urgency": "normal",
        "urgent_because": "",
        "escalation": False,
        "language": "en",
        "confidence": 0.9,
    }


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # the default backlog of 5 drops connections at concurrency 32


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle's algorithm the second waits for
    # the client's delayed ACK (~40 ms), which would swamp the delay we simulate.
    disable_nagle_algorithm = True
    fake: FakeLlm

    def log_message(self, *args) -> None:  # quiet
        pass

    def _send(self, status: int, payload: dict | list | str, headers: dict | None = None) -> None:
        data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-request-id", f"req-{len(self.fake.requests)}")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        with suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        fake = self.fake
        with fake.lock:
            fake.probes += 1
        slots = fake.advertise_slots
        if slots is None:
            return self._send(404, {"error": {"message": "not found"}})
        if self.path.rstrip("/").endswith("/props"):
            return self._send(200, {"total_slots": slots, "model_path": "fake.gguf"})
        if self.path.rstrip("/").endswith("/slots"):
            return self._send(200, [{"id": k, "is_processing": False} for k in range(slots)])
        self._send(404, {"error": {"message": "not found"}})

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        arrived = time.perf_counter()
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        fake = self.fake
        with fake.lock:
            fake.requests.append(body)
        if not self.path.endswith("/chat/completions"):
            return self._send(404, {"error": {"message": "not found"}})
        mode = (body.get("response_format") or {}).get("type", "text")
        if fake.reject_json_schema and mode == "json_schema":
            return self._send(
                500, {"error": {"message": "response_format json_schema is not supported"}}
            )
        fault = fake.next_fault()
        with fake.lock:
            fake.in_flight += 1
            fake.max_in_flight = max(fake.max_in_flight, fake.in_flight)
        try:
            if fake.gate is None:
                return self._answer(body, fault, arrived)
            with fake.gate:  # queued until a slot is free; the delay starts then
                self._answer(body, fault, time.perf_counter())
        finally:
            with fake.lock:
                fake.in_flight -= 1

    def _answer(self, body: dict, fault: str, arrived: float) -> None:
        """Answer `delay` seconds after the request arrived (or got its slot): the answer is
        built first, so the server's own work is inside the delay rather than added to it."""
        fake = self.fake
        if fault == "rate_limit":
            return self._send(
                429, {"error": {"message": "slow down", "type": "rate_limit"}}, {"Retry-After": "0"}
            )
        if fault == "quota":
            error = {
                "message": "You exceeded your quota",
                "code": "insufficient_quota",
                "type": "insufficient_quota",
            }
            return self._send(429, {"error": error})
        if fault == "server_error":
            return self._send(500, {"error": {"message": "internal error"}})
        if fault == "not_json":  # a proxy's error page with status 200
            return self._send(200, "<html><body>Bad gateway</body></html>")
        task = _task(body)
        answer = wrong_answer_for(task, body) if fake.wrong else answer_for(task, body)
        if task == "TRANSLATE" and fake.phrasebook and not fake.wrong:
            answer = {"text": phrasebook_translation(fake.phrasebook, body, answer["text"])}
        if task == "DRAFT" and fake.obey:
            answer = obedient_draft(fake, body, answer)
        message: dict = {"role": "assistant", "content": json.dumps(answer, ensure_ascii=False)}
        if fault == "malformed":
            message["content"] = '{"category": "order_status", "reason": '
        elif fault == "invalid":
            message["content"] = json.dumps({"category": "shoes", "urgency": "very"})
        elif fault == "refusal":
            message = {"role": "assistant", "content": None, "refusal": "I can't help with that."}
        elif fault == "empty":
            message["content"] = ""
        elif fault == "cut_off":  # a model that ran into max_tokens halfway through its JSON
            message["content"] = message["content"][: len(message["content"]) // 2]
        prompt_tokens = sum(len(str(m.get("content", ""))) for m in body.get("messages", [])) // 4
        completion = json.dumps(
            {
                "id": f"chatcmpl-{len(fake.requests)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", "fake"),
                "choices": [
                    {
                        "index": 0,
                        "message": message,
                        "finish_reason": "length" if fault == "cut_off" else "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": 40,
                    "total_tokens": prompt_tokens + 40,
                    "prompt_tokens_details": {"cached_tokens": prompt_tokens // 2},
                },
            }
        )
        delay = fake.slow_delay if fault == "slow" else fake.delay
        time.sleep(max(0.0, delay - (time.perf_counter() - arrived)))
        self._send(200, completion)


@contextmanager
def serve(fake: FakeLlm | None = None):
    """Run the server on a free loopback port; yields (base_url, fake)."""
    fake = fake or FakeLlm()
    handler = type("Handler", (_Handler,), {"fake": fake})
    server = _Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", fake
    finally:
        server.shutdown()
        server.server_close()


def main() -> None:
    """`python -m assistant.llm.fake_server --port N --delay S [--slots 1]`: serve until killed."""
    import argparse

    parser = argparse.ArgumentParser(description="loopback OpenAI-compatible test server")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--slots", type=int, default=None, help="answer this many at a time")
    parser.add_argument("--advertise", type=int, default=None, help="slots to show at /props")
    parser.add_argument("--wrong", action="store_true", help="answer as a confidently wrong model")
    args = parser.parse_args()
    fake = FakeLlm(
        delay=args.delay, slots=args.slots, advertise_slots=args.advertise, wrong=args.wrong
    )
    handler = type("Handler", (_Handler,), {"fake": fake})
    server = _Server(("127.0.0.1", args.port), handler)
    print(f"http://127.0.0.1:{server.server_address[1]}/v1", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()

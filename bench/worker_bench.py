"""`make bench` (part 6): team-mode workers (Procrastinate on PostgreSQL) triaging and
drafting against the loopback fake LLM server, which answers each request after 200 ms.

* the LLM: `assistant.llm.fake_server` (its FakeLlm and HTTP handler, unchanged) in a
  process of its own, with one addition for the bench: GET /__bench__/counts says how many
  requests it answered, per task (TRIAGE, DRAFT, ...) and per inquiry (each bench mail
  carries a reference, BENCH-nnnnnn, that the prompts quote). So an LLM call paid twice
  is seen at the server, even when the worker that paid for it was killed before it could
  store the call. It does not advertise slots (/props is 404, as at OpenAI): the client's
  adaptive limit starts at 1 and ramps up; the report says how far.
* each worker: `.venv/bin/assistant worker --concurrency C`, a process of its own, with
  ASSISTANT_WORKERS=true, ASSISTANT_BACKEND=openai, OPENAI_BASE_URL at the fake server.
  Each inquiry costs a triage call and a draft call (2 × 200 ms) plus the local work
  around them (facts, grounding, language, the database). C is the same for 1, 2 and 4
  workers and small enough that one worker is bound by the LLM's latency, not by the CPU
  (this machine has 2 cores, shared with PostgreSQL, the fake server and the bench).
* throughput: with 1, 2 and 4 workers running (and registered in procrastinate_workers),
  `assistant ingest FILE.jsonl` stores 300 inquiries and enqueues a process_inquiry job
  for each (team mode), on a fresh database per run. Throughput = inquiries drafted /
  (first job start → last job finish), from procrastinate_events; also the middle 80% of
  finishes ("steady"), which leaves out the ramp-up and the tail. Goal: 4 workers ≥ 3.5×
  one.
* queue latency (enqueue → start, from the 'deferred' and 'started' events of each job):
  per throughput run (there everything is enqueued at once, so it is the backlog's wait),
  and in a paced run: the 4 idle workers of the last run get inquiries one at a time at
  half their measured throughput, stored and enqueued by this process as `ingest` does.
* soak: 5,000 inquiries through 4 workers; every 20 s one worker (in turn) is killed with
  SIGKILL and started again at once. ASSISTANT_WORKER_HEARTBEAT_SECONDS=1 and
  ASSISTANT_WORKER_STALLED_SECONDS=5, so the reaper retries a dead worker's jobs within
  seconds. At the end (all jobs done, or a timeout) the database is checked: each inquiry
  triaged exactly once (one triage row, one `triage` audit event), drafted at most once,
  drafted or needing manual triage, none left waiting; no job left todo/doing; task
  failures; LLM calls paid twice (at the server and in llm_call); kills; jobs retried.

The database is `bench_workers` on the PostgreSQL server at --url (dropped and made again
for each run). Team mode needs PostgreSQL: without a reachable server the bench says so in
one line and exits 0 (skipped). The report goes to reports/worker-bench.json, the workers'
logs to reports/worker-bench-logs/.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from web_bench import percentiles  # bench/ is the script's folder, on sys.path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

REPORT = REPO / "reports" / "worker-bench.json"
LOGS = REPO / "reports" / "worker-bench-logs"
DATABASE = "bench_workers"
ASSISTANT = REPO / ".venv" / "bin" / "assistant"
DELAY_S = 0.2  # the fake LLM's latency per request
CONCURRENCY = 2  # jobs at once per worker process
INQUIRIES = 300  # per throughput run
WORKER_COUNTS = (1, 2, 4)
GOAL_SCALING = 3.5  # 4 workers ≥ 3.5 × one
SOAK = 5000
SOAK_WORKERS = 4
KILL_EVERY_S = 20.0
HEARTBEAT_S = 1.0
STALLED_S = 5.0
WARM_UP_PER_JOB_SLOT = 3  # warm-up inquiries per job slot, before a throughput run
PACED_SECONDS = 12.0  # the paced queue-latency run lasts about this long
REF = re.compile(r"BENCH-(\d{6})")
TASK = "process_inquiry"


# -- the fake LLM server, with per-inquiry counts ------------------------------------------


def serve_fake_llm(port: int, delay: float) -> None:
    """`worker_bench.py --serve-fake-llm`: assistant.llm.fake_server's server, plus GET
    /__bench__/counts (requests per task and per inquiry) and /__bench__/reset."""
    from assistant.llm import fake_server

    fake = fake_server.FakeLlm(delay=delay)
    seen: dict[str, int] = {"scanned": 0}
    per_inquiry: Counter[str] = Counter()
    per_task: Counter[str] = Counter()

    class Handler(fake_server._Handler):  # noqa: SLF001 - the bench's own addition
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            if self.path.startswith("/__bench__/counts"):
                with fake.lock:
                    fresh = fake.requests[seen["scanned"] :]
                    seen["scanned"] = len(fake.requests)
                    max_in_flight = fake.max_in_flight
                for body in fresh:
                    task = fake_server._task(body)  # noqa: SLF001
                    per_task[task] += 1
                    found = REF.search(json.dumps(body.get("messages", [])))
                    if found:
                        per_inquiry[f"{found.group(1)}:{task}"] += 1
                return self._send(
                    200,
                    {
                        "requests": sum(per_task.values()),
                        "per_task": dict(per_task),
                        "per_inquiry": dict(per_inquiry),
                        "max_in_flight": max_in_flight,
                    },
                )
            if self.path.startswith("/__bench__/reset"):
                with fake.lock:
                    fake.requests.clear()
                    fake.max_in_flight = 0
                    seen["scanned"] = 0
                per_inquiry.clear()
                per_task.clear()
                return self._send(200, {"reset": True})
            return super().do_GET()

    Handler.fake = fake
    server = fake_server._Server(("127.0.0.1", port), Handler)  # noqa: SLF001
    print(f"http://127.0.0.1:{server.server_address[1]}/v1", flush=True)
    server.serve_forever()


class FakeLlm:
    """The fake LLM server process."""

    def __init__(self, delay: float, log: Path) -> None:
        with log.open("wb") as errors:  # a killed worker's reset connections, mostly
            self.process = subprocess.Popen(
                [sys.executable, __file__, "--serve-fake-llm", "--delay", str(delay)],
                stdout=subprocess.PIPE,
                stderr=errors,
                text=True,
                cwd=REPO,
            )
        assert self.process.stdout is not None
        self.base_url = self.process.stdout.readline().strip()
        if not self.base_url.startswith("http"):
            raise RuntimeError(f"the fake LLM server did not start ({self.base_url!r})")
        self.root = self.base_url.removesuffix("/v1")

    def counts(self) -> dict[str, Any]:
        import httpx

        return httpx.get(self.root + "/__bench__/counts", timeout=60).json()

    def reset(self) -> None:
        import httpx

        httpx.get(self.root + "/__bench__/reset", timeout=30).raise_for_status()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# -- the database -------------------------------------------------------------------------


def fresh_database(base: str) -> str:
    """An empty, migrated `bench_workers` (the queue's schema too); its URL."""
    import web_bench  # its PostgreSQL helpers (bench/ is this script's folder)

    from assistant.storage.db import open_database

    web_bench.recreate_database(base, DATABASE)
    url = web_bench.with_database(base, DATABASE)
    open_database(url).dispose()
    return url


def analyze_queue(url: str) -> None:
    """ANALYZE the jobs table after a bulk enqueue, as autovacuum would within a minute. Without
    statistics the planner takes the table for nearly empty, and the generic plan of
    Procrastinate's fetch function then probes every waiting job's lock through an index
    whose first column is the id: seconds per fetch with 4,000 jobs waiting (measured:
    2.6 s, against 0.4 ms once analyzed). This server may run with autovacuum off (the CI's
    conf.d/90-ci.conf does): the report says which."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("ANALYZE procrastinate_jobs")


def query(url: str, sql: str, params: dict | None = None) -> list[tuple]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        return connection.execute(sql, params or {}).fetchall()


def one(url: str, sql: str, params: dict | None = None) -> Any:
    return query(url, sql, params)[0][0]


# -- the mail -----------------------------------------------------------------------------


def texts() -> list[str]:
    """The English customer mails of evals/datasets/crocso.jsonl (the non-English ones would
    add translation calls: not the cost measured here)."""
    rows = [
        json.loads(line)
        for line in (REPO / "evals" / "datasets" / "crocso.jsonl").read_text().splitlines()
        if line.strip()
    ]
    return [row["text"] for row in rows if row.get("language") == "en"]


def mail(texts_: list[str], number: int) -> dict[str, str]:
    """Bench mail `number`: one of the texts, with its own Message-ID and reference."""
    ref = f"BENCH-{number:06d}"
    return {
        "id": f"worker-bench-{number:06d}",
        "from": f"customer{number}@customer.example",
        "subject": f"Question (ref {ref})",
        "text": f"{texts_[number % len(texts_)]}\n\nRef: {ref}",
    }


def write_jsonl(path: Path, first: int, n: int) -> Path:
    found = texts()
    with path.open("w", encoding="utf-8") as handle:
        for number in range(first, first + n):
            handle.write(json.dumps(mail(found, number), ensure_ascii=False) + "\n")
    return path


# -- the workers --------------------------------------------------------------------------


@dataclass
class Fleet:
    """Worker processes on one database."""

    url: str
    llm_url: str
    concurrency: int
    folder: Path
    soak: bool = False
    processes: dict[int, subprocess.Popen] = field(default_factory=dict)
    started: int = 0
    cpu_seconds_of_stopped: float = 0.0

    def env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("ASSISTANT_", "OPENAI_")) and k != "DATABASE_URL"
        }
        env.update(
            DATABASE_URL=self.url,
            ASSISTANT_WORKERS="true",
            ASSISTANT_BACKEND="openai",
            OPENAI_BASE_URL=self.llm_url,
            OPENAI_API_KEY="x",
            ASSISTANT_LLM_CAPABILITIES_FILE=str(self.folder / "llm-capabilities.json"),
        )
        if self.soak:
            env.update(
                ASSISTANT_WORKER_HEARTBEAT_SECONDS=str(HEARTBEAT_S),
                ASSISTANT_WORKER_STALLED_SECONDS=str(STALLED_S),
            )
        return env

    def start(self, slot: int) -> None:
        self.started += 1
        log = (self.folder / f"worker-{self.started:03d}-slot{slot}.log").open("wb")
        self.processes[slot] = subprocess.Popen(
            [str(ASSISTANT), "worker", "--concurrency", str(self.concurrency)],
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
        )
        log.close()

    def start_all(self, n: int, timeout: float = 60.0) -> None:
        before = one(self.url, "SELECT count(*) FROM procrastinate_workers")
        for slot in range(n):
            self.start(slot)
        deadline = time.monotonic() + timeout
        while one(self.url, "SELECT count(*) FROM procrastinate_workers") < before + n:
            self.check_alive()
            if time.monotonic() > deadline:
                raise RuntimeError(f"{n} workers did not register within {timeout:.0f} s")
            time.sleep(0.2)

    def check_alive(self) -> None:
        for slot, process in self.processes.items():
            if process.poll() is not None:
                raise RuntimeError(
                    f"worker in slot {slot} exited with {process.returncode}; see {self.folder}"
                )

    def kill(self, slot: int) -> None:
        process = self.processes[slot]
        if process.poll() is None:
            self.cpu_seconds_of_stopped += cpu_seconds(process.pid)
            process.send_signal(signal.SIGKILL)
        process.wait()

    def cpu_seconds(self) -> float:
        return self.cpu_seconds_of_stopped + sum(
            cpu_seconds(p.pid) for p in self.processes.values() if p.poll() is None
        )

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (and its waited-for children), from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    return sum(int(value) for value in fields[11:15]) / ticks


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU ticks of the machine so far, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def ingest(fleet: Fleet, path: Path) -> subprocess.Popen:
    """`assistant ingest FILE` in team mode: stores the mail, enqueues a job per inquiry."""
    log = (fleet.folder / f"ingest-{path.stem}.log").open("wb")
    process = subprocess.Popen(
        [str(ASSISTANT), "ingest", str(path)],
        env=fleet.env(),
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=REPO,
    )
    log.close()
    return process


WAITING = """
SELECT (SELECT count(*) FROM procrastinate_jobs
         WHERE task_name = %(task)s AND status IN ('todo', 'doing')),
       (SELECT count(*) FROM inquiry
         WHERE status = 'received' OR (status = 'triaged' AND draft_id IS NULL)),
       (SELECT count(*) FROM inquiry)
"""


def wait_until_done(url: str, n: int, timeout: float, tick=None) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        open_jobs, waiting, stored = query(url, WAITING, {"task": TASK})[0]
        if stored >= n and open_jobs == 0 and waiting == 0:
            return True
        if tick:
            tick()
        time.sleep(0.25)
    return False


# -- what the queue's tables say ----------------------------------------------------------

JOB_TIMES = """
SELECT DISTINCT ON (j.args ->> 'inquiry_id') j.id,
       min(e.at) FILTER (WHERE e.type = 'deferred'),
       min(e.at) FILTER (WHERE e.type = 'started'),
       max(e.at) FILTER (WHERE e.type IN ('succeeded', 'failed')),
       count(*) OVER ()
  FROM procrastinate_jobs j JOIN procrastinate_events e ON e.job_id = j.id
 WHERE j.task_name = %(task)s AND j.id > %(after)s
 GROUP BY j.id
 ORDER BY j.args ->> 'inquiry_id', j.id
"""


def percentiles_ms(values: list[float]) -> dict[str, Any]:
    """p50, p95 and max of durations in seconds, in milliseconds (web_bench's figures)."""
    return percentiles([value * 1000 for value in values])


def job_figures(url: str, after_job: int = 0) -> dict[str, Any]:
    """Throughput and queue latency of the process_inquiry jobs (ids above `after_job`):
    the first job of each inquiry (a later one, the sweep's, finds the work done)."""
    rows = query(url, JOB_TIMES, {"task": TASK, "after": after_job})
    started = [r[2] for r in rows if r[2] is not None]
    finished = sorted(r[3] for r in rows if r[3] is not None)
    if not started or not finished:
        return {"inquiries_with_a_job": len(rows)}
    window = (finished[-1] - min(started)).total_seconds()
    drafted = len(finished)
    cut = max(1, len(finished) // 10)
    middle = finished[cut : len(finished) - cut]
    steady = (
        round((len(middle) - 1) / (middle[-1] - middle[0]).total_seconds(), 2)
        if len(middle) > 2 and middle[-1] > middle[0]
        else None
    )
    return {
        "jobs": rows[0][4],
        "inquiries_with_a_job": len(rows),
        "first_jobs_finished": drafted,
        "window_s": round(window, 2),
        "per_s": round(drafted / window, 2) if window > 0 else None,
        "steady_per_s": steady,
        "queue_latency": percentiles_ms(
            [(r[2] - r[1]).total_seconds() for r in rows if r[1] and r[2]]
        ),
    }


# -- throughput runs ----------------------------------------------------------------------


def throughput_run(
    base: str, llm: FakeLlm, workers: int, n: int, concurrency: int, folder: Path
) -> tuple[dict[str, Any], Fleet]:
    """n inquiries through `workers` workers on a fresh database; the fleet is left running
    (the paced run uses the last one)."""
    url = fresh_database(base)
    llm.reset()
    fleet = Fleet(url, llm.base_url, concurrency, folder / f"run-{workers}")
    fleet.folder.mkdir(parents=True, exist_ok=True)
    fleet.start_all(workers)
    # Warm-up, not measured: each job thread makes its backend (the classifier, the policy)
    # and the LLM client's limit ramps up from 1.
    warm = WARM_UP_PER_JOB_SLOT * concurrency * workers
    warming = ingest(fleet, write_jsonl(fleet.folder / "warm-up.jsonl", 900_000, warm))
    if warming.wait(120) != 0 or not wait_until_done(url, warm, timeout=120):
        raise RuntimeError(f"the warm-up did not finish; see {fleet.folder}")
    after_job = one(url, "SELECT coalesce(max(id), 0) FROM procrastinate_jobs")
    llm.reset()
    path = write_jsonl(fleet.folder / "inquiries.jsonl", 0, n)
    load = Path("/proc/loadavg").read_text().split()[0]
    busy0, total0 = machine_busy()
    cpu0, llm_cpu0 = fleet.cpu_seconds(), cpu_seconds(llm.process.pid)
    started = time.monotonic()
    ingesting = ingest(fleet, path)
    if ingesting.wait(120) != 0:
        raise RuntimeError(f"assistant ingest failed; see {fleet.folder}")
    enqueued_s = time.monotonic() - started
    analyze_queue(url)
    done = wait_until_done(url, warm + n, timeout=max(120.0, 6 * n / workers))
    wall = time.monotonic() - started
    busy1, total1 = machine_busy()
    cpu, llm_cpu = fleet.cpu_seconds() - cpu0, cpu_seconds(llm.process.pid) - llm_cpu0
    figures = job_figures(url, after_job)
    counts = llm.counts()
    statuses = dict(query(url, "SELECT status::text, count(*) FROM inquiry GROUP BY 1"))
    result = {
        "workers": workers,
        "inquiries": n,
        "warm_up_inquiries_not_measured": warm,
        **figures,
        "all_done": done,
        "statuses": statuses,
        "wall_s_from_ingest": round(wall, 2),
        "ingest_and_enqueue_s": round(enqueued_s, 2),
        "llm_requests": counts["requests"],
        "llm_max_in_flight": counts["max_in_flight"],
        "workers_cpu_s_per_inquiry": round(cpu / n, 4),
        "fake_llm_cpu_s_per_inquiry": round(llm_cpu / n, 4),
        "machine_cpu_busy": round((busy1 - busy0) / max(1, total1 - total0), 3),
        "machine_cpu_s": round((busy1 - busy0) / os.sysconf("SC_CLK_TCK"), 1),
        "load_average_before": float(load),
    }
    return result, fleet


def paced_run(fleet: Fleet, rate: float, seconds: float) -> dict[str, Any]:
    """Inquiries one at a time at `rate` a second to an idle fleet: stored, then enqueued,
    as `assistant ingest` does, from this process."""
    from assistant import pipeline
    from assistant.models import InquiryIn, InquiryStatus
    from assistant.settings import Settings
    from assistant.storage.db import open_database, session
    from assistant.worker.queue import defer_processing, make_app

    url = fleet.url
    after_job = one(url, "SELECT coalesce(max(id), 0) FROM procrastinate_jobs")
    before = one(url, "SELECT count(*) FROM inquiry")
    n = max(50, round(rate * seconds))
    settings = Settings(database_url=url, workers=True)
    engine = open_database(url)
    app = make_app(settings, for_worker=False)
    app.open()
    found = texts()
    started = time.monotonic()
    try:
        with session(engine) as db:
            for i in range(n):
                fields = mail(found, 100_000 + i)
                inquiry = InquiryIn(
                    message_id=f"<{fields['id']}@jsonl>",
                    from_address=fields["from"],
                    subject=fields["subject"],
                    body=fields["text"],
                    source="jsonl",
                )
                stored = pipeline.ingest_many(db, [inquiry])
                defer_processing(
                    app, [s.id for s in stored if s.created and s.status is InquiryStatus.received]
                )
                pause = started + (i + 1) / rate - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
    finally:
        app.close()
        engine.dispose()
    done = wait_until_done(url, before + n, timeout=120)
    figures = job_figures(url, after_job)
    return {
        "workers": len(fleet.processes),
        "inquiries": n,
        "rate_per_s": round(rate, 2),
        "all_done": done,
        "queue_latency": figures.get("queue_latency"),
        "per_s": figures.get("per_s"),
    }


# -- the soak -----------------------------------------------------------------------------

SOAK_PER_INQUIRY = """
WITH t AS (SELECT inquiry_id, count(*) AS n FROM triage GROUP BY 1),
     d AS (SELECT inquiry_id, count(*) AS n FROM draft GROUP BY 1),
     a AS (SELECT inquiry_id,
                  count(*) FILTER (WHERE action = 'triage') AS triage,
                  count(*) FILTER (WHERE action = 'draft') AS draft,
                  count(*) FILTER (WHERE action IN ('triage_failed', 'draft_failed')) AS failed
             FROM audit_event GROUP BY 1),
     c AS (SELECT inquiry_id,
                  count(*) FILTER (WHERE purpose = 'triage') AS triage,
                  count(*) FILTER (WHERE purpose = 'draft') AS draft,
                  count(*) AS n
             FROM llm_call GROUP BY 1),
     j AS (SELECT (args ->> 'inquiry_id')::int AS inquiry_id, count(*) AS n
             FROM procrastinate_jobs WHERE task_name = %(task)s GROUP BY 1)
SELECT i.id, i.status::text, i.draft_id, coalesce(t.n, 0), coalesce(d.n, 0),
       coalesce(a.triage, 0), coalesce(a.draft, 0), coalesce(a.failed, 0), coalesce(c.n, 0),
       coalesce(c.triage, 0), coalesce(c.draft, 0),
       coalesce(j.n, 0), substring(i.subject from 'BENCH-([0-9]{6})'), i.claimed_by
  FROM inquiry i
  LEFT JOIN t ON t.inquiry_id = i.id LEFT JOIN d ON d.inquiry_id = i.id
  LEFT JOIN a ON a.inquiry_id = i.id LEFT JOIN c ON c.inquiry_id = i.id
  LEFT JOIN j ON j.inquiry_id = i.id
 ORDER BY i.id
"""


def soak_run(
    base: str, llm: FakeLlm, n: int, concurrency: int, folder: Path, timeout: float
) -> dict[str, Any]:
    url = fresh_database(base)
    llm.reset()
    fleet = Fleet(url, llm.base_url, concurrency, folder / "soak", soak=True)
    fleet.folder.mkdir(parents=True, exist_ok=True)
    fleet.start_all(SOAK_WORKERS)
    # Warm-up (the first job of a worker makes its backend: seconds), so that the first
    # kill does not find the fleet still starting; a restarted worker gets none.
    warm = WARM_UP_PER_JOB_SLOT * concurrency * SOAK_WORKERS
    warming = ingest(fleet, write_jsonl(fleet.folder / "warm-up.jsonl", 900_000, warm))
    if warming.wait(120) != 0 or not wait_until_done(url, warm, timeout=180):
        raise RuntimeError(f"the soak's warm-up did not finish; see {fleet.folder}")
    path = write_jsonl(fleet.folder / "inquiries.jsonl", 0, n)
    kills: list[dict[str, Any]] = []
    killed_at: list[float] = []  # wall-clock times, to compare with the queue's events
    started = time.monotonic()
    ingesting = ingest(fleet, path)
    next_kill = started + KILL_EVERY_S

    analyzed = False

    def tick() -> None:
        nonlocal next_kill, analyzed
        if not analyzed and ingesting.poll() is not None:
            analyze_queue(url)
            analyzed = True
        now = time.monotonic()
        if now < next_kill:
            return
        slot = len(kills) % SOAK_WORKERS
        doing = one(
            url,
            "SELECT count(*) FROM procrastinate_jobs WHERE task_name = %(t)s AND status = 'doing'",
            {"t": TASK},
        )
        exited = fleet.processes[slot].poll()  # None: alive, as it should be
        fleet.kill(slot)
        killed_at.append(time.time())
        fleet.start(slot)
        kills.append(
            {"at_s": round(now - started, 1), "slot": slot, "jobs_doing_then": doing}
            | ({"had_exited_by_itself": exited} if exited is not None else {})
        )
        print(
            f"  soak: {now - started:5.0f} s, killed worker {slot} (-9) and started it again; "
            f"{drafted_so_far(url)} of {n} done",
            flush=True,
        )
        next_kill += KILL_EVERY_S

    try:
        done = wait_until_done(url, warm + n, timeout=timeout, tick=tick)
        wall = time.monotonic() - started
        ingest_rc = ingesting.wait(60)
    finally:
        fleet.stop()
    figures = job_figures(url, after_job=warm_jobs(url, warm))
    result = soak_checks(url, llm, warm + n)
    stalled_logged = sum(
        log.read_text(errors="replace").count("stalled: its worker is gone")
        for log in fleet.folder.glob("worker-*.log")
    )
    jobs = dict(
        query(
            url,
            "SELECT status::text, count(*) FROM procrastinate_jobs WHERE task_name = %(t)s"
            " GROUP BY 1",
            {"t": TASK},
        )
    )
    events = dict(
        query(
            url,
            "SELECT e.type::text, count(*) FROM procrastinate_events e"
            " JOIN procrastinate_jobs j ON j.id = e.job_id WHERE j.task_name = %(t)s GROUP BY 1",
            {"t": TASK},
        )
    )
    restarted = one(
        url,
        "SELECT count(*) FROM (SELECT e.job_id FROM procrastinate_events e"
        " JOIN procrastinate_jobs j ON j.id = e.job_id"
        " WHERE j.task_name = %(t)s AND e.type = 'started'"
        " GROUP BY e.job_id HAVING count(*) > 1) AS again",
        {"t": TASK},
    )
    result.update(stall_figures(url, killed_at))
    result.update(
        {
            "soak_inquiries": n,
            "warm_up_inquiries": warm,
            "workers": SOAK_WORKERS,
            "concurrency_per_worker": concurrency,
            "all_done_before_timeout": done,
            "timeout_s": timeout,
            "wall_s": round(wall, 1),
            "ingest_exit_status": ingest_rc,
            "per_s": figures.get("per_s"),
            "queue_latency": figures.get("queue_latency"),
            "kills": len(kills),
            "kill_every_s": KILL_EVERY_S,
            "worker_processes_started": fleet.started,
            "kill_log": kills,
            "jobs": {"total": sum(jobs.values()), **jobs},
            "job_events": events,
            "jobs_started_more_than_once": restarted,
            "stalled_jobs_found_by_reaper_logged": stalled_logged,
            "stalled_jobs_retried": events.get("deferred_for_retry", 0),
            "stalled_jobs_aborted_for_a_waiting_job": jobs.get("aborted", 0),
            "heartbeat_s": HEARTBEAT_S,
            "stalled_s": STALLED_S,
        }
    )
    left = {k: v for k, v in jobs.items() if k in ("todo", "doing")}
    if left:
        result["problems"].append(f"process_inquiry jobs left: {left}")
    if not done:
        result["problems"].append(f"not all done within {timeout:.0f} s")
    result["ok"] = not result["problems"]
    return result


def warm_jobs(url: str, warm: int) -> int:
    """The id of the last warm-up job (the warm-up's mail is numbered from 900000)."""
    return one(
        url,
        "SELECT coalesce(max(j.id), 0) FROM procrastinate_jobs j JOIN inquiry i"
        " ON i.id = (j.args ->> 'inquiry_id')::int WHERE i.subject LIKE '%%BENCH-9%%'",
    )


REAPER_LATENCY = """
SELECT min(e.at) FILTER (WHERE e.type = 'deferred'), min(e.at) FILTER (WHERE e.type = 'started')
  FROM procrastinate_jobs j JOIN procrastinate_events e ON e.job_id = j.id
 WHERE j.task_name = 'reap_stalled' GROUP BY j.id
"""
RETRIED = """
SELECT j.id, min(e.at) FILTER (WHERE e.type = 'started'),
       min(e.at) FILTER (WHERE e.type IN ('deferred_for_retry', 'aborted'))
  FROM procrastinate_jobs j JOIN procrastinate_events e ON e.job_id = j.id
 WHERE j.task_name = %(task)s GROUP BY j.id
HAVING count(*) FILTER (WHERE e.type IN ('deferred_for_retry', 'aborted')) > 0
"""


def stall_figures(url: str, killed_at: list[float]) -> dict[str, Any]:
    """How long a dead worker's jobs waited to be taken over: from the kill (the first
    after the job started) to the reaper's retry; and how long the reaper's own jobs waited
    in the queue (they share it with the inquiries' jobs)."""
    waits = []
    for _job, started, retried in query(url, RETRIED, {"task": TASK}):
        kill = next((k for k in killed_at if k >= started.timestamp()), None)
        if kill is not None and retried is not None:
            waits.append(retried.timestamp() - kill)
    reaper = [(b - a).total_seconds() for a, b in query(url, REAPER_LATENCY) if a and b]
    return {
        "kill_to_retry": percentiles_ms(waits),
        "reaper_job_queue_latency": percentiles_ms(reaper),
    }


def drafted_so_far(url: str) -> int:
    return one(
        url, "SELECT count(*) FROM inquiry WHERE status IN ('drafted', 'needs_manual_triage')"
    )


def soak_checks(url: str, llm: FakeLlm, n: int) -> dict[str, Any]:
    """Every inquiry triaged once, drafted at most once, none left waiting; LLM calls paid
    twice; task failures. Problems name the inquiries."""
    rows = query(url, SOAK_PER_INQUIRY, {"task": TASK})
    counts = llm.counts()
    at_server = counts["per_inquiry"]
    statuses = Counter(row[1] for row in rows)
    problems: list[str] = []
    bad: dict[str, list[int]] = {}

    def flag(kind: str, inquiry_id: int) -> None:
        bad.setdefault(kind, []).append(inquiry_id)

    triage_events = draft_events = 0
    paid_twice = Counter()
    stored_twice = 0
    jobs_per_inquiry = Counter()
    for (
        inquiry_id,
        status,
        draft_id,
        triages,
        drafts,
        t_events,
        d_events,
        failed_events,
        _llm_rows,
        llm_triage,
        llm_draft,
        jobs,
        ref,
        claimed_by,
    ) in rows:
        triage_events += t_events
        draft_events += d_events
        jobs_per_inquiry[jobs] += 1
        stored_twice += max(0, llm_triage - 1) + max(0, llm_draft - 1)
        if triages != 1 or t_events != 1:
            flag(f"triaged {triages} times ({t_events} triage events), not once", inquiry_id)
        if drafts > 1 or d_events > 1:
            flag(f"drafted {drafts} times ({d_events} draft events)", inquiry_id)
        if status not in ("drafted", "needs_manual_triage"):
            flag(f"left {status} (draft {draft_id}, claimed by {claimed_by})", inquiry_id)
        if status == "drafted" and (draft_id is None or d_events != 1):
            flag("drafted without its draft or draft event", inquiry_id)
        if failed_events:
            flag("a triage or draft failed (the backend's error)", inquiry_id)
        if jobs == 0:
            flag("no process_inquiry job", inquiry_id)
        for task in ("TRIAGE", "DRAFT"):
            asked = at_server.get(f"{ref}:{task}", 0) if ref else 0
            if asked > 1:
                paid_twice[task] += asked - 1
            # Mail local triage gives to manual triage stays there (an uncalibrated model
            # cannot lift it out, `triage.combine`), so it is triaged but not drafted.
            expected = status == "drafted" or (task == "TRIAGE" and status == "needs_manual_triage")
            if asked == 0 and expected:
                flag(f"no {task} request reached the LLM server", inquiry_id)
    if len(rows) != n:
        problems.append(f"{len(rows)} inquiries stored, not {n}")
    for kind, ids in bad.items():
        shown = ", ".join(str(i) for i in ids[:20]) + (" ..." if len(ids) > 20 else "")
        problems.append(f"{len(ids)} inquiries {kind}: {shown}")
    failures = query(
        url,
        "SELECT task, inquiry_id, attempts, error, resolved_at IS NOT NULL FROM task_failure"
        " ORDER BY id",
    )
    unresolved = [f for f in failures if not f[4]]
    for task, inquiry_id, attempts, error, _ in unresolved[:10]:
        problems.append(f"task failure: {task} (inquiry {inquiry_id}) after {attempts}: {error}")
    backends = dict(query(url, "SELECT backend, count(*) FROM triage GROUP BY 1"))
    draft_backends = dict(query(url, "SELECT backend, count(*) FROM draft GROUP BY 1"))
    return {
        "inquiries": len(rows),
        "statuses": dict(statuses),
        "triage_events": triage_events,
        "draft_events": draft_events,
        "triage_rows": sum(row[3] for row in rows),
        "draft_rows": sum(row[4] for row in rows),
        "triaged_exactly_once": sum(1 for row in rows if row[3] == 1 and row[5] == 1),
        "drafted_at_most_once": sum(1 for row in rows if row[4] <= 1 and row[6] <= 1),
        "left_waiting": sum(
            1 for row in rows if row[1] == "received" or (row[1] == "triaged" and row[2] is None)
        ),
        "triage_backends": backends,
        "draft_backends": draft_backends,
        "task_failures": len(failures),
        "task_failures_unresolved": len(unresolved),
        "llm_requests_at_server": counts["requests"],
        "llm_requests_per_task": counts["per_task"],
        "llm_calls_paid_twice_at_server": dict(paid_twice),
        "llm_call_rows": sum(row[8] for row in rows),
        "llm_call_rows_by_purpose": dict(
            query(url, "SELECT purpose, count(*) FROM llm_call GROUP BY 1 ORDER BY 1")
        ),
        "llm_triage_or_draft_call_rows_beyond_one_per_inquiry": stored_twice,
        "llm_max_in_flight": counts["max_in_flight"],
        "jobs_per_inquiry": {str(k): v for k, v in sorted(jobs_per_inquiry.items())},
        "problems": problems,
    }


# -- the report ---------------------------------------------------------------------------


def summary(results: dict[str, Any]) -> str:
    lines = [
        f"worker bench on PostgreSQL {results['machine'].get('postgresql')} ({DATABASE}), "
        f"{results['machine']['cpus']} CPUs; fake LLM {results['llm']['latency_ms']:.0f} ms "
        f"a request, {results['concurrency_per_worker']} jobs at once per worker",
        f"{'workers':>8}{'inquiries':>10}{'window s':>10}{'per s':>8}{'steady/s':>10}"
        f"{'queue p50':>11}{'p95 ms':>9}{'cpu busy':>9}{'LLM max':>8}",
    ]
    for key, run in results["runs"].items():
        latency = run.get("queue_latency") or {}
        lines.append(
            f"{key:>8}{run['inquiries']:>10}{run.get('window_s', 0):>10.1f}"
            f"{run.get('per_s') or 0:>8.2f}{run.get('steady_per_s') or 0:>10.2f}"
            f"{latency.get('p50_ms', 0):>11.0f}{latency.get('p95_ms', 0):>9.0f}"
            f"{run['machine_cpu_busy']:>9.0%}{run['llm_max_in_flight']:>8}"
        )
        if not run["all_done"]:
            lines.append(f"  ! not all done: {run['statuses']}")
    scaling = results.get("scaling_4_vs_1")
    if scaling is not None:
        verdict = "met" if scaling >= GOAL_SCALING else "MISSED"
        lines.append(f"scaling 4 vs 1 worker: {scaling:.2f}× (goal ≥ {GOAL_SCALING}×: {verdict})")
    paced = results.get("paced")
    if paced:
        latency = paced["queue_latency"] or {}
        lines.append(
            f"queue latency, {paced['workers']} idle workers, {paced['inquiries']} inquiries "
            f"at {paced['rate_per_s']}/s: p50 {latency.get('p50_ms')} ms, "
            f"p95 {latency.get('p95_ms')} ms, max {latency.get('max_ms')} ms"
        )
    soak = results.get("soak")
    if soak:
        retry, reaper = soak["kill_to_retry"], soak["reaper_job_queue_latency"]
        lines.append(
            f"soak: {soak['soak_inquiries']} inquiries (+{soak['warm_up_inquiries']} warm-up), "
            f"{soak['workers']} workers, {soak['kills']} kills (-9, every "
            f"{soak['kill_every_s']:.0f} s), {soak['wall_s']} s, {soak['per_s']}/s: "
            f"{'OK' if soak['ok'] else 'PROBLEMS'}"
        )
        lines.append(
            f"  statuses {soak['statuses']}; triaged exactly once {soak['triaged_exactly_once']}, "
            f"drafted at most once {soak['drafted_at_most_once']}, left waiting "
            f"{soak['left_waiting']}; triage events {soak['triage_events']}, draft events "
            f"{soak['draft_events']}"
        )
        lines.append(
            f"  jobs {soak['jobs']}; per inquiry {soak['jobs_per_inquiry']}; stalled jobs "
            f"retried {soak['stalled_jobs_retried']}, aborted for a waiting job "
            f"{soak['stalled_jobs_aborted_for_a_waiting_job']}; task failures "
            f"{soak['task_failures']} ({soak['task_failures_unresolved']} open)"
        )
        lines.append(
            f"  kill → retry: p50 {retry.get('p50_ms', 0) / 1000:.1f} s, max "
            f"{retry.get('max_ms', 0) / 1000:.1f} s; the reaper's jobs waited in the queue "
            f"p50 {reaper.get('p50_ms', 0) / 1000:.1f} s, max {reaper.get('max_ms', 0) / 1000:.1f} s"
        )
        lines.append(
            f"  LLM requests {soak['llm_requests_at_server']} {soak['llm_requests_per_task']}; "
            f"paid twice (at the server) {soak['llm_calls_paid_twice_at_server'] or 0}; "
            f"llm_call rows {soak['llm_call_rows_by_purpose']} (triage/draft rows beyond one an "
            f"inquiry: {soak['llm_triage_or_draft_call_rows_beyond_one_per_inquiry']}); "
            f"backends {soak['triage_backends']}"
        )
        for problem in soak["problems"]:
            lines.append(f"  ! {problem}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--url",
        default="postgresql://postgres@127.0.0.1:5432",
        help=f"the PostgreSQL server (its database {DATABASE} is dropped and made again)",
    )
    parser.add_argument("--inquiries", type=int, default=INQUIRIES, help="per throughput run")
    parser.add_argument("--concurrency", type=int, default=CONCURRENCY, help="jobs per worker")
    parser.add_argument("--delay", type=float, default=DELAY_S, help="the fake LLM's latency")
    parser.add_argument("--soak", type=int, default=SOAK, help="inquiries in the soak (0: none)")
    parser.add_argument(
        "--quick", action="store_true", help="100 inquiries a run and a 600-inquiry soak"
    )
    parser.add_argument(
        "--workers", default=",".join(map(str, WORKER_COUNTS)), help="throughput runs"
    )
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--serve-fake-llm", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_fake_llm:
        serve_fake_llm(0, args.delay)
        return
    if args.quick:
        args.inquiries = min(args.inquiries, 100)
        args.soak = min(args.soak, 600)
    import psycopg
    import web_bench

    try:
        web_bench.recreate_database(args.url, DATABASE)
    except psycopg.OperationalError as error:
        said = str(error).strip()
        print(
            f"worker bench skipped: PostgreSQL unreachable at {args.url} "
            f"({said.splitlines()[0] if said else type(error).__name__}); team mode needs it"
        )
        return
    bench_started = time.perf_counter()
    shutil.rmtree(LOGS, ignore_errors=True)
    LOGS.mkdir(parents=True)
    folder = Path(tempfile.mkdtemp(prefix="worker-bench-"))
    llm = FakeLlm(args.delay, folder / "fake-llm.log")
    results: dict[str, Any] = {
        "machine": web_bench.machine(web_bench.with_database(args.url, DATABASE)),
        "database": {
            "kind": "postgresql",
            "database": DATABASE,
            "autovacuum": one(web_bench.with_database(args.url, DATABASE), "SHOW autovacuum"),
            "analyzed_after_each_bulk_enqueue": True,
        },
        "llm": {
            "server": "assistant.llm.fake_server (loopback, own process)",
            "latency_ms": args.delay * 1000,
            "advertises_slots": False,
            "client": "openai backend, adaptive concurrency from 1 (no /props), per process",
        },
        "concurrency_per_worker": args.concurrency,
        "goal": f"4 workers ≥ {GOAL_SCALING}× one",
        "runs": {},
    }
    fleet: Fleet | None = None
    try:
        counts = [int(w) for w in args.workers.split(",") if w.strip()]
        for i, workers in enumerate(counts):
            print(f"worker bench: {args.inquiries} inquiries through {workers} worker(s)...")
            result, fleet = throughput_run(
                args.url, llm, workers, args.inquiries, args.concurrency, folder
            )
            results["runs"][str(workers)] = result
            if i < len(counts) - 1:
                fleet.stop()
                fleet = None
        runs = results["runs"]
        results["workers"] = {key: run.get("per_s") for key, run in runs.items()}
        results["workers_steady"] = {key: run.get("steady_per_s") for key, run in runs.items()}
        if "1" in runs and "4" in runs and runs["1"].get("per_s"):
            results["scaling_4_vs_1"] = round(runs["4"]["per_s"] / runs["1"]["per_s"], 2)
            if runs["1"].get("steady_per_s") and runs["4"].get("steady_per_s"):
                results["scaling_4_vs_1_steady"] = round(
                    runs["4"]["steady_per_s"] / runs["1"]["steady_per_s"], 2
                )
        if fleet is not None:
            last = runs[str(counts[-1])]
            rate = 0.5 * (last.get("steady_per_s") or last.get("per_s") or 2.0)
            print(f"worker bench: queue latency, inquiries one at a time at {rate:.1f}/s...")
            results["paced"] = paced_run(fleet, rate, PACED_SECONDS)
            fleet.stop()
            fleet = None
        results["queue_latency_ms"] = {
            **{f"backlog_{key}_workers": run.get("queue_latency") for key, run in runs.items()},
            **({"paced": results["paced"]["queue_latency"]} if "paced" in results else {}),
        }
        if args.soak:
            expected = (results["workers"].get("4") or 10.0) * 0.7
            timeout = max(180.0, 3 * args.soak / expected)
            print(
                f"worker bench: soak, {args.soak} inquiries, {SOAK_WORKERS} workers, one killed "
                f"every {KILL_EVERY_S:.0f} s (timeout {timeout:.0f} s)..."
            )
            results["soak"] = soak_run(args.url, llm, args.soak, args.concurrency, folder, timeout)
    finally:
        if fleet is not None:
            fleet.stop()
        llm.stop()
        for log in folder.rglob("*.log"):
            shutil.copy(log, LOGS / f"{log.parent.name}-{log.name}")
        shutil.rmtree(folder, ignore_errors=True)
        if not args.keep:
            web_bench.drop_database(args.url, DATABASE)
    results["bench_seconds"] = round(time.perf_counter() - bench_started, 1)
    print(summary(results))
    print(f"bench run time: {results['bench_seconds']} s")
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(results, indent=2, ensure_ascii=False, default=str), "utf-8")
    print(f"written to {REPORT.relative_to(REPO)}")


if __name__ == "__main__":
    main()

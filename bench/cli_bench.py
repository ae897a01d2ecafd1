"""`make bench` (part 3): how fast the `assistant` command starts, and what a big database
adds to `queue` and `show`.

* start-up: wall time of `assistant --help`, `queue`, `show` and `approve` on a small
  database (the sample inbox), each the median of several runs in a fresh process;
  targets --help ≤ 0.3 s and queue/show/approve ≤ 0.6 s.
* scale: the same `queue` and `show` on a database of 100,000 inquiries, every one of them
  open (the worst case for the queue's ordering); target: ≤ 0.1 s more than on the small
  one. The big database is written by the real pipeline (ingest, workflow, audit chain);
  triage and drafts are computed once per distinct text and replayed, so building it
  measures storage, not the classifier.
* the machine: `import sqlmodel` alone, so figures from machines of other speeds compare.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

RUNS = 7


def timed(command: list[str], env: dict, runs: int = RUNS) -> dict:
    """Median wall time of `assistant COMMAND` in a fresh process, over `runs` runs."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "assistant", *command],
            env=env,
            capture_output=True,
            text=True,
        )
        times.append(time.perf_counter() - started)
        if result.returncode not in (0, 1):
            raise RuntimeError(f"{command}: exit {result.returncode}: {result.stderr[-500:]}")
    return {"median_s": round(statistics.median(times), 3), "min_s": round(min(times), 3)}


def import_sqlmodel_seconds() -> float:
    times = []
    for _ in range(5):
        result = subprocess.run(
            [
                sys.executable,
                "-c",
                "import time; t=time.perf_counter(); import sqlmodel; print(time.perf_counter()-t)",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        times.append(float(result.stdout))
    return round(statistics.median(times), 3)


class ReplayBackend:
    """The local backend's answers, computed once per distinct text and replayed."""

    name = "local"
    can_translate = can_judge = False

    def __init__(self, local):
        self.local, self.policy = local, local.policy
        self.triages: dict[str, object] = {}
        self.drafts: dict[str, object] = {}

    def triage_many(self, inquiries, on_done=None):
        missing = [i for i in inquiries if i.body not in self.triages]
        for inquiry, triage in zip(missing, self.local.triage_many(missing)):
            self.triages[inquiry.body] = triage
        return [self.triages[i.body] for i in inquiries]

    def draft_many(self, items, on_done=None):
        for inquiry, triage in items:
            if inquiry.body not in self.drafts:
                self.drafts[inquiry.body] = self.local.draft(inquiry, triage)
        return [self.drafts[inquiry.body] for inquiry, _ in items]

    def draft(self, inquiry, triage):
        return self.draft_many([(inquiry, triage)])[0]

    def drain_calls(self):
        return []


def build_database(url: str, n: int) -> dict:
    from assistant import pipeline
    from assistant.backends.local import LocalBackend
    from assistant.classifier.training import DATA_DIR, read_examples
    from assistant.models import InquiryIn
    from assistant.policy import load_policy
    from assistant.settings import Settings
    from assistant.storage.db import open_database, session

    texts = [row["text"] for row in read_examples([DATA_DIR / "crocso_train.jsonl"])]
    start = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
    backend = ReplayBackend(LocalBackend(Settings(), load_policy()))
    engine = open_database(url)
    started = time.perf_counter()
    with session(engine) as db:
        for offset in range(0, n, 5000):
            batch = [
                InquiryIn(
                    subject=f"Question {i}",
                    body=texts[i % len(texts)],
                    from_address=f"customer{i}@example.com",
                    message_id=f"<big-{i}@example.com>",
                    received_at=start + timedelta(seconds=23 * i),
                )
                for i in range(offset, min(n, offset + 5000))
            ]
            pipeline.run(db, batch, backend, batch_size=1000)
    engine.dispose()
    elapsed = time.perf_counter() - started
    return {"inquiries": n, "seconds": round(elapsed, 1), "per_second": round(n / elapsed)}


def start_up(small_env: dict) -> dict:
    return {
        "help": timed(["--help"], small_env),
        "queue": timed(["queue"], small_env),
        "show": timed(["show", "3"], small_env),
        # Refused (inquiry 1 needs its order number edited in first): the whole path of
        # approve — settings, database, the draft, the workflow's checks — without a change.
        "approve": timed(["approve", "1", "--agent", "bench"], small_env),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="inquiries in the big database")
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    parser.add_argument(
        "--big-url",
        help="an empty database for the big one (e.g. a PostgreSQL schema: "
        "postgresql://postgres@127.0.0.1:5432/test?options=-csearch_path%%3Dbench); "
        "default: a SQLite file",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        small_url = f"sqlite:///{folder}/small.db"
        env = {**os.environ, "DATABASE_URL": small_url, "PYTHONPATH": str(REPO)}
        # As on a user's machine: compiled bytecode is kept (this sandbox sets the
        # variable, which makes every start compile the project's modules again).
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        subprocess.run(
            [sys.executable, "-m", "assistant", "run", str(REPO / "samples" / "inbox")],
            env=env,
            check=True,
            capture_output=True,
        )
        results: dict = {"import_sqlmodel_s": import_sqlmodel_seconds()}
        results["start_up"] = start_up(env)
        big_url = args.big_url or f"sqlite:///{folder}/big.db"
        results["big_database"] = build_database(big_url, args.n)
        big_env = {**env, "DATABASE_URL": big_url}
        results["at_scale"] = {
            "queue": timed(["queue"], big_env),
            "queue_json": timed(["queue", "--json"], big_env),
            "show": timed(["show", str(args.n // 2)], big_env),
        }
    added = {
        name: round(
            results["at_scale"][name]["median_s"] - results["start_up"][name]["median_s"], 3
        )
        for name in ("queue", "show")
    }
    results["added_by_scale_s"] = added
    start = results["start_up"]
    results["targets_met"] = {
        "--help ≤ 0.3 s": start["help"]["median_s"] <= 0.3,
        "queue/show/approve ≤ 0.6 s": all(
            start[name]["median_s"] <= 0.6 for name in ("queue", "show", "approve")
        ),
        f"queue/show at {args.n:,} add ≤ 0.1 s": all(v <= 0.1 for v in added.values()),
    }
    print(json.dumps(results, indent=2, ensure_ascii=False))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8")


if __name__ == "__main__":
    main()

"""Ctrl-C (or a service manager's SIGTERM) during `assistant run` with an LLM backend: the
batches finished are stored, every LLM call already paid for is on record, the inquiries
not done are given back for the next run, and the run says so. A real `assistant run`
process, interrupted while our fake OpenAI-compatible server is answering slowly.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlmodel import select

from assistant.llm.fake_server import FakeLlm, serve
from assistant.models import InquiryStatus
from assistant.storage.db import open_database, session
from assistant.storage.tables import InquiryRow, LlmCallRow

S = InquiryStatus
REPO = Path(__file__).resolve().parent.parent
MAILS = 10
INTERRUPTED = re.compile(
    r"interrupted: (\d+) inquiries triaged and drafted and saved, (\d+) left waiting "
    r"\(run `assistant run` again to continue\); (\d+) LLM calls stored"
)


def write_inbox(folder: Path) -> None:
    folder.mkdir()
    for n in range(MAILS):
        message = EmailMessage()
        message["From"] = f"Customer {n} <c{n}@example.com>"
        message["To"] = "support@crocso.example"
        message["Subject"] = f"Order {558100 + n}"
        message["Message-ID"] = f"<int{n}@x>"
        message["Date"] = "Mon, 23 Nov 2026 10:00:00 +0000"
        message.set_content(f"Where is my order {558100 + n}? Please check the tracking.")
        (folder / f"{n}.eml").write_bytes(bytes(message))


def environment(tmp_path: Path, url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ASSISTANT_", "OPENAI_"))}
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'assistant.db'}",
        OPENAI_BASE_URL=url,
        ASSISTANT_OPENAI_MODEL="fake-model",
        ASSISTANT_OPENAI_MAX_RETRIES="0",
        ASSISTANT_OPENAI_CONCURRENCY="1",
        ASSISTANT_LLM_CAPABILITIES_FILE=str(tmp_path / "capabilities.json"),
        PYTHONUNBUFFERED="1",
    )
    return env


def rows(engine):
    with session(engine) as db:
        inquiries = [(r.id, r.status, r.claimed_by) for r in db.exec(select(InquiryRow))]
        calls = [(c.inquiry_id, c.ok) for c in db.exec(select(LlmCallRow))]
        db.commit()
    return inquiries, calls


def wait_for(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_an_interrupted_run_keeps_what_it_did_and_paid_for_and_gives_back_the_rest(tmp_path, stop):
    inbox = tmp_path / "inbox"
    write_inbox(inbox)
    with serve(FakeLlm(delay=0.3)) as (url, fake):
        env = environment(tmp_path, url)
        command = [sys.executable, "-m", "assistant", "run", str(inbox), "--backend", "openai"]
        run = subprocess.Popen(
            [*command, "--batch-size", "3"],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        engine = open_database(env["DATABASE_URL"])
        try:
            # The first batch stored, and the second one in the middle of its LLM calls.
            wait_for(lambda: any(s is S.drafted for _, s, _ in rows(engine)[0]))
            asked = len(fake.requests)
            wait_for(lambda: len(fake.requests) >= asked + 2 and fake.in_flight > 0)
            run.send_signal(stop)
            started = time.monotonic()
            out, err = run.communicate(timeout=15)
            stopped_in = time.monotonic() - started
        finally:
            if run.poll() is None:
                run.kill()
        inquiries, calls = rows(engine)

        assert run.returncode == 130, err
        assert stopped_in < 10
        found = INTERRUPTED.search(err)
        assert found, err
        saved, waiting, stored_calls = map(int, found.groups())
        statuses = [status for _, status, _ in inquiries]
        assert len(inquiries) == MAILS  # every mail stored, none lost
        assert set(statuses) <= {S.drafted, S.needs_manual_triage, S.received}
        assert saved == sum(s is not S.received for s in statuses) and saved > 0
        assert waiting == statuses.count(S.received) and waiting > 0
        assert saved + waiting == MAILS
        assert all(claimed is None for _, s, claimed in inquiries if s is S.received)
        assert stored_calls == len(calls) > 0
        waiting_ids = {i for i, s, _ in inquiries if s is S.received}
        # the interrupted batch's calls were paid for: on record, with their inquiries
        assert any(inquiry_id in waiting_ids for inquiry_id, _ in calls)

        # The next run takes up what was given back; nothing is done twice.
        again = subprocess.run(
            [sys.executable, "-m", "assistant", "run", "--backend", "openai"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert again.returncode == 0, again.stderr
        assert f"{waiting} processed" in again.stdout
        finally_, _ = rows(engine)
        assert S.received not in {s for _, s, _ in finally_}
        assert len(finally_) == MAILS
        engine.dispose()

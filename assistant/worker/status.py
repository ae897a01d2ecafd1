"""`assistant worker status`: the queue as an operator needs it — jobs per task and state,
the stalled ones (their worker's heartbeat stopped), the oldest waiting — and the tasks
that failed for good."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import text
from sqlmodel import Session

from assistant.storage.tables import utcnow
from assistant.worker import tasks

JOB_COUNTS = text(
    """
    SELECT task_name, status::text AS status, count(*) AS n
      FROM procrastinate_jobs
     WHERE status IN ('todo', 'doing', 'failed')
     GROUP BY task_name, status
    """
)
OLDEST_WAITING = text(
    """
    SELECT j.task_name, min(e.at) AS since
      FROM procrastinate_jobs j
      JOIN procrastinate_events e ON e.job_id = j.id AND e.type = 'deferred'
     WHERE j.status = 'todo' AND (j.scheduled_at IS NULL OR j.scheduled_at <= now())
     GROUP BY j.task_name
    """
)
STALLED = text(
    """
    SELECT j.task_name, count(*) AS n
      FROM procrastinate_jobs j
      LEFT JOIN procrastinate_workers w ON w.id = j.worker_id
     WHERE j.status = 'doing'
       AND (j.worker_id IS NULL OR w.last_heartbeat < now() - make_interval(secs => :seconds))
     GROUP BY j.task_name
    """
)
WORKERS = text(
    "SELECT count(*) FROM procrastinate_workers"
    " WHERE last_heartbeat >= now() - make_interval(secs => :seconds)"
)


@dataclass
class TaskCounts:
    queued: int = 0
    doing: int = 0
    failed: int = 0
    stalled: int = 0
    oldest_waiting_s: float | None = None


@dataclass
class QueueStatus:
    team_mode: bool
    workers_alive: int = 0
    tasks: dict[str, TaskCounts] = field(default_factory=dict)
    waiting_inquiries: int = 0  # stored but not yet triaged and drafted
    failures: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "team_mode": self.team_mode,
            "workers_alive": self.workers_alive,
            "tasks": {name: vars(counts) for name, counts in self.tasks.items()},
            "waiting_inquiries": self.waiting_inquiries,
            "failures": self.failures,
        }


def queue_status(session: Session, *, team_mode: bool, stalled_seconds: float) -> QueueStatus:
    status = QueueStatus(team_mode=team_mode)
    now = utcnow()
    if team_mode:
        for task_name, state, n in session.execute(JOB_COUNTS):
            counts = status.tasks.setdefault(task_name, TaskCounts())
            setattr(counts, "queued" if state == "todo" else state, int(n))
        for task_name, since in session.execute(OLDEST_WAITING):
            counts = status.tasks.setdefault(task_name, TaskCounts())
            counts.oldest_waiting_s = _age(now, since)
        for task_name, n in session.execute(STALLED, {"seconds": stalled_seconds}):
            status.tasks.setdefault(task_name, TaskCounts()).stalled = int(n)
        status.workers_alive = int(
            session.execute(WORKERS, {"seconds": stalled_seconds}).scalar_one()
        )
    status.waiting_inquiries = tasks.count_waiting(session)
    status.failures = [
        {
            "task": f.task,
            "job_id": f.job_id,
            "inquiry_id": f.inquiry_id,
            "attempts": f.attempts,
            "error": f.error,
            "failed_at": f.failed_at.isoformat(),
        }
        for f in tasks.open_failures(session)
    ]
    session.commit()
    return status


def _age(now: datetime, since: datetime | None) -> float | None:
    return round((now - since).total_seconds(), 1) if since is not None else None

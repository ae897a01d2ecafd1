"""Background tasks: mail polling, triage and drafts, sending, re-drafts and SLA checks.

`tasks` holds them as plain functions of a session; `queue` runs them as Procrastinate jobs
on the team's PostgreSQL (team mode, `ASSISTANT_WORKERS=true`); `runner` starts a worker,
or runs the same functions in-process when there is no queue (SQLite, one user).
"""

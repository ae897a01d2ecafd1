"""The agents' web workspace: the queue, the review page, the team lead's metrics.

A thin edge like the CLI: routes read through `assistant.storage` and change things only
through `assistant.review` and `assistant.accounts`, so every rule (the transition table,
the approval gate, the senior-only approval of escalated cases, the draft version check)
is the workflow core's. Pages are server-rendered (Jinja2, `templates/web/`); htmx does
the partial updates; nothing is fetched from another site.
"""

from assistant.web.app import create_app

__all__ = ["create_app"]

"""The queue, the policy, and the team lead's metrics."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response

from assistant.models import AccountRole
from assistant.storage.tables import AgentAccountRow, utcnow
from assistant.web import views
from assistant.web.app import render
from assistant.web.auth import Agent, Db, require

router = APIRouter()
Filters = Annotated[list[str], Query(alias="f", max_length=20)]


@router.get("/")
def home() -> Response:
    return RedirectResponse("/queue", status_code=303)


@router.get("/queue")
def queue(
    request: Request,
    db: Db,
    agent: Agent,
    f: Filters = [],  # noqa: B006 - FastAPI copies defaults
    q: Annotated[str, Query(max_length=200)] = "",
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> Response:
    size = request.app.state.settings.web_page_size
    data = views.queue_page(
        db, account=agent.name, active=f, search=q.strip(), page=page, size=size, now=utcnow()
    )
    context = {"agent": agent, "queue": data, "labels": views.FILTER_LABELS}
    # Where an action on the review page returns the agent to: this queue, as filtered.
    # Rebuilt from the validated values only: a junk parameter must not grow the cookie.
    query = [*(("f", name) for name in data.active), ("q", data.search), ("page", str(page))]
    request.session["queue_url"] = f"/queue?{urlencode(query)}"
    if request.headers.get("HX-Request") and request.headers.get("HX-Target") == "queue-rows":
        return render(request, "_queue_rows.html", context)
    return render(request, "queue.html", context)


@router.get("/policy")
def policy_page(request: Request, agent: Agent) -> Response:
    from assistant.policy import default_policy

    return render(request, "policy.html", {"agent": agent, "policy": default_policy()})


def _period(days: int) -> tuple[datetime, datetime]:
    now = utcnow()
    return now - timedelta(days=days), now


@router.get("/metrics")
def metrics(
    request: Request,
    db: Db,
    agent: Annotated[AgentAccountRow, Depends(require(AccountRole.senior))],
    days: Annotated[int, Query(ge=1, le=3660)] = 30,
) -> Response:
    from assistant.team_metrics import team_metrics

    since, until = _period(days)
    report = team_metrics(db, since=since, until=until)
    return render(request, "metrics.html", {"agent": agent, "report": report, "days": days})


@router.get("/metrics.csv")
def metrics_csv(
    db: Db,
    agent: Annotated[AgentAccountRow, Depends(require(AccountRole.senior))],
    days: Annotated[int, Query(ge=1, le=3660)] = 30,
) -> Response:
    from assistant.team_metrics import team_metrics

    since, until = _period(days)
    body = team_metrics(db, since=since, until=until).to_csv()
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="crocso-metrics-{days}d.csv"'},
    )

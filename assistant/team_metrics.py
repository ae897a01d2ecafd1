"""The team lead's numbers for a period, read from what is stored: the audit trail (who did
what, when, with which text) and the inquiry, triage and draft rows.

Everything is filtered, joined and mostly counted in SQL: six queries whatever the size
of the database. Texts are read only for edited approvals (their edit size), and only for
a sample of about EDIT_SIZE_SAMPLE of them when there are more. A period is
[since, until), on the time each metric is about (an approval, an arrival, a draft...);
None on either side: unbounded.
"""

from __future__ import annotations

import csv
import difflib
import io
import math
import re
import statistics
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, exists, func, select, text, true
from sqlmodel import Session

from assistant.models import Action, ActorKind, InquiryStatus, Urgency
from assistant.storage.tables import AuditEventRow, DraftRow, InquiryRow, TriageRow, utcnow

EVENT = AuditEventRow.__table__  # type: ignore[attr-defined]
INQUIRY = InquiryRow.__table__  # type: ignore[attr-defined]
TRIAGE = TriageRow.__table__  # type: ignore[attr-defined]
DRAFT = DraftRow.__table__  # type: ignore[attr-defined]
CREATES = (Action.draft, Action.redraft)
EDITS = (Action.edit, Action.edit_english, Action.retranslate)
MANUAL = InquiryStatus.needs_manual_triage
Bound = datetime | None  # one end of a period; None: unbounded
# The edit-size median is of every edited approval up to this many, else of an even sample
# of about this many (by event id): plenty for a median, and each diff costs Python time.
EDIT_SIZE_SAMPLE = 1000


@dataclass(frozen=True)
class Share:
    """`hits` out of `count`; no rate when there is nothing to count."""

    count: int = 0
    hits: int = 0

    @property
    def rate(self) -> float | None:
        return self.hits / self.count if self.count else None


@dataclass(frozen=True)
class SlaAttainment:
    """An urgency's first approvals (`target.count`) and those by the target and latest
    due times."""

    target: Share = field(default_factory=Share)
    latest: Share = field(default_factory=Share)


@dataclass(frozen=True)
class Override:
    inquiry_id: int
    actor: str
    at: datetime
    reason: str | None

    def __str__(self) -> str:
        return f"{self.at.isoformat(timespec='seconds')} {self.actor}: {self.reason}"


@dataclass
class TeamMetrics:
    since: datetime | None
    until: datetime | None
    computed_at: datetime
    unedited: Share = field(default_factory=Share)  # approvals, and those approved as drafted
    unedited_by_category: dict[str, Share] = field(default_factory=dict)
    unedited_by_backend: dict[str, Share] = field(default_factory=dict)
    edit_size_median: float | None = None  # characters changed, over the edited approvals
    edit_size_count: int = 0  # approvals that were edited
    edit_size_measured: int = 0  # how many of them the median is of (EDIT_SIZE_SAMPLE)
    first_review_median_minutes: float | None = None
    first_review_p90_minutes: float | None = None
    first_reviewed: int = 0
    awaiting_first_review: int = 0
    awaiting_oldest_minutes: float | None = None
    sla: dict[str, SlaAttainment] = field(default_factory=dict)  # by urgency
    overrides: list[Override] = field(default_factory=list)
    manual_triage: Share = field(default_factory=Share)  # of the inquiries received
    draft_fallback: Share = field(default_factory=Share)  # of the drafts made
    triage_fallback: Share = field(default_factory=Share)  # of the triages made
    triage_corrections: int = 0

    @property
    def override_count(self) -> int:
        return len(self.overrides)

    def rows(self) -> list[tuple[str, str, Any]]:
        """(metric, group, value), one line of the CSV each; None: nothing to measure."""
        groups = [("all", self.unedited)]
        for kind, shares in (
            ("category", self.unedited_by_category),
            ("backend", self.unedited_by_backend),
        ):
            groups += [(f"{kind}={key}", share) for key, share in sorted(shares.items())]
        rows = [r for g, s in groups for r in _share_rows("approved", "approved_unedited", g, s)]
        rows += [
            ("edit_size_median_chars", "all", self.edit_size_median),
            ("edited_approvals", "all", self.edit_size_count),
            ("edit_size_measured", "all", self.edit_size_measured),
            ("first_review_median_minutes", "all", self.first_review_median_minutes),
            ("first_review_p90_minutes", "all", self.first_review_p90_minutes),
            ("first_reviewed", "all", self.first_reviewed),
            ("awaiting_first_review", "all", self.awaiting_first_review),
            ("awaiting_oldest_minutes", "all", self.awaiting_oldest_minutes),
        ]
        for urgency, sla in sorted(self.sla.items()):
            group = f"urgency={urgency}"
            rows += _share_rows("first_approvals", "sla_met_target", group, sla.target)
            rows += _share_rows("first_approvals", "sla_met_latest", group, sla.latest)[1:]
        rows.append(("grounding_overrides", "all", self.override_count))
        rows += [("grounding_override", f"inquiry={o.inquiry_id}", str(o)) for o in self.overrides]
        rows += _share_rows("inquiries_received", "manual_triage", "all", self.manual_triage)
        rows += _share_rows("drafts_made", "draft_fallback", "all", self.draft_fallback)
        rows += _share_rows("triages_made", "triage_fallback", "all", self.triage_fallback)
        return [*rows, ("triage_corrections", "all", self.triage_corrections)]

    def to_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["metric", "group", "value"])
        for metric, group, value in self.rows():
            shown = "" if value is None else round(value, 4) if isinstance(value, float) else value
            writer.writerow([metric, group, shown])
        return out.getvalue()


def _share_rows(total: str, hits: str, group: str, share: Share) -> list[tuple[str, str, Any]]:
    """A share as three lines: how many, how many of them, the rate."""
    return [
        (total, group, share.count),
        (hits, group, share.hits),
        (f"{hits}_rate", group, share.rate),
    ]


def _period(column, since: Bound, until: Bound) -> list:
    """The conditions for since <= column < until (no bound for None)."""
    conditions = []
    if since is not None:
        conditions.append(column >= since)
    if until is not None:
        conditions.append(column < until)
    return conditions


def _common_start(a: str, b: str) -> int:
    """Length of the common start, by bisection: slices are compared in C."""
    low, high = 0, min(len(a), len(b))
    while low < high:
        middle = (low + high + 1) // 2
        low, high = (middle, high) if a[:middle] == b[:middle] else (low, middle - 1)
    return low


def edit_size(before: str, after: str) -> int:
    """Characters inserted, deleted or replaced (the longer side of a replacement), from
    difflib.SequenceMatcher opcodes. The common start and end are cut first (an agent's
    edit is usually local); then lines are compared, the replaced lines word by word and
    the replaced words character by character: a character-level diff of whole texts is
    quadratic in Python, and matches stray letters across a rewritten sentence."""
    start = _common_start(before, after)
    a, b = before[start:], after[start:]
    end = _common_start(a[::-1], b[::-1])
    a, b = a[: len(a) - end], b[: len(b) - end]
    return _changed(a, b, 0) if a and b else len(a) + len(b)


_LEVELS = (re.compile(r"[^\n]*\n|[^\n]+"), re.compile(r"\S+\s*"), None)  # lines, words, chars
_LONGEST_CHARACTER_DIFF = 2500  # len × len: a longer replaced run of words counts whole


def _changed(a: str, b: str, level: int) -> int:
    pattern = _LEVELS[level]
    parts_a, parts_b = (pattern.findall(a), pattern.findall(b)) if pattern else (a, b)
    size = 0
    matcher = difflib.SequenceMatcher(None, parts_a, parts_b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        x, y = "".join(parts_a[i1:i2]), "".join(parts_b[j1:j2])
        finer = pattern is not None and (level == 0 or len(x) * len(y) <= _LONGEST_CHARACTER_DIFF)
        if tag == "replace" and finer:
            size += _changed(x, y, level + 1)
        elif tag != "equal":
            size += max(len(x), len(y)) if tag == "replace" else len(x) + len(y)
    return size


def _percentile(values: list[float], share: float) -> float | None:
    """Nearest rank: a value that happened, the same on any number of points."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)] if ordered else None


def _approvals(since: Bound, until: Bound) -> Any:
    """Approvals in the period, each with the id of the event that created the approved
    draft (the draft or redraft event with its draft_id; 0 if none is recorded)."""
    a, d = EVENT.alias("a"), EVENT.alias("d")
    created = (
        select(func.coalesce(func.max(d.c.id), 0))
        .where(d.c.inquiry_id == a.c.inquiry_id, d.c.draft_id == a.c.draft_id)
        .where(d.c.action.in_(CREATES))
        .correlate(a)
        .scalar_subquery()
    )
    columns = (a.c.id, a.c.inquiry_id, a.c.draft_id, a.c.at, a.c.text_after)
    return (
        select(*columns, created.label("created"))
        .where(a.c.action == Action.approve, *_period(a.c.at, since, until))
        .subquery("ap")
    )


def _edited(ap, alias) -> Any:
    """An edit of the text between the draft's creation and its approval."""
    return and_(
        alias.c.inquiry_id == ap.c.inquiry_id,
        alias.c.action.in_(EDITS),
        alias.c.id > ap.c.created,
        alias.c.id < ap.c.id,
    )


def _count(condition) -> Any:
    return func.sum(case((condition, 1), else_=0))


def _approval_metrics(session: Session, since: Bound, until: Bound, metrics: TeamMetrics) -> None:
    """Unedited approvals per category and backend, and the inquiries' first approvals
    against the triage's due times (already in business hours), counted in SQL by
    category, backend and urgency (of the inquiry's current triage)."""
    ap, e, f = _approvals(since, until), EVENT.alias("e"), EVENT.alias("f")
    edited = exists().where(_edited(ap, e)).correlate(ap)
    earlier = and_(f.c.inquiry_id == ap.c.inquiry_id, f.c.action == Action.approve)
    first = ~exists().where(earlier, f.c.id < ap.c.id).correlate(ap)
    group = (TRIAGE.c.category, DRAFT.c.backend, TRIAGE.c.urgency, first.label("first"))
    query = (
        select(
            *group,
            func.count(),
            _count(~edited),
            _count(ap.c.at <= TRIAGE.c.due_at),
            _count(ap.c.at <= TRIAGE.c.due_latest_at),
        )
        .select_from(ap)
        .join(INQUIRY, INQUIRY.c.id == ap.c.inquiry_id)
        .outerjoin(TRIAGE, TRIAGE.c.id == INQUIRY.c.triage_id)
        .outerjoin(DRAFT, DRAFT.c.id == ap.c.draft_id)
        .group_by(*group)
    )
    shares: dict[tuple[str, str], list[int]] = {}
    sla = {u.value: [0, 0, 0] for u in Urgency}
    for category, backend, urgency, is_first, n, unedited, target, latest in session.execute(query):
        for key in (
            ("all", ""),
            ("category", str(category or "none")),
            ("backend", backend or "none"),
        ):
            tally = shares.setdefault(key, [0, 0])
            tally[0], tally[1] = tally[0] + n, tally[1] + unedited
        if is_first and urgency is not None:
            sla[urgency] = [old + new for old, new in zip(sla[urgency], (n, target, latest))]
    by = {key: Share(*tally) for key, tally in shares.items()}
    metrics.unedited = by.get(("all", ""), Share())
    metrics.unedited_by_category = {k: v for (kind, k), v in by.items() if kind == "category"}
    metrics.unedited_by_backend = {k: v for (kind, k), v in by.items() if kind == "backend"}
    metrics.sla = {u: SlaAttainment(Share(n, t), Share(n, la)) for u, (n, t, la) in sla.items()}


def _edit_sizes(session: Session, since: Bound, until: Bound, every: int) -> list[int]:
    """Characters changed from the text as drafted (the draft event's text, else the text
    before the first edit) to the text approved, for the approvals that were edited (the
    only texts read), or for every `every`-th of them by event id."""
    ap, e, f, g = _approvals(since, until), EVENT.alias("e"), EVENT.alias("f"), EVENT.alias("g")
    drafted = select(g.c.text_after).where(g.c.id == ap.c.created).correlate(ap)
    first_edit = select(f.c.text_before).where(_edited(ap, f)).order_by(f.c.id).limit(1)
    original = func.coalesce(drafted.scalar_subquery(), first_edit.correlate(ap).scalar_subquery())
    query = select(original, ap.c.text_after).where(ap.c.id % every == 0)  # cheap test first
    query = query.where(exists().where(_edited(ap, e)).correlate(ap))
    return [
        edit_size(before, after)
        for before, after in session.execute(query)
        if before is not None and after is not None
    ]


def _minutes(session: Session, later, earlier) -> Any:
    """later - earlier in minutes, computed by the database: no 100,000 times to convert."""
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", later - earlier) / 60
    return (func.julianday(later) - func.julianday(earlier)) * 1440


def _arrivals(
    session: Session, since: Bound, until: Bound, now: datetime, metrics: TeamMetrics
) -> None:
    """Inquiries received in the period: minutes to the first agent event (from arrival,
    or from the draft if it came later), and how many ever needed manual triage. Mail the
    assistant itself set aside as needing no reply waits for nobody: not awaiting review."""
    e, received_at = EVENT, INQUIRY.c.received_at
    received = select(INQUIRY.c.id).where(*_period(received_at, since, until))
    per = (
        select(
            e.c.inquiry_id,
            func.min(case((e.c.action == Action.draft, e.c.at))).label("drafted"),
            func.min(case((e.c.actor_kind == ActorKind.agent, e.c.at))).label("reviewed"),
            func.max(case((e.c.to_status == MANUAL, 1), else_=0)).label("manual"),
        )
        .where(e.c.inquiry_id.in_(received))
        .group_by(e.c.inquiry_id)
        .subquery()
    )
    start = case((per.c.drafted > received_at, per.c.drafted), else_=received_at)
    unanswered = and_(per.c.reviewed.is_(None), INQUIRY.c.status != InquiryStatus.no_reply_needed)
    query = (
        select(_minutes(session, per.c.reviewed, start), case((unanswered, start)), per.c.manual)
        .outerjoin(per, per.c.inquiry_id == INQUIRY.c.id)
        .where(*_period(received_at, since, until))
    )
    waits, waiting, total, manual = [], [], 0, 0
    for minutes, waiting_since, needed_manual in session.execute(query):
        total += 1
        manual += bool(needed_manual)
        if minutes is not None:
            waits.append(max(0.0, float(minutes)))
        elif waiting_since is not None:
            waiting.append(waiting_since)
    metrics.first_review_median_minutes = _rounded(statistics.median(waits) if waits else None)
    metrics.first_review_p90_minutes = _rounded(_percentile(waits, 0.9))
    metrics.first_reviewed, metrics.awaiting_first_review = len(waits), len(waiting)
    if waiting:
        metrics.awaiting_oldest_minutes = _rounded((now - min(waiting)).total_seconds() / 60)
    metrics.manual_triage = Share(total, manual)


def _rounded(minutes: float | None) -> float | None:
    """To the second: what the database's time arithmetic is good for."""
    return None if minutes is None else round(minutes, 2)


def _fallbacks(session: Session, since: Bound, until: Bound, metrics: TeamMetrics) -> None:
    """Drafts and triages made in the period that fell back (an LLM backend that failed).
    A triage an agent set (`set_by`: a correction, a category given to a re-draft) is no
    backend's: not counted."""
    for table, reason, name, made in (
        (DRAFT, DRAFT.c.fallback_reason, "draft_fallback", true()),
        (
            TRIAGE,
            TRIAGE.c.details["fallback_reason"].as_string(),
            "triage_fallback",
            TRIAGE.c.set_by.is_(None),
        ),
    ):
        query = select(func.count(), _count(func.coalesce(reason, "") != "")).where(made)
        total, fell = session.execute(query.where(*_period(table.c.created_at, since, until))).one()
        setattr(metrics, name, Share(total, fell or 0))


def _events_of_note(session: Session, since: Bound, until: Bound, metrics: TeamMetrics) -> None:
    """Grounding findings overridden (who, when, why) and triages corrected by an agent."""
    wanted = (Action.override_grounding, Action.correct_triage)
    query = select(EVENT.c.action, EVENT.c.inquiry_id, EVENT.c.actor, EVENT.c.at, EVENT.c.reason)
    query = query.where(EVENT.c.action.in_(wanted), *_period(EVENT.c.at, since, until))
    for action, *override in session.execute(query.order_by(EVENT.c.id)):
        if action is Action.override_grounding:
            metrics.overrides.append(Override(*override))
        else:
            metrics.triage_corrections += 1


def team_metrics(
    session: Session,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    now: datetime | None = None,
) -> TeamMetrics:
    """The metrics of `since` ≤ t < `until`; `now` dates how long unreviewed mail waits."""
    now = now or utcnow()
    metrics = TeamMetrics(since=since, until=until, computed_at=now)
    if session.get_bind().dialect.name == "postgresql":
        # The correlated look-ups are cheap, but their estimated cost sets off PostgreSQL's
        # JIT compiler, which takes seconds over a query that runs in a fraction of one.
        session.execute(text("SET LOCAL jit = off"))
    _approval_metrics(session, since, until, metrics)
    metrics.edit_size_count = metrics.unedited.count - metrics.unedited.hits
    every = math.ceil(metrics.edit_size_count / EDIT_SIZE_SAMPLE) or 1
    sizes = _edit_sizes(session, since, until, every)
    metrics.edit_size_median = statistics.median(sizes) if sizes else None
    metrics.edit_size_measured = len(sizes)
    _arrivals(session, since, until, now, metrics)
    _fallbacks(session, since, until, metrics)
    _events_of_note(session, since, until, metrics)
    return metrics

"""The inquiry's life: the states, the actions that move it, and the functions that apply
them. Every edge (the pipeline, an agent in the terminal or the browser, the mail poller,
a worker) changes an inquiry only through `apply`, `apply_many` or `receive`, so each one
inherits the same rules:

* the transition table (`RULES`): which action is allowed from which status, to which
  status, by whom, and whether it needs a reason;
* the approval gate: a named agent, a current draft, a valid recipient, no grounding
  finding unless overridden with a reason, a promise of a senior review only once the
  case is escalated;
* optimistic concurrency: an action based on a draft version that is no longer current is
  refused, and the status only changes if it is still what the action started from;
* the audit trail: every change is an event, appended to the hash chain in the same
  transaction as the change. Nothing is half-applied: on any refusal nothing changes.

Statuses and actions are the enums of `assistant.models`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, text, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col, select

from assistant.models import OPEN_STATUSES, Action, ActorKind, GroundingFinding, InquiryStatus

if TYPE_CHECKING:
    from assistant.backends import Backend
from assistant.storage import audit, records
from assistant.storage.tables import DraftRow, InquiryRow

S = InquiryStatus
OPEN = frozenset(OPEN_STATUSES)
REVIEWABLE = frozenset({S.drafted, S.escalated})
# Who may approve a reply to an escalated inquiry (policy §4): a workspace account's role.
SENIOR_ROLES = frozenset({"senior", "admin"})
_ARRIVAL_LOCK = 7_421_134  # pg_advisory_xact_lock key: "storing new mail"


@dataclass(frozen=True)
class Actor:
    """Who acts: recorded in the audit trail. `role` is the workspace account's role."""

    name: str
    kind: ActorKind = ActorKind.agent
    role: str | None = None

    @classmethod
    def agent(cls, name: str | None, role: str | None = None) -> Actor:
        if not name or not name.strip():
            raise WorkflowError("a review action needs a named agent")
        return cls(" ".join(name.split())[:128], ActorKind.agent, role)

    def audit(self) -> dict[str, Any]:
        """How the audit trail names this actor."""
        return {"actor": self.name, "actor_kind": self.kind}

    @classmethod
    def system(cls, name: str = "system") -> Actor:
        return cls(name, ActorKind.system)


class WorkflowError(ValueError):
    """An action that is not allowed; the message says why, in the agent's words."""


class StaleDraft(WorkflowError):
    """The draft changed since the agent read it (another agent, or a re-draft)."""


class GroundingBlocked(WorkflowError):
    def __init__(self, findings: list[GroundingFinding]):
        self.findings = findings
        kinds = ", ".join(sorted({f.kind for f in findings}))
        super().__init__(
            f"the draft has {len(findings)} grounding finding(s) ({kinds}): edit the text, "
            "or approve with an override reason"
        )


@dataclass(frozen=True)
class Rule:
    sources: frozenset[InquiryStatus | None]  # None: the inquiry is being stored
    targets: frozenset[InquiryStatus] | None  # None: the status stays as it is
    by: frozenset[ActorKind]
    needs_reason: bool = False
    needs_draft: bool = False
    # Where the assistant itself may take an agent's action (narrower than `sources`): a
    # re-draft of its own draft that fell back to the local template, still untouched.
    system_sources: frozenset[InquiryStatus] = frozenset()


SYSTEM = frozenset({ActorKind.system})
AGENT = frozenset({ActorKind.agent})
ANYONE = frozenset(ActorKind)

RULES: dict[Action, Rule] = {
    Action.receive: Rule(frozenset({None}), frozenset({S.received}), SYSTEM),
    Action.quarantine: Rule(frozenset({None}), frozenset({S.quarantined}), SYSTEM, True),
    Action.triage: Rule(
        frozenset({S.received}), frozenset({S.triaged, S.needs_manual_triage}), SYSTEM
    ),
    Action.triage_failed: Rule(
        frozenset({S.received}), frozenset({S.needs_manual_triage}), SYSTEM, True
    ),
    Action.draft: Rule(frozenset({S.triaged}), frozenset({S.drafted}), SYSTEM),
    Action.draft_failed: Rule(
        frozenset({S.triaged}), frozenset({S.needs_manual_triage}), SYSTEM, True
    ),
    Action.edit: Rule(REVIEWABLE, None, AGENT, needs_draft=True),
    Action.edit_english: Rule(REVIEWABLE, None, AGENT, needs_draft=True),
    Action.retranslate: Rule(REVIEWABLE, None, AGENT, needs_draft=True),
    Action.redraft: Rule(
        REVIEWABLE | {S.needs_manual_triage, S.triaged},
        frozenset({S.drafted, S.escalated}),
        AGENT,
        system_sources=frozenset({S.drafted}),  # `run --retry-fallbacks`
    ),
    Action.escalate: Rule(
        frozenset({S.drafted, S.needs_manual_triage, S.triaged}),
        frozenset({S.escalated}),
        AGENT,
        needs_reason=True,  # the senior who takes it over reads why
    ),
    Action.override_grounding: Rule(REVIEWABLE, None, AGENT, True, True),
    Action.approve: Rule(REVIEWABLE, frozenset({S.approved}), AGENT, needs_draft=True),
    Action.withdraw_approval: Rule(
        frozenset({S.approved}), frozenset({S.drafted, S.escalated}), AGENT
    ),
    Action.reject: Rule(OPEN | {S.quarantined}, frozenset({S.rejected}), AGENT, True),
    Action.mark_no_reply_needed: Rule(
        OPEN | {S.quarantined}, frozenset({S.no_reply_needed}), ANYONE, True
    ),
    # Back to where it was when it was marked (a never-triaged mail: to `received`).
    Action.reopen: Rule(frozenset({S.no_reply_needed}), OPEN | {S.quarantined}, AGENT),
    Action.export: Rule(frozenset({S.approved}), None, ANYONE),
    Action.send: Rule(frozenset({S.approved}), frozenset({S.sent}), ANYONE),
    # An agent's category or urgency; the status stays (a re-draft then writes for it).
    Action.correct_triage: Rule(
        frozenset({S.needs_manual_triage, S.triaged, S.drafted, S.escalated}), None, AGENT
    ),
    # The outbox: the inquiry stays approved while its reply is retried or a person decides;
    # a bounce of a sent reply brings it back to approved, with the delivery failed.
    Action.delivery_failed: Rule(frozenset({S.approved, S.sent}), frozenset({S.approved}), SYSTEM),
    Action.delivery_uncertain: Rule(frozenset({S.approved}), None, SYSTEM, True),
    Action.retry_delivery: Rule(frozenset({S.approved}), None, AGENT),
    # A flag for the workspace: the status stays, the agents see it is about to breach.
    Action.sla_warning: Rule(OPEN, None, SYSTEM),
}

# What an action is called in a refusal, in the words of the CLI and the workspace.
_VERB = {Action.send: "mark_sent", Action.withdraw_approval: "withdraw"}

Prepare = Callable[[Session, InquiryRow, DraftRow | None], dict[str, Any]]
Effect = Callable[[Session, InquiryRow, DraftRow | None, int], None]


def _verb(action: Action) -> str:
    return _VERB.get(action, action.value)


def check_allowed(action: Action, actor: Actor, status: InquiryStatus | None, inquiry_id: int):
    """Refuse an action the table does not allow from `status` or for this actor."""
    rule = RULES[action]
    by_system = actor.kind is ActorKind.system and status in rule.system_sources
    if actor.kind not in rule.by and not by_system:
        who = "an agent" if ActorKind.agent in rule.by else "the assistant itself"
        raise WorkflowError(f"{_verb(action)} is done by {who}, not by {actor.name}")
    if status not in rule.sources:
        allowed = " or ".join(sorted(s.value for s in rule.sources if s is not None))
        state = status.value if status else "not stored yet"
        raise WorkflowError(f"inquiry {inquiry_id} is {state}; {_verb(action)} needs it {allowed}")


def _target(action: Action, current: InquiryStatus, to: InquiryStatus | None) -> InquiryStatus:
    targets = RULES[action].targets
    if targets is None:
        return current
    chosen = to if to is not None else next(iter(targets)) if len(targets) == 1 else None
    if chosen not in targets:
        raise ValueError(f"{action.value} leads to {sorted(targets)}, not {to}")  # a bug
    return chosen


def _reason(action: Action, reason: str | None) -> str | None:
    reason = reason.strip() if reason else None
    if RULES[action].needs_reason and not reason:
        raise WorkflowError(f"{_verb(action)} needs a reason")
    return reason


def locked_inquiry(session: Session, inquiry_id: int) -> InquiryRow:
    """The inquiry as it is now, locked until commit (PostgreSQL's FOR UPDATE; SQLite's
    transactions take the write lock when they begin)."""
    row = session.exec(
        select(InquiryRow)
        .where(InquiryRow.id == inquiry_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if row is None:
        raise WorkflowError(f"no inquiry with id {inquiry_id}")
    return row


def lock_statuses(session: Session, inquiry_ids: list[int]) -> dict[int, InquiryStatus]:
    """The status of each of these inquiries, locked until commit (see `locked_inquiry`)."""
    table = InquiryRow.__table__  # type: ignore[attr-defined]
    found: dict[int, InquiryStatus] = {}
    for start in range(0, len(inquiry_ids), 500):
        chunk = inquiry_ids[start : start + 500]
        query = select(table.c.id, table.c.status).where(table.c.id.in_(chunk)).with_for_update()
        found.update({row[0]: row[1] for row in session.execute(query)})
    return found


def _locked_draft(session: Session, row: InquiryRow) -> DraftRow | None:
    """The inquiry's current draft as the database has it now (not a cached copy)."""
    if row.draft_id is None:
        return None
    return session.exec(
        select(DraftRow)
        .where(DraftRow.id == row.draft_id)
        .execution_options(populate_existing=True)
    ).first()


def check_version(row: InquiryRow, draft: DraftRow | None, expected: int | None) -> None:
    """Refuse an action based on a draft version that is no longer the current one."""
    if expected is None:
        return
    now = draft.version if draft else 0
    if now != expected:
        raise StaleDraft(
            f"the draft of inquiry {row.id} changed since you read it (you read version "
            f"{expected}, it is now version {now}): reload it and review it again"
        )


def translator_for(backend: Backend | None) -> Backend | None:
    """Who translates a reply (policy §6): the configured backend if it can, else nobody,
    and the agent writes the customer-language text themselves."""
    return backend if backend is not None and backend.can_translate else None


def recipient(row: InquiryRow) -> str | None:
    """Where a reply to this inquiry goes: a valid Reply-To, else a valid From, else
    nowhere. Never to ourselves or to a mail robot: that is how mail loops start."""
    from assistant.ingest.addresses import valid_address
    from assistant.ingest.auto_reply import ROBOT_SENDERS
    from assistant.settings import get_settings

    own = get_settings().support_address.lower()
    for candidate in (row.reply_to, row.from_address):
        address = (valid_address(candidate) or "").lower()
        if address and address != own and address.partition("@")[0] not in ROBOT_SENDERS:
            return valid_address(candidate)
    return None


def _approval_events(
    row: InquiryRow, draft: DraftRow, actor: Actor, override_reason: str | None
) -> list[dict[str, Any]]:
    """The approval gate. Returns the override event when findings are overridden."""
    if row.status is S.escalated and actor.role not in SENIOR_ROLES:
        raise WorkflowError(
            f"inquiry {row.id} is escalated: only a senior agent may approve its reply "
            "(policy §4); leave it for a senior"
        )
    if recipient(row) is None:
        shown = row.reply_to or row.from_address or "nothing"
        raise WorkflowError(
            f"inquiry {row.id} has no address a reply can go to (From/Reply-To: "
            f"{shown[:80]!r}): reject it, or mark it no reply needed"
        )
    from assistant.draft.promises import senior_review_promise

    promise = senior_review_promise(draft.body, draft.english_body)
    if (draft.promises_escalation or promise) and row.status is not S.escalated:
        words = f" (“{promise}”)" if promise else ""
        raise WorkflowError(
            f"this reply tells the customer a senior representative has their case{words}: "
            f"escalate it first (assistant escalate {row.id}), or edit that out"
        )
    if not draft.grounding:
        return []
    override_reason = override_reason.strip() if override_reason else None
    if not override_reason:
        raise GroundingBlocked(list(draft.grounding))
    check_allowed(Action.override_grounding, actor, row.status, row.id or 0)
    return [
        _event(
            row,
            Action.override_grounding,
            actor,
            row.status,
            draft_id=draft.id,
            reason=override_reason,
        )
    ]


def _event(
    row: InquiryRow,
    action: Action,
    actor: Actor,
    to: InquiryStatus,
    *,
    from_status: InquiryStatus | None = None,
    **details: Any,
) -> dict[str, Any]:
    assert row.id is not None  # a stored row
    return records.audit_values(
        inquiry_id=row.id,
        **actor.audit(),
        action=action,
        from_status=from_status if from_status is not None else row.status,
        to_status=to,
        **details,
    )


def apply(
    session: Session,
    inquiry_id: int,
    action: Action,
    actor: Actor,
    *,
    to: InquiryStatus | Callable[[InquiryRow], InquiryStatus] | None = None,
    reason: str | None = None,
    expected_version: int | None = None,
    override_reason: str | None = None,
    prepare: Prepare | None = None,
    effect: Effect | None = None,
    commit: bool = True,
    **details: Any,
) -> InquiryRow:
    """Apply one action to one inquiry: check it against the inquiry as it is now (locked),
    write its audit event, change the status, run the data change that goes with it and
    commit — or change nothing and raise WorkflowError. Returns the inquiry as it is now
    (reading it again after the commit would open a new transaction).

    `to` may be a function of the locked inquiry (a redraft keeps an escalation). `prepare`
    runs after the checks and before the event, and returns details for it (a new draft's
    id); `effect` runs after the event (an approval's outbound reply needs its id).
    `details` are the event's draft_id, text_before, text_after and english_text. With
    commit=False the caller commits (several actions as one)."""
    try:
        row = locked_inquiry(session, inquiry_id)
        check_allowed(action, actor, row.status, inquiry_id)
        rule = RULES[action]
        draft = _locked_draft(session, row)
        if rule.needs_draft and draft is None:
            raise WorkflowError(f"inquiry {inquiry_id} has no draft to {_verb(action)}")
        check_version(row, draft, expected_version)
        reason = _reason(action, reason)
        target = _target(action, row.status, to(row) if callable(to) else to)
        if draft is not None and rule.needs_draft:
            details.setdefault("draft_id", draft.id)
        events = []
        if action is Action.approve and draft is not None:
            events += _approval_events(row, draft, actor, override_reason)
            details.setdefault("text_after", draft.body)  # what is sent, as it is now
            details.setdefault(
                "english_text", draft.english_body if draft.language != "en" else None
            )
            details.setdefault("recipient", recipient(row))
        if prepare is not None:
            details.update(prepare(session, row, draft))
        events.append(_event(row, action, actor, target, reason=reason, **details))
        _set_status(session, row, target, reason)  # the inquiry is locked already
        session.flush()  # everything else is written before the chain's head is locked:
        event_id = audit.append(session, events)[-1]  # other agents wait only for this
        if effect is not None:
            effect(session, row, draft, event_id)
        session.flush()
        if commit:
            session.commit()
    except BaseException:
        session.rollback()
        raise
    return row


def _set_status(
    session: Session, row: InquiryRow, target: InquiryStatus, reason: str | None
) -> None:
    """The only status write for one inquiry: conditional on the status it was read in."""
    if target is row.status:
        return
    changed = session.execute(
        update(InquiryRow)
        .where(col(InquiryRow.id) == row.id, col(InquiryRow.status) == row.status)
        .values(status=target, status_reason=reason, claimed_by=None, claimed_until=None)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        raise WorkflowError(f"inquiry {row.id} changed while this action ran: try again")
    for name, value in (("status", target), ("status_reason", reason)):
        set_committed_value(row, name, value)
    for name in ("claimed_by", "claimed_until"):
        set_committed_value(row, name, None)


# -- the pipeline's bulk transitions --------------------------------------------------------


@dataclass
class Step:
    """One system action on one inquiry, for `apply_many`."""

    inquiry_id: int
    action: Action
    actor: Actor
    to: InquiryStatus | None = None
    reason: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


def apply_many(
    session: Session,
    steps: list[Step],
    *,
    current: dict[int, InquiryStatus],
    columns: dict[int, dict[str, Any]] | None = None,
    owner: str | None = None,
) -> None:
    """Apply a batch of system steps (in order; several per inquiry chain from one status
    to the next) with one audit append and one bulk UPDATE. `current` is each inquiry's
    status now, `columns` other values to write with the status, and `owner` the claim the
    inquiries must still be held by. Not committed; any refusal raises before writing."""
    status = dict(current)
    reasons: dict[int, str | None] = {}
    events = []
    for step in steps:
        check_allowed(step.action, step.actor, status[step.inquiry_id], step.inquiry_id)
        target = _target(step.action, status[step.inquiry_id], step.to)  # type: ignore[arg-type]
        reason = _reason(step.action, step.reason)
        events.append(
            records.audit_values(
                inquiry_id=step.inquiry_id,
                **step.actor.audit(),
                action=step.action,
                from_status=status[step.inquiry_id],
                to_status=target,
                reason=reason,
                **step.details,
            )
        )
        status[step.inquiry_id], reasons[step.inquiry_id] = target, reason
    audit.append(session, events)
    columns = columns or {}
    touched = [i for i in current if status[i] is not current[i] or i in columns]
    if not touched:
        return
    table = InquiryRow.__table__  # type: ignore[attr-defined]
    condition = [table.c.id == bindparam("b_id"), table.c.status == bindparam("b_from")]
    if owner is not None:
        condition.append(table.c.claimed_by == bindparam("b_owner"))
    names = sorted({name for values in columns.values() for name in values})
    statement = (
        update(table)
        .where(*condition)
        .values(
            status=bindparam("b_status"),
            status_reason=bindparam("b_reason"),
            claimed_by=None,
            claimed_until=None,
            **{name: bindparam(f"b_{name}") for name in names},
        )
    )
    rows = [
        {
            "b_id": i,
            "b_from": current[i],
            "b_owner": owner,
            "b_status": status[i],
            "b_reason": reasons.get(i),
            **{f"b_{name}": columns.get(i, {}).get(name) for name in names},
        }
        for i in touched
    ]
    result = session.execute(statement, rows)
    if session.get_bind().dialect.supports_sane_multi_rowcount and result.rowcount != len(rows):  # type: ignore[attr-defined]
        raise WorkflowError("some inquiries changed while they were processed: try again")


# -- arrival --------------------------------------------------------------------------------


@dataclass
class Arrival:
    """A mail to store: its row values, and why it is quarantined or needs no reply."""

    values: dict[str, Any]
    quarantine_reason: str | None = None
    no_reply_reason: str | None = None


def receive(session: Session, arrivals: list[Arrival]) -> dict[int, int]:
    """Store new mail with its first events: received (and, for an auto-reply, no reply
    needed) or quarantined. What is already stored is skipped, also when another process
    stores it at the same moment. Returns {index in arrivals: new id}. Not committed."""
    system = Actor.system()
    plans: list[list[tuple[Action, InquiryStatus | None, InquiryStatus, str | None]]] = []
    for arrival in arrivals:
        wanted: list[tuple[Action, str | None]]
        if arrival.quarantine_reason:
            wanted = [(Action.quarantine, arrival.quarantine_reason)]
        else:
            wanted = [(Action.receive, None)]
            if arrival.no_reply_reason:
                wanted.append((Action.mark_no_reply_needed, arrival.no_reply_reason))
        status: InquiryStatus | None = None
        plan = []
        for action, reason in wanted:
            check_allowed(action, system, status, 0)
            target = _target(action, status or S.received, None)
            plan.append((action, status, target, _reason(action, reason)))
            status = target
        arrival.values.update(status=status, status_reason=plan[-1][3])
        plans.append(plan)
    _one_arrival_at_a_time(session)
    created = records.insert_new_inquiries(session, [a.values for a in arrivals])
    audit.append(
        session,
        [
            records.audit_values(
                inquiry_id=inquiry_id,
                **system.audit(),
                action=action,
                from_status=before,
                to_status=after,
                reason=reason,
            )
            for index, inquiry_id in created.items()
            for action, before, after, reason in plans[index]
        ],
    )
    return created


def _one_arrival_at_a_time(session: Session) -> None:
    """Two processes storing the same mails in different orders would each wait for the
    other's unique keys (a deadlock on PostgreSQL): arrivals take turns, until commit.
    SQLite's writers take turns anyway."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ARRIVAL_LOCK})

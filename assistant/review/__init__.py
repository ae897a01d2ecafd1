"""The human gate: approve, edit, re-draft, escalate, reject, withdraw, and the rest an agent
does. Nothing is sent without a recorded approval by a named agent, whatever the
interface (CLI, web page, batch).

Each function prepares the agent's change (the edited text and its grounding check, a new
draft, a translation) and hands it to `workflow.apply`, which checks it against the rules
and records it; these functions never change a status themselves. `gate` has the approval
and edits, `translation` the replies in the customer's language, `decisions` the rest.
"""

from assistant.review.corrections import correct_triage
from assistant.review.decisions import escalate, mark_no_reply_needed, redraft, reject, reopen
from assistant.review.gate import approve, edit, undo_approval, withdraw_approval
from assistant.review.translation import edit_english, retranslate
from assistant.workflow import GroundingBlocked, StaleDraft, WorkflowError, translator_for

ReviewError = WorkflowError  # the name callers knew; refusals are the workflow's

__all__ = [
    "GroundingBlocked",
    "ReviewError",
    "StaleDraft",
    "approve",
    "correct_triage",
    "edit",
    "edit_english",
    "escalate",
    "mark_no_reply_needed",
    "redraft",
    "reject",
    "reopen",
    "retranslate",
    "translator_for",
    "undo_approval",
    "withdraw_approval",
]

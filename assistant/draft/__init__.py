"""Drafting: a reply grounded in the policy, with the sections it relies on cited."""

from assistant.draft.grounding import check_grounding
from assistant.draft.local import draft_local

__all__ = ["check_grounding", "draft_local"]

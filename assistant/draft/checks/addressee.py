"""Does the reply greet the customer, or somebody else?

"Dear Michael Brown" in a reply to Dana Whitfield is a reply meant for another customer
(or an attacker's choice of name). A greeted name passes when it is the sender's From:
name or occurs in their mail (they signed "Dana"); "Dear customer" names nobody.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from functools import lru_cache

from assistant.draft.checks import rules
from assistant.draft.checks.context import DraftContext, finding
from assistant.models import GroundingFinding


@lru_cache(maxsize=1)
def _greeting() -> re.Pattern[str]:
    table = rules.addressee()
    greetings = "|".join(re.escape(g) for g in table["greetings"])
    titles = "|".join(re.escape(t) for t in table["titles"])
    return re.compile(
        rf"^\s*(?:{greetings})\b[ \t,]*(?:(?:{titles})\.?[ \t]+)?"
        r"((?:[^\W\d_][\w'’-]*)(?:[ \t]+(?:[^\W\d_][\w'’-]*)){0,2})(?=[ \t]*(?:[,!:.;]|$))",
        re.I | re.M,
    )


def find_wrong_addressee(body: str, context: DraftContext) -> Iterator[GroundingFinding]:
    """Every greeting line ("Dear Ms. Sterling,"), wherever it stands in the reply."""
    generic = rules.addressee()["generic"]
    for match in _greeting().finditer(body):
        name = match.group(1).strip()
        words = [_plain(w) for w in re.split(r"[ \t]+", name) if w.lower() not in generic]
        sender = _plain(context.from_name or "")
        if name.lower() in generic or all(len(w) <= 1 or w in sender for w in words):
            continue  # nobody, or the sender's own name (the common case: no more work)
        known = _plain(" ".join((context.signed, *context.customer_names)))
        strangers = [w for w in words if len(w) > 1 and w not in known]
        if not strangers:
            continue
        yield finding(
            "addressee",
            match.group(0).strip(),
            f"greets {name}, who is neither the sender nor anyone named in their "
            "mail: is this reply meant for another customer?",
        )


def _plain(text: str) -> str:
    """Lower case without accents or apostrophes: "José O’Brien" is "jose obrien"."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c) and c not in "'’`")

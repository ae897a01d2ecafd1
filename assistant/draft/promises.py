"""Does a reply tell the customer a senior representative has their case (policy §4)?

The template or the LLM declares it (`Draft.promises_escalation`); this check reads the
text as well, so a promise written by a weak model or by an agent's edit is caught too.
The wording lives in `templates/checks/senior_review_promises.txt`, which a support lead
can extend.
"""

from __future__ import annotations

import re
from functools import lru_cache

from assistant.resources import shipped_dir


@lru_cache
def _patterns() -> tuple[re.Pattern[str], ...]:
    path = shipped_dir("templates") / "checks" / "senior_review_promises.txt"
    lines = path.read_text(encoding="utf-8").splitlines()
    return tuple(
        re.compile(line.strip(), re.I)
        for line in lines
        if line.strip() and not line.startswith("#")
    )


def senior_review_promise(*texts: str | None) -> str | None:
    """The words in these texts that promise a senior review, or None."""
    for text in texts:
        for pattern in _patterns() if text else ():
            found = pattern.search(text or "")
            if found:
                return found.group(0)
    return None

"""A reply that is about something else: a recipe, a poem, a crontab, an essay.

Its content words barely meet the policy's, the mail's or our replies' own: a reply, or
a paragraph of one, where fewer than one in four of its words (by a five-letter stem, so
"refunds" meets "refund") occur there is one an agent should read closely before
sending. A paragraph too short to judge is not judged.
"""

from __future__ import annotations

import re
from functools import lru_cache

from assistant.draft.checks.context import DraftContext, finding
from assistant.models import GroundingFinding
from assistant.resources import shipped_dir

MIN_WORDS = 8  # distinct content words before the share means anything
MIN_SHARE = 0.25
_WORD = re.compile(r"[^\W\d_]{4,}", re.U)


def _stems(text: str) -> set[str]:
    return {w.lower()[:5] for w in _WORD.findall(text)}


@lru_cache(maxsize=1)
def _reply_stems() -> frozenset[str]:
    root = shipped_dir("templates")
    texts = [p.read_text(encoding="utf-8") for p in root.glob("replies/*.j2")]
    texts += [p.read_text(encoding="utf-8") for p in root.glob("acknowledgements/*.j2")]
    return frozenset(_stems("\n".join(texts)))


@lru_cache(maxsize=4)
def _policy_stems(policy_text: str) -> frozenset[str]:
    return frozenset(_stems(policy_text))


def find_off_task(body: str, context: DraftContext, policy_text: str) -> list[GroundingFinding]:
    ours = _reply_stems() | _policy_stems(policy_text)
    paragraphs = [p for p in re.split(r"\n\s*\n", body) if p.strip()]
    for text in [body, *paragraphs] if len(paragraphs) > 1 else [body]:
        words = _stems(text)
        if len(words) < MIN_WORDS or len(words & ours) / len(words) >= MIN_SHARE:
            continue  # judged without reading the mail: most replies are ours
        share = len(words & (ours | _stems(context.mail))) / len(words)
        if share < MIN_SHARE:
            return [
                finding(
                    "off_task",
                    text.strip()[:120],
                    f"only {share:.0%} of these words occur in the policy, the mail or "
                    "our replies: it may be about something else entirely — read it "
                    "closely",
                )
            ]
    return []

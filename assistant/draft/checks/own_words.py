"""The customer's own words: the part of their mail a reply may repeat as theirs.

An attacker's payload is in the mail too — that is how an obedient model learns it — so
"it is in the mail" cannot be enough. Left out: what the mail says to the assistant
(triage's instruction detector), paragraphs that direct the reply's writer ("P.S. to
whoever writes the answer: add the line …"), and everything after the customer's
sign-off, where notes, forwarded blocks and fake system messages hide. The directive
phrases and sign-offs are data: templates/checks/directives.toml.
"""

from __future__ import annotations

import re
from functools import lru_cache

from assistant.draft.checks import rules
from assistant.normal_text import NormalText


@lru_cache(maxsize=1)
def _directives() -> tuple[re.Pattern[str], ...]:
    return rules.directives()[0]


@lru_cache(maxsize=1)
def _sign_off() -> re.Pattern[str]:
    closings = "|".join(re.escape(c) for c in rules.directives()[1])
    # "Thanks,", "Kind regards" alone on a line, or with the name after it on that line.
    return re.compile(
        rf"^[ \t]*(?:{closings})[ \t]*[,.!]*(?:[ \t]+\S[^\n]{{0,40}})?[ \t]*$", re.I | re.M
    )


def own_words(mail: str, from_name: str | None = None, signed: bool = True) -> str:
    """`mail` without instructions and reply directives, and (`signed`) without what
    follows the sign-off."""
    from assistant.triage.instructions import find_instructions  # with triage's rule tables

    text = NormalText.of(find_instructions(mail).text).text
    if signed:
        text = _before_sign_off(text, from_name)
    return _without_directives(text)


_NAME_LINE = re.compile(
    r"^[ \t]*(?:[A-ZÀ-Ý][\w'’.-]+)(?:[ \t]+[A-ZÀ-Ý][\w'’.-]+){0,2}[ \t]*$", re.M
)


def _before_sign_off(text: str, from_name: str | None) -> str:
    """The text to the end of the sign-off: "Thanks,\nDana" or the name alone on a line
    (the sender's, or two or three capitalised words after a blank line)."""
    ends = []
    for match in _sign_off().finditer(text):
        if len(text[: match.start()].strip()) >= 15:
            rest = text[match.end() :]
            name = rest.lstrip("\n").partition("\n")[0]
            extra = len(rest) - len(rest.lstrip("\n")) + len(name)
            short = name.strip() and len(name.split()) <= 4 and not _directed(name)
            end = match.end() + (extra if short else 0)
            ends.append(end + _signature_block(text[end:]) if short else end)
            break
    for match in _NAME_LINE.finditer(text):
        line = match.group(0).strip()
        before = text[: match.start()]
        own = from_name and line.lower() == from_name.strip().lower()
        alone = len(line.split()) >= 2 and before.endswith("\n\n")
        if len(before.strip()) >= 15 and (own or alone):
            ends.append(match.end() + _signature_block(text[match.end() :]))
            break
    return text[: min(ends)] if ends else text


def _signature_block(after_name: str) -> int:
    """The length of the lines right under the name (no blank line between): their
    phone, address, company — the customer's own, unless a line directs the reply."""
    taken = 0
    for count, line in enumerate(after_name.split("\n")[1:], 1):
        if count > 6 or not line.strip() or len(line) > 60 or _directed(line):
            break
        taken += 1 + len(line)
    return taken


def _directed(text: str) -> bool:
    lowered = text.lower()
    return any(p.search(lowered) for p in _directives())


def _without_directives(text: str) -> str:
    """From the sentence before a directive (it may say what "this" is) to the end of its
    paragraph, and the next paragraph when that one ends with ":"."""
    kept: list[str] = []
    skip_next = False
    for paragraph in re.split(r"\n[ \t]*\n", text):
        if skip_next:
            skip_next = False
            continue
        lowered = paragraph.lower()
        starts = [m.start() for p in _directives() for m in p.finditer(lowered)]
        if not starts:
            kept.append(paragraph)
            continue
        ends = [i for i in (lowered.rfind(c, 0, min(starts)) for c in ".!?\n") if i >= 0]
        previous = max(ends) if ends else 0
        before = [i for i in (lowered.rfind(c, 0, previous) for c in ".!?\n") if i >= 0]
        kept.append(paragraph[: max(before) + 1 if before else 0])
        skip_next = paragraph.rstrip().endswith(":")
    return "\n\n".join(p for p in kept if p.strip())

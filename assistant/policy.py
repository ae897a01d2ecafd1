"""Crocso's written policy as data: sections with stable ids, a version, extra documents.

Drafts cite section ids (`§3`), agents see `§3 Response Time`. The version is the content
hash plus the policy's own "last updated" date, so every draft records what it was
grounded in. Documents the policy names but we do not have (Refund Policy, Shipping
Policy) are known by name only: drafts may refer to them, never quote them.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from assistant.resources import PACKAGE_DIR

SEED_POLICY = PACKAGE_DIR / "policy_docs" / "customer-service-policy.txt"
# The seed's own placeholder for the address lost in transcription (with a no-break space).
LOST_ADDRESS = "[email\u00a0protected]"
_LOST_ADDRESS = re.compile(r"\[email\s+protected\]")
NAMED_DOCUMENTS = ("Refund Policy", "Shipping Policy")

_HEADING = re.compile(r"^(\d{1,2})\.\s+(\S.{0,80})$")
_LAST_UPDATED = re.compile(
    r"last updated[:\s]+([A-Z][a-z]+ \d{1,2}, \d{4}|\d{4}-\d{2}-\d{2})", re.I
)


class PolicyError(ValueError):
    """The policy text cannot be used (empty, no sections)."""


@dataclass(frozen=True)
class Section:
    id: str  # "§3", or "Refund Policy §2" for an extra document
    title: str
    text: str

    @property
    def label(self) -> str:
        return f"{self.id} {self.title}"


@dataclass(frozen=True)
class Policy:
    title: str
    sections: tuple[Section, ...]
    content_hash: str
    last_updated: str | None
    support_address: str
    documents: tuple[str, ...] = field(default=())  # names of extra documents loaded

    @property
    def version(self) -> str:
        return f"{self.content_hash[:12]} (last updated {self.last_updated or 'not stated'})"

    def section(self, section_id: str) -> Section:
        for section in self.sections:
            if section.id == section_id:
                return section
        raise KeyError(section_id)

    def has_section(self, section_id: str) -> bool:
        return any(s.id == section_id for s in self.sections)

    @property
    def missing_documents(self) -> list[str]:
        """Documents the policy names that are not loaded: refer to them, never invent them."""
        return [name for name in NAMED_DOCUMENTS if name not in self.documents]

    def as_text(self) -> str:
        """The policy with section ids, as an LLM prompt or `policy show` prints it."""
        blocks = [f"[{s.id}] {s.title}\n{s.text}" for s in self.sections]
        return f"{self.title}\n\n" + "\n\n".join(blocks)


def parse_sections(text: str, prefix: str = "") -> tuple[str, list[Section]]:
    """Split a policy document at its numbered headings ("3. Response Time")."""
    lines = text.replace("\r\n", "\n").split("\n")
    title = next((line.strip() for line in lines if line.strip()), "")
    sections: list[Section] = []
    current: tuple[str, str] | None = None
    body: list[str] = []

    def close() -> None:
        if current:
            sections.append(Section(current[0], current[1], "\n".join(body).strip()))

    for line in lines:
        match = _HEADING.match(line.strip())
        if match and not line.startswith((" ", "\t")):
            close()
            current, body = (f"{prefix}§{match.group(1)}", match.group(2).strip()), []
        elif current:
            body.append(line.rstrip())
    close()
    if not sections and text.strip():
        sections = [Section(f"{prefix}§1".strip(), title, text.strip())]
    return title, sections


def load_policy(
    policy_file: Path | None = None,
    policy_dir: Path | None = None,
    support_address: str = "support@crocso.example",
) -> Policy:
    """Read the policy (seed by default) and any extra documents in `policy_dir`."""
    path = policy_file or SEED_POLICY
    raw = path.read_text(encoding="utf-8")
    if not raw.strip():
        raise PolicyError(f"policy file {path} is empty")
    title, sections = parse_sections(raw)
    if not sections:
        raise PolicyError(f"policy file {path} has no numbered sections")
    digest = hashlib.sha256(raw.encode("utf-8"))
    documents: list[str] = []
    for extra in sorted(policy_dir.glob("*.txt")) if policy_dir else []:
        extra_raw = extra.read_text(encoding="utf-8")
        name = _document_name(extra)
        _, extra_sections = parse_sections(extra_raw, prefix=f"{name} ")
        sections.extend(extra_sections)
        documents.append(name)
        digest.update(extra_raw.encode("utf-8"))
    sections = [_restore_address(s, support_address) for s in sections]
    match = _LAST_UPDATED.search(raw)
    return Policy(
        title=title,
        sections=tuple(sections),
        content_hash=digest.hexdigest(),
        last_updated=match.group(1) if match else None,
        support_address=support_address,
        documents=tuple(documents),
    )


def _document_name(path: Path) -> str:
    """`refund-policy.txt` → "Refund Policy"."""
    return " ".join(word.capitalize() for word in re.split(r"[-_\s]+", path.stem) if word)


def _restore_address(section: Section, address: str) -> Section:
    return Section(section.id, section.title, _LOST_ADDRESS.sub(address, section.text))


@lru_cache
def default_policy() -> Policy:
    """The policy named by settings (the seed unless configured otherwise)."""
    from assistant.settings import get_settings

    settings = get_settings()
    return load_policy(settings.policy_file, settings.policy_dir, settings.support_address)

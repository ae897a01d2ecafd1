"""The knowledge base: every entry of the folder the support lead owns, and its version.

Loading is all or nothing: a base with a broken entry is refused with every problem
listed (file, field, line), as a policy file without sections is, so no draft is ever
written from half of what the lead meant. The version (a hash of the files) is recorded
on every draft beside the policy's.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from threading import Lock

from assistant.knowledge.entries import Entry, Kind, KnowledgeError, read_entry

# Folders inside the knowledge base that are not part of it (suggestions await a lead).
IGNORED_FOLDERS = frozenset({"suggested", "drafts"})


@dataclass(frozen=True)
class KnowledgeBase:
    entries: tuple[Entry, ...] = ()
    folder: Path | None = None
    content_hash: str = field(default="")

    @property
    def version(self) -> str:
        if not self.entries:
            return ""
        return f"kb-{self.content_hash[:12]} ({len(self.entries)} entries)"

    @cached_property
    def by_id(self) -> dict[str, Entry]:
        return {entry.id: entry for entry in self.entries}

    def get(self, entry_id: str) -> Entry | None:
        return self.by_id.get(entry_id)

    def __len__(self) -> int:
        return len(self.entries)

    def __bool__(self) -> bool:
        return bool(self.entries)

    @property
    def policy_titles(self) -> frozenset[str]:
        """Titles of the policy documents it holds ("Refund Policy"): no longer missing."""
        return frozenset(e.title for e in self.entries if e.kind is Kind.policy)

    @cached_property
    def retriever(self):
        from assistant.knowledge.retrieval import Retriever

        return Retriever(self.entries)


EMPTY = KnowledgeBase()


def entry_files(folder: Path) -> list[Path]:
    """The Markdown files of the base, outside hidden and ignored folders, in name order."""
    found = []
    for path in sorted(folder.rglob("*.md")):
        parts = path.relative_to(folder).parts
        if path.name.lower() == "readme.md" or any(
            p.startswith(".") or p in IGNORED_FOLDERS for p in parts[:-1]
        ):
            continue
        found.append(path)
    return found


def load_knowledge(folder: Path | None) -> KnowledgeBase:
    """Every entry of `folder` (none: an empty base), or a KnowledgeError naming each problem."""
    if folder is None:
        return EMPTY
    if not folder.is_dir():
        raise KnowledgeError(f"the knowledge folder {folder} does not exist")
    entries: list[Entry] = []
    problems: list[str] = []
    for path in entry_files(folder):
        try:
            entries.append(read_entry(path, folder))
        except KnowledgeError as error:
            problems.append(str(error))
    seen: dict[str, Entry] = {}
    for entry in entries:
        if entry.id in seen:
            first = seen[entry.id].path.relative_to(folder)
            problems.append(
                f"{entry.path.relative_to(folder)}: id {entry.id!r} is already used by {first}"
            )
        seen.setdefault(entry.id, entry)
    if problems:
        raise KnowledgeError(
            f"the knowledge base in {folder} has {len(problems)} problem(s):\n"
            + "\n".join(f"  {p}" for p in problems)
        )
    digest = hashlib.sha256()
    for entry in entries:
        digest.update(f"{entry.path.relative_to(folder).as_posix()}\0{entry.digest}\n".encode())
    return KnowledgeBase(tuple(entries), folder, digest.hexdigest())


class _Cache:
    """One loaded base per folder, reloaded when its files change (a lead saving an answer
    in the workspace, or editing a file), looked at no more than every few seconds."""

    recheck_seconds = 2.0

    def __init__(self) -> None:
        self._lock = Lock()
        self._loaded: dict[Path, tuple[tuple, float, KnowledgeBase]] = {}

    def get(self, folder: Path) -> KnowledgeBase:
        with self._lock:
            known = self._loaded.get(folder)
            now = time.monotonic()
            if known and now - known[1] < self.recheck_seconds:
                return known[2]
            signature = _signature(folder)
            if known and known[0] == signature:
                self._loaded[folder] = (signature, now, known[2])
                return known[2]
            base = load_knowledge(folder)
            self._loaded[folder] = (signature, now, base)
            return base

    def forget(self) -> None:
        with self._lock:
            self._loaded.clear()


def _signature(folder: Path) -> tuple:
    try:
        return tuple(
            (p.as_posix(), p.stat().st_mtime_ns, p.stat().st_size) for p in entry_files(folder)
        )
    except OSError:
        return ()


_CACHE = _Cache()


def knowledge_for(settings) -> KnowledgeBase:
    """The base named by `settings.knowledge_dir` (empty when unset)."""
    folder = getattr(settings, "knowledge_dir", None)
    return _CACHE.get(Path(folder).resolve()) if folder else EMPTY


def forget_loaded() -> None:
    """Reload on next use (after the workspace wrote an entry, or in tests)."""
    _CACHE.forget()

"""Evaluation cases from JSONL files: one inquiry a line with its expected triage.

Every line is validated before a run starts, and a bad line names its file and line, so a
typo in a dataset never shows up as a mysterious score. `stratified_sample` picks a fixed,
representative slice of them for slow backends (`assistant eval --sample N`).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from assistant.models import Category, InquiryIn, Urgency


class DatasetError(ValueError):
    """A dataset file cannot be used; the message names file and line."""


class EvalCase(BaseModel):
    """One labelled inquiry. Unknown fields (`source_label`, ...) are kept out, not refused."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1)
    text: str
    category: Category
    language: str | None = None
    urgency: Urgency | None = None
    escalation: bool | None = None
    source: str | None = None
    must_ask_for: list[str] = Field(default_factory=list)
    must_not_contain: list[str] = Field(default_factory=list)
    dataset: str = ""  # the file's stem, set by the loader

    def inquiry(self) -> InquiryIn:
        return InquiryIn(subject="", body=self.text, source="eval")


def _one_line(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "line"
    more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
    return f"{where}: {first['msg']}{more}"


def load_dataset(path: Path) -> list[EvalCase]:
    """All cases of one file; raises DatasetError on the first bad line."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise DatasetError(f"{path}: cannot read: {error}") from error
    cases: list[EvalCase] = []
    seen: set[str] = set()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            case = EvalCase.model_validate({**json.loads(line), "dataset": path.stem})
        except json.JSONDecodeError as error:
            raise DatasetError(f"{path}:{number}: not valid JSON: {error.msg}") from error
        except ValidationError as error:
            raise DatasetError(f"{path}:{number}: {_one_line(error)}") from error
        except TypeError as error:  # a JSON list or string instead of an object
            raise DatasetError(f"{path}:{number}: expected a JSON object") from error
        if case.id in seen:
            raise DatasetError(f"{path}:{number}: duplicate id {case.id!r}")
        seen.add(case.id)
        cases.append(case)
    if not cases:
        raise DatasetError(f"{path}: no cases")
    return cases


def load_datasets(paths: list[Path]) -> list[EvalCase]:
    names = [path.stem for path in paths]
    if len(set(names)) != len(names):
        raise DatasetError("two datasets share a file name; rows are keyed by it")
    return [case for path in paths for case in load_dataset(path)]


def _stratum(case: EvalCase) -> tuple[str, str, str]:
    return (case.dataset, case.category.value, case.urgency.value if case.urgency else "")


def _rank(case: EvalCase, seed: int) -> str:
    """A case's place in its stratum's draw: a hash of seed, dataset and id, so the draw
    is the same on every machine and Python, and a case keeps its place as a file grows."""
    return hashlib.sha256(f"{seed}\0{case.dataset}\0{case.id}".encode()).hexdigest()


def _allocate(sizes: dict[tuple, int], n: int) -> dict[tuple, int]:
    """How many cases each stratum gives to a sample of n (n < the total): proportional
    to its size (largest remainders), at least one per stratum while n allows. With fewer
    places than strata, urgent strata first, then the largest."""
    total = sum(sizes.values())
    keys = sorted(sizes)
    if n < len(keys):
        first = sorted(keys, key=lambda k: (k[2] != "urgent", -sizes[k], k))[:n]
        return {k: int(k in first) for k in keys}
    share = {k: n * sizes[k] / total for k in keys}
    counts = {k: min(sizes[k], max(1, int(share[k]))) for k in keys}
    while sum(counts.values()) > n:  # the minimum of one pushed it over: take from the most over
        over = max(
            (k for k in keys if counts[k] > 1), key=lambda k: (counts[k] - share[k], sizes[k])
        )
        counts[over] -= 1
    while sum(counts.values()) < n:  # largest remainder, among strata with cases left
        under = max(
            (k for k in keys if counts[k] < sizes[k]),
            key=lambda k: (share[k] - counts[k], sizes[k]),
        )
        counts[under] += 1
    return counts


def stratified_sample(cases: list[EvalCase], n: int, seed: int = 0) -> list[EvalCase]:
    """n cases, drawn per stratum (dataset × expected category × urgency label, where
    labelled) in proportion to its size, with at least one per stratum when n allows, so
    urgent mail stays in a small sample. Deterministic: the same cases, n and seed give the
    same sample whatever the backend, so runs of two backends score the same cases. The
    sample keeps the files' order; n at or above the number of cases gives them all."""
    if n >= len(cases):
        return list(cases)
    strata: dict[tuple, list[EvalCase]] = {}
    for case in cases:
        strata.setdefault(_stratum(case), []).append(case)
    counts = _allocate({key: len(group) for key, group in strata.items()}, n)
    chosen = {
        (case.dataset, case.id)
        for key, group in strata.items()
        for case in sorted(group, key=lambda c: _rank(c, seed))[: counts[key]]
    }
    return [case for case in cases if (case.dataset, case.id) in chosen]

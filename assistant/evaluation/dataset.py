"""Evaluation cases from JSONL files: one inquiry a line with its expected triage.

Every line is validated before a run starts, and a bad line names its file and line, so a
typo in a dataset never shows up as a mysterious score.
"""

from __future__ import annotations

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

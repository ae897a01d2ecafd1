"""Send evaluation cases through a backend in chunks and collect one row per case.

Resumable: with a results file, rows already in it (same datasets, backend, model and
sample) are kept and their cases skipped, and the file is rewritten after every chunk, so
an interrupted LLM run (Ctrl-C included) costs only its last chunk. The progress bar moves
as each row finishes, not per chunk.
"""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TimeElapsedColumn

from assistant.backends import Backend
from assistant.backends import Progress as BackendProgress
from assistant.classifier import load_classifier
from assistant.classifier.training import normalise, read_examples, training_paths
from assistant.draft.checks.context import context_for
from assistant.evaluation.dataset import EvalCase, stratified_sample
from assistant.evaluation.drafts import (
    judge_draft,
    judge_unavailable,
    score_draft,
    summarise_drafts,
)
from assistant.evaluation.metrics import summarise
from assistant.evaluation.rows import Row, make_row
from assistant.models import Triage
from assistant.policy import Policy

CHUNK_SIZE = 64
# Backends whose category comes from the trained classifier, so overlap inflates scores.
CLASSIFIER_BACKENDS = ("local", "cascade")


class OverlapError(RuntimeError):
    """Eval texts also occur in the classifier's training data."""


class ResumeError(ValueError):
    """The results file holds a different run."""


def count_overlap(cases: list[EvalCase]) -> int:
    """Eval texts that, normalised as the classifier sees them, are also training texts."""
    trained = {normalise(example["text"]) for example in read_examples(training_paths())}
    return sum(normalise(case.text) in trained for case in cases)


def dataset_names(cases: list[EvalCase]) -> list[str]:
    return list(dict.fromkeys(case.dataset for case in cases))


def sample_key(sample: dict | None) -> tuple | None:
    """What two runs must share to be one run: the requested size and the seed."""
    return None if not sample else (sample.get("size"), sample.get("seed"))


def _describe_sample(sample: dict | None) -> str:
    return "all cases" if not sample else f"a sample of {sample['size']} (seed {sample['seed']})"


def load_previous(
    path: Path | None,
    datasets: list[str],
    backend: str,
    model: str | None,
    sample: dict | None = None,
) -> list[Row]:
    if path is None or not path.exists():
        return []
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        rows = [Row.model_validate(row) for row in saved["rows"]]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ResumeError(f"{path}: not a results file to resume from ({error})") from error
    found = (saved.get("datasets"), saved.get("backend"), saved.get("requested_model"))
    if found != (datasets, backend, model):
        raise ResumeError(
            f"{path} holds a run of {found[0]} with backend {found[1]} (model {found[2]}); "
            "use another --json path to start a new run"
        )
    if sample_key(saved.get("sample")) != sample_key(sample):
        raise ResumeError(
            f"{path} holds {_describe_sample(saved.get('sample'))}, this run asks for "
            f"{_describe_sample(sample)}; use the same --sample and --seed, or another "
            "--json path to start a new run"
        )
    return rows


def write_json(path: Path, result: dict) -> None:
    """Atomically, so an interrupted run never leaves half a file to resume from."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(path.suffix + ".part")
    temporary.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(temporary, path)


def _share_usage(rows: list[Row], calls: list) -> None:
    """Chunk usage split evenly over its rows: totals stay exact, rows stay resumable."""
    counted = [call for call in calls if call.purpose != "judge"]
    for row in rows:
        row.prompt_tokens = sum(c.prompt_tokens for c in counted) / len(rows)
        row.completion_tokens = sum(c.completion_tokens for c in counted) / len(rows)
        row.cost_usd = sum(c.cost_usd for c in counted) / len(rows)


class EvalRun:
    """One evaluation: cases, a backend, and what to do besides triage."""

    def __init__(
        self,
        cases: list[EvalCase],
        backend: Backend,
        *,
        model: str | None = None,
        policy: Policy | None = None,
        drafts: bool = False,
        judge: bool = False,
        json_path: Path | None = None,
        chunk_size: int = CHUNK_SIZE,
        sample: int | None = None,
        seed: int = 0,
    ):
        """`sample`: evaluate only a stratified sample of that many cases
        (`dataset.stratified_sample`, fixed by `seed`), the same whatever the backend."""
        self.datasets = dataset_names(cases)  # of every file given, sampled or not
        self.sample = (
            None if sample is None else {"size": sample, "seed": seed, "population": len(cases)}
        )
        if sample is not None:
            cases = stratified_sample(cases, sample, seed)
        self.cases, self.backend, self.model = cases, backend, model
        self.policy = policy or backend.policy
        self.drafts, self.json_path, self.chunk_size = drafts, json_path, chunk_size
        self.judge_note = judge_unavailable(backend) if judge else None
        self.judge = judge and self.judge_note is None
        self.overlap = count_overlap(cases)
        self.saved = 0  # rows in the results file, for a message after Ctrl-C

    def check_overlap(self, allow_overlap: bool) -> None:
        if self.overlap and self.backend.name in CLASSIFIER_BACKENDS and not allow_overlap:
            raise OverlapError(
                f"{self.overlap} of {len(self.cases)} eval texts also occur in the classifier's "
                "training data, which inflates the score; remove them or pass --allow-overlap"
            )

    def _draft_scores(
        self,
        chunk: list[EvalCase],
        triages: list[Triage],
        rows: list[Row],
        on_done: BackendProgress | None = None,
    ) -> None:
        for case, triage, row in zip(chunk, triages, rows):
            inquiry = case.inquiry()
            draft = self.backend.draft(inquiry, triage)
            context = context_for(inquiry, triage, self.policy.support_address)
            row.draft = score_draft(
                draft, self.policy, case.must_not_contain, case.must_ask_for, context
            )
            if self.judge:
                row.draft.judge = judge_draft(self.backend, case.text, draft, self.policy)
            if on_done:
                on_done(1)

    def _chunk(
        self,
        chunk: list[EvalCase],
        on_triaged: BackendProgress | None = None,
        on_drafted: BackendProgress | None = None,
    ) -> list[Row]:
        self.backend.drain_calls()  # calls made before this chunk are not its cost
        started = time.perf_counter()
        triages = self.backend.triage_many([case.inquiry() for case in chunk], on_triaged)
        per_case_ms = (time.perf_counter() - started) * 1000 / len(chunk)
        rows = [make_row(c, t, per_case_ms) for c, t in zip(chunk, triages)]
        if self.drafts:
            self._draft_scores(chunk, triages, rows, on_drafted)
        _share_usage(rows, self.backend.drain_calls())
        return rows

    def result(self, rows: list[Row]) -> dict:
        order = {(case.dataset, case.id): index for index, case in enumerate(self.cases)}
        rows = sorted(rows, key=lambda row: order.get(row.key, len(order)))
        models = [row.model for row in rows if row.model]
        result = {
            "datasets": self.datasets,
            "backend": self.backend.name,
            "model": self.model or (max(set(models), key=models.count) if models else None),
            "requested_model": self.model,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "overlap": self.overlap,
            "sample": self.sample,
            **summarise(rows),
        }
        scores = [row.draft for row in rows if row.draft]
        if scores or self.drafts:
            result["drafts"] = summarise_drafts(scores, self.judge_note)
        result["rows"] = [row.model_dump(mode="json") for row in rows]
        return result

    def run(self, *, allow_overlap: bool = False, console: Console | None = None) -> dict:
        self.check_overlap(allow_overlap)
        wanted = {(case.dataset, case.id) for case in self.cases}
        previous = load_previous(
            self.json_path, self.datasets, self.backend.name, self.model, self.sample
        )
        rows = [row for row in previous if row.key in wanted]  # cases since removed drop out
        done = {row.key for row in rows}
        self.saved = len(rows) if self.json_path and self.json_path.exists() else 0
        todo = [case for case in self.cases if (case.dataset, case.id) not in done]
        if todo and self.backend.name in CLASSIFIER_BACKENDS:
            load_classifier()  # a one-time load is not per-inquiry latency
        console = console or Console(stderr=True)
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            disable=not console.is_terminal,
        ) as progress:
            triaged = progress.add_task(
                f"eval {self.backend.name}", total=len(self.cases), completed=len(done)
            )
            drafted = (
                progress.add_task("drafts", total=len(self.cases), completed=len(done))
                if self.drafts
                else None
            )

            def advancing(task: TaskID | None) -> BackendProgress | None:
                if task is None:
                    return None
                return lambda count: progress.advance(task, count)

            for start in range(0, len(todo), self.chunk_size):
                chunk = todo[start : start + self.chunk_size]
                rows.extend(self._chunk(chunk, advancing(triaged), advancing(drafted)))
                if self.json_path:
                    write_json(self.json_path, self.result(rows))
                    self.saved = len(rows)
                # A backend that reports no progress (or too much) is set right per chunk.
                for task in (triaged, drafted):
                    if task is not None:
                        progress.update(task, completed=len(rows))
        result = self.result(rows)
        result["resumed"] = len(done)
        if self.json_path:
            write_json(self.json_path, result)
            self.saved = len(rows)
        return result

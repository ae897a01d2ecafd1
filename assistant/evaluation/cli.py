"""`assistant eval`: run an evaluation, or compare two saved runs.

Registered in assistant/cli.py with `app.add_typer(eval_app, name="eval")`. `eval_app` has
three commands, `run`, `compare` and `corrections`; its group class sends anything that is not a command
name to `run`, so `assistant eval data.jsonl` and `assistant eval compare a.json b.json`
both work (a callback with positional files would swallow the subcommand names).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from typer.core import TyperGroup

# The runner (and scikit-learn behind it) is imported by the commands, not at start-up:
# `assistant queue` must not pay for it.


class RunByDefault(TyperGroup):
    """A group whose first argument, unless it names a command or asks for help, means `run`."""

    def parse_args(self, ctx, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = ["run", *args]
        return super().parse_args(ctx, args)


eval_app = typer.Typer(
    cls=RunByDefault,
    help="Evaluate triage (and drafts) on labelled datasets; `eval DATASET...` runs, "
    "`eval compare A.json B.json` compares two runs.",
    no_args_is_help=True,
)


def _console():
    from rich.console import Console

    return Console()


def fail(message: str) -> NoReturn:
    sys.stderr.write(f"error: {' '.join(message.split())}\n")
    raise typer.Exit(1)


@eval_app.command("run")
def run(
    datasets: Annotated[list[Path], typer.Argument(help="JSONL files of labelled inquiries")],
    backend: Annotated[
        str | None, typer.Option(help="local | openai | cascade (default: settings)")
    ] = None,
    model: Annotated[str | None, typer.Option(help="Override the LLM model")] = None,
    concurrency: Annotated[int | None, typer.Option(min=1, help="Parallel LLM requests")] = None,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Write (and resume) results here")
    ] = None,
    report: Annotated[
        Path | None, typer.Option(help="Folder for report.md and report.html")
    ] = None,
    drafts: Annotated[
        bool, typer.Option("--drafts", help="Also draft replies and score them")
    ] = False,
    allow_overlap: Annotated[
        bool, typer.Option("--allow-overlap", help="Score even if eval texts are training texts")
    ] = False,
    judge: Annotated[
        bool, typer.Option("--judge", help="LLM-as-judge on drafts (openai backend)")
    ] = False,
    injection: Annotated[
        bool,
        typer.Option(
            "--injection",
            help="An attack set: draft with a model that obeys every attack (the loopback "
            "fake server) and count the attacks that reach an approvable draft",
        ),
    ] = False,
    retrieval: Annotated[
        bool,
        typer.Option(
            "--retrieval",
            help="A retrieval set (inquiry → the knowledge-base entries that answer it): "
            "precision@1, recall@3 and the share left with the holding reply, per language, "
            "against ASSISTANT_KNOWLEDGE_DIR",
        ),
    ] = False,
    sample: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Evaluate a stratified sample of N cases (per dataset, category and "
            "urgency; for slow backends): the same N and --seed give the same cases "
            "whatever the backend",
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the --sample draw")] = 0,
) -> None:
    """Run DATASET... through a backend and report the metrics."""
    if sample is not None and (injection or retrieval):
        fail("--sample works on triage evaluations only, not with --injection or --retrieval")
    if injection:
        return _run_injection(datasets, backend or "openai", json_path)
    if retrieval:
        return _run_retrieval(datasets, json_path)
    from assistant.backends import UnknownBackend, get_backend
    from assistant.evaluation.dataset import DatasetError, load_datasets
    from assistant.evaluation.report import print_terminal, write_reports
    from assistant.evaluation.runner import EvalRun, OverlapError, ResumeError
    from assistant.policy import PolicyError, default_policy
    from assistant.settings import get_settings

    console = _console()
    settings = get_settings()
    overrides = {"openai_model": model, "openai_concurrency": concurrency}
    settings = settings.model_copy(update={k: v for k, v in overrides.items() if v is not None})
    name = backend or settings.backend
    drafts = drafts or judge  # the judge scores drafts, so it needs them
    evaluation: EvalRun | None = None
    try:
        cases = load_datasets(datasets)
        chosen = get_backend(name, settings, default_policy())
        evaluation = EvalRun(
            cases,
            chosen,
            model=None if name == "local" else settings.openai_model,
            drafts=drafts,
            judge=judge,
            json_path=json_path,
            sample=sample,
            seed=seed,
        )
        if evaluation.sample:
            sys.stderr.write(
                f"sample: {len(evaluation.cases)} of {len(cases)} cases (seed {seed})\n"
            )
        if name != "local" and getattr(chosen, "calibration", "n/a") is None:
            sys.stderr.write(
                f"{settings.openai_model} is not calibrated: its answers are shown, never "
                "taken over local triage; `assistant calibrate` this run's --json file to "
                "measure it\n"
            )
        result = evaluation.run(allow_overlap=allow_overlap)
    except (DatasetError, UnknownBackend, OverlapError, ResumeError, PolicyError, OSError) as error:
        fail(str(error))
    except KeyboardInterrupt:
        interrupted(evaluation, json_path)
    print_terminal(result, console)
    if report:
        for path in write_reports(result, report):
            console.print(f"wrote {path}")


def interrupted(evaluation, json_path: Path | None) -> NoReturn:
    """Ctrl-C: say what is kept (every finished chunk is already in the results file) and
    exit 130, as a shell does for SIGINT, without a traceback."""
    if json_path is None:
        message = (
            "interrupted: nothing was saved (no --json); pass --json PATH to save the "
            "run chunk by chunk and resume it"
        )
    elif evaluation is None:
        message = f"interrupted before the run started: nothing new saved in {json_path}"
    else:
        message = (
            f"interrupted: {evaluation.saved} of {len(evaluation.cases)} rows saved in "
            f"{json_path}; run the same command again to resume"
        )
    sys.stderr.write(message + "\n")
    raise typer.Exit(130)


def _run_injection(datasets: list[Path], backend: str, json_path: Path | None) -> None:
    from assistant.backends import UnknownBackend
    from assistant.evaluation.dataset import DatasetError
    from assistant.evaluation.injection import load_cases, print_injection, run_injection
    from assistant.evaluation.runner import write_json
    from assistant.policy import PolicyError, default_policy
    from assistant.settings import get_settings

    try:
        cases = [case for path in datasets for case in load_cases(path)]
        result = run_injection(cases, get_settings(), default_policy(), backend)
    except (DatasetError, UnknownBackend, PolicyError, OSError) as error:
        fail(str(error))
    print_injection(result, _console())
    if json_path:
        write_json(json_path, result)


def _run_retrieval(datasets: list[Path], json_path: Path | None) -> None:
    from assistant.evaluation.dataset import DatasetError
    from assistant.evaluation.retrieval import (
        evaluate_retrieval,
        load_retrieval_cases,
        print_retrieval,
    )
    from assistant.evaluation.runner import write_json
    from assistant.knowledge import KnowledgeError, knowledge_for
    from assistant.settings import get_settings

    settings = get_settings()
    if settings.knowledge_dir is None:
        fail(
            "--retrieval needs a knowledge base: set ASSISTANT_KNOWLEDGE_DIR "
            "(the sets in evals/datasets are labelled for samples/knowledge)"
        )
    try:
        cases = [case for path in datasets for case in load_retrieval_cases(path)]
        result = evaluate_retrieval(cases, knowledge_for(settings), settings)
    except (DatasetError, KnowledgeError, OSError) as error:
        fail(str(error))
    print_retrieval(result, _console())
    if json_path:
        write_json(json_path, result.as_dict())


def _read_result(path: Path) -> dict:
    try:
        result = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        fail(f"cannot read results file {path}: {error}")
    if not isinstance(result, dict) or "rows" not in result or "per_class" not in result:
        fail(f"{path} is not a results file written by `assistant eval --json`")
    return result


@eval_app.command("corrections")
def corrections(
    out: Annotated[Path, typer.Option("--out", help="JSONL file to write")],
) -> None:
    """The agents' triage corrections as an evaluation dataset (JSONL, the format of
    evals/datasets/). It holds customers' mail: keep it where the mail is kept."""
    from assistant.cli.common import database
    from assistant.evaluation.corrections import corrected_cases

    with database(read_only=True) as db:
        cases = corrected_cases(db)
    try:
        with out.open("w", encoding="utf-8") as handle:
            for case in cases:
                handle.write(json.dumps(case, ensure_ascii=False) + "\n")
    except OSError as error:
        fail(f"cannot write {out}: {error.strerror or error}")
    sys.stdout.write(f"{len(cases)} corrected inquiries written to {out}\n")


@eval_app.command("compare")
def compare(
    a: Annotated[Path, typer.Argument(help="Results file of the earlier run")],
    b: Annotated[Path, typer.Argument(help="Results file of the later run")],
    out: Annotated[
        Path | None, typer.Option("--out", help="Also write the comparison as JSON")
    ] = None,
) -> None:
    """Metric deltas from A to B and the examples that flipped between right and wrong."""
    from assistant.evaluation.compare import compare as compare_runs
    from assistant.evaluation.compare import print_comparison
    from assistant.evaluation.runner import write_json

    console = _console()
    comparison = compare_runs(_read_result(a), _read_result(b))
    print_comparison(comparison, console, (a.name, b.name))
    if out:
        write_json(out, comparison)

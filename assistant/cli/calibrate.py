"""`assistant calibrate RESULTS.json | --list | --forget MODEL`: measure what a model's
word is worth before letting it override local triage.

RESULTS.json is an `assistant eval DATASET --backend openai --json RESULTS.json` run on a
labelled set: every row holds the model's own answer beside the label. Local triage is run
again on the same texts (it is fast), so the calibration compares the two on the same mail.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from assistant.cli.common import JsonFlag, fail, print_json, say, settings


def calibrate(
    results: Annotated[
        Path | None, typer.Argument(help="an eval results file (--backend openai --json)")
    ] = None,
    model: Annotated[
        str | None, typer.Option(help="the model name to file it under (default: the run's)")
    ] = None,
    list_all: Annotated[bool, typer.Option("--list", help="show the stored calibrations")] = False,
    forget: Annotated[
        str | None, typer.Option(metavar="MODEL", help="drop a model's calibration")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Fit a model's calibration from an eval run, so its answers may override local
    triage where it measured better (until then they never do)."""
    from assistant.llm.calibration import CalibrationMemory

    memory = CalibrationMemory(settings().llm_calibration_file)
    if forget:
        if not memory.forget(forget):
            fail(f"no calibration stored for {forget!r}")
        return say(f"{forget}: calibration dropped; its answers count as low confidence again")
    if list_all or results is None:
        stored = memory.all()
        if as_json:
            return print_json([vars(c) for c in stored])
        if not stored:
            return say("no model is calibrated: LLM answers never override local triage")
        for calibration in stored:
            say(calibration.summary())
        return None
    calibration = _fit(results, model)
    try:
        memory.remember(calibration)
    except OSError as error:
        fail(f"cannot store the calibration in {memory.path}: {error}")
    if as_json:
        return print_json(vars(calibration))
    say(calibration.summary())
    if not calibration.trusted:
        say(
            f"only {calibration.rows} rows with an LLM answer: a calibration needs at least "
            "30 before the model may override anything"
        )


def _fit(path: Path, model: str | None):
    from assistant.backends.local import LocalBackend
    from assistant.cli.common import policy
    from assistant.evaluation.rows import Row
    from assistant.llm.calibration import Answer, fit
    from assistant.models import InquiryIn, Urgency

    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        rows = [Row.model_validate(row) for row in saved["rows"]]
    except (OSError, ValueError, KeyError, TypeError) as error:
        fail(f"{path}: not an eval results file ({error})")
    answered = [row for row in rows if row.llm_category is not None]
    name = model or saved.get("model")
    if not name:
        fail(f"{path}: the run does not say which model answered; pass --model")
    if not answered:
        fail(
            f"{path}: no row holds an LLM answer (backend {saved.get('backend')}); run "
            "`assistant eval DATASET --backend openai --json FILE` first"
        )
    local = LocalBackend(settings(), policy()).triage_many(
        [InquiryIn(subject="", body=row.text, source="eval") for row in answered]
    )
    answers = [
        Answer(
            stated=row.llm_confidence or 0.0,
            correct=row.llm_category == row.expected,
            llm_urgent=row.llm_urgency is Urgency.urgent,
            urgent=None if row.urgency_expected is None else row.urgency_expected is Urgency.urgent,
            local_correct=triage.category == row.expected,
            local_urgent=triage.urgency is Urgency.urgent,
            local_abstained=triage.needs_manual_triage,
            llm_escalation=bool(row.llm_escalation),
            escalation=row.escalation_expected,
            local_escalation=triage.escalation,
        )
        for row, triage in zip(answered, local)
    ]
    return fit(name, answers, dataset=", ".join(saved.get("datasets") or []))


def register(app: typer.Typer) -> None:
    app.command()(calibrate)

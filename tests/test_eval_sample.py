"""`assistant eval --sample N`: a fixed, stratified slice of the datasets for slow backends,
and what a run says when it is interrupted."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from assistant.evaluation.cli import eval_app
from assistant.evaluation.dataset import EvalCase, load_datasets, stratified_sample
from assistant.evaluation.runner import EvalRun, ResumeError
from assistant.models import Category, Urgency
from tests.test_evaluation import FakeBackend


def population() -> list[EvalCase]:
    """Two datasets, 125 cases in five strata; 10 urgent order_status ones."""
    spec = [
        ("a", "product_info", "normal", 60),
        ("a", "order_status", "normal", 30),
        ("a", "order_status", "urgent", 10),
        ("b", "account", None, 20),  # a public set: no urgency labels
        ("b", "other", None, 5),
    ]
    return [
        EvalCase(
            id=f"{category}-{urgency}-{i}",
            text=f"{dataset} {category} {i}",
            category=Category(category),
            urgency=None if urgency is None else Urgency(urgency),
            dataset=dataset,
        )
        for dataset, category, urgency, count in spec
        for i in range(count)
    ]


def strata(cases: list[EvalCase]) -> Counter:
    return Counter((c.dataset, c.category.value, c.urgency) for c in cases)


def test_the_sample_is_proportional_with_every_stratum_kept():
    cases = population()
    sample = stratified_sample(cases, 25, seed=0)
    assert len(sample) == 25
    counts = strata(sample)
    assert counts == {
        ("a", "product_info", Urgency.normal): 12,
        ("a", "order_status", Urgency.normal): 6,
        ("a", "order_status", Urgency.urgent): 2,
        ("b", "account", None): 4,
        ("b", "other", None): 1,
    }
    # The files' order is kept.
    assert sample == [c for c in cases if c in sample]


def test_a_small_sample_keeps_one_of_each_stratum_urgent_ones_first():
    cases = population()
    assert set(strata(stratified_sample(cases, 5))) == set(strata(cases))
    three = strata(stratified_sample(cases, 3))
    assert three[("a", "order_status", Urgency.urgent)] == 1
    assert sum(three.values()) == 3
    # Proportions would give the 5-case stratum nothing; at least one is kept.
    assert strata(stratified_sample(cases, 8))[("b", "other", None)] == 1


def test_the_sample_is_deterministic_and_the_seed_changes_it():
    cases = population()
    first = stratified_sample(cases, 20, seed=0)
    assert first == stratified_sample(list(cases), 20, seed=0)
    other = stratified_sample(cases, 20, seed=1)
    assert other != first and strata(other) == strata(first)
    # A sample as large as the sets is all of them.
    assert stratified_sample(cases, 500) == cases


def test_two_backends_score_the_same_sampled_cases(tmp_path):
    cases = population()
    local, llm = FakeBackend(), FakeBackend(name="openai")
    a = EvalRun(cases, local, sample=15, seed=3).run(allow_overlap=True)
    b = EvalRun(cases, llm, sample=15, seed=3, model="m").run(allow_overlap=True)
    assert local.seen == llm.seen and len(local.seen) == 15
    assert [(r["dataset"], r["id"]) for r in a["rows"]] == [
        (r["dataset"], r["id"]) for r in b["rows"]
    ]
    assert a["sample"] == {"size": 15, "seed": 3, "population": 125}
    assert a["datasets"] == ["a", "b"]


def test_resuming_with_another_sample_is_refused(tmp_path):
    cases, results = population(), tmp_path / "run.json"
    EvalRun(cases, FakeBackend(), sample=10, json_path=results).run()
    assert json.loads(results.read_text())["sample"]["size"] == 10
    for other in ({"sample": 10, "seed": 1}, {"sample": 12}, {}):
        with pytest.raises(ResumeError, match="same --sample and --seed"):
            EvalRun(cases, FakeBackend(), json_path=results, **other).run()
    again = FakeBackend()
    assert EvalRun(cases, again, sample=10, json_path=results).run()["resumed"] == 10
    assert again.seen == []


# --- the command -------------------------------------------------------------------------


@pytest.fixture
def cli():
    app = typer.Typer()

    @app.command()
    def version() -> None:
        pass

    app.add_typer(eval_app, name="eval")
    runner = CliRunner()
    return lambda *args: runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def write_set(path: Path, count: int) -> Path:
    lines = []
    for i in range(count):
        urgent = i % 10 == 0
        lines.append(
            {
                "id": f"s{i}",
                "text": f"zq{i} my parcel never arrived, order {1000 + i}"
                if urgent or i % 2
                else f"zq{i} what sizes does the Echo Clog come in",
                "category": "order_status" if urgent or i % 2 else "product_info",
                "urgency": "urgent" if urgent else "normal",
            }
        )
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


def test_eval_command_with_sample_records_it_and_refuses_another(cli, tmp_path):
    dataset, out = write_set(tmp_path / "mini.jsonl", 30), tmp_path / "run.json"
    result = cli("eval", dataset, "--backend", "local", "--sample", 8, "--json", out)
    assert result.exit_code == 0, result.output
    assert "sample: 8 of 30 cases (seed 0)" in result.output
    saved = json.loads(out.read_text())
    assert saved["n"] == 8 and saved["sample"] == {"size": 8, "seed": 0, "population": 30}
    chosen = stratified_sample(load_datasets([dataset]), 8)
    assert [r["id"] for r in saved["rows"]] == [c.id for c in chosen]
    assert any(r["urgency_expected"] == "urgent" for r in saved["rows"])
    refused = cli("eval", dataset, "--backend", "local", "--sample", 8, "--seed", 4, "--json", out)
    assert refused.exit_code == 1 and "same --sample and --seed" in refused.output
    wrong = cli("eval", dataset, "--sample", 3, "--retrieval")
    assert wrong.exit_code == 1 and "--sample works on triage evaluations only" in wrong.output


def test_ctrl_c_says_what_was_saved_and_how_to_resume(cli, tmp_path, monkeypatch):
    dataset, out = write_set(tmp_path / "big.jsonl", 70), tmp_path / "run.json"
    chunk = EvalRun._chunk
    calls = []

    def interrupted_after_one_chunk(self, *args, **kwargs):
        calls.append(1)
        if len(calls) > 1:
            raise KeyboardInterrupt
        return chunk(self, *args, **kwargs)

    monkeypatch.setattr(EvalRun, "_chunk", interrupted_after_one_chunk)
    result = cli("eval", dataset, "--backend", "local", "--json", out)
    assert result.exit_code == 130
    assert (
        f"interrupted: 64 of 70 rows saved in {out}; run the same command again to resume"
        in result.output
    )
    assert "Traceback" not in result.output
    assert len(json.loads(out.read_text())["rows"]) == 64
    calls.clear()
    unsaved = cli("eval", dataset, "--backend", "local")
    assert unsaved.exit_code == 130 and "nothing was saved (no --json)" in unsaved.output
    monkeypatch.setattr(EvalRun, "_chunk", chunk)
    resumed = cli("eval", dataset, "--backend", "local", "--json", out)
    assert resumed.exit_code == 0, resumed.output
    saved = json.loads(out.read_text())
    assert saved["n"] == 70 and saved["resumed"] == 64


SIGINT_SCRIPT = """
import os, signal, sys
from assistant.evaluation.runner import EvalRun
chunk, calls = EvalRun._chunk, []
def second_chunk_interrupted(self, *args, **kwargs):
    calls.append(1)
    if len(calls) > 1:
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C, while the second chunk runs
    return chunk(self, *args, **kwargs)
EvalRun._chunk = second_chunk_interrupted
from assistant.cli import main
sys.argv = ["assistant", *sys.argv[1:]]
main()
"""


def test_a_real_sigint_exits_130_without_a_traceback(tmp_path):
    dataset, out = write_set(tmp_path / "big.jsonl", 70), tmp_path / "run.json"
    args = ["eval", str(dataset), "--backend", "local", "--json", str(out)]
    done = subprocess.run(
        [sys.executable, "-c", SIGINT_SCRIPT, *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert done.returncode == 130, done.stderr
    assert "interrupted: 64 of 70 rows saved" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert len(json.loads(out.read_text())["rows"]) == 64

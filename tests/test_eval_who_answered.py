"""Evaluation rows and metrics split by who decided the category: the LLM, local triage
overruling it, local triage after a failed call, or local triage alone."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from rich.progress import Progress

from assistant.evaluation import metrics, runner
from assistant.evaluation.compare import compare
from assistant.evaluation.dataset import EvalCase, load_dataset
from assistant.evaluation.report import html, markdown
from assistant.evaluation.rows import Row, make_row
from assistant.evaluation.runner import EvalRun
from assistant.models import Category, ConfidenceLevel, Triage, TriageOpinion, Urgency
from assistant.policy import load_policy

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def triage(category: str, urgency: str = "normal", **fields) -> Triage:
    return Triage(
        category=Category(category),
        confidence=0.7,
        confidence_level=ConfidenceLevel.medium,
        urgency=Urgency(urgency),
        due_at=NOW,
        due_latest_at=NOW,
        **fields,
    )


def opinion(
    category: str, urgency: str = "normal", confidence: float = 0.9, taken: bool = False
) -> TriageOpinion:
    return TriageOpinion(
        taken=taken,
        category=Category(category),
        urgency=Urgency(urgency),
        escalation=False,
        confidence=confidence,
        calibrated_confidence=confidence - 0.2,
        backend="openai",
        model="m",
    )


def case(index: int, category: str, urgency: str | None = None) -> EvalCase:
    return EvalCase(
        id=str(index),
        text=f"text {index}",
        category=Category(category),
        urgency=None if urgency is None else Urgency(urgency),
        dataset="d",
    )


def mixed_rows() -> list[Row]:
    """Two rows the LLM decided (one right, one wrong), two where local triage overruled
    it (the LLM wrong both times, one of them on urgency too), one failed call, two never
    sent."""
    llm = {"backend": "openai", "model": "m"}
    return [
        # LLM kept, right; urgent, and it said so.
        make_row(
            case(1, "order_status", "urgent"),
            triage(
                "order_status",
                "urgent",
                second_opinion=opinion("order_status", "urgent", taken=True),
                **llm,
            ),
            5.0,
        ),
        # LLM kept, wrong.
        make_row(
            case(2, "account", "normal"),
            triage("technical", second_opinion=opinion("technical", taken=True), **llm),
            5.0,
        ),
        # Local overruled the LLM's category: local right, the LLM wrong.
        make_row(
            case(3, "returns_refunds", "normal"),
            triage(
                "returns_refunds",
                second_opinion=opinion("product_info", confidence=0.4),
                overruled=["category product_info: calibrated confidence 0.20 below 0.5"],
            ),
            5.0,
        ),
        # Overruled again; the LLM also missed the urgency, which local triage kept.
        make_row(
            case(4, "order_status", "urgent"),
            triage(
                "order_status",
                "urgent",
                second_opinion=opinion("technical", "normal", confidence=0.3),
                overruled=[
                    "category technical: calibrated confidence 0.10 below 0.5",
                    "urgency normal: urgency is only ever added (§3)",
                ],
            ),
            5.0,
        ),
        # The call failed after waiting 1.5 s: local triage kept, its wait is the latency.
        make_row(
            case(5, "account", "normal"),
            triage("account", fallback_reason="LLM triage failed: timeout", latency_ms=1500.0),
            5.0,
        ),
        # Never sent.
        make_row(case(6, "feedback", "normal"), triage("feedback"), 2.0),
        make_row(case(7, "feedback", "urgent"), triage("feedback"), 2.0),
    ]


def test_rows_say_who_answered_and_keep_the_llms_own_answer():
    rows = mixed_rows()
    assert [r.answered_by for r in rows] == [
        "llm",
        "llm",
        "local_overruling_llm",
        "local_overruling_llm",
        "local_fallback",
        "local",
        "local",
    ]
    assert [r.sent_to_llm for r in rows] == [True] * 5 + [False] * 2
    third = rows[2]
    assert (third.llm_category, third.llm_urgency) == (Category.product_info, Urgency.normal)
    assert (third.llm_confidence, third.llm_calibrated_confidence) == (0.4, 0.4 - 0.2)
    assert third.overruled == ["category product_info: calibrated confidence 0.20 below 0.5"]
    assert rows[4].llm_category is None and rows[5].llm_confidence is None


def test_split_by_answerer_and_the_llm_share_counts_every_row_sent():
    result = metrics.summarise(mixed_rows())
    assert list(result["by_answerer"]) == ["llm", "local_overruling_llm", "local_fallback", "local"]
    assert result["by_answerer"]["llm"] == {
        "n": 2,
        "accuracy": 0.5,
        "urgent_precision": 1.0,
        "urgent_recall": 1.0,
    }
    assert result["by_answerer"]["local_overruling_llm"]["accuracy"] == 1.0
    assert result["by_answerer"]["local_fallback"]["n"] == 1
    assert result["by_answerer"]["local"] == {
        "n": 2,
        "accuracy": 1.0,
        "urgent_precision": None,  # nothing called urgent: undefined, not 0
        "urgent_recall": 0.0,
    }
    assert result["llm_share"] == round(5 / 7, 4)  # the failed call was sent too
    assert result["llm_answered_share"] == round(2 / 7, 4)


def test_only_groups_with_rows_are_listed():
    rows = [make_row(case(1, "feedback"), triage("feedback"), 1.0)]
    result = metrics.summarise(rows)
    assert list(result["by_answerer"]) == ["local"]
    assert result["llm_share"] == 0.0 and result["llm_alone"]["n"] == 0
    assert result["llm_alone"]["accuracy"] is None
    assert result["overruled"] == {"rows": 0, "share": 0.0, "by_reason": {}}


def test_llm_alone_scores_what_the_model_said_on_the_rows_it_answered():
    alone = metrics.summarise(mixed_rows())["llm_alone"]
    # Rows 1-4 had an answer: right on 1 only; urgent expected on 1 and 4, it said so on 1.
    assert alone["n"] == 4
    assert alone["accuracy"] == 0.25
    assert (alone["urgent_precision"], alone["urgent_recall"]) == (1.0, 0.5)
    # As decided, the same four rows: 3 right, both urgent rows caught.
    assert alone["as_decided"] == {"accuracy": 0.75, "urgent_precision": 1.0, "urgent_recall": 1.0}
    assert alone["calibration_error_stated"] is not None
    assert alone["calibration_error_calibrated"] is not None


def test_overruled_rows_are_counted_by_kind_of_reason():
    overruled = metrics.summarise(mixed_rows())["overruled"]
    assert overruled["rows"] == 2 and overruled["share"] == round(2 / 7, 4)
    assert overruled["by_reason"] == {
        "category product_info": 1,
        "category technical": 1,
        "urgency normal": 1,
    }
    assert metrics.reason_kind("a long reason with many words: detail") == "a long reason with"
    assert metrics.reason_kind("no colon at all here today") == "no colon at all"


def test_a_failed_call_carries_its_wait_into_the_latency():
    rows = mixed_rows()
    assert rows[4].latency_ms == 1500.0
    # Nothing recorded for a failed call: the chunk's wall time per case, never 0.
    zero = make_row(
        case(8, "account"), triage("account", fallback_reason="failed", latency_ms=0.0), 7.0
    )
    assert zero.latency_ms == 7.0
    assert metrics.summarise([rows[4], zero])["latency_ms"]["p95"] > 1000


def test_rows_of_older_results_files_load_with_inferred_answerers():
    base = {
        "dataset": "d",
        "text": "t",
        "expected": "account",
        "predicted": "account",
        "confidence": 0.9,
        "correct": True,
        "urgency_predicted": "normal",
        "escalation_predicted": False,
        "language_predicted": "en",
    }
    local = Row.model_validate({**base, "id": "1"})
    llm = Row.model_validate({**base, "id": "2", "backend": "openai"})
    failed = Row.model_validate({**base, "id": "3", "fallback_reason": "timeout"})
    assert (local.answered_by, local.sent_to_llm) == ("local", False)
    assert (llm.answered_by, llm.sent_to_llm) == ("llm", True)
    assert (failed.answered_by, failed.sent_to_llm) == ("local_fallback", True)
    assert llm.llm_category is None and llm.overruled == []
    # New rows round-trip as written.
    row = mixed_rows()[2]
    assert Row.model_validate(row.model_dump(mode="json")) == row


class OpinionatedBackend:
    """Every inquiry gets the LLM's second opinion, overruled when the text says so; it
    reports each finished inquiry through `on_done`."""

    name = "openai"
    policy = load_policy()
    can_translate = can_judge = False

    def __init__(self, events: list | None = None):
        self.events = events if events is not None else []

    def drain_calls(self) -> list:
        return []

    def triage_many(self, inquiries, on_done=None):
        out = []
        for inquiry in inquiries:
            if "overrule" in inquiry.body:
                out.append(
                    triage(
                        "feedback",
                        second_opinion=opinion("technical"),
                        overruled=["category technical: not believed"],
                    )
                )
            else:
                out.append(
                    triage(
                        "feedback", second_opinion=opinion("feedback", taken=True), backend="openai"
                    )
                )
            self.events.append(("triaged", inquiry.body))
            if on_done:
                on_done(1)
        return out


def write_cases(path, count: int):
    lines = [
        {"id": f"c{i}", "text": f"overrule {i}" if i % 2 else f"keep {i}", "category": "feedback"}
        for i in range(count)
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


def test_a_run_reports_who_answered_in_results_and_reports(tmp_path):
    loaded = load_dataset(write_cases(tmp_path / "set.jsonl", 4))
    result = EvalRun(loaded, OpinionatedBackend(), json_path=tmp_path / "run.json").run()
    assert result["llm_share"] == 1.0 and result["llm_answered_share"] == 0.5
    assert result["by_answerer"]["local_overruling_llm"]["n"] == 2
    assert result["overruled"]["by_reason"] == {"category technical": 2}
    saved = json.loads((tmp_path / "run.json").read_text())
    assert saved["rows"][1]["answered_by"] == "local_overruling_llm"
    assert saved["rows"][1]["llm_category"] == "technical"
    page, text = html(result), markdown(result)
    assert "Who answered" in page and "## Who answered" in text
    assert "local, overruling the LLM" in text and "category technical 2" in text
    compared = compare(result, result)
    metrics_listed = {d["metric"] for d in compared["deltas"]}
    assert {"LLM answered share (kept)", "LLM alone accuracy"} <= metrics_listed


def test_an_older_results_file_resumes_and_compares(tmp_path):
    loaded = load_dataset(write_cases(tmp_path / "set.jsonl", 4))
    results = tmp_path / "run.json"
    EvalRun(loaded, OpinionatedBackend(), json_path=results, chunk_size=2).run()
    old = json.loads(results.read_text())
    new_keys = ("answered_by", "sent_to_llm", "llm_category", "llm_urgency", "llm_confidence")
    for row in old["rows"][:2]:
        for key in (*new_keys, "llm_calibrated_confidence", "overruled"):
            row.pop(key)
    old["rows"] = old["rows"][:2]
    for key in ("sample", "llm_answered_share", "by_answerer", "llm_alone", "overruled"):
        old.pop(key)
    old["llm_share"], old["fallback_rate"] = 0.5, 0.25
    results.write_text(json.dumps(old))
    again = OpinionatedBackend()
    result = EvalRun(loaded, again, json_path=results, chunk_size=2).run()
    assert result["resumed"] == 2 and len(again.events) == 2
    # An old file's llm_share counted answered rows: compare reads it as such.
    shares = {d["metric"]: d["a"] for d in compare(old, result)["deltas"]}
    assert shares["LLM answered share (kept)"] == 0.5
    assert shares["LLM share (sent)"] == 0.75


def test_the_bar_moves_per_row_not_per_chunk(tmp_path, monkeypatch):
    events: list = []

    class Recording(Progress):
        def advance(self, task_id, advance=1):
            events.append(("advance", advance))
            super().advance(task_id, advance)

    monkeypatch.setattr(runner, "Progress", Recording)
    loaded = load_dataset(write_cases(tmp_path / "set.jsonl", 5))
    EvalRun(loaded, OpinionatedBackend(events), chunk_size=4).run()
    # Each finished row advances the bar before the next row is triaged.
    assert events[:4] == [
        ("triaged", "keep 0"),
        ("advance", 1),
        ("triaged", "overrule 1"),
        ("advance", 1),
    ]
    assert sum(count for kind, count in events if kind == "advance") == 5

"""Compare two results files: what moved, and which examples flipped between right and wrong.

Deltas alone hide churn (ten fixed, ten broken reads as "no change"); the flipped examples
show it.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from assistant.evaluation.report import fmt

# (label, path into the results dict); higher is better unless listed in LOWER_IS_BETTER.
METRICS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("accuracy", ("accuracy", "value")),
    ("macro-F1", ("macro_f1",)),
    ("urgent recall", ("urgency", "recall")),
    ("urgent precision", ("urgency", "precision")),
    ("escalation recall", ("escalation", "recall")),
    ("escalation precision", ("escalation", "precision")),
    ("language accuracy", ("language_accuracy",)),
    ("language accuracy ≥20", ("language_accuracy_20plus",)),
    ("abstain rate", ("abstain_rate",)),
    ("fallback rate", ("fallback_rate",)),
    ("LLM share (sent)", ("llm_share",)),
    ("LLM answered share (kept)", ("llm_answered_share",)),
    ("LLM alone accuracy", ("llm_alone", "accuracy")),
    ("LLM alone urgent recall", ("llm_alone", "urgent_recall")),
    ("overruled share", ("overruled", "share")),
    ("latency p50 ms", ("latency_ms", "p50")),
    ("latency p95 ms", ("latency_ms", "p95")),
    ("tokens per 1,000", ("tokens_per_1000", "total")),
    ("cost per 1,000 USD", ("cost_per_1000_usd",)),
)


def _get(result: dict, path: tuple[str, ...]):
    value = result
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def upgraded(result: dict) -> dict:
    """A results file from before `llm_answered_share`: its `llm_share` counted the rows
    the LLM answered (its category was always kept), so it becomes that, and the share
    sent to the LLM adds the failed calls, as `llm_share` now counts."""
    if "llm_answered_share" in result or result.get("llm_share") is None:
        return result
    answered = result["llm_share"]
    sent = round(answered + (result.get("fallback_rate") or 0.0), 4)
    return {**result, "llm_answered_share": answered, "llm_share": sent}


def deltas(a: dict, b: dict) -> list[dict]:
    a, b = upgraded(a), upgraded(b)
    out = []
    for label, path in METRICS:
        before, after = _get(a, path), _get(b, path)
        change = None if before is None or after is None else round(after - before, 4)
        out.append({"metric": label, "a": before, "b": after, "delta": change})
    for label in sorted(set(a["per_class"]) | set(b["per_class"])):
        before = a["per_class"].get(label, {}).get("f1")
        after = b["per_class"].get(label, {}).get("f1")
        change = None if before is None or after is None else round(after - before, 4)
        out.append({"metric": f"F1 {label}", "a": before, "b": after, "delta": change})
    return out


def flipped(a: dict, b: dict) -> dict[str, list[dict]]:
    """Examples in both runs whose correctness changed, matched by dataset and id."""
    before = {(row["dataset"], row["id"]): row for row in a["rows"]}
    fixed: list[dict] = []
    broken: list[dict] = []
    for row in b["rows"]:
        old = before.get((row["dataset"], row["id"]))
        if old is None or old["correct"] == row["correct"]:
            continue
        change = {
            "dataset": row["dataset"],
            "id": row["id"],
            "expected": row["expected"],
            "a": old["predicted"],
            "b": row["predicted"],
            "text": row["text"],
        }
        (fixed if row["correct"] else broken).append(change)
    return {"fixed": fixed, "broken": broken}


def compare(a: dict, b: dict) -> dict:
    shared = {(r["dataset"], r["id"]) for r in a["rows"]} & {
        (r["dataset"], r["id"]) for r in b["rows"]
    }
    return {"deltas": deltas(a, b), "shared_cases": len(shared), **flipped(a, b)}


def print_comparison(
    comparison: dict, console: Console, names: tuple[str, str] = ("A", "B")
) -> None:
    table = Table(title=f"{names[0]} → {names[1]} ({comparison['shared_cases']} shared cases)")
    for column in ("metric", "A", "B", "Δ"):
        table.add_column(column, justify="left" if column == "metric" else "right")
    for row in comparison["deltas"]:
        delta = row["delta"]
        table.add_row(
            row["metric"], fmt(row["a"]), fmt(row["b"]), "–" if delta is None else f"{delta:+.3f}"
        )
    console.print(table)
    for kind in ("fixed", "broken"):
        console.print(f"{kind}: {len(comparison[kind])}", style="bold")
        for change in comparison[kind]:
            text = " ".join(change["text"].split())[:100]
            console.print(
                f"  {change['id']}: expected {change['expected']}, {change['a']} → {change['b']}: {text}",
                markup=False,
                highlight=False,
            )

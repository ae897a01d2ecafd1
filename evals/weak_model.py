"""A weak model must never make triage worse: local vs cascade vs openai on the same rows.

    python evals/weak_model.py                       # the confidently wrong fake model
    python evals/weak_model.py --base-url URL --model NAME --sample 40   # a real server

Prints, per backend, category accuracy and urgent precision/recall on the same rows, the
LLM's own accuracy (what it would have scored had it been believed), how many of its
answers were overruled and why, and how many translations the translation check rejected;
writes the same as JSON with --json. Exit status 1 when the goal of issue 16 fails:
cascade and openai accuracy at least local's − 0.01 and urgent precision at least local's.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from contextlib import ExitStack
from pathlib import Path

from pydantic import SecretStr

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from assistant.backends import get_backend  # noqa: E402
from assistant.evaluation.dataset import load_datasets, stratified_sample  # noqa: E402
from assistant.evaluation.metrics import summarise  # noqa: E402
from assistant.evaluation.rows import make_row  # noqa: E402
from assistant.llm.fake_server import FakeLlm, serve  # noqa: E402
from assistant.policy import default_policy  # noqa: E402
from assistant.settings import get_settings  # noqa: E402

TOLERANCE = 0.01  # cascade may lose at most this much accuracy to local (issue 16)
REJECTED = "translation rejected"


def _why(item: str) -> str:
    for words, short in (
        ("not calibrated", "not calibrated"),
        ("instructions", "mail instructs the assistant"),
        ("too few", "calibration too thin"),
        ("manual triage", "manual triage kept"),
        ("does not occur", "quote not in the mail"),
        ("named no sentence", "no quote"),
        ("never measured", "never measured"),
        ("less precise", "measured less precise"),
        ("local triage more often", "local triage more accurate"),
    ):
        if words in item:
            return short
    return "other"


def evaluate(backend_name: str, cases, settings) -> dict:
    backend = get_backend(backend_name, settings, default_policy())
    triages = backend.triage_many([case.inquiry() for case in cases])
    rows = [make_row(case, triage, None) for case, triage in zip(cases, triages)]
    result = summarise(rows)
    # Per kind (category, urgent, escalation) and why: "not calibrated", "instructions", ...
    overruled = Counter(
        f"{item.split(':', 1)[0].split()[0]} ({_why(item)})"
        for triage in triages
        for item in triage.overruled
    )
    rejected = [reason for triage in triages for reason in triage.reasons if REJECTED in reason]
    return {
        "accuracy": result["accuracy"]["value"],
        "urgent_precision": result["urgency"]["precision"],
        "urgent_recall": result["urgency"]["recall"],
        "llm_share": result["llm_share"],
        "fallback_rate": result["fallback_rate"],
        "llm_alone": result.get("llm_alone"),
        "overruled": dict(overruled),
        "translations_rejected": len(rejected),
        "rejection_examples": rejected[:5],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "datasets", nargs="*", type=Path, default=[REPO / "evals/datasets/crocso.jsonl"]
    )
    parser.add_argument("--base-url", help="a live OpenAI-compatible server (default: fake)")
    parser.add_argument("--model", default=None, help="the model to ask (default: settings)")
    parser.add_argument("--sample", type=int, default=None, help="a stratified slice of N rows")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    cases = load_datasets(args.datasets)
    if args.sample:
        cases = stratified_sample(cases, args.sample, args.seed)
    settings = get_settings()
    with ExitStack() as stack:
        if args.base_url:
            url, model = args.base_url, args.model or settings.openai_model
        else:
            url, _ = stack.enter_context(serve(FakeLlm(wrong=True)))
            model = "confidently-wrong"
        settings = settings.model_copy(
            update={
                "openai_base_url": url,
                "openai_api_key": settings.openai_api_key or SecretStr("none"),
                "openai_model": model,
            }
        )
        results = {name: evaluate(name, cases, settings) for name in ("local", "cascade", "openai")}
    local = results["local"]
    failures = [
        f"{name}: accuracy {r['accuracy']} < local {local['accuracy']} - {TOLERANCE}"
        for name, r in results.items()
        if r["accuracy"] < local["accuracy"] - TOLERANCE
    ] + [
        f"{name}: urgent precision {r['urgent_precision']} < local {local['urgent_precision']}"
        for name, r in results.items()
        if (r["urgent_precision"] or 0) < (local["urgent_precision"] or 0)
    ]
    print(f"{len(cases)} rows, model {model} at {url}")
    print(
        f"{'backend':<8} {'accuracy':>8} {'urg.prec':>8} {'urg.rec':>8} {'sent':>6} "
        f"{'LLM alone':>9}  overruled / translations rejected"
    )
    for name, r in results.items():
        alone = (r["llm_alone"] or {}).get("accuracy")
        print(
            f"{name:<8} {r['accuracy']:>8} {r['urgent_precision']!s:>8} "
            f"{r['urgent_recall']!s:>8} {r['llm_share']:>6} {alone!s:>9}  "
            f"{r['overruled'] or '-'} / {r['translations_rejected']}"
        )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {"rows": len(cases), "model": model, "results": results, "failures": failures}
        args.json.write_text(json.dumps(payload, indent=1), encoding="utf-8")
    for failure in failures:
        print(f"FAIL {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())

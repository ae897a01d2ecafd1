"""`make bench`: the numbers the offline pipeline must reach, measured on one core.

* local triage throughput (category + urgency rules and learned signal + language + SLA),
  target ≥ 5,000/s on one core
* full run (ingest + triage + draft + store in SQLite) on 5,000 inquiries, target ≥ 300/s
* peak memory, classifier load time
* classifier macro-F1: 5-fold cross-validation on the public dev set (each fold trained on
  our Crocso examples plus the other folds), the held-out public split with the shipped
  model, and cross-validation on our own Crocso examples; target ≥ 0.92.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from sklearn.metrics import f1_score  # noqa: E402
from sklearn.model_selection import StratifiedKFold  # noqa: E402

from assistant.classifier import load_classifier  # noqa: E402
from assistant.classifier.training import DATA_DIR, fit, normalise, read_examples  # noqa: E402
from assistant.models import InquiryIn  # noqa: E402

DATASETS = REPO / "evals" / "datasets"


def pin_to_one_core() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})


def corpus(n: int, files: list[Path] | None = None) -> list[InquiryIn]:
    """n inquiries built from every text we have (or from `files`), with varied senders,
    subjects and times."""
    if files is None:
        files = [DATA_DIR / "crocso_train.jsonl", DATASETS / "public_dev.jsonl"]
        files += [p for p in [DATASETS / "crocso.jsonl"] if p.exists()]
    rows = read_examples(files)
    rng = random.Random(7)
    start = datetime(2026, 11, 16, 8, 0, tzinfo=UTC)
    inquiries = []
    for index in range(n):
        row = rng.choice(rows)
        inquiries.append(
            InquiryIn(
                subject=f"Question {index}",
                body=f"{row['text']}\n\nThanks, customer {index}",
                from_address=f"customer{index}@example.com",
                from_name=f"Customer {index}",
                message_id=f"<bench-{index}@example.com>",
                received_at=start + timedelta(minutes=37 * index),
            )
        )
    return inquiries


def bench_triage(inquiries: list[InquiryIn], repeats: int = 3) -> dict:
    """Triage rate over `repeats` passes; the median decides, the range shows the noise
    (this VM's speed varies by ±15% from one run to the next). The word caches fill in the
    first pass, as they do in the first minutes of a long-running service."""
    from assistant.settings import Settings
    from assistant.triage import triage_many

    settings = Settings()
    triage_many(inquiries[:50], settings)  # warm caches: model, holidays, language model
    passes = []
    for _ in range(repeats):
        started, cpu_started = time.perf_counter(), time.process_time()
        for offset in range(0, len(inquiries), 500):
            triage_many(inquiries[offset : offset + 500], settings)
        passes.append((time.perf_counter() - started, time.process_time() - cpu_started))
    elapsed = statistics.median(wall for wall, _ in passes)
    cpu = statistics.median(cpu for _, cpu in passes)
    return {
        "inquiries": len(inquiries),
        "seconds": round(elapsed, 3),
        "per_second": round(len(inquiries) / elapsed),
        "per_second_each_pass": [round(len(inquiries) / wall) for wall, _ in passes],
        # CPU time of this process: on a shared VM, wall time also counts time the
        # hypervisor gave our core to someone else.
        "cpu_seconds": round(cpu, 3),
        "per_cpu_second": round(len(inquiries) / cpu),
    }


def bench_full_run(inquiries: list[InquiryIn]) -> dict:
    from assistant import pipeline
    from assistant.backends.local import LocalBackend
    from assistant.policy import load_policy
    from assistant.settings import Settings
    from assistant.storage.db import open_database, session

    with tempfile.TemporaryDirectory() as folder:
        engine = open_database(f"sqlite:///{folder}/bench.db")
        settings = Settings()
        started = time.perf_counter()
        with session(engine) as db:
            summary = pipeline.run(
                db, inquiries, LocalBackend(settings, load_policy()), batch_size=500
            )
        elapsed = time.perf_counter() - started
        engine.dispose()
    return {
        "inquiries": len(inquiries),
        "seconds": round(elapsed, 3),
        "per_second": round(len(inquiries) / elapsed),
        "by_status": summary.by_status,
    }


def macro_f1_cv(examples: list[dict], extra_training: list[dict], folds: int = 5) -> float:
    texts = [e["text"] for e in examples]
    labels = [e["category"] for e in examples]
    predicted = [""] * len(examples)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=0)
    for train_index, test_index in splitter.split(texts, labels):
        model = fit(extra_training + [examples[i] for i in train_index])
        guesses = model.predict([normalise(texts[i]) for i in test_index])
        for i, guess in zip(test_index, guesses):
            predicted[i] = guess
    return round(_macro_f1(labels, predicted), 4)


def _macro_f1(expected: list[str], predicted: list[str]) -> float:
    """Over the classes the dataset has: the public set has no `other`, and a stray `other`
    guess must count as an error, not as a class with F1 = 0 dragging the mean down."""
    return f1_score(expected, predicted, average="macro", labels=sorted(set(expected)))


def bench_quality() -> dict:
    crocso = read_examples([DATA_DIR / "crocso_train.jsonl"])
    public = read_examples([DATASETS / "public_dev.jsonl"])
    holdout = read_examples([DATASETS / "public_holdout.jsonl"])
    classifier = load_classifier()
    predicted = [g[0].category.value for g in classifier.guesses([e["text"] for e in holdout])]
    result = {
        "public_dev_cv_macro_f1": macro_f1_cv(public, crocso),
        "public_holdout_macro_f1": round(_macro_f1([e["category"] for e in holdout], predicted), 4),
        "crocso_train_cv_macro_f1": macro_f1_cv(crocso, []),
    }
    eval_set = DATASETS / "crocso.jsonl"
    if eval_set.exists():
        rows = read_examples([eval_set])
        guesses = [g[0].category.value for g in classifier.guesses([e["text"] for e in rows])]
        result["crocso_eval_macro_f1"] = round(_macro_f1([e["category"] for e in rows], guesses), 4)
    return result


def bench_training() -> dict:
    """Training from scratch (both models, the cross-validated temperature and urgency
    threshold): what the first use after a change of training data costs."""
    import tempfile

    from assistant.classifier import train_and_save
    from assistant.classifier.training import training_paths

    rows = len(read_examples(training_paths()))
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        classifier = train_and_save(Path(folder) / "model.joblib")
        seconds = time.perf_counter() - started
    return {
        "examples": rows,
        "seconds": round(seconds, 1),
        "urgency_threshold": classifier.urgency_threshold,
        "temperature": round(classifier.temperature, 3),
    }


def bench_load() -> dict:
    import joblib

    from assistant.classifier import _candidate_paths

    load_classifier()  # make sure a trained model exists
    path = next(p for p in _candidate_paths() if p.exists())
    started = time.perf_counter()
    joblib.load(path)
    return {
        "model_load_seconds": round(time.perf_counter() - started, 3),
        "model_bytes": path.stat().st_size,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    parser.add_argument("--skip-quality", action="store_true")
    args = parser.parse_args()
    pin_to_one_core()
    inquiries = corpus(args.n)
    results = {"load": bench_load(), "triage": bench_triage(inquiries)}
    # The rate depends on the language mix: the function-word vote settles most English
    # mail at once, while short non-English mail sometimes needs the statistical
    # detector (~50 µs a text).
    results["triage_english_public_only"] = bench_triage(
        corpus(args.n, [DATASETS / "public_dev.jsonl"])
    )
    results["full_run"] = bench_full_run(inquiries)
    results["peak_memory_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    if not args.skip_quality:
        results["quality"] = bench_quality()
        results["training"] = bench_training()
    targets = {
        # Issue 14: category, learned urgency signal, rules and language on one core.
        "triage ≥ 5000/s": results["triage"]["per_second"] >= 5000,
        "full run ≥ 300/s": results["full_run"]["per_second"] >= 300,
    }
    if "quality" in results:
        targets["public dev CV macro-F1 ≥ 0.92"] = (
            results["quality"]["public_dev_cv_macro_f1"] >= 0.92
        )
    results["targets_met"] = targets
    print(json.dumps(results, indent=2, ensure_ascii=False))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8")


if __name__ == "__main__":
    main()

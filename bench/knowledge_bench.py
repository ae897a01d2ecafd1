"""Knowledge-base benchmark: retrieval time per inquiry at 1,000 entries, and what the
retrieved entries add to an LLM draft prompt with a 200-entry knowledge base.

    python bench/knowledge_bench.py [--entries 1000] [--prompt-entries 200]

Targets (issue 15): retrieval adds <= 0.2 ms per inquiry at 1,000 entries (one core, the
index already built, as in a running server); prompt tokens per draft with 200 entries
stay within 1.3x of those without a knowledge base (the fake server's estimate,
characters / 4, on the same inquiries). Large bases are made from the example entries
in samples/knowledge: each copy gets its own id, a shuffled text and keywords drawn from
the others, so the index is as large and as varied as a real one of that size.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from assistant.evaluation.retrieval import load_retrieval_cases  # noqa: E402
from assistant.knowledge import load_knowledge, retrieve  # noqa: E402
from assistant.knowledge.entries import read_entry  # noqa: E402
from assistant.settings import Settings  # noqa: E402
from assistant.triage import triage_many  # noqa: E402

SAMPLES = ROOT / "samples" / "knowledge"
QUERIES = ROOT / "evals" / "datasets" / "knowledge_retrieval.jsonl"


def grown_base(size: int, folder: Path, seed: int = 15) -> Path:
    """`size` entries in `folder`: the examples, then varied copies of them."""
    rng = random.Random(seed)
    examples = [read_entry(p, SAMPLES) for p in sorted(SAMPLES.glob("*.md")) if p.stem != "README"]
    words = [w for e in examples for w in e.render().split()]  # slots filled: no `{%` left
    keywords = [k for e in examples for k in e.meta.keywords]
    for number in range(size):
        source = examples[number % len(examples)]
        meta = source.meta.model_dump(mode="json")
        text = source.text
        if number >= len(examples):
            meta["id"] = f"{source.id}-{number}"
            meta["title"] = f"{source.title} ({' '.join(rng.sample(words, 3))})"
            meta["keywords"] = rng.sample(keywords, min(8, len(keywords)))
            meta["related"] = []
            text = " ".join(rng.sample(words, min(90, len(words))))
        front = "\n".join(f"{k}: {json.dumps(v, ensure_ascii=False)}" for k, v in meta.items())
        (folder / f"{meta['id']}.md").write_text(f"---\n{front}\n---\n{text}\n", encoding="utf-8")
    return folder


def bench_retrieval(size: int, settings: Settings) -> dict:
    cases = load_retrieval_cases(QUERIES)
    inquiries = [case.inquiry() for case in cases]
    triages = triage_many(inquiries, settings)
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        base = load_knowledge(grown_base(size, Path(folder)))
        load_s = time.perf_counter() - started
        started = time.perf_counter()
        for language in sorted({t.language for t in triages}):
            base.retriever.rank("warm up", language)  # each language's index, built once
        index_s = time.perf_counter() - started
        timings = []
        for _ in range(5):
            for inquiry, triage in zip(inquiries, triages):
                started = time.perf_counter()
                retrieve(base, inquiry, triage, min_score=settings.knowledge_min_score)
                timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    return {
        "entries": size,
        "inquiries": len(inquiries),
        "load_s": round(load_s, 3),
        "index_all_languages_s": round(index_s, 3),
        "retrieval_ms_mean": round(statistics.mean(timings), 4),
        "retrieval_ms_p95": round(timings[int(len(timings) * 0.95)], 4),
        "within_0.2ms": statistics.mean(timings) <= 0.2,
    }


def bench_prompt_tokens(size: int) -> dict:
    """Prompt tokens per LLM draft, without a knowledge base and with `size` entries."""
    from llm_bench import server_process

    from assistant.backends.openai import LlmBackend
    from assistant.policy import load_policy

    cases = [c for c in load_retrieval_cases(QUERIES) if c.language == "en"][:30]
    inquiries = [case.inquiry() for case in cases]
    means = {}
    with server_process(0.0) as url, tempfile.TemporaryDirectory() as folder:
        grown_base(size, Path(folder))
        for label, knowledge_dir in (("without", None), ("with", Path(folder))):
            settings = Settings(
                openai_base_url=url,
                openai_model="bench",
                knowledge_dir=knowledge_dir,
                llm_capabilities_file=Path(folder) / "capabilities.json",
            )
            backend = LlmBackend(settings, load_policy())
            triages = backend.local.triage_many(inquiries)
            drafts = backend.draft_many(list(zip(inquiries, triages)))
            calls = [c for c in backend.drain_calls() if c.purpose == "draft"]
            means[label] = statistics.mean(c.prompt_tokens for c in calls)
            if knowledge_dir:
                means["entries_per_draft"] = statistics.mean(len(d.knowledge) for d in drafts)
    ratio = means["with"] / means["without"]
    return {
        "entries": size,
        "drafts": len(inquiries),
        "estimated_prompt_tokens_without": round(means["without"]),
        "estimated_prompt_tokens_with": round(means["with"]),
        "entries_in_prompt_mean": round(means["entries_per_draft"], 2),
        "ratio": round(ratio, 3),
        "within_1.3x": ratio <= 1.3,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1000)
    parser.add_argument("--prompt-entries", type=int, default=200)
    args = parser.parse_args()
    results = {
        "retrieval": bench_retrieval(args.entries, Settings()),
        "prompt_tokens": bench_prompt_tokens(args.prompt_entries),
    }
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

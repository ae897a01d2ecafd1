"""Present a results dict three ways: a terminal table, Markdown, a self-contained HTML page.

All three read only the results dict (what `--json` writes), so a saved run can be
re-reported without a backend. Dataset text is hostile input: HTML escapes all of it.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from rich.console import Console
from rich.table import Table


def fmt(value, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def headline(result: dict) -> list[tuple[str, str]]:
    """The numbers a reader looks for first, in reading order."""
    accuracy = result["accuracy"]
    tokens = result["tokens_per_1000"]
    lines = [
        ("cases", fmt(result["n"])),
        (
            "accuracy (95% CI)",
            f"{fmt(accuracy['value'])} ({fmt(accuracy['ci_low'])}–{fmt(accuracy['ci_high'])})",
        ),
        ("macro-F1", fmt(result["macro_f1"])),
        ("calibration error (ECE)", fmt(result.get("calibration_error"))),
        (
            "urgent recall / precision",
            f"{fmt(result['urgency']['recall'])} / {fmt(result['urgency']['precision'])}",
        ),
        (
            "escalation recall / precision",
            f"{fmt(result['escalation']['recall'])} / {fmt(result['escalation']['precision'])}",
        ),
        (
            "language accuracy (all / ≥20 chars)",
            f"{fmt(result['language_accuracy'])} / {fmt(result['language_accuracy_20plus'])}",
        ),
        (
            "abstain / fallback rate",
            f"{fmt(result['abstain_rate'])} / {fmt(result['fallback_rate'])}",
        ),
        (
            "sent to the LLM / its category kept",
            f"{fmt(result['llm_share'])} / {fmt(result.get('llm_answered_share'))}",
        ),
        (
            "latency p50 / p95 (ms)",
            f"{fmt(result['latency_ms']['p50'], 1)} / {fmt(result['latency_ms']['p95'], 1)}",
        ),
        (
            "tokens / cost per 1,000",
            f"{fmt(tokens['total'])} / ${fmt(result['cost_per_1000_usd'], 2)}",
        ),
        ("training overlap", fmt(result["overlap"])),
    ]
    sample = result.get("sample")
    if sample:
        lines.insert(
            1,
            (
                "sample",
                f"{fmt(result['n'])} of {fmt(sample.get('population'))} cases "
                f"(--sample {sample['size']} --seed {sample['seed']})",
            ),
        )
    drafts = result.get("drafts")
    if drafts:
        lines += [
            (
                "drafts grounded / citations valid",
                f"{fmt(drafts['grounding_pass_rate'])} / {fmt(drafts['citation_validity'])}",
            ),
            (
                "must_not_contain / must_ask_for pass",
                f"{fmt(drafts['must_not_contain_pass_rate'])} / {fmt(drafts['must_ask_for_pass_rate'])}",
            ),
            (
                "judge mean score",
                fmt(drafts["judge"]["mean_score"])
                + (f" ({drafts['judge']['note']})" if drafts["judge"]["note"] else ""),
            ),
        ]
    return lines


ANSWERER_LABELS = {
    "llm": "LLM (its category kept)",
    "local_agreed_by_llm": "local, the LLM agreeing",
    "local_overruling_llm": "local, overruling the LLM",
    "local_fallback": "local, the LLM call failed",
    "local": "local, LLM not asked",
}
WHO_ANSWERED_HEADER = ["answered by", "n", "accuracy", "urgent precision", "urgent recall"]


LANGUAGE_HEADER = ["language", "n", "accuracy", "urgent recall", "urgent precision"]
SOURCE_HEADER = ["source", "urgent recall", "urgent precision"]


def language_rows(result: dict) -> list[list[str]]:
    return [
        [lang, *(fmt(s.get(k)) for k in ("n", "accuracy", "urgent_recall", "urgent_precision"))]
        for lang, s in result["per_language"].items()
    ]


def source_rows(result: dict) -> list[list[str]]:
    """Local urgency by source (rules, learned signal, combined); empty when unknown."""
    return [
        [name.replace("_", " "), fmt(s["recall"]), fmt(s["precision"])]
        for name, s in (result.get("urgency_sources") or {}).items()
    ]


def who_answered(result: dict) -> list[list[str]]:
    """Rows of the "who answered" table: each group that decided categories, then what the
    LLM alone would have scored on the rows it answered, had it been believed."""

    def cells(label: str, scores: dict) -> list[str]:
        return [
            label,
            fmt(scores.get("n")),
            *(fmt(scores.get(k)) for k in ("accuracy", "urgent_precision", "urgent_recall")),
        ]

    table = [
        cells(ANSWERER_LABELS.get(name, name), scores)
        for name, scores in (result.get("by_answerer") or {}).items()
    ]
    alone = result.get("llm_alone") or {}
    if alone.get("n"):
        table.append(cells("the LLM's own answers, had they been taken", alone))
    return table


def overruled_lines(result: dict) -> list[str]:
    overruled = result.get("overruled") or {}
    if not overruled.get("rows"):
        return []
    kinds = ", ".join(f"{kind} {count}" for kind, count in overruled["by_reason"].items())
    return [f"LLM answer partly overruled on {overruled['rows']} rows: {kinds}"]


def worst_confusions(result: dict, limit: int = 10) -> list[tuple[str, str, int]]:
    pairs = [
        (expected, predicted, count)
        for expected, row in result["confusion"].items()
        for predicted, count in row.items()
        if expected != predicted and count
    ]
    return sorted(pairs, key=lambda pair: -pair[2])[:limit]


def misclassified(result: dict) -> list[dict]:
    return [row for row in result["rows"] if not row["correct"]]


def missed_urgent(result: dict) -> list[dict]:
    """Urgent mail the backend called normal: the costliest mistake, listed on its own."""
    return [
        row
        for row in result["rows"]
        if row.get("urgency_expected") == "urgent" and row.get("urgency_predicted") != "urgent"
    ]


def title(result: dict) -> str:
    model = f" ({result['model']})" if result.get("model") else ""
    return f"{', '.join(result['datasets'])} · backend {result['backend']}{model}"


def print_terminal(result: dict, console: Console) -> None:
    summary = Table(title=title(result), show_header=False)
    for name, value in headline(result):
        summary.add_row(name, value)
    console.print(summary)
    classes = Table(title="per class")
    for column in ("category", "precision", "recall", "F1", "support"):
        classes.add_column(column, justify="left" if column == "category" else "right")
    for label, scores in result["per_class"].items():
        classes.add_row(label, *(fmt(scores[k]) for k in ("precision", "recall", "f1", "support")))
    console.print(classes)
    for name, header, rows in (
        ("per language", LANGUAGE_HEADER, language_rows(result)),
        ("local urgency by source", SOURCE_HEADER, source_rows(result)),
    ):
        if rows:
            table = Table(title=name)
            for column in header:
                table.add_column(column)
            for cells in rows:
                table.add_row(*cells)
            console.print(table)
    answered = who_answered(result)
    if answered:
        who = Table(title="who answered")
        for column in WHO_ANSWERED_HEADER:
            who.add_column(column, justify="left" if column == "answered by" else "right")
        for cells in answered:
            who.add_row(*cells)
        console.print(who)
    for line in overruled_lines(result):
        console.print(line, markup=False, highlight=False)
    for expected, predicted, count in worst_confusions(result, 5):
        console.print(f"confused {expected} → {predicted}: {count}", markup=False)


def _md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    def line(cells: list[str]) -> str:
        return (
            "| " + " | ".join(cell.replace("|", "\\|").replace("\n", " ") for cell in cells) + " |"
        )

    return [line(header), line(["---"] * len(header)), *(line(row) for row in rows)]


def markdown(result: dict) -> str:
    labels = result["labels"]
    out = [f"# Evaluation: {title(result)}", ""]
    out += _md_table(["metric", "value"], [list(pair) for pair in headline(result)]) + [""]
    out += ["## Per class", ""]
    out += _md_table(
        ["category", "precision", "recall", "F1", "support"],
        [
            [label, *(fmt(s[k]) for k in ("precision", "recall", "f1", "support"))]
            for label, s in result["per_class"].items()
        ],
    ) + [""]
    if who_answered(result):
        out += ["## Who answered", ""]
        out += _md_table(WHO_ANSWERED_HEADER, who_answered(result)) + [""]
        out += [f"- {line}" for line in overruled_lines(result)]
        out += [""] if overruled_lines(result) else []
    out += ["## Per language", ""] + _md_table(LANGUAGE_HEADER, language_rows(result)) + [""]
    if source_rows(result):
        out += ["## Local urgency by source", ""]
        out += _md_table(SOURCE_HEADER, source_rows(result)) + [""]
    out += ["## Confusion matrix (rows: expected, columns: predicted)", ""]
    out += _md_table(
        ["", *labels], [[e, *(str(result["confusion"][e][p]) for p in labels)] for e in labels]
    ) + [""]
    out += ["## Worst confusions", ""]
    out += [f"- {e} → {p}: {c}" for e, p, c in worst_confusions(result)] or ["- none"]
    out += ["", "## Misclassified", ""]
    out += _md_table(
        ["id", "expected", "predicted", "confidence", "text"],
        [
            [r["id"], r["expected"], r["predicted"], fmt(r["confidence"], 2), r["text"][:200]]
            for r in misclassified(result)
        ],
    )
    out += ["", "## Missed urgent", ""]
    out += [
        f"- {r['id']} ({r['expected']}): {' '.join(r['text'].split())[:200]}"
        for r in missed_urgent(result)
    ] or ["- none"]
    return "\n".join(out) + "\n"


def _heatmap(result: dict) -> str:
    labels = result["labels"]
    head = "".join(f"<th>{escape(label)}</th>" for label in labels)
    body = []
    for expected in labels:
        counts = result["confusion"][expected]
        total = sum(counts.values()) or 1
        cells = []
        for predicted in labels:
            share = counts[predicted] / total
            hue = "22, 163, 74" if expected == predicted else "220, 38, 38"
            ink = "#fff" if share > 0.5 else "#111"
            cells.append(
                f'<td style="background: rgba({hue}, {share:.3f}); color: {ink}" '
                f'title="{escape(expected)} → {escape(predicted)}: {share:.0%}">{counts[predicted]}</td>'
            )
        body.append(f"<tr><th>{escape(expected)}</th>{''.join(cells)}</tr>")
    return (
        '<table class="heatmap"><caption>rows: expected · columns: predicted</caption>'
        f"<tr><th></th>{head}</tr>{''.join(body)}</table>"
    )


_STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 70rem; color: #111; }
table { border-collapse: collapse; margin: 1rem 0; }
th, td { border: 1px solid #ccc; padding: .3rem .6rem; text-align: left; vertical-align: top; }
.heatmap td { text-align: center; min-width: 4rem; font-variant-numeric: tabular-nums; }
td.text { white-space: pre-wrap; max-width: 40rem; }
"""


def html(result: dict) -> str:
    def table(header: list[str], rows: list[list[str]], text_column: int | None = None) -> str:
        head = "".join(f"<th>{escape(cell)}</th>" for cell in header)
        lines = []
        for row in rows:
            cells = "".join(
                f'<td class="text">{escape(c)}</td>'
                if i == text_column
                else f"<td>{escape(c)}</td>"
                for i, c in enumerate(row)
            )
            lines.append(f"<tr>{cells}</tr>")
        return f"<table><tr>{head}</tr>{''.join(lines)}</table>"

    wrong = misclassified(result)
    parts = [
        f"<h1>Evaluation: {escape(title(result))}</h1>",
        table(["metric", "value"], [list(pair) for pair in headline(result)]),
        "<h2>Confusion matrix</h2>",
        _heatmap(result),
        "<h2>Per class</h2>",
        table(
            ["category", "precision", "recall", "F1", "support"],
            [
                [label, *(fmt(s[k]) for k in ("precision", "recall", "f1", "support"))]
                for label, s in result["per_class"].items()
            ],
        ),
        *(
            [
                "<h2>Who answered</h2>",
                table(WHO_ANSWERED_HEADER, who_answered(result)),
                *(f"<p>{escape(line)}</p>" for line in overruled_lines(result)),
            ]
            if who_answered(result)
            else []
        ),
        "<h2>Per language</h2>",
        table(LANGUAGE_HEADER, language_rows(result)),
        *(
            ["<h2>Local urgency by source</h2>", table(SOURCE_HEADER, source_rows(result))]
            if source_rows(result)
            else []
        ),
        f"<h2>Misclassified ({len(wrong)})</h2>",
        table(
            ["dataset", "id", "expected", "predicted", "confidence", "text"],
            [
                [
                    r["dataset"],
                    r["id"],
                    r["expected"],
                    r["predicted"],
                    fmt(r["confidence"], 2),
                    r["text"],
                ]
                for r in wrong
            ],
            text_column=5,
        ),
        f"<h2>Missed urgent ({len(missed_urgent(result))})</h2>",
        table(
            ["dataset", "id", "category", "text"],
            [[r["dataset"], r["id"], r["expected"], r["text"]] for r in missed_urgent(result)],
            text_column=3,
        ),
    ]
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title(result))}</title><style>{_STYLE}</style></head>"
        f"<body>{''.join(parts)}</body></html>\n"
    )


def write_reports(result: dict, folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = [folder / "report.md", folder / "report.html"]
    written[0].write_text(markdown(result), encoding="utf-8")
    written[1].write_text(html(result), encoding="utf-8")
    return written

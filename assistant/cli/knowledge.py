"""`assistant knowledge list|show|check|suggest`: the team's knowledge base, read-only.

The lead edits the Markdown files; these commands show what the assistant makes of them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from assistant.cli.common import JsonFlag, database, fail, print_json, say, settings

knowledge_app = typer.Typer(
    help="The knowledge base drafts answer from (ASSISTANT_KNOWLEDGE_DIR).", no_args_is_help=True
)
DEFAULT_EVAL_SET = Path("evals/datasets/knowledge_retrieval.jsonl")


def _base():
    from assistant.knowledge import KnowledgeError, knowledge_for

    chosen = settings()
    if chosen.knowledge_dir is None:
        fail(
            "no knowledge base is configured: set ASSISTANT_KNOWLEDGE_DIR to its folder "
            "(samples/knowledge holds an example)"
        )
    try:
        return knowledge_for(chosen)
    except KnowledgeError as error:
        fail(str(error).replace("\n", " "))


@knowledge_app.command("list")
def list_entries(as_json: JsonFlag = False) -> None:
    """Every entry: id, kind, categories, last review, title."""
    base = _base()
    rows = [
        {
            "id": e.id,
            "kind": e.kind.value,
            "categories": [c.value for c in e.meta.categories],
            "languages": e.meta.languages,
            "last_reviewed": e.meta.last_reviewed.isoformat(),
            "approved_by": e.meta.approved_by,
            "example": e.meta.example,
            "title": e.title,
        }
        for e in base.entries
    ]
    if as_json:
        return print_json({"version": base.version, "entries": rows})
    say(f"{base.version} in {base.folder}")
    for row in rows:
        flag = " (example)" if row["example"] else ""
        categories = ",".join(row["categories"]) or "any"
        say(
            f"{row['id']:<28} {row['kind']:<8} {categories:<28} {row['last_reviewed']}  "
            f"{row['title']}{flag}"
        )


@knowledge_app.command()
def show(
    entry_id: Annotated[str, typer.Argument(help="The entry's id")], as_json: JsonFlag = False
) -> None:
    """One entry: its fields and its text as a customer would read it."""
    base = _base()
    entry = base.get(entry_id)
    if entry is None:
        close = [e.id for e in base.entries if entry_id in e.id][:5]
        fail(f"no entry {entry_id!r}" + (f" (did you mean {', '.join(close)}?)" if close else ""))
    if as_json:
        return print_json(
            {**entry.meta.model_dump(mode="json"), "text": entry.text, "path": str(entry.path)}
        )
    meta = entry.meta
    say(
        f"{entry.id}: {entry.title}  [{entry.kind.value}]{' (example content)' if meta.example else ''}"
    )
    say(f"file: {entry.path}")
    say(
        f"categories: {', '.join(c.value for c in meta.categories) or 'any'}; languages: "
        f"{', '.join(meta.languages)}; reviewed {meta.last_reviewed} by {meta.approved_by}"
    )
    if meta.keywords:
        say(f"keywords: {', '.join(meta.keywords)}")
    if entry.links:
        say(f"links: {', '.join(entry.links)}")
    say("")
    say(entry.render())


@knowledge_app.command()
def check(
    dataset: Annotated[
        Path | None,
        typer.Option(
            help="Retrieval eval set: entries none of its inquiries retrieve "
            f"(default {DEFAULT_EVAL_SET} when it exists)"
        ),
    ] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Warnings fail too")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Broken links between entries, entries due for review, entries never retrieved.
    Exit status 1 on errors (or on warnings with --strict)."""
    from assistant.evaluation.dataset import DatasetError
    from assistant.evaluation.retrieval import evaluate_retrieval, load_retrieval_cases
    from assistant.knowledge.checking import check_base

    base = _base()
    chosen = settings()
    retrieved, queries = None, 0
    path = dataset or (DEFAULT_EVAL_SET if DEFAULT_EVAL_SET.is_file() else None)
    if path is not None:
        try:
            cases = load_retrieval_cases(path)
        except (DatasetError, OSError) as error:
            fail(str(error))
        retrieved, queries = evaluate_retrieval(cases, base, chosen).retrieved_ids, len(cases)
    report = check_base(
        base, review_days=chosen.knowledge_review_days, retrieved_ids=retrieved, queries=queries
    )
    if as_json:
        print_json({"version": base.version, "errors": report.errors, "warnings": report.warnings})
    else:
        say(f"{base.version}: {len(report.errors)} error(s), {len(report.warnings)} warning(s)")
        for line in report.errors:
            say(f"error: {line}")
        for line in report.warnings:
            say(f"warning: {line}")
    if report.errors or (strict and report.warnings):
        raise typer.Exit(1)


@knowledge_app.command()
def suggest(
    out: Annotated[Path, typer.Option(help="Folder for the proposed entries")] = Path(
        "var/knowledge-suggestions"
    ),
    min_replies: Annotated[
        int, typer.Option(min=2, help="Approved replies a recurring edit needs")
    ] = 3,
    as_json: JsonFlag = False,
) -> None:
    """Where agents rewrite drafts most, and new answers proposed from edits that recur
    in approved replies: written as files for the lead to review, never added."""
    from assistant.knowledge.suggest import edit_statistics, suggest_entries, write_suggestions

    with database(read_only=True) as db:
        stats = edit_statistics(db)
        proposals = suggest_entries(db, min_replies=min_replies)
    written = write_suggestions(proposals, out) if proposals else []
    if as_json:
        return print_json({"edits": stats, "suggestions": [str(p) for p in written]})
    say(
        "Approved replies per category: edited share, mean edit size (0 = as drafted), and "
        "approved as drafted with / without a knowledge-base answer"
    )
    for row in stats:
        say(
            f"  {row['category']:<16} {row['approved']:>5} approved  {row['edited_share']:>4.0%} "
            f"edited  mean edit {row['mean_edit_size']:.2f}  as drafted: "
            f"{_share(row['unedited_share_with_knowledge'])} with, "
            f"{_share(row['unedited_share_without_knowledge'])} without"
        )
    if not written:
        say(f"no recurring edit in {min_replies} or more approved replies: nothing to suggest")
    for path in written:
        say(f"suggested: {path}")


def _share(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def register(app: typer.Typer) -> None:
    app.add_typer(knowledge_app, name="knowledge")

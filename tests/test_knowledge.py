"""The knowledge base as a support lead meets it: entries load or are refused with the
file, field and line of the mistake; retrieval finds the entry that answers an inquiry
(in English or through keywords in the customer's language) and nothing for mail no
entry answers; `assistant knowledge` lists, shows and checks."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assistant.cli import app
from assistant.knowledge import KnowledgeError, forget_loaded, load_knowledge, retrieve
from assistant.knowledge.checking import check_base
from assistant.knowledge.retrieval import CATEGORY_PRIOR
from assistant.models import Category, ConfidenceLevel, InquiryIn, Triage, Urgency

SIZING = """---
id: sizing-wide-feet
title: Sizing for wide feet
kind: answer
categories: [product_info]
keywords: [wide feet, roomy, pieds larges, pies anchos]
last_reviewed: 2026-09-14
approved_by: Dana Lead
related: [refund-window]
---
If you have wide feet, choose your usual size in the Roomy fit{% if product %} of the {{ product }}{% endif %}.
"""
REFUND = """---
id: refund-window
title: Refund window
kind: policy
categories: [returns_refunds]
keywords: [refund, return window, remboursement]
last_reviewed: 2026-10-01
approved_by: Dana Lead
---
1. Return window
Items can be returned within 30 days of delivery for a refund of $59.99 or less.
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def base_dir(tmp_path) -> Path:
    folder = tmp_path / "kb"
    folder.mkdir()
    write(folder, "sizing.md", SIZING)
    write(folder, "refund.md", REFUND)
    write(folder, "README.md", "# not an entry\n")
    forget_loaded()
    return folder


def triage_of(category: Category, language: str = "en") -> Triage:
    now = datetime(2026, 12, 3, tzinfo=UTC)
    return Triage(
        category=category,
        language=language,
        confidence=0.9,
        confidence_level=ConfidenceLevel.high,
        urgency=Urgency.normal,
        due_at=now,
        due_latest_at=now,
    )


def test_entries_load_with_a_version_that_changes_with_their_text(base_dir):
    base = load_knowledge(base_dir)
    assert [e.id for e in base.entries] == ["refund-window", "sizing-wide-feet"]
    assert base.version.startswith("kb-") and "(2 entries)" in base.version
    assert base.policy_titles == {"Refund window"}
    write(base_dir, "sizing.md", SIZING.replace("Roomy", "Wide"))
    assert load_knowledge(base_dir).version != base.version


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (("categories: [product_info]", "categories: [prodcut_info]"), "line 5: categories"),
        (("approved_by: Dana Lead\n", ""), "approved_by: is missing"),
        (("kind: answer", "kind: faq"), "line 4: kind"),
        (
            ("last_reviewed: 2026-09-14", "last_reviewed: last week"),
            "line 7: last_reviewed: should be a date such as 2026-09-14",
        ),
        (("id: sizing-wide-feet", "id: Sizing Wide"), "line 2: id"),
        (("pies anchos]", "pies anchos"), "not valid YAML"),
        (("{{ product }}", "{{ customer_email }}"), "customer_email"),
        (("{% endif %}", ""), "slots are not valid"),
        (("languages", "languages"), None),  # unchanged: loads
        (("title: Sizing for wide feet\n", "title: Sizing\nowner: me\n"), "owner: is not a field"),
    ],
)
def test_a_mistake_names_the_file_field_and_line(base_dir, change, named):
    write(base_dir, "sizing.md", SIZING.replace(*change))
    if named is None:
        assert len(load_knowledge(base_dir)) == 2
        return
    with pytest.raises(KnowledgeError) as refused:
        load_knowledge(base_dir)
    assert "sizing.md" in str(refused.value) and named in str(refused.value)


def test_duplicate_ids_missing_front_matter_and_bad_bytes_are_refused_together(base_dir):
    write(base_dir, "again.md", SIZING)
    write(base_dir, "plain.md", "Just some text.\n")
    (base_dir / "latin1.md").write_bytes(SIZING.replace("feet", "pieds élargis").encode("latin-1"))
    with pytest.raises(KnowledgeError) as refused:
        load_knowledge(base_dir)
    message = str(refused.value)
    assert "3 problem(s)" in message
    assert "id 'sizing-wide-feet' is already used by" in message
    assert "plain.md, line 1: the file must start with front matter" in message
    assert "latin1.md: is not UTF-8" in message


def test_an_answer_fills_the_customers_facts_into_its_slots(base_dir):
    entry = load_knowledge(base_dir).get("sizing-wide-feet")
    assert entry.render(product="Classic Clog").endswith("Roomy fit of the Classic Clog.")
    assert entry.render() == "If you have wide feet, choose your usual size in the Roomy fit."


def test_retrieval_finds_the_answer_and_nothing_for_mail_no_entry_answers(base_dir):
    base = load_knowledge(base_dir)
    asked = InquiryIn(subject="Sizing", body="My feet are quite wide. Which size should I buy?")
    found = retrieve(base, asked, triage_of(Category.product_info), min_score=1.0)
    assert [m.entry.id for m in found][:1] == ["sizing-wide-feet"]
    unrelated = InquiryIn(subject="Hello", body="We would like to sponsor your next event.")
    assert retrieve(base, unrelated, triage_of(Category.other), min_score=1.0) == []


def test_retrieval_reads_keywords_in_the_customers_language(base_dir):
    base = load_knowledge(base_dir)
    french = InquiryIn(subject="Taille", body="J'ai les pieds très larges, quelle pointure ?")
    found = retrieve(base, french, triage_of(Category.product_info, "fr"), min_score=0.5)
    assert found and found[0].entry.id == "sizing-wide-feet"


def test_retrieval_reads_the_english_translation_when_there_is_one(base_dir):
    base = load_knowledge(base_dir)
    mail = InquiryIn(subject="Frage", body="Meine Füße sind sehr breit.")
    triage = triage_of(Category.product_info, "de").model_copy(
        update={"english_text": "My feet are very wide. Which size?"}
    )
    assert [m.entry.id for m in retrieve(base, mail, triage, min_score=1.0)][:1] == [
        "sizing-wide-feet"
    ]


def test_the_category_is_a_prior_not_a_filter(base_dir):
    base = load_knowledge(base_dir)
    mail = InquiryIn(subject="", body="wide feet and a refund")
    as_returns = {
        m.entry.id: m.score
        for m in retrieve(base, mail, triage_of(Category.returns_refunds), min_score=0.1)
    }
    as_product = {
        m.entry.id: m.score
        for m in retrieve(base, mail, triage_of(Category.product_info), min_score=0.1)
    }
    assert set(as_returns) == set(as_product) == {"sizing-wide-feet", "refund-window"}
    raised = 1 + CATEGORY_PRIOR
    assert as_returns["refund-window"] == pytest.approx(raised * as_product["refund-window"], 0.01)
    assert as_product["sizing-wide-feet"] == pytest.approx(
        raised * as_returns["sizing-wide-feet"], 0.01
    )


def test_check_finds_broken_links_stale_entries_and_entries_never_retrieved(base_dir):
    write(base_dir, "sizing.md", SIZING.replace("related: [refund-window]", "related: [gone]"))
    base = load_knowledge(base_dir)
    report = check_base(
        base,
        review_days=30,
        today=date(2026, 10, 20),
        retrieved_ids={"refund-window"},
        queries=5,
    )
    assert report.errors == ["sizing-wide-feet: links to 'gone', which is not an entry"]
    assert any("sizing-wide-feet: last reviewed 2026-09-14" in w for w in report.warnings)
    assert not any(w.startswith("refund-window: last reviewed") for w in report.warnings)
    assert any("sizing-wide-feet: retrieved by none of the 5" in w for w in report.warnings)


def test_cli_lists_shows_and_checks(base_dir, monkeypatch):
    from assistant.settings import get_settings

    monkeypatch.setenv("ASSISTANT_KNOWLEDGE_DIR", str(base_dir))
    get_settings.cache_clear()
    runner = CliRunner()
    listed = runner.invoke(app, ["knowledge", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    assert [e["id"] for e in json.loads(listed.output)["entries"]] == [
        "refund-window",
        "sizing-wide-feet",
    ]
    shown = runner.invoke(app, ["knowledge", "show", "sizing-wide-feet"])
    assert "Roomy fit." in shown.output and "{%" not in shown.output
    missing = runner.invoke(app, ["knowledge", "show", "sizing"])
    assert missing.exit_code == 1 and "did you mean sizing-wide-feet" in missing.output
    checked = runner.invoke(app, ["knowledge", "check", "--json"])
    assert checked.exit_code == 0, checked.output
    old = SIZING.replace("2026-09-14", str(date.today() - timedelta(days=400)))
    write(base_dir, "sizing.md", old.replace("[refund-window]", "[nowhere]"))
    forget_loaded()
    broken = runner.invoke(app, ["knowledge", "check"])
    assert broken.exit_code == 1
    assert "error: sizing-wide-feet: links to 'nowhere'" in broken.output
    assert "days ago" in broken.output


def test_cli_says_what_to_set_and_what_is_wrong(base_dir, monkeypatch):
    from assistant.settings import get_settings

    runner = CliRunner()
    unset = runner.invoke(app, ["knowledge", "list"])
    assert unset.exit_code == 1 and "ASSISTANT_KNOWLEDGE_DIR" in unset.output
    monkeypatch.setenv("ASSISTANT_KNOWLEDGE_DIR", str(base_dir))
    get_settings.cache_clear()
    write(base_dir, "sizing.md", SIZING.replace("kind: answer", "kind: faq"))
    forget_loaded()
    refused = runner.invoke(app, ["knowledge", "list"])
    assert refused.exit_code == 1
    assert "sizing.md, line 4: kind" in refused.output and "Traceback" not in refused.output


def test_what_a_cited_entry_says_may_be_said_and_nothing_else(base_dir, policy):
    from assistant.draft.checks.context import DraftContext
    from assistant.draft.grounding import check_grounding

    base = load_knowledge(base_dir)
    refund = base.get("refund-window")
    body = (
        "Hello,\n\nItems can be returned within 30 days of delivery for a refund of $59.99 "
        "or less.\n\nKind regards,\nCrocso Customer Service\n"
    )
    context = DraftContext(subject="Refund", body="Can I still return my clogs?")
    cited = check_grounding(body, ["refund-window"], policy, context, retrieved=[refund])
    assert cited.ok, cited.findings
    uncited = check_grounding(body, ["§4"], policy, context, retrieved=[refund])
    assert {f.kind for f in uncited.findings} >= {"money_amount", "date"}
    elsewhere = check_grounding(
        body.replace("$59.99", "$75.00"), ["refund-window"], policy, context, retrieved=[refund]
    )
    assert [f.kind for f in elsewhere.findings] == ["money_amount"]


def test_citing_an_entry_that_was_not_retrieved_is_a_finding(base_dir, policy):
    from assistant.draft.grounding import check_grounding

    base = load_knowledge(base_dir)
    body = "Hello,\n\nThank you for your message.\n\nKind regards,\nCrocso Customer Service\n"
    report = check_grounding(
        body, ["sizing-wide-feet"], policy, retrieved=[base.get("refund-window")]
    )
    [finding] = report.findings
    assert (
        finding.kind == "unknown_citation"
        and "not a knowledge-base entry retrieved" in finding.message
    )
    assert (
        check_grounding(body, ["§9"], policy).findings[0].message.endswith("section of the policy")
    )


def test_mail_in_another_language_finds_an_english_entry_through_the_glossary(base_dir):
    """The refund entry has no German keyword: "Rückerstattung" reaches it through the
    support glossary, as "refund"."""
    base = load_knowledge(base_dir)
    german = InquiryIn(subject="Frage", body="Wann bekomme ich meine Rückerstattung?")
    found = retrieve(base, german, triage_of(Category.other, "de"), min_score=0.5)
    assert [m.entry.id for m in found] == ["refund-window"]


def test_the_glossary_reads_a_phrase_whole_and_keeps_its_stop_words():
    from assistant.knowledge.glossary import glossary
    from assistant.knowledge.retrieval import tokenizer

    french = tokenizer("fr")
    english = glossary("fr").english
    assert "not received" in english(french("je n'ai pas reçu mon colis", keep_stopwords=True))
    assert "not received" not in english(french("j'ai reçu une carte", keep_stopwords=True))
    dutch = tokenizer("nl")
    assert "money back" in glossary("nl").english(
        dutch("ik wil mijn geld terug", keep_stopwords=True)
    )


def test_a_broken_glossary_is_refused_with_the_term_named(tmp_path):
    from assistant.knowledge.glossary import read_glossary

    broken = write(tmp_path, "glossary.toml", '[[term]]\nen = "refund"\nfr = 3\n')
    with pytest.raises(KnowledgeError, match=r"term 1 \(refund\): fr must be a list"):
        read_glossary(broken)
    with pytest.raises(KnowledgeError, match="cannot be read as TOML"):
        read_glossary(write(tmp_path, "bad.toml", "[[term]\n"))


def test_a_keyword_phrase_found_whole_counts_for_more_than_its_words_apart(tmp_path):
    folder = tmp_path / "kb"
    folder.mkdir()
    write(
        folder,
        "strap.md",
        SIZING.replace("sizing-wide-feet", "broken-strap")
        .replace("Sizing for wide feet", "A broken part")
        .replace("[wide feet, roomy, pieds larges, pies anchos]", "[heel strap]")
        .replace("related: [refund-window]\n", ""),
    )
    base = load_knowledge(folder)
    whole = InquiryIn(subject="", body="The heel strap of my pair came off.")
    apart = InquiryIn(subject="", body="The strap came off at the heel of my pair.")
    [found_whole] = retrieve(base, whole, triage_of(Category.returns_refunds), min_score=0.1)
    [found_apart] = retrieve(base, apart, triage_of(Category.returns_refunds), min_score=0.1)
    assert found_whole.score > found_apart.score

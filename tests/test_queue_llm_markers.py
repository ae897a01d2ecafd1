"""What an agent sees of where a triage or draft came from: the queue's marker (LLM, LLM
overruled, fallback) in `assistant queue`, its --json and the web queue; and, where the
LLM and local triage disagreed, both answers and what was overruled, in `assistant show`
and on the web's review page, escaped (the model's words may repeat hostile mail)."""

from __future__ import annotations

import json

import pytest
from markupsafe import escape
from sqlmodel import select
from typer.testing import CliRunner

from assistant.cli import app as cli
from assistant.models import InquiryIn, Urgency
from assistant.storage import records
from assistant.storage.db import open_database, session
from assistant.storage.queue import review_queue
from assistant.storage.tables import InquiryRow, TriageRow
from tests.web_support import add_accounts, logged_in, store_mail, workspace

HOSTILE = '<script>alert("x")</script>'
SUBJECTS = ["local", "llm", "overruled", "draft fallback", "triage fallback", "llm urgent"]


def _opinion(triage: TriageRow, **changes) -> dict:
    opinion = {
        "category": triage.category.value,
        "urgency": triage.urgency.value,
        "escalation": triage.escalation,
        "confidence": 0.9,
        "urgent_because": "",
        "calibrated_confidence": None,
        "backend": "openai",
        "model": "gpt-test",
        "reason": "the customer asks about sizes",
    }
    return {**opinion, **changes}


def _revise(db, inquiry_id: int, kind: str) -> None:
    """Make the stored triage and draft look like the LLM's work of `kind`."""
    row = db.get(InquiryRow, inquiry_id)
    triage = records.current_triage(db, row)
    draft = records.current_draft(db, row)
    assert triage is not None and draft is not None
    details = dict(triage.details)
    if kind in ("llm", "overruled", "draft fallback", "llm urgent"):
        triage.backend, triage.model = "openai", "gpt-test"
    if kind in ("llm", "draft fallback"):
        details["second_opinion"] = _opinion(triage, taken=kind == "llm")
    if kind == "llm":
        draft.backend, draft.model = "openai", "gpt-test"
    if kind == "overruled":
        other = "returns_refunds" if triage.category.value != "returns_refunds" else "account"
        details["second_opinion"] = _opinion(
            triage,
            category=other,
            urgency="urgent",
            confidence=0.93,
            reason=f"the mail says {HOSTILE}",
        )
        details["overruled"] = [
            f"category {other}: not taken: the model is not calibrated {HOSTILE}; "
            "local triage's product_info (0.99) kept",
            "urgent: not taken: the model named no sentence of the mail that is urgent",
        ]
    if kind == "draft fallback":
        draft.fallback_reason = f"LLM draft failed, local template used: TimeoutError {HOSTILE}"
    if kind == "triage fallback":
        details["fallback_reason"] = "LLM triage failed, local triage kept: APIError 503"
    if kind == "llm urgent":
        triage.urgency, triage.urgency_rule = Urgency.urgent, "llm_quoted_sentence"
        row.urgency = Urgency.urgent
        details["second_opinion"] = _opinion(
            triage,
            urgency="urgent",
            urgent_because=f"I need them for my wedding on Friday {HOSTILE}",
            calibrated_confidence=0.81,
        )
        db.add(row)
    triage.details = details
    db.add(triage)
    db.add(draft)


@pytest.fixture
def marked(settings, policy):
    """The database the CLI opens, with one inquiry of each kind (ids 1..6 in SUBJECTS)."""
    engine = open_database(settings.database_url)
    add_accounts(engine)
    mail = [
        InquiryIn(
            message_id=f"<k{i}@x>",
            from_address=f"c{i}@example.com",
            subject=subject,
            body="Do the Classic Clogs run big? I am a 9 in most shoes. Thanks, Priya",
        )
        for i, subject in enumerate(SUBJECTS)
    ]
    store_mail(engine, settings, policy, mail)
    with session(engine) as db:
        ids = {row.subject: row.id for row in db.exec(select(InquiryRow))}
        for subject in SUBJECTS:
            _revise(db, ids[subject], subject)
        db.commit()
    yield engine
    engine.dispose()


def _by_subject(items) -> dict:
    return {item["subject"]: item for item in items}


def test_queue_json_says_where_each_answer_came_from(marked):
    result = CliRunner().invoke(cli, ["queue", "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    items = _by_subject(json.loads(result.stdout))

    local = items["local"]
    assert (local["marker"], local["triage_source"], local["draft_source"]) == (
        None,
        "local",
        "local",
    )
    assert local["fallback_reason"] is None and local["llm_said"] is None

    llm = items["llm"]
    assert (llm["marker"], llm["triage_source"], llm["draft_source"]) == ("LLM", "llm", "llm")
    assert llm["llm_said"]["model"] == "gpt-test"

    overruled = items["overruled"]
    assert overruled["marker"] == "LLM overruled"
    assert overruled["triage_source"] == "local_overruling_llm"
    assert overruled["llm_said"]["urgency"] == "urgent"
    assert len(overruled["overruled"]) == 2
    assert "Overruled: category" in overruled["marker_detail"]

    fallback = items["draft fallback"]
    assert fallback["marker"] == "fallback" and fallback["draft_source"] == "fallback"
    assert fallback["fallback_reason"].startswith("LLM draft failed")

    triage_fallback = items["triage fallback"]
    assert triage_fallback["marker"] == "fallback"
    assert triage_fallback["triage_source"] == "local_fallback"
    assert (
        triage_fallback["fallback_reason"] == "LLM triage failed, local triage kept: APIError 503"
    )

    urgent = items["llm urgent"]
    assert (urgent["marker"], urgent["urgency_source"], urgent["urgency"]) == (
        "LLM",
        "llm",
        "urgent",
    )
    assert "judged it urgent" in urgent["marker_detail"]


def test_queue_text_has_a_source_column(marked):
    result = CliRunner().invoke(cli, ["queue"], catch_exceptions=False, env={"COLUMNS": "140"})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "source" in lines[1]

    def line_of(subject: str) -> str:
        [line] = [line for line in lines if line.rstrip().endswith(f" {subject}")]
        return line

    assert "LLM overruled" in line_of("overruled")
    assert " fallback " in line_of("draft fallback")
    assert " fallback " in line_of("triage fallback")
    assert " LLM " in line_of("llm") and "overruled" not in line_of("llm")
    assert "LLM" not in line_of("local") and "fallback" not in line_of("local")
    assert any("LLM overruled: asked, not believed" in line for line in lines)


def test_show_prints_both_answers_and_what_was_overruled(marked):
    with session(marked, read_only=True) as db:
        ids = {item.subject: item.id for item in review_queue(db)}
    shown = CliRunner().invoke(cli, ["show", str(ids["overruled"])], catch_exceptions=False)
    assert shown.exit_code == 0, shown.output
    assert "LLM (gpt-test) said: returns_refunds, urgent" in shown.output
    assert "stated confidence 0.93, not calibrated" in shown.output
    assert "overruled: category returns_refunds: not taken" in shown.output
    assert "overruled: urgent: not taken: the model named no sentence" in shown.output

    urgent = CliRunner().invoke(cli, ["show", str(ids["llm urgent"])], catch_exceptions=False)
    assert "urgent, as the LLM quoted: “I need them for my wedding on Friday" in urgent.output
    assert "LLM (gpt-test) said" not in urgent.output  # it agrees with what was kept

    local = CliRunner().invoke(cli, ["show", str(ids["local"])], catch_exceptions=False)
    assert "LLM (" not in local.output and "overruled" not in local.output


def test_web_queue_marks_rows_with_the_reason_on_hover(marked, settings):
    client = logged_in(workspace(marked, settings), "ann")
    page = client.get("/queue").text
    assert page.count('class="badge source llm"') == 2  # the LLM's triage and draft, urgency
    assert page.count('class="badge source llm-overruled"') == 1
    assert page.count('class="badge source fallback"') == 2
    assert HOSTILE not in page
    assert str(escape(HOSTILE)) in page  # the draft's fallback reason, in a title
    assert 'title="Draft: the local template, the LLM draft failed: LLM draft failed' in page
    assert "Triage: local, the LLM call failed: LLM triage failed" in page


def test_web_review_page_shows_the_disagreement_escaped(marked, settings):
    client = logged_in(workspace(marked, settings), "ann")
    with session(marked) as db:
        ids = {item.subject: item.id for item in review_queue(db)}
    page = client.get(f"/inquiries/{ids['overruled']}").text
    assert (
        "LLM (gpt-test) said: returns_refunds, urgent (stated confidence 0.93, not calibrated)"
        in (page)
    )
    assert "Overruled: category returns_refunds: not taken" in page
    assert "Overruled: urgent: not taken: the model named no sentence" in page
    assert HOSTILE not in page
    assert str(escape(HOSTILE)) in page

    urgent = client.get(f"/inquiries/{ids['llm urgent']}").text
    assert "Urgent, as the LLM quoted: <q>I need them for my wedding on Friday" in urgent
    assert HOSTILE not in urgent

    local = client.get(f"/inquiries/{ids['local']}").text
    assert "llm-opinion" not in local and "Overruled" not in local


def test_the_marker_follows_what_combine_stores(marked, settings, policy):
    """A real `combine` of local triage and a disagreeing, uncalibrated LLM: the queue's
    marker and sources agree with `answered_by`, and the panel lists what was overruled."""
    from assistant.backends.local import LocalBackend
    from assistant.models import Category, TriageOpinion
    from assistant.triage.combine import answered_by, combine

    with session(marked) as db:
        row = db.exec(select(InquiryRow).where(InquiryRow.subject == "local")).one()
        inquiry = records.as_inquiry(row)
        local = LocalBackend(settings, policy).triage_many([inquiry])[0]
        opinion = TriageOpinion(
            category=Category.account,
            urgency=Urgency.urgent,
            escalation=False,
            confidence=0.97,
            backend="openai",
            model="gpt-test",
            urgent_because=HOSTILE,
        )
        combined = combine(inquiry, local, opinion, settings)
        stored = TriageRow(**records.triage_values(row.id, combined))
        db.add(stored)
        db.flush()
        row.triage_id = stored.id
        db.add(row)
        db.commit()
        [item] = [item for item in review_queue(db) if item.id == row.id]
    assert item.triage_source == answered_by(combined) == "local_overruling_llm"
    assert item.marker == "LLM overruled" and item.urgency_source == "local"
    assert item.overruled == combined.overruled and len(item.overruled) == 2

    shown = CliRunner().invoke(cli, ["show", str(row.id)], catch_exceptions=False)
    assert "LLM (gpt-test) said: account, urgent (stated confidence 0.97, not calibrated)" in (
        shown.output
    )
    assert shown.output.count("overruled: ") == 2
    assert "as the LLM quoted" not in shown.output  # its "urgent" was not taken


def test_sources_of_agent_corrections_and_older_triages():
    from assistant.models import Category, TriageOpinion
    from assistant.storage.queue import triage_source, urgency_source

    opinion = TriageOpinion(
        category=Category.account,
        urgency=Urgency.urgent,
        escalation=False,
        confidence=0.9,
        backend="openai",
        taken=True,
    )
    assert triage_source(Category.account, fallback_reason=None, opinion=opinion) == "llm"
    agreeing = opinion.model_copy(update={"taken": False})
    assert (
        triage_source(Category.account, fallback_reason=None, opinion=agreeing)
        == "local_agreed_by_llm"
    )
    assert (
        triage_source(Category.account, fallback_reason=None, opinion=opinion, set_by="ann")
        == "agent"
    )
    assert (
        triage_source(
            Category.account,
            fallback_reason=None,
            opinion=opinion,
            set_by="ann",
            agent_set=["urgency"],
        )
        == "llm"
    )
    # Stored before `combine` named its rule: urgent by no local rule, as the LLM said.
    assert urgency_source(Urgency.urgent, None, fallback_reason=None, opinion=opinion) == "llm"
    assert urgency_source(Urgency.urgent, "wrong_item", fallback_reason=None, opinion=opinion) == (
        "local"
    )
    assert (
        urgency_source(
            Urgency.urgent,
            "set by ann",
            fallback_reason=None,
            opinion=opinion,
            set_by="ann",
            agent_set=["urgency"],
        )
        == "agent"
    )


def test_a_queue_without_the_llm_has_no_source_column(settings, policy):
    engine = open_database(settings.database_url)
    mail = InquiryIn(message_id="<only@x>", from_address="a@example.com", body="Where is my order?")
    store_mail(engine, settings, policy, [mail])
    engine.dispose()
    result = CliRunner().invoke(cli, ["queue"], catch_exceptions=False, env={"COLUMNS": "120"})
    assert "source" not in result.output and "LLM" not in result.output
    [item] = json.loads(CliRunner().invoke(cli, ["queue", "--json"]).stdout)
    assert (item["marker"], item["triage_source"], item["draft_source"]) == (None, "local", "local")

"""The `assistant` command as an agent uses it."""

import json
from email.message import EmailMessage
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assistant.cli import app
from tests.conftest import SAMPLES

runner = CliRunner()


def write_mail(folder: Path, name: str, body: str, message_id: str, subject: str = "Help") -> None:
    message = EmailMessage()
    message["From"] = "Maria Lopez <maria@example.com>"
    message["To"] = "support@crocso.example"
    message["Subject"] = subject
    message["Message-ID"] = message_id
    message["Date"] = "Mon, 23 Nov 2026 10:00:00 +0000"
    message.set_content(body)
    (folder / name).write_bytes(bytes(message))


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    folder = tmp_path / "inbox"
    folder.mkdir()
    write_mail(folder, "1.eml", "What sizes does the Echo Clog come in?", "<1@x>")
    write_mail(folder, "2.eml", "I received the wrong item in order 558120!", "<2@x>", "Wrong item")
    write_mail(folder, "3.eml", "Where is my order?", "<3@x>")
    return folder


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_run_then_queue_urgent_first(inbox):
    result = invoke("run", str(inbox))
    assert result.exit_code == 0, result.output
    assert "3 new" in result.output
    queue = json.loads(invoke("queue", "--json").stdout)
    assert [item["subject"] for item in queue][0] == "Wrong item"
    assert queue[0]["urgency"] == "urgent"
    assert {item["status"] for item in queue} == {"drafted"}


def test_show_approve_export(inbox, tmp_path):
    invoke("run", str(inbox))
    shown = json.loads(invoke("show", "3", "--json").stdout)
    assert "order number" in shown["draft"]["body"]
    assert shown["draft"]["citations"]
    assert [e["action"] for e in shown["audit"]] == ["receive", "triage", "draft"]

    assert runner.invoke(app, ["approve", "3"]).exit_code != 0  # --agent is required
    edited = tmp_path / "reply.txt"
    edited.write_text("Hi Maria,\n\nPlease send us your order number.\n", encoding="utf-8")
    result = invoke("approve", "3", "--agent", "ann", "--body-file", str(edited))
    assert result.exit_code == 0, result.output

    outbox = tmp_path / "outbox"
    result = invoke("export", "--out", str(outbox))
    assert result.exit_code == 0
    files = list(outbox.glob("*.eml"))
    assert len(files) == 1  # only the approved reply
    exported = files[0].read_text()
    assert "In-Reply-To: <3@x>" in exported and "Please send us your order number." in exported


def test_grounding_block_is_a_one_line_error(inbox, tmp_path):
    invoke("run", str(inbox))
    promise = tmp_path / "promise.txt"
    promise.write_text("Your refund of $50 has been issued.", encoding="utf-8")
    result = runner.invoke(app, ["approve", "1", "--agent", "ann", "--body-file", str(promise)])
    assert result.exit_code == 1
    assert result.output.strip().startswith("error: the draft has")
    assert len(result.output.strip().splitlines()) == 1


def test_one_bad_mail_in_a_folder_is_quarantined_and_the_rest_goes_on(inbox):
    broken = inbox / "4-broken.eml"
    broken.write_bytes(b"")
    result = runner.invoke(app, ["run", str(inbox)])
    assert result.exit_code == 3  # done, but something was quarantined
    assert "3 new" not in result.output and "4 new" in result.output
    assert f"quarantined (inquiry 4): eml:{broken}: empty message" in result.output
    queue = json.loads(invoke("queue", "--json").stdout)
    assert sorted(item["status"] for item in queue) == ["drafted"] * 3 + ["quarantined"]
    [bad] = [item for item in queue if item["status"] == "quarantined"]
    assert bad["status_reason"] == f"eml:{broken}: empty message"
    again = runner.invoke(app, ["run", str(inbox)])  # the same bad file is not stored twice
    assert again.exit_code == 0 and "0 new, 4 duplicates" in again.output


def test_a_single_bad_mail_given_to_ingest_is_an_error_and_nothing_is_stored(tmp_path):
    broken = tmp_path / "broken.eml"
    broken.write_bytes(b"")
    result = runner.invoke(app, ["ingest", str(broken)])
    assert result.exit_code == 1
    assert result.output.strip() == f"error: eml:{broken}: empty message"
    assert json.loads(invoke("queue", "--json").stdout) == []


def test_unknown_inquiry_and_unknown_backend(inbox):
    assert runner.invoke(app, ["show", "99"]).output.strip() == "error: no inquiry with id 99"
    result = runner.invoke(app, ["run", str(inbox), "--backend", "magic"])
    assert result.exit_code == 1 and "unknown backend 'magic'" in result.output


def test_triage_text_as_json():
    result = invoke("triage", "My account was hacked and someone placed orders", "--json")
    triage = json.loads(result.stdout)
    assert triage["urgency"] == "urgent"
    assert triage["urgency_rule"] == "account_compromised"
    assert triage["due_at"]


def test_policy_show_lists_sections_and_the_configured_address(monkeypatch):
    monkeypatch.setenv("ASSISTANT_SUPPORT_ADDRESS", "care@crocso.test")
    from assistant.policy import default_policy
    from assistant.settings import get_settings

    get_settings.cache_clear()
    default_policy.cache_clear()
    shown = json.loads(invoke("policy", "show", "--json").stdout)
    assert [s["id"] for s in shown["sections"]][:3] == ["§1", "§2", "§3"]
    assert shown["support_address"] == "care@crocso.test"
    assert "care@crocso.test" in shown["sections"][1]["text"]


def test_the_demo_inbox_runs_clean():
    result = invoke("run", str(SAMPLES), "--json")
    summary = json.loads(result.stdout)
    assert summary["failed"] == 0
    assert summary["duplicates"] >= 1  # the inbox holds a deliberate duplicate
    queue = json.loads(invoke("queue", "--json").stdout)
    assert len(queue) >= 30
    assert any(item["translation_support"] for item in queue)
    assert queue[0]["urgency"] == "urgent"


def test_run_without_an_inbox_processes_what_ingest_stored(inbox):
    invoke("ingest", str(inbox))
    assert {item["status"] for item in json.loads(invoke("queue", "--json").stdout)} == {"received"}
    summary = json.loads(invoke("run", "--json").stdout)
    assert summary["processed"] == 3 and summary["by_status"] == {"drafted": 3}
    again = json.loads(invoke("run", "--json").stdout)
    assert again["processed"] == 0 and again["by_status"] == {}


def test_ingest_from_stdin_stores_once(monkeypatch):
    first = runner.invoke(app, ["ingest", "-", "--json"], input="Where is my order?")
    again = runner.invoke(app, ["ingest", "-", "--json"], input="Where is my order?")
    assert json.loads(first.stdout)[0]["created"] is True
    assert json.loads(again.stdout)[0]["created"] is False
    assert json.loads(invoke("queue", "--json", "--status", "received").stdout)[0]["id"] == 1


def test_a_refused_edit_in_the_editor_is_kept_in_a_file(inbox, tmp_path, monkeypatch):
    invoke("run", str(inbox))
    editor = tmp_path / "editor.sh"
    editor.write_text('#!/bin/sh\nprintf "Your refund of €80 has been issued.\\n" > "$1"\n')
    editor.chmod(0o755)
    monkeypatch.setenv("EDITOR", str(editor))
    result = runner.invoke(app, ["approve", "1", "--agent", "ann", "--edit"])
    assert result.exit_code != 0
    kept = Path(result.output.split("your edit is in ", 1)[1].split(" ", 1)[0])
    assert "€80" in kept.read_text()
    shown = json.loads(invoke("show", "1", "--json").stdout)
    assert "€80" not in json.dumps(shown, ensure_ascii=False)
    kept.unlink()


@pytest.mark.parametrize(
    ("args", "stdin", "error"),
    [
        (["triage", "no/such/mail.eml"], None, "error: no/such/mail.eml: no such file"),
        (["triage", "-"], "", "error: stdin: empty input"),
        (["ingest", "-"], "\x00\x01\x02ELF" * 50, "error: stdin: binary data, not text"),
    ],
)
def test_bad_input_is_one_line_and_stores_nothing(args, stdin, error):
    result = runner.invoke(app, args, input=stdin)
    assert result.exit_code == 1
    assert result.output.strip().startswith(error)
    assert json.loads(invoke("queue", "--json").stdout) == []


def test_a_folder_is_not_triaged_as_text(inbox):
    result = runner.invoke(app, ["triage", str(inbox)])
    assert result.exit_code == 1 and "is a folder" in result.output


def test_a_bad_setting_is_named_in_one_line(monkeypatch):
    from assistant.settings import get_settings

    monkeypatch.setenv("ASSISTANT_SLA_COUNTRY", "XX")
    get_settings.cache_clear()
    result = runner.invoke(app, ["queue"])
    get_settings.cache_clear()
    assert result.exit_code == 1
    assert result.output.strip() == (
        "error: bad setting: ASSISTANT_SLA_COUNTRY='XX': no public-holiday calendar for country "
        "'XX' "
        "(use ISO codes: US, DE)"
    )


def test_export_with_nothing_new_keeps_the_last_file(inbox, tmp_path):
    invoke("run", str(inbox))
    invoke("approve", "1", "--agent", "ann")
    out = tmp_path / "replies.jsonl"
    first = json.loads(invoke("export", "--format", "jsonl", "--out", str(out), "--json").stdout)
    assert first["exported"] == 1 and out.read_text().count("\n") == 1
    again = json.loads(invoke("export", "--format", "jsonl", "--out", str(out), "--json").stdout)
    assert again["exported"] == 0 and out.read_text().count("\n") == 1


def test_export_to_an_unwritable_place_is_one_line(inbox, tmp_path):
    invoke("run", str(inbox))
    invoke("approve", "1", "--agent", "ann")
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = runner.invoke(app, ["export", "--out", str(blocker / "outbox")])
    assert result.exit_code == 1 and result.output.startswith(f"error: cannot write to {blocker}")
    approved = json.loads(invoke("queue", "--json", "--status", "approved").stdout)
    assert [item["id"] for item in approved] == [1]


def test_replies_exported_earlier_can_be_marked_sent(inbox, tmp_path):
    invoke("run", str(inbox))
    invoke("approve", "1", "--agent", "ann")
    invoke("export", "--out", str(tmp_path / "outbox"))
    assert invoke("mark-sent", "1", "--agent", "ann", "--via", "Outlook").exit_code == 0
    assert [i["id"] for i in json.loads(invoke("queue", "--json", "--status", "sent").stdout)] == [
        1
    ]
    again = runner.invoke(app, ["mark-sent", "1", "--agent", "ann"])
    assert again.exit_code == 1 and again.output.startswith("error: inquiry 1 is sent")


def test_a_policy_folder_that_does_not_exist_is_named(monkeypatch, tmp_path):
    from assistant.settings import get_settings

    monkeypatch.setenv("ASSISTANT_POLICY_DIR", str(tmp_path / "nope"))
    get_settings.cache_clear()
    result = runner.invoke(app, ["policy", "show"])
    get_settings.cache_clear()
    assert result.exit_code == 1 and "is not a folder" in result.output


def test_mark_sent_marks_all_or_none(inbox, tmp_path):
    invoke("run", str(inbox))
    invoke("approve", "1", "--agent", "ann")
    result = runner.invoke(app, ["mark-sent", "1", "2", "--agent", "ann"])
    assert result.exit_code == 1 and "nothing was marked sent" in result.output
    assert json.loads(invoke("queue", "--json", "--status", "sent").stdout) == []

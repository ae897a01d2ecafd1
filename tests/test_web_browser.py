"""The workspace in a real browser (Debian's Chromium, driven by Playwright): login, the
CSRF refusal, a keyboard-only review, the senior-only rule, two agents on one inquiry,
undo, hostile mail content, and screenshots for the report.

Chromium is the system one at /usr/bin/chromium: Playwright never downloads a browser.
Without it the tests are skipped, except under CI=true, where a missing browser fails.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from sqlmodel import select
from web_support import PASSWORDS, add_accounts, live_server, store_mail, workspace

from assistant import review
from assistant.ingest import parse_email_bytes
from assistant.ingest.attachments import attachments
from assistant.models import Action, InquiryIn, InquiryStatus
from assistant.storage import records
from assistant.storage.db import open_database, session
from assistant.storage.tables import InquiryRow
from assistant.workflow import Actor

REPO = Path(__file__).resolve().parent.parent
SCREENSHOTS = REPO / "reports" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
S = InquiryStatus
WAIT = 10_000  # ms: the longest any single step may take
RECEIVED = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)

# Simple product questions the local backend drafts without grounding findings.
QUESTIONS = [
    ("Classic Clogs sizing", "Hi, do the Classic Clogs run big? I normally wear a 42."),
    ("Colours", "Hello, which colours do the Classic Clogs come in?"),
    ("Kids sizes", "Do you have the Classic Clogs in kids sizes?"),
    ("Washing", "Can I put my clogs in the washing machine?"),
]


# -- the browser, the server, logged-in pages ---------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One Chromium for the whole module."""
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        reason = f"no Chromium at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI needs the browser: {reason}")
        pytest.skip(reason)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def with_accounts(tmp_path_factory) -> Path:
    """A database with the three accounts, made once (argon2 hashing is slow on purpose)."""
    path = tmp_path_factory.mktemp("web") / "accounts.db"
    engine = open_database(f"sqlite:///{path}")
    add_accounts(engine)
    engine.dispose()
    return path


@pytest.fixture
def web_engine(tmp_path, with_accounts):
    """A SQLite file of its own for each test (the server thread and the test both use it)."""
    for suffix in ("", "-wal"):
        if Path(f"{with_accounts}{suffix}").is_file():
            shutil.copyfile(f"{with_accounts}{suffix}", tmp_path / f"w.db{suffix}")
    engine = open_database(f"sqlite:///{tmp_path / 'w.db'}")
    yield engine
    engine.dispose()


@pytest.fixture
def server(web_engine, settings) -> Iterator[str]:
    app = workspace(web_engine, settings.model_copy(update={"web_undo_seconds": 10}))
    with live_server(app) as url:
        yield url


class Tab:
    """A page in its own browser context (its own cookies), and what it saw."""

    def __init__(self, page: Page, base: str) -> None:
        self.page = page
        self.base = base
        self.dialogs: list[str] = []
        self.csp_errors: list[str] = []
        page.on("dialog", self._dialog)
        page.on("console", self._console)

    def _dialog(self, dialog) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def _console(self, message) -> None:
        if "Content Security Policy" in message.text:
            self.csp_errors.append(message.text)

    def go(self, path: str) -> Page:
        self.page.goto(self.base + path)
        return self.page

    def login(self, name: str, password: str | None = None) -> Page:
        page = self.go("/login")
        page.fill("input[name=name]", name)
        page.fill("input[name=password]", PASSWORDS[name] if password is None else password)
        page.click("form[action='/login'] button[type=submit]")
        page.wait_for_load_state()
        return page


@pytest.fixture
def tabs(browser: Browser, server: str) -> Iterator[Callable[..., Tab]]:
    """`tabs()`: a fresh tab; `tabs("ann")`: one logged in as ann, on the queue."""
    contexts = []

    def open_tab(name: str | None = None) -> Tab:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.set_default_timeout(WAIT)
        contexts.append(context)
        tab = Tab(context.new_page(), server)
        if name:
            tab.login(name)
            expect(tab.page).to_have_url(re.compile(r"/queue$"))
        return tab

    yield open_tab
    for context in contexts:
        context.close()


# -- the database ---------------------------------------------------------------------------


def mail(number: int, subject: str, body: str) -> InquiryIn:
    return InquiryIn(
        message_id=f"<browser-{number}@example.com>",
        from_address=f"customer{number}@example.com",
        from_name=f"Customer {number}",
        subject=subject,
        body=body,
        received_at=RECEIVED + timedelta(minutes=number),
    )


def id_of(engine, from_address: str) -> int:
    with session(engine) as db:
        row = db.exec(select(InquiryRow).where(InquiryRow.from_address == from_address)).one()
        assert row.id is not None
        return row.id


def drafted(engine, settings, policy, count: int) -> list[int]:
    """`count` product questions through the pipeline: drafted, with no findings."""
    inquiries = [mail(n, *QUESTIONS[n]) for n in range(count)]
    store_mail(engine, settings, policy, inquiries)
    ids = [id_of(engine, inquiry.from_address) for inquiry in inquiries]
    with session(engine) as db:
        for inquiry_id in ids:
            row = records.get_inquiry(db, inquiry_id)
            assert row is not None and row.status is S.drafted, (inquiry_id, row and row.status)
            draft = records.current_draft(db, row)
            assert draft is not None and not list(draft.grounding), draft and draft.grounding
    return ids


def status_of(engine, inquiry_id: int) -> InquiryStatus:
    with session(engine) as db:
        row = records.get_inquiry(db, inquiry_id)
        assert row is not None
        return row.status


def events(engine, inquiry_id: int, action: Action) -> list:
    with session(engine) as db:
        return [e for e in records.audit_trail(db, inquiry_id) if e.action is action]


def reply_of(engine, inquiry_id: int):
    with session(engine) as db:
        return records.outbound_reply(db, inquiry_id)


def lf(text: str) -> str:
    """A browser submits a textarea with CRLF line ends."""
    return text.replace("\r\n", "\n")


def draft_of(engine, inquiry_id: int):
    with session(engine) as db:
        row = records.get_inquiry(db, inquiry_id)
        assert row is not None
        return records.current_draft(db, row)


def draft_body(engine, inquiry_id: int) -> str:
    with session(engine) as db:
        row = records.get_inquiry(db, inquiry_id)
        assert row is not None
        draft = records.current_draft(db, row)
        assert draft is not None
        return draft.body


# -- the tests ------------------------------------------------------------------------------


def test_login_and_logout(tabs, server):
    tab = tabs()
    page = tab.login("ann", "not-the-password")
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.locator(".flash.error[role=alert]")).to_be_visible()
    expect(page.locator("header.top")).to_have_count(0)  # nobody is logged in

    page = tab.login("ann")
    expect(page).to_have_url(re.compile(r"/queue$"))
    expect(page.locator("h1")).to_have_text("Queue")
    expect(page.locator("header .who")).to_contain_text("ann")

    page.click("form[action='/logout'] button")
    expect(page).to_have_url(re.compile(r"/login$"))
    tab.go("/queue")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fqueue$"))
    expect(page.locator("header.top")).to_have_count(0)


def test_a_post_without_the_csrf_token_is_refused(tabs, web_engine, settings, policy):
    [inquiry_id] = drafted(web_engine, settings, policy, 1)
    tab = tabs("ann")
    page = tab.go(f"/inquiries/{inquiry_id}")
    version = page.locator("input[name=draft_version]").first.get_attribute("value")
    url = f"{tab.base}/inquiries/{inquiry_id}/approve"

    refused = page.request.post(url, form={"draft_version": version}, max_redirects=0)
    assert refused.status == 403, refused.status
    wrong = page.request.post(
        url, form={"draft_version": version, "csrf_token": "x" * 43}, max_redirects=0
    )
    assert wrong.status == 403, wrong.status
    assert status_of(web_engine, inquiry_id) is S.drafted
    assert reply_of(web_engine, inquiry_id) is None
    assert events(web_engine, inquiry_id, Action.approve) == []

    # The same request with the session's token goes through: the token was what mattered.
    token = page.locator("#approve-form input[name=csrf_token]").get_attribute("value")
    accepted = page.request.post(
        url, form={"draft_version": version, "csrf_token": token}, max_redirects=0
    )
    assert accepted.status == 303, accepted.status
    assert status_of(web_engine, inquiry_id) is S.approved


def test_keyboard_only_review_of_three_inquiries(tabs, web_engine, settings, policy):
    ids = drafted(web_engine, settings, policy, 3)
    originals = {inquiry_id: draft_body(web_engine, inquiry_id) for inquiry_id in ids}
    page = tabs("ann").page
    edit = "P.S. Thank you for your patience. Edited by the review team."
    reason = "A duplicate of an earlier mail"
    handled: dict[str, int] = {}
    for action in ("approve", "edit", "reject"):
        expect(page.locator("#queue-rows tr.row.selected")).to_have_count(1)
        page.keyboard.press("o")
        expect(page).to_have_url(re.compile(r"/inquiries/\d+$"))
        expect(page.locator("#approve-button")).to_be_enabled()
        handled[action] = int(page.url.rsplit("/", 1)[1])
        if action == "approve":
            page.keyboard.press("a")
        elif action == "edit":
            page.keyboard.press("e")
            expect(page.locator("#composer")).to_be_focused()
            page.keyboard.press("Control+End")
            page.keyboard.type("\n\n" + edit)
            page.keyboard.press("Control+Enter")
        else:
            page.keyboard.press("r")
            expect(page.locator("#reject-reason")).to_be_focused()
            page.keyboard.type(reason)
            page.keyboard.press("Enter")
        expect(page).to_have_url(re.compile(r"/queue(\?.*)?$"))
        expect(page.locator(".flash").first).to_contain_text(f"Inquiry {handled[action]}")
    assert sorted(handled.values()) == sorted(ids)

    first, second, third = handled["approve"], handled["edit"], handled["reject"]
    assert status_of(web_engine, first) is S.approved
    # (Line endings aside: see test_approving_an_unchanged_draft_is_not_an_edit.)
    assert lf(reply_of(web_engine, first).body) == originals[first]

    assert status_of(web_engine, second) is S.approved
    assert edit in draft_body(web_engine, second)
    assert edit in reply_of(web_engine, second).body
    [edited] = events(web_engine, second, Action.edit)
    assert edited.actor == "ann" and edit in (edited.text_after or "")

    assert status_of(web_engine, third) is S.rejected
    assert reply_of(web_engine, third) is None
    [rejected] = events(web_engine, third, Action.reject)
    assert rejected.actor == "ann" and rejected.reason == reason

    for inquiry_id in (first, second):
        [approved] = events(web_engine, inquiry_id, Action.approve)
        assert approved.actor == "ann" and approved.actor_kind == "agent"
        assert reply_of(web_engine, inquiry_id).approved_by == "ann"


def test_only_a_senior_approves_an_escalated_inquiry(tabs, web_engine, settings, policy):
    [inquiry_id] = drafted(web_engine, settings, policy, 1)
    with session(web_engine) as db:
        review.escalate(
            db,
            inquiry_id,
            agent=Actor.agent("ann", role="agent"),
            reason="The customer asks for a manager",
        )
    assert status_of(web_engine, inquiry_id) is S.escalated

    ann = tabs("ann").go(f"/inquiries/{inquiry_id}")
    approve = ann.locator("#approve-button")
    expect(approve).to_be_disabled()
    expect(ann.locator(".draft .flash.warn")).to_contain_text("only a senior may approve")
    ann.keyboard.press("a")  # the key does nothing either
    ann.wait_for_timeout(300)
    expect(ann).to_have_url(re.compile(rf"/inquiries/{inquiry_id}$"))
    # A button enabled by hand is refused by the server all the same.
    ann.evaluate("document.querySelector('#approve-button').disabled = false")
    approve.click()
    expect(ann.locator("#refusal")).to_contain_text("only a senior")
    assert status_of(web_engine, inquiry_id) is S.escalated
    assert reply_of(web_engine, inquiry_id) is None

    sam = tabs("sam").go(f"/inquiries/{inquiry_id}")
    expect(sam.locator(".draft .flash.warn")).to_have_count(0)
    expect(sam.locator("#approve-button")).to_be_enabled()
    sam.click("#approve-button")
    expect(sam).to_have_url(re.compile(r"/queue(\?.*)?$"))
    assert status_of(web_engine, inquiry_id) is S.approved
    [approved] = events(web_engine, inquiry_id, Action.approve)
    assert approved.actor == "sam"


def test_two_agents_on_one_inquiry(tabs, web_engine, settings, policy):
    [inquiry_id] = drafted(web_engine, settings, policy, 1)
    original = draft_body(web_engine, inquiry_id)
    ann_tab, sam_tab = tabs("ann"), tabs("sam")
    ann = ann_tab.go(f"/inquiries/{inquiry_id}")
    sam = sam_tab.go(f"/inquiries/{inquiry_id}")

    # Each sees the other within a presence poll (every 5 s).
    expect(sam.locator("#presence .collision")).to_contain_text("Also open by ann", timeout=7000)
    expect(ann.locator("#presence .collision")).to_contain_text("Also open by sam", timeout=7000)
    queue = ann.context.new_page()  # ann's queue, in another tab
    queue.goto(f"{ann_tab.base}/queue")
    expect(queue.locator(f"tr.row[data-id='{inquiry_id}'] .viewers .badge.viewer")).to_have_text(
        ["ann", "sam"]
    )

    changed = original + "\n\nP.S. Thank you for your patience. Edited by the review team."
    sam.fill("#composer", changed)
    sam.click("#save-button")
    expect(sam.locator(".flash").first).to_contain_text("Draft saved")
    assert lf(draft_body(web_engine, inquiry_id)) == changed

    ann.click("#approve-button")  # her page still has the draft as it was
    expect(ann.locator("#refusal")).to_contain_text("changed since you read it")
    assert status_of(web_engine, inquiry_id) is S.drafted
    assert reply_of(web_engine, inquiry_id) is None
    assert lf(draft_body(web_engine, inquiry_id)) == changed


def test_approving_an_unchanged_draft_is_not_an_edit(tabs, web_engine, settings, policy):
    """The composer's text comes back from the browser with CRLF line ends: a draft the
    agent did not touch is still the same draft (no edit in the audit trail, no new
    version), and a reply in the customer's language is not "edited by hand"."""
    [english] = drafted(web_engine, settings, policy, 1)
    portuguese_mail = mail(9, "Tamanhos", "Olá, os Classic Clogs são grandes? Calço 42. Obrigado.")
    store_mail(web_engine, settings, policy, [portuguese_mail])
    portuguese = id_of(web_engine, portuguese_mail.from_address)
    before = {i: draft_of(web_engine, i) for i in (english, portuguese)}
    assert before[portuguese].language == "pt" and before[portuguese].english_body
    assert status_of(web_engine, portuguese) is S.drafted and not list(before[portuguese].grounding)

    tab = tabs("ann")
    seen = {}
    for inquiry_id in (english, portuguese):
        page = tab.go(f"/inquiries/{inquiry_id}")
        expect(page.locator("#approve-button")).to_be_enabled()
        page.click("#approve-button")  # to the queue, or refused on /approve
        expect(page).not_to_have_url(re.compile(rf"/inquiries/{inquiry_id}$"))
        refusal = page.locator("#refusal")
        seen[inquiry_id] = {
            "status": status_of(web_engine, inquiry_id),
            "refusal": refusal.inner_text() if refusal.count() else None,
            "edits": [e.actor for e in events(web_engine, inquiry_id, Action.edit)],
            "version": draft_of(web_engine, inquiry_id).version,
        }
    expected = {
        inquiry_id: {
            "status": S.approved,
            "refusal": None,
            "edits": [],
            "version": before[inquiry_id].version,
        }
        for inquiry_id in (english, portuguese)
    }
    assert seen == expected
    for inquiry_id in (english, portuguese):
        assert reply_of(web_engine, inquiry_id).body == before[inquiry_id].body


def test_undo_an_approval(tabs, web_engine, settings, policy):
    [inquiry_id] = drafted(web_engine, settings, policy, 1)
    tab = tabs("ann")
    page = tab.go(f"/inquiries/{inquiry_id}")
    page.click("#approve-button")
    expect(page).to_have_url(re.compile(r"/queue(\?.*)?$"))
    undo = page.locator("#undo-button")
    expect(undo).to_be_visible()
    seconds = int(undo.locator(".seconds-left").inner_text())
    assert 0 < seconds <= 10
    assert status_of(web_engine, inquiry_id) is S.approved
    reply = reply_of(web_engine, inquiry_id)
    assert reply is not None and reply.send_after is not None

    undo.click()
    expect(page).to_have_url(re.compile(rf"/inquiries/{inquiry_id}$"))
    expect(page.locator(".flash").first).to_contain_text("undone")
    assert status_of(web_engine, inquiry_id) is S.drafted
    assert reply_of(web_engine, inquiry_id) is None
    [withdrawn] = events(web_engine, inquiry_id, Action.withdraw_approval)
    assert withdrawn.actor == "ann"


# Payloads from the OWASP XSS filter evasion cheat sheet and PayloadsAllTheThings; those
# that would run set a marker as well as opening a dialog.
XSS_SUBJECT = (
    "<script>window.__xss_subject=1;alert(1)</script> {{7*7}} <img src=x onerror=alert(1)>"
)
XSS_NAME = '"><iframe src=javascript:alert(1)> <svg/onload=window.__xss_name=1>'
XSS_BODY = "\n".join(
    [
        "Hello <script>window.__xss=1;alert('body')</script>",
        '<img src=x onerror="window.__xss=2;alert(2)">',
        "<svg/onload=window.__xss=3>",
        '"><iframe src=javascript:alert(3)>',
        '<a href="javascript:alert(4)" id="xss-link">x</a>',
        "<body onload=alert(5)>",
        "<IMG SRC=JaVaScRiPt:alert('XSS')>",
        "<details open ontoggle=alert(6)>",
        "{{7*7}} ${7*7} <%= 7*7 %>",
        "Do the Classic Clogs run big?",
    ]
)
XSS_FILE = "<img src=x onerror=alert(7)>.pdf"
MARKERS = ["__xss", "__xss_subject", "__xss_name"]
INJECTED = "iframe, svg, img, [onerror], [onload], [ontoggle], a[href^='javascript:' i]"


def hostile_mail() -> InquiryIn:
    message = EmailMessage()
    message["Message-ID"] = "<xss@example.com>"
    message["From"] = Address(display_name=XSS_NAME, addr_spec="mallory@example.com")
    message["To"] = "support@crocso.example"
    message["Subject"] = XSS_SUBJECT
    message["Date"] = "Mon, 23 Nov 2026 09:00:00 +0000"
    message.set_content(XSS_BODY)
    message.add_attachment(
        b"%PDF-1.4 not really", maintype="application", subtype="pdf", filename=XSS_FILE
    )
    return parse_email_bytes(message.as_bytes(), source="xss.eml")


def assert_nothing_ran(tab: Tab) -> None:
    page = tab.page
    for marker in MARKERS:
        assert page.evaluate(f"typeof window.{marker}") == "undefined", marker
    assert page.locator(INJECTED).count() == 0
    scripts = page.eval_on_selector_all("script", "all => all.map(s => s.getAttribute('src'))")
    assert scripts == ["/static/vendor/htmx.min.js", "/static/app.js"], scripts
    assert tab.dialogs == []
    assert tab.csp_errors == []  # nothing even tried to run


def test_hostile_mail_is_shown_as_text(tabs, web_engine, settings, policy):
    inquiry = hostile_mail()
    assert inquiry.subject == XSS_SUBJECT and inquiry.from_name == XSS_NAME
    store_mail(web_engine, settings, policy, [inquiry])
    inquiry_id = id_of(web_engine, "mallory@example.com")
    with session(web_engine) as db:
        row = records.get_inquiry(db, inquiry_id)
        assert row is not None
        [attached] = attachments(records.raw_message(row))
        stored_body = row.body

    tab = tabs("ann")
    page = tab.page
    subject = page.locator(f"tr.row[data-id='{inquiry_id}'] td.subject a")
    expect(subject).to_have_text(XSS_SUBJECT)
    assert "49" not in subject.inner_text()
    page.wait_for_timeout(300)  # any onerror / onload would have fired by now
    assert_nothing_ran(tab)

    page.keyboard.press("o")
    expect(page).to_have_url(re.compile(rf"/inquiries/{inquiry_id}$"))
    expect(page.locator("h1.subject")).to_have_text(XSS_SUBJECT)
    assert "{{7*7}}" in page.title() and "49" not in page.title()
    expect(page.locator(".mail .meta strong")).to_have_text(XSS_NAME)
    shown = page.locator("#mail-body").inner_text()
    assert shown.strip() == stored_body.strip()
    assert "<script>window.__xss=1;alert('body')</script>" in shown
    assert "{{7*7}} ${7*7} <%= 7*7 %>" in shown and "49" not in shown
    link = page.locator(".attachments a")
    expect(link).to_have_text(attached.name)
    assert "onerror" in attached.name and "<" not in attached.name
    page.locator("details.trail summary").click()  # the history shows the subject too
    page.wait_for_timeout(300)
    assert_nothing_ran(tab)


def test_screenshots_of_queue_and_review(tabs, web_engine, settings, policy):
    ids = drafted(web_engine, settings, policy, 4)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    queue_png, review_png = SCREENSHOTS / "queue.png", SCREENSHOTS / "review.png"
    for path in (queue_png, review_png):
        path.unlink(missing_ok=True)
    tab = tabs("ann")
    expect(tab.page.locator("#queue-rows tr.row")).to_have_count(len(ids))
    tab.page.screenshot(path=str(queue_png), full_page=True)
    page = tab.go(f"/inquiries/{ids[0]}")
    expect(page.locator("#composer")).to_be_visible()
    page.screenshot(path=str(review_png), full_page=True)
    for path in (queue_png, review_png):
        assert path.is_file(), path
        assert path.stat().st_size > 10_000, (path, path.stat().st_size)


def test_help_overlay_and_turning_single_keys_off(tabs, web_engine, settings, policy):
    ids = drafted(web_engine, settings, policy, 2)
    tab = tabs("ann")
    page = tab.page
    help_panel = page.locator("#keys-help")
    selected = page.locator("#queue-rows tr.row.selected")
    expect(help_panel).to_be_hidden()
    page.keyboard.press("?")
    expect(help_panel).to_be_visible()
    page.keyboard.press("Escape")
    expect(help_panel).to_be_hidden()
    first = selected.get_attribute("data-id")
    page.keyboard.press("j")
    expect(selected).not_to_have_attribute("data-id", first or "")
    page.keyboard.press("k")
    expect(selected).to_have_attribute("data-id", first or "")

    tab.go("/settings")
    page.uncheck("input[name=single_key_shortcuts]")
    page.click("form[action='/settings'] button[type=submit]")
    expect(page.locator(".flash").first).to_contain_text("Settings saved")
    expect(page.locator("input[name=single_key_shortcuts]")).not_to_be_checked()

    tab.go("/queue")
    expect(page.locator("body")).to_have_attribute("data-shortcuts", "off")
    first = selected.get_attribute("data-id")
    page.keyboard.press("j")
    page.keyboard.press("?")
    page.keyboard.press("o")
    page.wait_for_timeout(300)
    expect(selected).to_have_attribute("data-id", first or "")
    expect(help_panel).to_be_hidden()
    expect(page).to_have_url(re.compile(r"/queue$"))

    # On the review page single keys do nothing; Ctrl+Enter in the editor still approves.
    inquiry_id = ids[0]
    tab.go(f"/inquiries/{inquiry_id}")
    page.keyboard.press("e")
    expect(page.locator("#composer")).not_to_be_focused()
    page.keyboard.press("a")
    page.wait_for_timeout(300)
    assert status_of(web_engine, inquiry_id) is S.drafted
    page.click("#composer")
    page.keyboard.press("Control+Enter")
    expect(page).to_have_url(re.compile(r"/queue(\?.*)?$"))
    assert status_of(web_engine, inquiry_id) is S.approved

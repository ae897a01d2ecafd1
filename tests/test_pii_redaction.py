"""Card numbers, IBANs and pasted passwords reach no LLM server and no log line (OWASP
LLM02), while order numbers, prices, dates and phone numbers stay as the customer wrote
them; the stored inquiry, which the agent reads, keeps everything.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime

import pytest
from sqlmodel import select

from assistant import pipeline
from assistant.backends.openai import LlmBackend
from assistant.llm.concurrency import forget_limits
from assistant.llm.fake_server import DRAFT_IN_FRENCH, FakeLlm, serve
from assistant.llm.prompts import system_message, task_message
from assistant.llm.redaction import SecretPhrasesError, load_secret_phrases, redact
from assistant.logsafe import RedactingFilter, install_log_redaction
from assistant.models import InquiryIn
from assistant.policy import load_policy
from assistant.settings import Settings
from assistant.storage.db import open_database, session
from assistant.storage.tables import InquiryRow

VISA = "4539148803436467"
MASTERCARD = "5522334455667783"
AMEX = "378282246310005"
IBAN_DE = "DE89 3704 0044 0532 0130 00"
IBAN_FR = "FR14 2004 1010 0505 0001 3M02 606"


# -- card numbers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "written",
    [
        VISA,
        "4539 1488 0343 6467",
        "4539-1488-0343-6467",
        "5522 3344 5566 7783",
        "3782 822463 10005",  # Amex groups 4-6-5
        "6011 0009 9013 9424",
        "４５３９ １４８８ ０３４３ ６４６７",  # full-width, as some phone keyboards type it
        "4539\u200b1488\u200b0343\u200b6467",  # zero-width spaces between the groups
    ],
)
def test_a_card_number_however_spaced_becomes_a_placeholder(written):
    redacted = redact(f"I paid with my card {written}, please check.")
    assert redacted.text == "I paid with my card [card number 1], please check."
    assert redacted.counts == {"card number": 1}


@pytest.mark.parametrize(
    "text",
    [
        "Order CR-123456 has not arrived",
        "Order #48213 was charged twice",
        "my order number is 1234567890",  # 10 digits
        "order 1234 5678 9012 3456",  # 16 digits, Luhn-invalid
        "4539148803436468",  # a Visa prefix, but the check digit is wrong
        "reference 0000000000000000",  # Luhn-valid, but no card network starts with 0
        "It cost €49.99 (or $1,299.00) on 2024-05-12, 12/05/2024 at 14:30",
        "Call me on +33 6 12 34 56 78 or (555) 123-4567 or 0044 20 7946 0958",
        "tracking 1Z999AA10123456784",
    ],
)
def test_order_numbers_prices_dates_and_phones_are_left_alone(text):
    assert redact(text).text == text
    assert redact(text).counts == {}


def test_two_cards_get_two_numbers_and_a_repeated_one_keeps_its_own():
    text = f"First {VISA}, then {MASTERCARD}, and again {VISA[:4]} {VISA[4:8]} {VISA[8:12]} {VISA[12:]}."
    assert (
        redact(text).text
        == "First [card number 1], then [card number 2], and again [card number 1]."
    )


def test_a_card_next_to_an_expiry_date_loses_only_the_card():
    assert redact(f"card {AMEX} 12 27, cvc on the back").text == (
        "card [card number 1] 12 27, cvc on the back"
    )


# -- IBANs --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "written",
    [
        IBAN_DE,
        "DE89370400440532013000",
        "de89 3704 0044 0532 0130 00",
        IBAN_FR,
        "ES91 2100 0418 4502 0005 1332",
        "IT60X0542811101000000123456",
        "PT50 0002 0123 1234 5678 9015 4",
        "NL91ABNA0417164300",
        "GB82 WEST 1234 5698 7654 32",
        "AT61 1904 3002 3457 3201",
        "CH93 0076 2011 6238 5295 7",
    ],
)
def test_ibans_of_several_countries_spaced_or_not(written):
    redacted = redact(f"Please refund to {written} and thanks")
    assert redacted.text == "Please refund to [IBAN 1] and thanks"
    assert redacted.counts == {"IBAN": 1}


def test_an_iban_with_a_wrong_check_is_left_alone():
    assert redact("IBAN DE00 3704 0044 0532 0130 00").text == "IBAN DE00 3704 0044 0532 0130 00"


# -- passwords, PINs, security codes --------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("my password is hunter2", "my password is [password 1]"),
        ("Password: Tr0ub4dor&3", "Password: [password 1]"),
        ("password = s3cr3t!", "password = [password 1]"),
        ("pw hunter2, user ana", "pw [password 1], user ana"),
        ("the CVV 123 on the back", "the CVV [password 1] on the back"),
        ("my PIN is 4821.", "my PIN is [password 1]."),
        ('my password is "correct horse battery"', "my password is [password 1]"),
        ("mon mot de passe est soleil42", "mon mot de passe est [password 1]"),
        ("Mot de passe : Chat2024", "Mot de passe : [password 1]"),
        ("mi contraseña es gato99", "mi contraseña es [password 1]"),
        ("mein Passwort ist Sommer2024", "mein Passwort ist [password 1]"),
        ("Kennwort lautet: blau7", "Kennwort lautet: [password 1]"),
        ("a minha senha é abc123", "a minha senha é [password 1]"),
        ("la mia password è ciao77", "la mia password è [password 1]"),
        ("parola d'ordine: segreto", "parola d'ordine: [password 1]"),
        ("mijn wachtwoord is fiets12", "mijn wachtwoord is [password 1]"),
    ],
)
def test_pasted_passwords_in_seven_languages(text, expected):
    assert redact(text).text == expected


@pytest.mark.parametrize(
    "text",
    [
        "I forgot my password and the password reset link does not work",
        "my password is not accepted, my password is wrong",
        "Mon mot de passe est incorrect",
        "mi contraseña es incorrecta",
        "Mein Passwort ist falsch",
        "a minha senha é inválida",
        "la password è scaduta",
        "mijn wachtwoord is verlopen",
        "Mi è arrivata una mail che la mia password è stata cambiata",
        "Can I change my password? The PIN letter never came.",
    ],
)
def test_talking_about_a_password_is_not_a_password(text):
    assert redact(text).text == text


def test_placeholders_are_never_redacted_again():
    once = redact(f"Password: hunter2, card {VISA}, IBAN {IBAN_DE}").text
    assert once == "Password: [password 1], card [card number 1], IBAN [IBAN 1]"
    assert redact(once).text == once


def test_the_shipped_wording_loads_and_a_broken_file_says_where(tmp_path):
    from assistant.llm.redaction import secret_phrases_path

    assert load_secret_phrases(secret_phrases_path()).ordinary
    broken = tmp_path / "secret_phrases.toml"
    broken.write_text('[en]\nphrases = "password"\n', encoding="utf-8")
    with pytest.raises(
        SecretPhrasesError, match=r"secret_phrases.toml: \[en\] phrases must be a list"
    ):
        load_secret_phrases(broken)
    broken.write_text("[en]\nwords = ['pw']\n", encoding="utf-8")
    with pytest.raises(SecretPhrasesError, match="'phrases' list"):
        load_secret_phrases(broken)
    broken.write_text("[en\n", encoding="utf-8")
    with pytest.raises(SecretPhrasesError, match="cannot read it"):
        load_secret_phrases(broken)


# -- prompts ------------------------------------------------------------------------------


def test_one_numbering_across_a_prompts_values():
    message = task_message(
        "triage.j2",
        subject=f"card {VISA}",
        body=f"I paid with {VISA} and {MASTERCARD}",
        english=None,
    )
    assert "Subject: card [card number 1]" in message["content"]
    assert "I paid with [card number 1] and [card number 2]" in message["content"]


# -- end to end: the openai backend against the loopback server ---------------------------

ENGLISH = InquiryIn(
    message_id="<pii-en@example.com>",
    from_address="ana@example.com",
    from_name="Ana Lopez",
    subject="Charged twice on order CR-104233",
    body=(
        f"Hi, you charged my card {VISA[:4]} {VISA[4:8]} {VISA[8:12]} {VISA[12:]} twice for "
        f"order CR-104233. Please refund the second payment to my IBAN {IBAN_DE}. "
        "You can check in my account, my password is hunter2x.\n\nThanks, Ana"
    ),
    received_at=datetime(2026, 11, 24, 9, tzinfo=UTC),
)
FRENCH = InquiryIn(
    message_id="<pii-fr@example.com>",
    from_address="claire@example.fr",
    from_name="Claire Martin",
    subject="Double paiement sur ma commande",
    body=(
        f"Bonjour, vous avez débité deux fois ma carte {MASTERCARD[:4]}-{MASTERCARD[4:8]}-"
        f"{MASTERCARD[8:12]}-{MASTERCARD[12:]} pour ma commande CR-104233. Merci de me "
        f"rembourser sur mon IBAN {IBAN_FR}. Mon mot de passe est soleil42 si besoin.\n\nClaire"
    ),
    received_at=datetime(2026, 11, 24, 10, tzinfo=UTC),
)
SECRETS = {
    ENGLISH.message_id: (VISA, IBAN_DE, "hunter2x"),
    FRENCH.message_id: (MASTERCARD, IBAN_FR, "soleil42"),
}


@pytest.fixture
def fake():
    forget_limits()  # a fresh concurrency limit for this server's port
    with serve(FakeLlm(phrasebook=PHRASEBOOK)) as (url, fake):
        fake.url = url
        yield fake
    forget_limits()


# What the fake model "translates" (French → English and back), placeholders left as they are.
PHRASEBOOK = {
    **DRAFT_IN_FRENCH,
    "Double paiement sur ma commande": "Double payment on my order",
    "Bonjour, vous avez débité deux fois ma carte": "Hello, you charged my card twice",
    "pour ma commande": "for my order",
    "Merci de me rembourser sur mon IBAN": "Please refund me to my IBAN",
    "Mon mot de passe est": "My password is",
    "si besoin.": "if needed.",
}


def llm_backend(fake, tmp_path) -> LlmBackend:
    settings = Settings(
        openai_base_url=fake.url,
        openai_model="fake-model",
        openai_timeout=2.0,
        openai_max_retries=0,
        llm_capabilities_file=tmp_path / "capabilities.json",
    )
    return LlmBackend(settings, load_policy())


def _leaks(requests: list[dict], secrets: tuple[str, ...]) -> list[str]:
    """The secrets found in any request body, card digits and IBANs in any spacing."""
    found = []
    for request in requests:
        text = json.dumps(request, ensure_ascii=False)
        digits, compact = re.sub(r"\D", "", text), re.sub(r"[\s-]", "", text).upper()
        for secret in secrets:
            plain = re.sub(r"[\s-]", "", secret).upper()
            if secret in text or plain in compact or (plain.isdigit() and plain in digits):
                found.append(secret)
    return found


def test_no_card_iban_or_password_reaches_the_llm_server(fake, tmp_path):
    backend = llm_backend(fake, tmp_path)
    mails = [ENGLISH, FRENCH]
    triages = backend.triage_many(mails)
    drafts = backend.draft_many(list(zip(mails, triages)))

    assert [t.backend for t in triages] == ["openai", "openai"]
    assert [t.fallback_reason for t in triages] == [None, None]
    assert [d.fallback_reason for d in drafts] == [None, None]
    purposes = {call.purpose for call in backend.drain_calls()}
    assert {"translate", "triage", "draft", "back_translate"} <= purposes
    assert drafts[1].language == "fr"  # the French mail went through the translation path

    every_secret = SECRETS[ENGLISH.message_id] + SECRETS[FRENCH.message_id]
    assert _leaks(fake.requests, every_secret) == []
    bodies = [json.dumps(r, ensure_ascii=False) for r in fake.requests]
    for placeholder in ("[card number 1]", "[IBAN 1]", "[password 1]"):
        assert any(placeholder in body for body in bodies)
    assert any("CR-104233" in body for body in bodies)  # the order number is still there
    # The translation the agent reads beside the French original carries the placeholders.
    assert triages[1].english_text and "[IBAN 1]" in triages[1].english_text


def test_the_system_message_is_unchanged_and_the_stored_mail_keeps_everything(fake, tmp_path):
    backend = llm_backend(fake, tmp_path)
    engine = open_database(f"sqlite:///{tmp_path / 'pii.db'}")
    with session(engine) as db:
        pipeline.run(db, [ENGLISH], backend)
        [row] = db.exec(select(InquiryRow)).all()
    assert VISA[:4] + " " + VISA[4:8] in row.body and IBAN_DE in row.body and "hunter2x" in row.body
    system = system_message(backend.policy, backend.settings)["content"]
    sent = {r["messages"][0]["content"] for r in fake.requests}
    assert sent == {system}
    assert _leaks(fake.requests, SECRETS[ENGLISH.message_id]) == []


# -- logs ---------------------------------------------------------------------------------


@pytest.fixture
def redacting_logs():
    saved = logging.getLogRecordFactory()
    install_log_redaction()
    yield
    logging.setLogRecordFactory(saved)


def test_a_logged_card_number_iban_or_password_comes_out_redacted(redacting_logs, caplog):
    log = logging.getLogger("assistant.pipeline")
    with caplog.at_level(logging.INFO, logger="assistant"):
        log.info("mail from %s: %s", "ana@example.com", ENGLISH.body)
        log.warning(f"refund to {IBAN_DE} for order %d", 104233)
        try:
            raise ValueError(f"could not parse {VISA}")
        except ValueError:
            log.exception("triage failed")
    text = caplog.text
    assert VISA not in text and "4539 1488" not in text and IBAN_DE not in text
    assert "hunter2x" not in text
    assert "[card number 1]" in text and "[IBAN 1]" in text and "[password 1]" in text
    assert "for order 104233" in text and "ana@example.com" in text
    assert "could not parse [card number 1]" in text  # the traceback, too


def test_the_access_log_keeps_its_shape_without_the_searched_card(redacting_logs, caplog):
    """uvicorn's access formatter unpacks five arguments; a search URL carries mail text."""
    with caplog.at_level(logging.INFO, logger="uvicorn.access"):
        logging.getLogger("uvicorn.access").info(
            '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", f"/queue?q={VISA}", "1.1", 200
        )
    [record] = caplog.records
    assert len(record.args) == 5 and record.args[4] == 200
    assert record.getMessage() == '127.0.0.1:5000 - "GET /queue?q=[card number 1] HTTP/1.1" 200'


def test_other_libraries_logs_are_left_as_they_are(redacting_logs, caplog):
    with caplog.at_level(logging.INFO, logger="some.library"):
        logging.getLogger("some.library").info("card %s", VISA)
    assert VISA in caplog.text


def test_a_handler_of_ones_own_can_filter_too():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "paid with %s", (VISA,), None)
    RedactingFilter().filter(record)
    assert record.getMessage() == "paid with [card number 1]"


def test_the_cli_installs_the_log_redaction(redacting_logs, monkeypatch):
    from typer.testing import CliRunner

    from assistant.cli import app

    logging.setLogRecordFactory(logging.LogRecord)  # as a fresh process starts
    assert CliRunner().invoke(app, ["policy", "show"]).exit_code == 0
    assert getattr(logging.getLogRecordFactory(), "redacts", None)

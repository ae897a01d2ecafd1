"""Translations from the LLM are checked before anyone relies on them: a weak model's
echo of the original, its leaked prompt tags, a subject line for a whole mail or an
"English translation" still in French reach neither the agent nor the customer."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from assistant.backends.openai import LlmBackend
from assistant.llm import fake_server
from assistant.llm.concurrency import forget_limits
from assistant.llm.fake_server import FakeLlm, serve
from assistant.llm.translation_quality import (
    ARTIFACTS_PATH,
    TranslationArtifactsError,
    load_artifacts,
    translation_problems,
)
from assistant.models import InquiryIn
from assistant.policy import load_policy
from assistant.settings import Settings

ITALIAN = (
    "Buongiorno, ho ordinato un paio di zoccoli Classic due settimane fa e non sono ancora "
    "arrivati. Potete dirmi dove si trova il mio pacco? Grazie mille, Giulia"
)
ITALIAN_EN = (
    "Good morning, I ordered a pair of Classic clogs two weeks ago and they have not arrived "
    "yet. Can you tell me where my parcel is? Thank you very much, Giulia"
)
REPLY = (
    "Hello Giulia,\n\nThank you for your email. We are sorry that your order has not arrived "
    "yet. We have asked the carrier to check where your parcel is and will write to you "
    "within 24 hours.\n\nKind regards,\nCrocso Customer Service"
)
REPLY_PT = (
    "Olá Giulia,\n\nObrigado pelo seu e-mail. Lamentamos que a sua encomenda ainda não tenha "
    "chegado. Pedimos à transportadora que verifique onde está a sua encomenda e voltaremos a "
    "escrever-lhe dentro de 24 horas.\n\nCom os melhores cumprimentos,\nApoio ao Cliente Crocso"
)
FRENCH = (
    "Bonjour, ma commande CR-104233 n'est toujours pas arrivée. Pouvez-vous vérifier où elle "
    "en est ? Merci beaucoup.\n\nClaire"
)
DUTCH_MAIL = (
    "Bestelling niet ontvangen\n\nHallo, ik heb drie weken geleden een paar sandalen besteld "
    "maar ik heb nog steeds niets ontvangen. Kunnen jullie nagaan waar mijn pakket is? "
    "Alvast bedankt, Daan"
)

FAITHFUL = [
    (ITALIAN, ITALIAN_EN, "en"),
    (
        FRENCH,
        "Hello, my order CR-104233 still has not arrived. Can you check where it is? "
        "Thank you very much.\n\nClaire",
        "en",
    ),
    (
        DUTCH_MAIL,
        "Order not received\n\nHello, three weeks ago I ordered a pair of sandals but "
        "I still have not received anything. Can you find out where my parcel is? Thanks in "
        "advance, Daan",
        "en",
    ),
    (
        "Hallo, meine Bestellung ist beschädigt angekommen. Ein Clog hat einen Riss. Was kann "
        "ich tun?",
        "Hello, my order arrived damaged. One clog has a crack. What can I do?",
        "en",
    ),
    (
        "Hola, quiero devolver mis sandalias porque la talla es demasiado pequeña. ¿Cómo lo hago?",
        "Hello, I want to return my sandals because the size is too small. How do I do it?",
        "en",
    ),
    (REPLY, REPLY_PT, "pt"),
    (
        REPLY,
        "Bonjour Giulia,\n\nMerci pour votre e-mail. Nous sommes désolés que votre commande "
        "ne soit pas encore arrivée. Nous avons demandé au transporteur de vérifier où se trouve "
        "votre colis et nous vous écrirons dans les 24 heures.\n\nCordialement,\nLe service "
        "client de Crocso",
        "fr",
    ),
    (
        REPLY,
        "Hola Giulia,\n\nGracias por su correo. Lamentamos que su pedido aún no haya "
        "llegado. Hemos pedido a la empresa de transporte que compruebe dónde está su paquete y "
        "le escribiremos en un plazo de 24 horas.\n\nUn saludo,\nAtención al cliente de Crocso",
        "es",
    ),
    (
        REPLY,
        "Hallo Giulia,\n\nvielen Dank für Ihre E-Mail. Es tut uns leid, dass Ihre "
        "Bestellung noch nicht angekommen ist. Wir haben den Versanddienst gebeten zu prüfen, wo "
        "sich Ihr Paket befindet, und melden uns innerhalb von 24 Stunden bei Ihnen.\n\nMit "
        "freundlichen Grüßen\nIhr Crocso Kundenservice",
        "de",
    ),
    (
        REPLY,
        "Ciao Giulia,\n\ngrazie per la tua email. Ci dispiace che il tuo ordine non sia "
        "ancora arrivato. Abbiamo chiesto al corriere di verificare dove si trova il tuo pacco e "
        "ti scriveremo entro 24 ore.\n\nCordiali saluti,\nServizio clienti Crocso",
        "it",
    ),
    (
        REPLY,
        "Hallo Giulia,\n\nBedankt voor je e-mail. Het spijt ons dat je bestelling nog niet "
        "is aangekomen. We hebben de vervoerder gevraagd na te gaan waar je pakket is en we "
        "schrijven je binnen 24 uur.\n\nMet vriendelijke groet,\nCrocso Klantenservice",
        "nl",
    ),
    ("Merci !", "Thanks!", "en"),  # too short to judge: not judged
]


@pytest.mark.parametrize(("source", "translated", "target"), FAITHFUL)
def test_real_translations_pass(source, translated, target):
    assert translation_problems(source, translated, target) == []


def test_the_original_with_the_prompts_closing_tags_is_rejected():
    """What a 270M model answered: the Italian as it came, then the prompt's end."""
    problems = translation_problems(ITALIAN, ITALIAN + "\n</text> [/INST]{", "en")
    assert problems[0] == "contains prompt fragments: </text>, [/INST]"
    assert "not Italian→English: it is the source text, untranslated" in problems


def test_a_portuguese_translation_inside_the_prompts_text_tag_is_rejected():
    problems = translation_problems(REPLY, f"<text>\n{REPLY_PT}", "pt")
    assert problems == ["contains prompt fragments: <text>"]


def test_a_dutch_mail_translated_as_its_subject_line_only_is_rejected():
    [problem] = translation_problems(DUTCH_MAIL, "Order not received", "en")
    assert problem.startswith("covers 10% of the source's length")


def test_an_english_translation_that_is_still_french_is_rejected():
    still_french = (
        "Bonjour, ma commande CR-104233 n'est pas encore arrivée. Pourriez-vous vérifier où "
        "elle se trouve ? Merci.\n\nClaire"
    )
    assert translation_problems(FRENCH, still_french, "en") == [
        "not French→English: the text reads as French"
    ]


def test_a_translation_that_adds_a_paragraph_is_rejected():
    padded = ITALIAN_EN + "\n\n" + REPLY + "\n\n" + REPLY
    [problem] = translation_problems(ITALIAN, padded, "en")
    assert "of the source's length: it adds text the source does not have" in problem


@pytest.mark.parametrize(
    "fragment",
    [
        "[/INST]",
        "[INST]",
        "</text>",
        "<text>",
        "<|im_end|>",
        "<|eot_id|>",
        "<start_of_turn>",
        "<end_of_turn>",
        "<s>",
        "</s>",
        "TASK:",
        '{"text":',
    ],
)
def test_every_listed_prompt_fragment_is_caught(fragment):
    problems = translation_problems(ITALIAN, f"{ITALIAN_EN} {fragment}", "en")
    assert problems == [f"contains prompt fragments: {fragment}"]


def test_a_fragment_the_customer_wrote_is_no_leak():
    source = "Hola, en su web aparece el texto <s> y TASK: en la página de pago. ¿Es un error?"
    translated = (
        "Hello, your website shows the text <s> and TASK: on the payment page. Is it a bug?"
    )
    assert translation_problems(source, translated, "en") == []


# -- the data file -------------------------------------------------------------------


def test_the_shipped_fragment_file_loads_and_says_what_each_fragment_is():
    artifacts = load_artifacts(ARTIFACTS_PATH)
    assert len(artifacts) >= 8 and all(artifact.what for artifact in artifacts)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[[artifact]\npattern = 'x'", "not valid TOML"),
        ("[[artifact]]\npattern = '\\[/INST\\]'\n", "artifact 1 ('\\\\[/INST\\\\]'): needs what"),
        ("[[artifact]]\nwhat = 'a tag'\n", "artifact 1: needs a pattern"),
        ("[[artifact]]\npattern = '[INST'\nwhat = 'a tag'\n", "not a regular expression"),
        ("[[artifact]]\npattern = 'x*'\nwhat = 'anything'\n", "matches an empty text"),
        ("[[artifact]]\npattern = 'x'\nwhat = 'a'\nregex = 'y'\n", "unknown key(s) regex"),
        ("title = 'fragments'\n", "unknown top-level key(s) title"),
        ("", "no [[artifact]] tables"),
    ],
)
def test_a_broken_fragment_file_is_refused_naming_the_file(tmp_path, content, message):
    path = tmp_path / "translation_artifacts.toml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(TranslationArtifactsError) as raised:
        load_artifacts(path)
    assert str(raised.value).startswith(f"{path}: ")
    assert message in str(raised.value)


# -- through the LLM backend ------------------------------------------------------------

MAIL = InquiryIn(
    message_id="<it-1@example.com>",
    from_address="giulia@example.it",
    subject="Ordine non arrivato",
    body=ITALIAN,
    received_at=datetime(2026, 11, 24, 9, tzinfo=UTC),
)


@pytest.fixture
def fake():
    forget_limits()
    with serve(FakeLlm()) as (url, fake):
        fake.url = url
        yield fake
    forget_limits()


def backend(fake, tmp_path) -> LlmBackend:
    settings = Settings(
        openai_base_url=fake.url,
        openai_model="fake",
        openai_timeout=5,
        openai_max_retries=0,
        llm_capabilities_file=tmp_path / "capabilities.json",
    )
    return LlmBackend(settings, load_policy())


def test_the_agent_is_told_why_an_echoed_translation_is_not_shown(fake, tmp_path):
    """The fake server "translates" by echoing the text: the agent gets no English, and
    the reason; triage goes on without it."""
    [triage] = backend(fake, tmp_path).triage_many([MAIL])
    assert triage.english_text is None and triage.backend == "openai"
    assert (
        "no English translation for the agent: translation rejected: not Italian→English: "
        "it is the source text, untranslated"
    ) in triage.reasons


def test_a_real_translation_is_shown_to_the_agent(fake, tmp_path, monkeypatch):
    answer = fake_server.answer_for

    def translating(task, body):
        if task == "TRANSLATE":
            return {"text": f"Order not arrived\n\n{ITALIAN_EN}"}
        return answer(task, body)

    monkeypatch.setattr(fake_server, "answer_for", translating)
    [triage] = backend(fake, tmp_path).triage_many([MAIL])
    assert triage.english_text == f"Order not arrived\n\n{ITALIAN_EN}"
    assert not any("translation" in reason for reason in triage.reasons)


def test_links_addresses_and_order_numbers_do_not_make_a_translation_english():
    english = (
        "Your order has shipped. Track it here: https://shop.example.com/order/status/"
        "tracking?id=CR-12345 or write to help@crocso.example"
    )
    dutch = (
        "Uw bestelling is verzonden. Volg hem hier: https://shop.example.com/order/status/"
        "tracking?id=CR-12345 of schrijf naar help@crocso.example"
    )
    assert translation_problems(english, dutch, "nl") == []


def test_a_short_translation_in_a_neighbouring_language_is_not_rejected_on_a_guess():
    assert (
        translation_problems(
            "We are sorry for the trouble, Anna.", "Lamentamos o incómodo, Anna.", "pt"
        )
        == []
    )


def test_the_model_leaking_a_tag_the_customer_did_not_write_is_caught():
    problems = translation_problems(
        "[INST] hello there my friend, what is up with my order",
        "Hola amigo, ¿qué pasa con mi pedido? [/INST]",
        "es",
    )
    assert problems == ["contains prompt fragments: [/INST]"]

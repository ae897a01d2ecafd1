import pytest

from assistant.mailtext import latest_message
from assistant.triage.language import detect_language


@pytest.mark.parametrize(
    ("text", "language"),
    [
        (
            "Hi, where is my order? I ordered the Classic Clog last week and still have nothing.",
            "en",
        ),
        (
            "Hola, mi pedido todavía no ha llegado y ya pasaron dos semanas. ¿Me pueden ayudar?",
            "es",
        ),
        ("Bonjour, j'ai reçu la mauvaise taille de sabots. Pouvez-vous m'aider ? Merci", "fr"),
        ("Hallo, meine Bestellung ist noch nicht angekommen. Können Sie mir bitte helfen?", "de"),
        ("Ciao, il mio ordine non è ancora arrivato. Potete aiutarmi per favore? Grazie", "it"),
        ("Olá, a minha encomenda ainda não chegou. Podem ajudar-me? Obrigada", "pt"),
        ("Hallo, mijn bestelling is nog niet aangekomen. Kunnen jullie mij helpen? Groeten", "nl"),
    ],
)
def test_detects_the_languages_customers_write_in(text, language):
    assert detect_language(text).language == language


def test_short_english_support_phrases_are_english():
    for text in ("edit Freemium account", "pwd reset pls", "where's my stuff", "refund?"):
        assert detect_language(text).language == "en", text


def test_same_text_same_answer_every_time():
    text = "Szia, a rendelésem még nem érkezett meg, tudnának segíteni?"
    results = {detect_language(text).model_dump_json() for _ in range(5)}
    assert len(results) == 1


def test_empty_text_is_english_with_no_confidence():
    guess = detect_language("   ")
    assert guess.language == "en" and guess.confidence == 0.0


def test_french_message_above_a_quoted_english_thread_is_french():
    body = (
        "Bonjour, je n'ai toujours pas reçu ma commande et votre réponse ne m'aide pas.\n"
        "Merci de vérifier.\n\n"
        "On Mon, Nov 16, 2026 at 10:00 AM Crocso Support <support@crocso.example> wrote:\n"
        "> Hello, thank you for your message. We aim to respond within 24-48 business hours.\n"
        "> Kind regards, the team\n"
    )
    assert latest_message(body).startswith("Bonjour")
    assert detect_language(latest_message(body)).language == "fr"


def test_english_disclaimer_under_a_german_message_is_cut():
    body = (
        "Hallo, das Paket ist laut Tracking zugestellt, aber ich habe es nicht erhalten.\n"
        "Viele Grüße\n\n"
        "CONFIDENTIALITY NOTICE: This e-mail and any attachments are confidential and are "
        "intended solely for the addressee. If you have received this in error, delete it."
    )
    assert "CONFIDENTIALITY" not in latest_message(body)
    assert detect_language(latest_message(body)).language == "de"


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Login geht nicht mehr", "de"),
        ("Wär cool wenn es die Crush Clogs auch in Neongelb gäbe", "de"),
        ("Cobraram duas vezes a mesma compra no meu cartão", "pt"),
        ("Por favor parem de me mandar emails promocionais", "pt"),
    ],
)
def test_short_message_over_an_english_sign_off_keeps_its_language(text, language):
    assert detect_language(f"{text}\n\nThanks, Jonas").language == language


def test_a_lone_greeting_above_an_english_sign_off_does_not_decide():
    text = "Hi team,\nwhere is my parcel? It was due on Monday.\nThanks, Ana"
    assert detect_language(text).language == "en"
